// SPDX-License-Identifier: MIT
/// @file
/// `ToDevice`: moves clips or batches to a device. To CUDA from CPU the tensor is first placed in
/// pinned (page-locked) host memory and copied with `non_blocking`, so the copy overlaps compute
/// on the current stream; CPU targets are a plain (usually free) `to`.
#pragma once

#include <ATen/core/Tensor.h>

#include <longform/transform/compose.hpp>
#include <longform/transform/concepts.hpp>

namespace longform {

/// Device transfer; dtype and values unchanged.
struct ToDevice : transform_interface<ToDevice> {
  at::Device device = at::kCPU;
  bool non_blocking = true;
  bool pin_memory = true;

  at::Tensor apply(const at::Tensor& x) const {
    TORCH_CHECK(x.defined(), "longform::ToDevice: clip has no data");
    if (x.device() == device) return x;
    if (device.is_cuda() && x.is_cpu()) {
      const at::Tensor host = pin_memory && !x.is_pinned() ? x.contiguous().pin_memory() : x;
      return host.to(host.options().device(device), /*non_blocking=*/non_blocking && host.is_pinned());
    }
    return x.to(x.options().device(device));
  }
};

static_assert(ClipTransform<ToDevice>);

}  // namespace longform
