// SPDX-License-Identifier: MIT
/// @file
/// `Normalize`: per-channel `(x − mean[c]) / std[c]`, as torchvision's `Normalize` (for example the
/// X3D preprocessing: mean 0.45, std 0.225 on pixels in [0, 1]).
#pragma once

#include <array>

#include <ATen/core/Tensor.h>
#include <ATen/ops/tensor.h>

#include <longform/transform/compose.hpp>
#include <longform/transform/concepts.hpp>

namespace longform {

/// Per-channel normalization of RGB clips. `uint8` input is first mapped to [0, 1]. Output `float`.
struct Normalize : transform_interface<Normalize> {
  std::array<double, 3> mean{0.45, 0.45, 0.45};
  std::array<double, 3> std{0.225, 0.225, 0.225};

  at::Tensor apply(const at::Tensor& x) const {
    detail::check_video(x, "longform::Normalize", /*rgb=*/true);
    for (double s : std) TORCH_CHECK(s > 0, "longform::Normalize: std must be positive, got ", s);
    const at::Tensor f = detail::as_float(x);
    const auto opts = f.options();
    const at::Tensor m = at::tensor(at::ArrayRef<double>(mean.data(), 3), opts).view({3, 1, 1, 1});
    const at::Tensor s = at::tensor(at::ArrayRef<double>(std.data(), 3), opts).view({3, 1, 1, 1});
    return f.sub(m).div_(s);
  }
};

static_assert(ClipTransform<Normalize>);

}  // namespace longform
