// SPDX-License-Identifier: MIT
/// @file
/// `VideoFile`: a source of exactly one video file.
#pragma once

#include <cstddef>
#include <string>
#include <utility>

#include <longform/core/error.hpp>
#include <longform/io/video_reader.hpp>
#include <longform/source/concepts.hpp>

namespace longform {

/// One video file (or URL) as a `VideoSource` of size 1.
class VideoFile {
 public:
  using source_concept = source_tag;

  explicit VideoFile(std::string path, ReaderOptions options = {}) : path_(std::move(path)), options_(options) {}

  [[nodiscard]] std::size_t size() const noexcept { return 1; }
  [[nodiscard]] std::string name(std::size_t) const { return path_; }
  /// Opens the file. @throws open_error naming the file.
  [[nodiscard]] VideoReader open(std::size_t i) const {
    if (i != 0) throw config_error(path_ + ": video " + std::to_string(i) + " requested, source has 1");
    return VideoReader(path_, options_);
  }

 private:
  std::string path_;
  ReaderOptions options_;
};

static_assert(VideoSource<VideoFile>);

}  // namespace longform
