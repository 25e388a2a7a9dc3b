// SPDX-License-Identifier: MIT
/// @file
/// `CenterCrop`: the central `height × width` window of every frame (torchvision's offsets:
/// `round((H − h) / 2)`, ties to even as Python's `round`).
#pragma once

#include <cmath>
#include <cstdint>

#include <ATen/core/Tensor.h>

#include <longform/transform/compose.hpp>
#include <longform/transform/concepts.hpp>

namespace longform {

/// Central crop; a view, no copy; any dtype. A crop larger than the frame is an error.
struct CenterCrop : transform_interface<CenterCrop> {
  std::int64_t height = 224;
  std::int64_t width = 224;

  /// A square `size × size` crop.
  explicit CenterCrop(std::int64_t size = 224) : height(size), width(size) {}
  CenterCrop(std::int64_t h, std::int64_t w) : height(h), width(w) {}

  at::Tensor apply(const at::Tensor& x) const {
    detail::check_video(x, "longform::CenterCrop");
    const auto H = x.size(-2), W = x.size(-1);
    TORCH_CHECK(height > 0 && width > 0 && height <= H && width <= W, "longform::CenterCrop: crop ", height, "x", width,
                " does not fit in frames of ", H, "x", W);
    const auto top = static_cast<std::int64_t>(std::nearbyint(static_cast<double>(H - height) / 2.0));
    const auto left = static_cast<std::int64_t>(std::nearbyint(static_cast<double>(W - width) / 2.0));
    return x.narrow(-2, top, height).narrow(-1, left, width);
  }
};

static_assert(ClipTransform<CenterCrop>);

}  // namespace longform
