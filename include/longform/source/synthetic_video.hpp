// SPDX-License-Identifier: MIT
/// @file
/// `SyntheticVideo`: deterministic procedural videos of moving shapes, generated from a seed.
/// Needs no FFmpeg and no files: for tests, examples, benchmarks and the built-in demo.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>

#include <longform/core/error.hpp>
#include <longform/core/frame.hpp>
#include <longform/core/reflect.hpp>
#include <longform/core/splitmix.hpp>
#include <longform/core/video_info.hpp>
#include <longform/source/concepts.hpp>
#include <longform/source/detail/procedural_source.hpp>
#include <longform/source/detail/rendered_frames.hpp>

namespace longform {

/// What `SyntheticVideo` generates.
struct SyntheticOptions {
  std::uint64_t seed = 0;     ///< same seed, same pixels, on every platform
  std::size_t videos = 1;     ///< how many distinct videos the source holds
  std::int64_t frames = 250;  ///< frames per video
  std::int64_t width = 128;
  std::int64_t height = 96;
  Rational fps{25, 1};
  int shapes = 3;  ///< moving shapes per video (squares and discs, bouncing off the borders)
};

/// Frames of one synthetic video. Positions are closed-form in the frame number, so seeking is exact.
class SyntheticReader : public detail::RenderedFrames<SyntheticReader> {
 public:
  SyntheticReader(const SyntheticOptions& options, std::size_t video) : options_(options) {
    SplitMix64 rng(options.seed * 0x100000001b3ULL + video + 1);
    info_ = detail::rendered_video_info("synthetic:" + std::to_string(options.seed) + "/" + std::to_string(video), options);
    for (int c = 0; c < 3; ++c) {
      background_[c] = rng.uniform(20, 120);
      gradient_[c] = rng.uniform(-60, 60);
    }
    const double w = static_cast<double>(options.width), h = static_cast<double>(options.height);
    for (int i = 0; i < options.shapes; ++i) {
      Shape s;
      s.size = rng.uniform(0.12, 0.3) * std::min(w, h);
      s.x0 = rng.uniform(0, w - s.size);
      s.y0 = rng.uniform(0, h - s.size);
      s.vx = rng.uniform(-3, 3) * w / 128.0;
      s.vy = rng.uniform(-3, 3) * h / 96.0;
      s.disc = (rng() & 1) != 0;
      for (auto& c : s.color) c = static_cast<std::uint8_t>(rng.uniform(100, 256));
      shapes_.push_back(s);
    }
  }

  [[nodiscard]] const VideoInfo& info() const noexcept { return info_; }
  [[nodiscard]] std::int64_t frame_count() const noexcept { return options_.frames; }

 private:
  friend detail::RenderedFrames<SyntheticReader>;  // next(), skip() and seek_frame() render through it
  struct Shape {
    double size, x0, y0, vx, vy;
    bool disc;
    std::uint8_t color[3];
  };

  // Position along one axis bouncing between 0 and `span`: a triangle wave of `x0 + v·t`.
  static double bounce(double x0, double v, double t, double span) {
    if (span <= 0) return 0;
    const double p = std::fmod(std::fabs(x0 + v * t), 2 * span);
    return p <= span ? p : 2 * span - p;
  }

  at::Tensor render(std::int64_t t) const {
    const auto w = options_.width, h = options_.height;
    at::Tensor img = at::empty({h, w, 3}, at::kByte);
    auto* px = img.data_ptr<std::uint8_t>();
    for (std::int64_t y = 0; y < h; ++y) {
      const double g = static_cast<double>(y) / static_cast<double>(h);
      std::uint8_t row[3];
      for (int c = 0; c < 3; ++c) row[c] = static_cast<std::uint8_t>(std::clamp(background_[c] + gradient_[c] * g, 0.0, 255.0));
      for (std::int64_t x = 0; x < w; ++x) std::copy(row, row + 3, px + (y * w + x) * 3);
    }
    const double td = static_cast<double>(t);
    for (const auto& s : shapes_) {
      const double x = bounce(s.x0, s.vx, td, static_cast<double>(w) - s.size);
      const double y = bounce(s.y0, s.vy, td, static_cast<double>(h) - s.size);
      const double r = s.size / 2, cx = x + r, cy = y + r;
      const auto x1 = std::max<std::int64_t>(0, static_cast<std::int64_t>(x));
      const auto y1 = std::max<std::int64_t>(0, static_cast<std::int64_t>(y));
      const auto x2 = std::min<std::int64_t>(w, static_cast<std::int64_t>(x + s.size) + 1);
      const auto y2 = std::min<std::int64_t>(h, static_cast<std::int64_t>(y + s.size) + 1);
      for (std::int64_t yy = y1; yy < y2; ++yy) {
        for (std::int64_t xx = x1; xx < x2; ++xx) {
          const double dx = static_cast<double>(xx) + 0.5 - cx, dy = static_cast<double>(yy) + 0.5 - cy;
          if (s.disc && dx * dx + dy * dy > r * r) continue;
          std::copy(s.color, s.color + 3, px + (yy * w + xx) * 3);
        }
      }
    }
    return img;
  }

  SyntheticOptions options_;
  VideoInfo info_;
  double background_[3]{}, gradient_[3]{};
  std::vector<Shape> shapes_;
};

static_assert(SeekableFrameReader<SyntheticReader>);

/// `options.videos` procedural videos as a `VideoSource`.
class SyntheticVideo : public detail::ProceduralSource<SyntheticOptions, SyntheticReader> {
 public:
  /// @throws config_error for non-positive sizes, frame counts or frame rate.
  explicit SyntheticVideo(SyntheticOptions options = {})
      : ProceduralSource(options, "SyntheticVideo", "synthetic", options.shapes >= 0, "videos, frames, width, height and fps must be positive") {}
};

static_assert(VideoSource<SyntheticVideo>);

}  // namespace longform

LONGFORM_REFLECT(longform::SyntheticOptions, seed, videos, frames, width, height, fps, shapes);
