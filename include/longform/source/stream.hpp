// SPDX-License-Identifier: MIT
/// @file
/// `Stream`: a forward-only video of unknown length: a live URL, a named pipe, or standard input.
#pragma once

#include <cstddef>
#include <string>
#include <utility>

#include <longform/core/error.hpp>
#include <longform/io/video_reader.hpp>
#include <longform/source/concepts.hpp>

namespace longform {

/// A live or piped video as a `VideoSource` of size 1. Its reader cannot seek, and its
/// `info().frame_count` is usually -1; samplers that need random access reject it at compile
/// time through `SeekableFrameReader` only when they can tell, so prefer sequential samplers.
class Stream {
 public:
  using source_concept = source_tag;

  /// `url`: `-` or `pipe:0` for standard input, `pipe:N` for descriptor N, or any FFmpeg URL.
  explicit Stream(std::string url = "-", ReaderOptions options = {}) : url_(std::move(url)), options_(options) {}

  [[nodiscard]] std::size_t size() const noexcept { return 1; }
  [[nodiscard]] std::string name(std::size_t) const { return url_; }
  [[nodiscard]] VideoReader open(std::size_t i) const {
    if (i != 0) throw config_error("Stream " + url_ + ": video " + std::to_string(i) + " requested, source has 1");
    return VideoReader(url_, options_);
  }

 private:
  std::string url_;
  ReaderOptions options_;
};

static_assert(VideoSource<Stream>);

}  // namespace longform
