// SPDX-License-Identifier: MIT
/// @file
/// `Resize` (to H×W) and `ShortSideScale` (short side to S, aspect kept, as pytorchvideo's
/// `ShortSideScale`). Bilinear; with `antialias` (default, as torchvision v2) downscaling
/// low-pass filters first. Every frame is resized alike.
///
/// NOTE: decoding straight to the target size (`ReaderOptions::width/height`, swscale) is cheaper
/// than decoding full size and resizing here; use these for sizes only known after decoding.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>
#include <ATen/ops/_upsample_bilinear2d_aa.h>
#include <ATen/ops/upsample_bilinear2d.h>

#include <longform/transform/compose.hpp>
#include <longform/transform/concepts.hpp>

namespace longform {

namespace detail {
// Resizes the last two dimensions of `[..., C, T, H, W]` to `h × w`.
inline at::Tensor resize_frames(const at::Tensor& x, std::int64_t h, std::int64_t w, bool antialias) {
  const at::Tensor f = as_float(x);
  if (f.size(-2) == h && f.size(-1) == w) return f;
  // [..., C, T, H, W] -> [N = ...·T, C, H, W]: frames as a batch of images.
  const at::Tensor frames = f.movedim(-3, -4);
  std::vector<std::int64_t> lead(frames.sizes().begin(), frames.sizes().end() - 3);
  const at::Tensor images = frames.reshape({-1, f.size(-4), f.size(-2), f.size(-1)});
  const bool down = h < f.size(-2) || w < f.size(-1);
  at::Tensor out = antialias && down ? at::_upsample_bilinear2d_aa(images, {h, w}, /*align_corners=*/false)
                                     : at::upsample_bilinear2d(images, {h, w}, /*align_corners=*/false);
  lead.insert(lead.end(), {f.size(-4), h, w});
  return out.reshape(lead).movedim(-4, -3);
}
}  // namespace detail

/// Every frame to `height × width`. Output `float`.
struct Resize : transform_interface<Resize> {
  std::int64_t height = 224;
  std::int64_t width = 224;
  bool antialias = true;

  at::Tensor apply(const at::Tensor& x) const {
    detail::check_video(x, "longform::Resize");
    TORCH_CHECK(height > 0 && width > 0, "longform::Resize: size must be positive, got ", height, "x", width);
    return detail::resize_frames(x, height, width, antialias);
  }
};

/// Short side to `size`, the long side scaled by the same factor (rounded down). Output `float`.
struct ShortSideScale : transform_interface<ShortSideScale> {
  std::int64_t size = 256;
  bool antialias = true;

  /// The output size for an `h × w` input: {height, width}.
  [[nodiscard]] std::pair<std::int64_t, std::int64_t> output_size(std::int64_t h, std::int64_t w) const {
    if (w < h) return {static_cast<std::int64_t>(std::floor(static_cast<double>(h) / static_cast<double>(w) * static_cast<double>(size))), size};
    return {size, static_cast<std::int64_t>(std::floor(static_cast<double>(w) / static_cast<double>(h) * static_cast<double>(size)))};
  }

  at::Tensor apply(const at::Tensor& x) const {
    detail::check_video(x, "longform::ShortSideScale");
    TORCH_CHECK(size > 0, "longform::ShortSideScale: size must be positive, got ", size);
    const auto [h, w] = output_size(x.size(-2), x.size(-1));
    return detail::resize_frames(x, h, w, antialias);
  }
};

static_assert(ClipTransform<Resize>);
static_assert(ClipTransform<ShortSideScale>);

}  // namespace longform
