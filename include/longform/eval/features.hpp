// SPDX-License-Identifier: MIT
/// @file
/// `view_features`: a frozen encoder's features of every test view of every video of an
/// `ActionClips` (the input of the linear probe and kNN protocols), in eval mode, without
/// gradients, `batch` views per forward pass; `features_of` does it for views made otherwise.
///
///     at::Tensor x = longform::view_features(encoder, test_clips, at::kCPU);  // [N, V, D]
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <ATen/Parallel.h>
#include <ATen/ops/cat.h>
#include <torch/nn/module.h>

#include <longform/core/error.hpp>
#include <longform/data/action_clips.hpp>
#include <longform/core/progress.hpp>

namespace longform {

/// `[N, V, D]` features of `views_of(i)` (`[V, C, T, H, W]`, the same V for every i) for the
/// `n` videos i < n; `encoder->forward` maps `[B, C, T, H, W]` to `[B, D]`, about `batch` views at
/// a time. The views of a forward pass are made in parallel on the intra-op threads (on small
/// inputs, decoding them costs more than the pass), so `views_of` is called from several threads
/// at once. A progress bar on a terminal, labelled `what`.
template <class Encoder, class ViewsOf>
[[nodiscard]] at::Tensor features_of(Encoder& encoder, std::size_t n, ViewsOf&& views_of, c10::Device device, std::int64_t batch = 16,
                                     const char* what = "features", bool progress = true) {
  if (n == 0) throw config_error(std::string(what) + ": no videos");
  torch::NoGradGuard no_grad;
  const bool was_training = encoder->is_training();
  encoder->eval();
  encoder->to(device);
  ProgressBar bar(static_cast<std::int64_t>(n), 0, progress);
  std::vector<at::Tensor> views{views_of(0)}, out;
  const auto videos_per_pass = static_cast<std::size_t>(std::max<std::int64_t>(1, batch / views.front().size(0)));
  for (std::size_t first = 0; first < n; first += videos_per_pass) {
    const std::size_t count = std::min(videos_per_pass, n - first), made = views.size();
    views.resize(count);
    at::parallel_for(static_cast<std::int64_t>(made), static_cast<std::int64_t>(count), 1, [&](std::int64_t begin, std::int64_t end) {
      for (auto k = static_cast<std::size_t>(begin); k < static_cast<std::size_t>(end); ++k) views[k] = views_of(first + k);
    });
    out.push_back(encoder->forward(at::cat(views).to(device)).to(at::kFloat).cpu());
    views.clear();
    bar.update(static_cast<std::int64_t>(first + count), what);
  }
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
