// SPDX-License-Identifier: MIT
/// @file
/// kNN classification on frozen features (Wu et al. 2018, as used for self-supervised video
/// encoders): cosine similarity to every training feature, the `k` most similar vote for their
/// class with weight `exp(similarity / temperature)`.
///
///     at::Tensor scores = longform::knn_scores(train_x, train_y, test_x, {.k = 20}, num_classes);
#pragma once

#include <algorithm>
#include <cstdint>

#include <ATen/core/Tensor.h>
#include <ATen/ops/exp.h>
#include <ATen/ops/linalg_vector_norm.h>
#include <ATen/ops/matmul.h>
#include <ATen/ops/ones_like.h>
#include <ATen/ops/topk.h>
#include <ATen/ops/zeros.h>

#include <longform/core/error.hpp>
#include <longform/core/reflect.hpp>

namespace longform {

/// How `knn_scores` votes.
struct KnnOptions {
  std::int64_t k = 20;        ///< neighbours (at most the training set)
  double temperature = 0.07;  ///< vote weight `exp(cos / temperature)`; 0: one vote each
  std::int64_t chunk = 1024;  ///< test rows per similarity block (bounds memory)
};

/// Class scores `[M, num_classes]` of `test` `[M, D]` by the `k` nearest of `train` `[N, D]`
/// (labels `train_labels` `[N]`).
/// @throws config_error on mismatched shapes or options.
[[nodiscard]] inline at::Tensor knn_scores(const at::Tensor& train, const at::Tensor& train_labels, const at::Tensor& test, const KnnOptions& options,
                                           std::int64_t num_classes) {
  if (train.dim() != 2 || test.dim() != 2 || train.size(1) != test.size(1) || train_labels.dim() != 1 || train_labels.size(0) != train.size(0) ||
      train.size(0) == 0) {
    throw config_error("knn_scores: expected train [N, D], labels [N], test [M, D] with N > 0");
  }
  if (options.k <= 0 || options.chunk <= 0 || options.temperature < 0 || num_classes <= 0) {
    throw config_error("knn_scores: k, chunk and num_classes must be positive, temperature >= 0");
  }
  auto unit = [](const at::Tensor& x) {
    const at::Tensor f = x.to(at::kFloat);
    return f.div(at::linalg_vector_norm(f, 2, {1}, /*keepdim=*/true).clamp_min(1e-12));
  };
  const at::Tensor a = unit(train), b = unit(test), y = train_labels.to(at::kLong).to(train.device());
  const auto k = std::min(options.k, train.size(0));
  at::Tensor scores = at::zeros({test.size(0), num_classes}, b.options());
  for (std::int64_t s = 0; s < test.size(0); s += options.chunk) {
    const auto rows = std::min(options.chunk, test.size(0) - s);
    const at::Tensor sim = at::matmul(b.narrow(0, s, rows), a.t());  // [rows, N]
    auto [top, index] = at::topk(sim, k, 1, /*largest=*/true, /*sorted=*/true);
    const at::Tensor weight = options.temperature > 0 ? at::exp(top.div(options.temperature)) : at::ones_like(top);
    scores.narrow(0, s, rows).scatter_add_(1, y.index_select(0, index.reshape(-1)).reshape(index.sizes()), weight);
  }
  return scores;
}

}  // namespace longform

LONGFORM_REFLECT(longform::KnnOptions, k, temperature, chunk);
