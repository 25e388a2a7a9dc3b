// SPDX-License-Identifier: MIT
/// @file
/// `LinearProbe`: multinomial logistic regression on frozen features, the standard "linear
/// evaluation" of a self-supervised encoder. Features are standardised with the training set's
/// mean and std; the linear layer is trained with AdamW on shuffled mini-batches (seeded, so
/// repeatable), cross-entropy loss, cosine learning-rate decay.
///
///     longform::LinearProbe probe({.epochs = 100});
///     probe.fit(train_features, train_labels, num_classes);
///     at::Tensor logits = probe.logits(test_features);
#pragma once

#include <cmath>
#include <cstdint>
#include <numbers>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>
#include <ATen/ops/cross_entropy_loss.h>
#include <ATen/ops/from_blob.h>
#include <ATen/ops/linear.h>
#include <ATen/ops/std_mean.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/adamw.h>

#include <longform/core/error.hpp>
#include <longform/core/reflect.hpp>
#include <longform/core/splitmix.hpp>

namespace longform {

/// How a `LinearProbe` trains.
struct LinearProbeOptions {
  std::int64_t epochs = 100;
  std::int64_t batch = 256;
  double lr = 1e-2;  ///< peak, cosine-decayed to 0 over the epochs
  double weight_decay = 1e-4;
  std::uint64_t seed = 0;  ///< initialisation and batch order
};

/// A linear classifier on standardised features (see the file comment).
class LinearProbe {
 public:
  explicit LinearProbe(LinearProbeOptions options = {}) : options_(options) {
    if (options_.epochs <= 0 || options_.batch <= 0 || !(options_.lr > 0)) throw config_error("LinearProbe: epochs, batch and lr must be positive");
  }

  /// Trains on `features` `[N, D]` with `labels` `[N]` in [0, num_classes). Returns the last epoch's mean loss.
  /// @throws config_error on mismatched shapes.
  double fit(const at::Tensor& features, const at::Tensor& labels, std::int64_t num_classes) {
    if (features.dim() != 2 || labels.dim() != 1 || features.size(0) != labels.size(0) || features.size(0) == 0 || num_classes <= 0) {
      throw config_error("LinearProbe::fit: expected features [N, D], labels [N], N > 0");
    }
    const at::Tensor x = features.to(at::kFloat).cpu();
    const at::Tensor y = labels.to(at::kLong).cpu();
    auto [std, mean] = at::std_mean(x, {0}, /*correction=*/0, /*keepdim=*/true);
    mean_ = mean;
    std_ = std.clamp_min(1e-6);
    const at::Tensor z = (x - mean_) / std_;

    at::manual_seed(options_.seed);
    linear_ = torch::nn::Linear(x.size(1), num_classes);
    torch::optim::AdamW optimizer(linear_->parameters(), torch::optim::AdamWOptions(options_.lr).weight_decay(options_.weight_decay));
    const std::int64_t n = x.size(0);
    const std::int64_t steps_per_epoch = (n + options_.batch - 1) / options_.batch;
    const double total = static_cast<double>(options_.epochs * steps_per_epoch);
    SplitMix64 rng(options_.seed + 1);
    std::vector<std::int64_t> order(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) order[static_cast<std::size_t>(i)] = i;
    double epoch_loss = 0;
    std::int64_t step = 0;
    for (std::int64_t e = 0; e < options_.epochs; ++e) {
      detail::shuffle(order, rng);
      const at::Tensor perm = at::from_blob(order.data(), {n}, at::kLong).clone();
      epoch_loss = 0;
      for (std::int64_t s = 0; s < n; s += options_.batch) {
        const at::Tensor index = perm.narrow(0, s, std::min(options_.batch, n - s));
        const double lr = 0.5 * options_.lr * (1 + std::cos(std::numbers::pi * static_cast<double>(step++) / total));
        for (auto& g : optimizer.param_groups()) g.options().set_lr(lr);
        optimizer.zero_grad();
        const at::Tensor loss = at::cross_entropy_loss(linear_->forward(z.index_select(0, index)), y.index_select(0, index));
        loss.backward();
        optimizer.step();
        epoch_loss += loss.item<double>() * static_cast<double>(index.size(0));
      }
    }
    return epoch_loss / static_cast<double>(n);
  }

  /// Logits `[M, num_classes]` of `features` `[M, D]` (or `[M, V, D]` -> `[M, V, num_classes]`).
  /// @throws config_error before `fit`.
  [[nodiscard]] at::Tensor logits(const at::Tensor& features) const {
    if (!linear_) throw config_error("LinearProbe::logits: call fit first");
    torch::NoGradGuard no_grad;
    return at::linear((features.to(at::kFloat).cpu() - mean_) / std_, linear_->weight, linear_->bias);
  }

 private:
  LinearProbeOptions options_;
  at::Tensor mean_, std_;
  torch::nn::Linear linear_{nullptr};
};

}  // namespace longform

LONGFORM_REFLECT(longform::LinearProbeOptions, epochs, batch, lr, weight_decay, seed);
