// SPDX-License-Identifier: MIT
// `--decode-device`: where the commands that decode (`clips`, `pretrain`) decode. GPU decoding
// (NVDEC) that cannot run falls back to CPU decode workers, said in one line on stderr.
#pragma once

#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include <longform/core/error.hpp>
#include <longform/io/video_reader.hpp>
#include <longform/source/forward_only.hpp>

namespace longform::cli {

/// The device the readers get: `asked` where it works, else "cpu" after one line on stderr saying
/// why. Checked without a video (FFmpeg's CUDA support, a CUDA device, the NVDEC library), then on
/// `probe` when given, a file (not a pipe, which cannot be read twice), for its codec. A later
/// video whose codec NVDEC lacks fails on its own and is skipped and named like any bad video.
/// @throws config_error for a device name that is not cpu, cuda or cuda:N.
inline std::string decode_device(const std::string& asked, const char* command, const std::optional<std::string>& probe = {}) {
  std::optional<std::string> why = VideoReader::device_unavailable(asked);
  if (!why && asked != "cpu" && probe && !is_forward_only_input(*probe)) {
    try {
      VideoReader reader(*probe, {.threads = 1, .device = asked});
    } catch (const hardware_decode_error& e) {
      why = e.what();
    } catch (const error&) {  // a bad video: the run names it with the others
    }
  }
  if (!why) return asked;
  std::fprintf(stderr, "longform %s: --decode-device %s unavailable, decoding on the CPU: %s\n", command, asked.c_str(), why->c_str());
  return "cpu";
}

}  // namespace longform::cli
