// SPDX-License-Identifier: MIT
/// @file
/// Multi-view testing: a video's prediction is the mean of the softmax of its views' logits
/// (K temporal clips × 1 or 3 spatial crops), as SlowFast and VideoMAE test.
///
///     at::Tensor probabilities = longform::average_view_predictions(logits);  // [N, V, C] -> [N, C]
#pragma once

#include <ATen/core/Tensor.h>
#include <ATen/ops/softmax.h>

#include <longform/core/error.hpp>

namespace longform {

/// `[N, V, C]` logits of V views of N videos -> `[N, C]` class probabilities, averaged over the views.
/// @throws config_error for a tensor that is not 3-d.
[[nodiscard]] inline at::Tensor average_view_predictions(const at::Tensor& logits) {
  if (logits.dim() != 3) throw config_error("average_view_predictions: expected logits [N, views, classes]");
  return at::softmax(logits.to(at::kFloat), -1).mean(1);
}

}  // namespace longform
