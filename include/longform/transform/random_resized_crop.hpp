// SPDX-License-Identifier: MIT
/// @file
/// `RandomResizedCrop`: torchvision's `RandomResizedCrop` for clips — one box per clip (area
/// fraction from `scale`, aspect ratio log-uniform in `ratio`, 10 tries, else a center crop of
/// the clamped aspect), cut from every frame and resized to `height × width`.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>

#include <ATen/core/Tensor.h>

#include <longform/core/splitmix.hpp>
#include <longform/transform/compose.hpp>
#include <longform/transform/concepts.hpp>
#include <longform/transform/resize.hpp>

namespace longform {

/// A crop box: rows `[top, top + height)`, columns `[left, left + width)`.
struct CropBox {
  std::int64_t top = 0, left = 0, height = 0, width = 0;
};

/// Random area/aspect crop, resized. Output `float`.
struct RandomResizedCrop : transform_interface<RandomResizedCrop> {
  std::int64_t height = 224;
  std::int64_t width = 224;
  std::array<double, 2> scale{0.08, 1.0};
  std::array<double, 2> ratio{3.0 / 4.0, 4.0 / 3.0};
  bool antialias = true;
  std::uint64_t seed = 0;
  SplitMix64 rng{seed};  ///< the transform's own generator, seeded from `seed`

  /// The box for an `H × W` frame (draws from the generator).
  CropBox draw(std::int64_t H, std::int64_t W) {
    const double area = static_cast<double>(H * W);
    const double log_lo = std::log(ratio[0]), log_hi = std::log(ratio[1]);
    for (int attempt = 0; attempt < 10; ++attempt) {
      const double target = area * rng.uniform(scale[0], scale[1]);
      const double aspect = std::exp(rng.uniform(log_lo, log_hi));
      const auto w = static_cast<std::int64_t>(std::nearbyint(std::sqrt(target * aspect)));
      const auto h = static_cast<std::int64_t>(std::nearbyint(std::sqrt(target / aspect)));
      if (0 < w && w <= W && 0 < h && h <= H) {
        const auto top = static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(H - h + 1));
        const auto left = static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(W - w + 1));
        return {top, left, h, w};
      }
    }
    const double in_ratio = static_cast<double>(W) / static_cast<double>(H);
    std::int64_t w = W, h = H;
    if (in_ratio < std::min(ratio[0], ratio[1])) {
      h = static_cast<std::int64_t>(std::nearbyint(static_cast<double>(w) / std::min(ratio[0], ratio[1])));
    } else if (in_ratio > std::max(ratio[0], ratio[1])) {
      w = static_cast<std::int64_t>(std::nearbyint(static_cast<double>(h) * std::max(ratio[0], ratio[1])));
    }
    return {(H - h) / 2, (W - w) / 2, h, w};
  }

  at::Tensor apply(const at::Tensor& x) {
    detail::check_video(x, "longform::RandomResizedCrop");
    TORCH_CHECK(scale[0] > 0 && scale[0] <= scale[1] && ratio[0] > 0 && ratio[0] <= ratio[1],
                "longform::RandomResizedCrop: need 0 < scale[0] <= scale[1] and 0 < ratio[0] <= ratio[1]");
    const CropBox b = draw(x.size(-2), x.size(-1));
    return detail::resize_frames(x.narrow(-2, b.top, b.height).narrow(-1, b.left, b.width), height, width, antialias);
  }
};

static_assert(ClipTransform<RandomResizedCrop>);

}  // namespace longform
