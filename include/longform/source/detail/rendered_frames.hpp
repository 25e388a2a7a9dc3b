// SPDX-License-Identifier: MIT
/// @file
/// `RenderedFrames<Derived>`: the frame cursor of a procedural video (`next`, `skip`,
/// `seek_frame`), shared by the synthetic readers. `Derived` supplies `info()`, `frame_count()`
/// and `at::Tensor render(std::int64_t k)` (befriending this class when private); frames are
/// closed-form in their index, so seeking is exact and skipping renders nothing.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include <longform/core/error.hpp>
#include <longform/core/frame.hpp>
#include <longform/core/video_info.hpp>

namespace longform::detail {

/// The `VideoInfo` of a procedural video named `path` with the options' size, rate and length.
template <class Options>
[[nodiscard]] VideoInfo rendered_video_info(std::string path, const Options& options) {
  VideoInfo info;
  info.path = std::move(path);
  info.width = options.width;
  info.height = options.height;
  info.fps = options.fps;
  info.time_base = {options.fps.den, options.fps.num};
  info.codec = "synthetic";
  info.frame_count = options.frames;
  info.duration = static_cast<double>(options.frames) / options.fps.value();
  info.stream_index = 0;
  return info;
}

template <class Derived>
class RenderedFrames {
 public:
  /// The next frame, or `std::nullopt` at the end.
  std::optional<Frame> next() {
    if (position_ >= self().frame_count()) return std::nullopt;
    Frame f;
    f.index = position_;
    f.pts = position_;
    f.seconds = static_cast<double>(position_) * self().info().time_base.value();
    f.rgb = self().render(position_++);
    return f;
  }

  /// Advances past the next frame without rendering it; its index, or `std::nullopt` at the end.
  std::optional<std::int64_t> skip() {
    if (position_ >= self().frame_count()) return std::nullopt;
    return position_++;
  }

  /// Makes `next()` return frame `k`. @throws decode_error when `k` is out of range.
  void seek_frame(std::int64_t k) {
    if (k < 0 || k >= self().frame_count()) {
      throw decode_error(self().info().path, "seek to frame " + std::to_string(k),
                         "out of range: the video has " + std::to_string(self().frame_count()) + " frames");
    }
    position_ = k;
  }

 private:
  Derived& self() { return static_cast<Derived&>(*this); }
  std::int64_t position_ = 0;
};

}  // namespace longform::detail
