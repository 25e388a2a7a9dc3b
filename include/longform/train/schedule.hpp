// SPDX-License-Identifier: MIT
/// @file
/// `WarmupCosine`: the learning-rate schedule of a `Pretrainer` — linear warmup to the peak, then a
/// half cosine down to `min_lr` at the last step (VideoMAE's and MoCo v3's schedule).
///
/// A pure function of the step, so a resumed run needs only the step number to continue it.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>

#include <longform/train/options.hpp>

namespace longform {

/// lr(step) for steps 1..`steps`: `peak · step / warmup` while step ≤ warmup, then
/// `min + (peak − min) · (1 + cos(π · (step − warmup − 1) / (steps − warmup))) / 2`.
struct WarmupCosine {
  double peak = 1e-3;
  double min_lr = 0.0;
  std::int64_t warmup = 0;
  std::int64_t steps = 1;

  /// The schedule of `o` (peak `lr`, `min_lr`, `warmup_steps`, `steps`).
  [[nodiscard]] static WarmupCosine of(const PretrainerOptions& o) noexcept { return {o.lr, o.min_lr, o.warmup_steps, o.steps}; }

  /// The learning rate of optimizer step `step` (1-based; clamped into [1, steps]).
  [[nodiscard]] double operator()(std::int64_t step) const noexcept {
    step = std::clamp<std::int64_t>(step, 1, std::max<std::int64_t>(steps, 1));
    if (step <= warmup) return peak * static_cast<double>(step) / static_cast<double>(warmup);
    const auto decay = steps - warmup;
    if (decay <= 0) return peak;
    // Progress 0 at the first step after warmup, (decay−1)/decay at the last: every step still
    // learns (a last step at exactly min_lr = 0 would be wasted).
    const double t = static_cast<double>(step - warmup - 1) / static_cast<double>(decay);
    return min_lr + (peak - min_lr) * 0.5 * (1.0 + std::cos(std::numbers::pi * t));
  }
};

}  // namespace longform
