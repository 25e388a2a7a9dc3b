// SPDX-License-Identifier: MIT
/// @file
/// `motion_share`: how much an encoder's features depend on motion rather than on what is in the
/// picture. Each test view x is shown twice, as it is and frozen (x̄: every frame replaced by the
/// middle one, so the same picture with nothing moving), and the share is
///
///     E‖f(x) − f(x̄)‖² / E‖f(x) − f(x')‖²,   x' another test view,
///
/// 0 when stopping the motion leaves the features where they were (they see appearance only),
/// near or above 1 when it moves them as far as swapping the clip for another video's. On a data
/// set whose classes differ only by motion (the built-in action set) an encoder can beat a
/// random-init one only with features that move; this tells whether an objective taught that.
///
///     auto share = longform::motion_share(encoder, test_clips, at::kCPU);   // share.share
#pragma once

#include <cstddef>
#include <cstdint>

#include <ATen/core/Tensor.h>

#include <longform/data/action_clips.hpp>
#include <longform/eval/features.hpp>

namespace longform {

/// What `motion_share` measured.
struct MotionShare {
  double share = 0;             ///< `frozen_distance / between_distance`
  double frozen_distance = 0;   ///< E‖f(x) − f(x̄)‖², a view against its frozen self
  double between_distance = 0;  ///< E‖f(x) − f(x')‖² over pairs of distinct views
};

/// `views` (`[..., C, T, H, W]`) with every frame replaced by the middle one: a broadcast view, no
/// copy (`features_of` batches it into a new tensor anyway).
[[nodiscard]] inline at::Tensor freeze_motion(const at::Tensor& views) {
  const auto frames = views.size(-3);
  return views.narrow(-3, frames / 2, 1).expand_as(views);
}

/// The motion share of `encoder`'s features (`[B, C, T, H, W]` -> `[B, D]`) over the test views of
/// `clips` (see the file comment), given their features `moving_features` (`[N, V, D]`, from
/// `view_features`): the frozen-feature protocols have already computed them.
template <class Encoder>
[[nodiscard]] MotionShare motion_share(Encoder& encoder, const ActionClips& clips, const at::Tensor& moving_features, c10::Device device,
                                       std::int64_t batch = 16, bool progress = true) {
  const at::Tensor moving = moving_features.flatten(0, 1);
  const at::Tensor frozen =
      features_of(
          encoder, clips.size(), [&](std::size_t i) { return freeze_motion(clips.test_views(i)); }, device, batch, "frozen views", progress)
          .flatten(0, 1);
  MotionShare m;
  m.frozen_distance = (moving - frozen).pow(2).sum(1).mean().item<double>();
  // Over all ordered pairs of distinct rows, E‖a − b‖² is twice the summed (unbiased) variance.
  m.between_distance = 2 * moving.var(0).sum().item<double>();
  m.share = m.between_distance > 0 ? m.frozen_distance / m.between_distance : 0;  // 0: a constant encoder
  return m;
}

/// The motion share of `encoder`'s features over the test views of `clips`, computing their features.
template <class Encoder>
[[nodiscard]] MotionShare motion_share(Encoder& encoder, const ActionClips& clips, c10::Device device, std::int64_t batch = 16,
                                       bool progress = true) {
  return motion_share(encoder, clips, view_features(encoder, clips, device, batch, "moving views", progress), device, batch, progress);
}

}  // namespace longform
