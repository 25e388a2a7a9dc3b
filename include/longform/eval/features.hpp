// SPDX-License-Identifier: MIT
/// @file
/// `view_features`: a frozen encoder's features of every test view of every video of an
/// `ActionClips` (the input of the linear probe and kNN protocols), in eval mode, without
/// gradients, `batch` views per forward pass; `features_of` does it for views made otherwise.
///
///     at::Tensor x = longform::view_features(encoder, test_clips, at::kCPU);  // [N, V, D]
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/stack.h>
#include <torch/nn/module.h>

#include <longform/core/error.hpp>
#include <longform/data/action_clips.hpp>
#include <longform/core/progress.hpp>

namespace longform {

/// `[N, V, D]` features of `views_of(i)` (`[V, C, T, H, W]`, the same V for every i) for the
/// `n` videos i < n; `encoder->forward` maps `[B, C, T, H, W]` to `[B, D]`. A progress bar on a
/// terminal, labelled `what`.
template <class Encoder, class ViewsOf>
[[nodiscard]] at::Tensor features_of(Encoder& encoder, std::size_t n, ViewsOf&& views_of, c10::Device device, std::int64_t batch = 16,
                                     const char* what = "features", bool progress = true) {
  if (n == 0) throw config_error(std::string(what) + ": no videos");
  torch::NoGradGuard no_grad;
  const bool was_training = encoder->is_training();
  encoder->eval();
  encoder->to(device);
  ProgressBar bar(static_cast<std::int64_t>(n), 0, progress);
  std::vector<at::Tensor> pending, out;
  std::int64_t views_pending = 0;
  auto flush = [&] {
    if (pending.empty()) return;
    const at::Tensor x = at::cat(pending).to(device);
    out.push_back(encoder->forward(x).to(at::kFloat).cpu());
    pending.clear();
    views_pending = 0;
  };
  for (std::size_t i = 0; i < n; ++i) {
    pending.push_back(views_of(i));
    views_pending += pending.back().size(0);
    if (views_pending >= batch) flush();
    bar.update(static_cast<std::int64_t>(i + 1), what);
  }
  flush();
  bar.finish();
  encoder->train(was_training);
  return at::cat(out).reshape({static_cast<std::int64_t>(n), -1, out.front().size(1)});
}

/// `[N, V, D]` features of the V test views of each of the N videos of `clips`.
template <class Encoder>
[[nodiscard]] at::Tensor view_features(Encoder& encoder, const ActionClips& clips, c10::Device device, std::int64_t batch = 16,
                                       const char* what = "features", bool progress = true) {
  return features_of(encoder, clips.size(), [&](std::size_t i) { return clips.test_views(i); }, device, batch, what, progress);
}

}  // namespace longform
