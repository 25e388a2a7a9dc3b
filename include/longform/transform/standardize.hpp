// SPDX-License-Identifier: MIT
/// @file
/// `Standardize`: each frame to mean 0 and standard deviation 1 over its pixels and channels —
/// the paper's normalization (§III-B: "normalize the pixel values of each frame … mean of 0 and a
/// standard deviation of 1").
#pragma once

#include <tuple>

#include <ATen/core/Tensor.h>
#include <ATen/ops/std_mean.h>

#include <longform/transform/compose.hpp>
#include <longform/transform/concepts.hpp>

namespace longform {

/// Per-frame standardization: `(x − mean_t) / max(std_t, eps)`, statistics over (C, H, W) of frame t
/// (population std). A constant frame becomes all zeros. Output `float`.
struct Standardize : transform_interface<Standardize> {
  double eps = 1e-6;

  at::Tensor apply(const at::Tensor& x) const {
    detail::check_video(x, "longform::Standardize");
    const at::Tensor f = detail::as_float(x);
    auto [std, mean] = at::std_mean(f, at::IntArrayRef{-4, -2, -1}, /*correction=*/0, /*keepdim=*/true);
    return f.sub(mean).div_(std.clamp_min_(eps));
  }
};

static_assert(ClipTransform<Standardize>);

}  // namespace longform
