// SPDX-License-Identifier: MIT
/// @file
/// `HostScalar`: a host-side copy of an integer scalar buffer (a step counter, a queue pointer)
/// that may live on a GPU, so reading it every step costs no device synchronization.
///
///     HostScalar steps;
///     const auto s = steps.get(step);   // reads the tensor only when someone else changed it
///     steps.set(step, s + 1);           // writes device and host copy, no sync
///
/// The copy is trusted while the tensor is the same object at the same version: replacing it
/// (`Module::to`) or writing it in place (`load_state_dict`'s `copy_`, which bumps the version
/// counter) makes the next `get` read the tensor again.
#pragma once

#include <cstdint>

#include <ATen/core/Tensor.h>

namespace longform {

/// A cached host copy of a 0-dim integer tensor (file comment).
class HostScalar {
 public:
  /// The tensor's value; reads it (a device sync on CUDA) only when the cache is stale.
  std::int64_t get(const at::Tensor& t) {
    if (t.unsafeGetTensorImpl() != impl_ || t._version() != version_) {
      value_ = t.item<std::int64_t>();
      remember(t);
    }
    return value_;
  }

  /// Writes `v` into the tensor (no sync) and into the cache.
  void set(const at::Tensor& t, std::int64_t v) {
    t.fill_(v);
    value_ = v;
    remember(t);
  }

 private:
  void remember(const at::Tensor& t) {
    impl_ = t.unsafeGetTensorImpl();
    version_ = t._version();
  }

  const c10::TensorImpl* impl_ = nullptr;
  std::int64_t version_ = -1;
  std::int64_t value_ = 0;
};

}  // namespace longform
