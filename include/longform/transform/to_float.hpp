// SPDX-License-Identifier: MIT
/// @file
/// `ToFloat`: `uint8` pixels to `float` in [0, 1] (as torchvision's `ToTensor` / pytorchvideo's `Div255`).
#pragma once

#include <ATen/core/Tensor.h>

#include <longform/transform/compose.hpp>
#include <longform/transform/concepts.hpp>

namespace longform {

/// `uint8` → `float` / 255; floating tensors pass unchanged.
struct ToFloat : transform_interface<ToFloat> {
  at::Tensor apply(const at::Tensor& x) const {
    detail::check_video(x, "longform::ToFloat");
    return detail::as_float(x);
  }
};

static_assert(ClipTransform<ToFloat>);

}  // namespace longform
