// SPDX-License-Identifier: MIT
/// @file
/// `Stream`: a forward-only video of unknown length: a live URL, a named pipe, or standard input.
#pragma once

#include <string>
#include <utility>

#include <longform/io/video_reader.hpp>
#include <longform/source/concepts.hpp>
#include <longform/source/video_file.hpp>

namespace longform {

/// A live or piped video as a `VideoSource` of size 1. It is a `VideoFile` whose reader cannot
/// seek and whose `info().frame_count` is usually -1: use it with sequential samplers.
class Stream : public VideoFile {
 public:
  /// `url`: `-` or `pipe:0` for standard input, `pipe:N` for descriptor N, or any FFmpeg URL.
  explicit Stream(std::string url = "-", ReaderOptions options = {}) : VideoFile(std::move(url), options) {}
  /// It can be opened once and read forward only: pipelines never decode it with several readers.
  [[nodiscard]] static constexpr bool forward_only() noexcept { return true; }
};

static_assert(VideoSource<Stream>);

}  // namespace longform
