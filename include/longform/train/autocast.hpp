// SPDX-License-Identifier: MIT
/// @file
/// `Bf16Autocast`: bfloat16 autocast on CUDA for a scope (a forward), as Python's
/// `torch.autocast("cuda", torch.bfloat16)`; restores the previous setting on exit.
///
///     { Bf16Autocast autocast(device.is_cuda()); loss = objective.loss(batch); }
///     loss.backward();   // outside: backward runs in the dtypes the forward chose
#pragma once

#include <ATen/autocast_mode.h>

namespace longform {

class Bf16Autocast {
 public:
  /// `on == false` leaves autocast untouched (so callers need no branch for the CPU).
  explicit Bf16Autocast(bool on) : on_(on) {
    if (!on_) return;
    enabled_ = at::autocast::is_autocast_enabled(at::kCUDA);
    dtype_ = at::autocast::get_autocast_dtype(at::kCUDA);
    at::autocast::set_autocast_enabled(at::kCUDA, true);
    at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
    at::autocast::increment_nesting();
  }
  Bf16Autocast(const Bf16Autocast&) = delete;
  Bf16Autocast& operator=(const Bf16Autocast&) = delete;
  ~Bf16Autocast() {
    if (!on_) return;
    // The cast cache holds bf16 copies of the weights; they are stale once the optimizer steps.
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    at::autocast::set_autocast_enabled(at::kCUDA, enabled_);
    at::autocast::set_autocast_dtype(at::kCUDA, dtype_);
  }

 private:
  bool on_;
  bool enabled_ = false;
  at::ScalarType dtype_ = at::kBFloat16;
};

}  // namespace longform
