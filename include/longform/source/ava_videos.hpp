// SPDX-License-Identifier: MIT
/// @file
/// `AvaVideos`: the AVA-Actions pre-training pool: the movies named in an AVA file-name list,
/// each read only inside its annotated 15-minute window (seconds 900 to 1800).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <longform/core/error.hpp>
#include <longform/io/video_reader.hpp>
#include <longform/source/concepts.hpp>
#include <longform/source/video_list.hpp>

namespace longform {

/// Seconds `[begin, end)` of a video.
struct TimeWindow {
  double begin = 900.0;
  double end = 1800.0;
};

/// A `VideoReader` restricted to a time window, which then behaves as a video of its own:
/// `Frame::index` and `seek_frame` count from the window's first frame (as if the file had been
/// cut with `ffmpeg -ss 900 -t 900`); `Frame::seconds` stays the file's time.
class WindowedReader {
 public:
  WindowedReader(VideoReader reader, TimeWindow window) : reader_(std::move(reader)), window_(window) {}

  [[nodiscard]] const VideoInfo& info() const noexcept { return reader_.info(); }
  [[nodiscard]] const ReaderStats& stats() const noexcept { return reader_.stats(); }

  std::optional<Frame> next() {
    if (!started_) {
      started_ = true;
      locate();
      reader_.seek_time(window_.begin);
    }
    auto frame = reader_.next();
    if (!frame || frame->seconds >= window_.end) return std::nullopt;
    frame->index -= first_;
    return frame;
  }

  /// Frames inside the window.
  std::int64_t frame_count() {
    locate();
    return last_ - first_;
  }

  /// Makes `next()` return the window's frame `k`.
  void seek_frame(std::int64_t k) {
    locate();
    if (k < 0 || k >= last_ - first_) {
      throw decode_error(info().path, "seek to window frame " + std::to_string(k),
                         "out of range: the window has " + std::to_string(last_ - first_) + " frames");
    }
    started_ = true;
    reader_.seek_frame(first_ + k);
  }

 private:
  // First and one-past-last frame index of the window, from the reader's PTS index.
  void locate() {
    if (located_) return;
    const auto& ts = reader_.frame_timestamps();
    const double tb = info().time_base.value();
    first_ = last_ = static_cast<std::int64_t>(ts.size());
    for (std::size_t k = 0; k < ts.size(); ++k) {
      const double s = static_cast<double>(ts[k]) * tb;
      if (s >= window_.begin - 1e-9 && first_ == static_cast<std::int64_t>(ts.size())) first_ = static_cast<std::int64_t>(k);
      if (s >= window_.end - 1e-9) {
        last_ = static_cast<std::int64_t>(k);
        break;
      }
    }
    if (last_ < first_) last_ = first_;
    located_ = true;
  }

  VideoReader reader_;
  TimeWindow window_;
  bool started_ = false;
  bool located_ = false;
  std::int64_t first_ = 0, last_ = 0;
};

static_assert(SeekableFrameReader<WindowedReader>);

/// The AVA movies named in a file-name list (e.g. `ava_file_names_trainval_v2.1.txt`, one
/// `<id>.<ext>` per line), found under `root`, each limited to `window` (default 900–1800 s).
class AvaVideos {
 public:
  using source_concept = source_tag;

  /// @throws config_error naming `list` if it cannot be read or names no video.
  AvaVideos(const std::filesystem::path& list, const std::filesystem::path& root, TimeWindow window = {}, ReaderOptions options = {})
      : window_(window), options_(options) {
    if (!(window.end > window.begin)) throw config_error("AvaVideos: empty time window");
    std::error_code ec;
    if (!std::filesystem::is_directory(root, ec)) throw config_error("AvaVideos: video root " + root.string() + " is not a directory");
    // A list file's relative names resolve against the list's folder; AVA's are bare file names
    // that live under `root`, so resolve them there.
    const auto names = VideoList::from_file(list);
    for (const auto& p : names.paths()) {
      paths_.push_back((root / std::filesystem::path(p).filename()).string());
    }
  }

  [[nodiscard]] std::size_t size() const noexcept { return paths_.size(); }
  [[nodiscard]] std::string name(std::size_t i) const { return paths_.at(i); }
  [[nodiscard]] const TimeWindow& window() const noexcept { return window_; }
  /// Opens movie `i` restricted to the window. @throws open_error naming the file.
  [[nodiscard]] WindowedReader open(std::size_t i) const { return WindowedReader(VideoReader(paths_.at(i), options_), window_); }

 private:
  std::vector<std::string> paths_;
  TimeWindow window_;
  ReaderOptions options_;
};

static_assert(VideoSource<AvaVideos>);

}  // namespace longform
