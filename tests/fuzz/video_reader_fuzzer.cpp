// SPDX-License-Identifier: MIT
// libFuzzer target: arbitrary bytes through VideoReader (in-memory AVIO): open, decode, seek.
// Any longform::error is a correct answer to a bad input; anything else (a crash, a sanitizer
// report, another exception type, a hang, a frame that breaks the documented contract) is a bug.
// Run with tests/fuzz/run.
#include <cstddef>
#include <cstdint>
#include <span>

#include <longform/io/video_reader.hpp>

#include "invariant.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    // Small limits keep each input fast: fuzzing looks for wrong behaviour, not big frames.
    auto reader =
        longform::VideoReader::from_memory(std::span(data, size), "fuzz-input", {.threads = 1, .width = 32, .height = 32, .max_pixels = 1 << 20});
    // Frames: contiguous uint8 [32, 32, 3] on the CPU, indices rising in presentation order.
    int decoded = 0;
    std::int64_t last_index = -1;
    while (auto frame = reader.next()) {
      const auto& rgb = frame->rgb;
      LONGFORM_FUZZ_REQUIRE(rgb.dim() == 3 && rgb.size(0) == 32 && rgb.size(1) == 32 && rgb.size(2) == 3);
      LONGFORM_FUZZ_REQUIRE(rgb.scalar_type() == at::kByte && rgb.is_contiguous() && rgb.device().is_cpu());
      LONGFORM_FUZZ_REQUIRE(frame->index > last_index);
      last_index = frame->index;
      if (++decoded == 16) break;
    }
    // seek_frame(k): the next frame, if any, is frame k, or on damaged input a later one that
    // decoded (the documented contract; a truncated AVI found the second case).
    if (decoded > 2) {
      const auto n = reader.frame_count();
      if (n > 0) {
        reader.seek_frame(n / 2);
        if (const auto frame = reader.next()) LONGFORM_FUZZ_REQUIRE(frame->index >= n / 2);
      }
    }
  } catch (const longform::error&) {
  }
  return 0;
}
