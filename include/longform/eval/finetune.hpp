// SPDX-License-Identifier: MIT
/// @file
/// Full fine-tuning: the encoder plus dropout and a linear classifier, all trained on random
/// training clips (AdamW, cosine decay, cross-entropy), then run on every test view. The paper
/// trains 10 epochs on UCF101 and 30 on HMDB51.
///
///     longform::X3D encoder(options);  // options.output = X3DOutput::features: the pooled features, no classifier
///     at::Tensor logits = longform::finetune(encoder, options.head_dim_out, train_clips, test_clips, split.num_classes(), {.epochs = 10});
///     auto metrics = longform::classification_metrics(longform::average_view_predictions(logits), test_labels);  // [N] int64
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <numbers>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>
#include <ATen/ops/cross_entropy_loss.h>
#include <ATen/ops/stack.h>
#include <ATen/ops/tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/adamw.h>

#include <longform/core/error.hpp>
#include <longform/core/reflect.hpp>
#include <longform/core/splitmix.hpp>
#include <longform/data/action_clips.hpp>
#include <longform/eval/features.hpp>
#include <longform/core/progress.hpp>

namespace longform {

/// How `finetune` trains.
struct FinetuneOptions {
  std::int64_t epochs = 10;
  std::int64_t batch = 8;
  double lr = 1e-3;  ///< peak AdamW learning rate, cosine-decayed to 0
  double weight_decay = 0.05;
  double dropout = 0.5;  ///< before the classifier
  std::string device = "cpu";
  std::uint64_t seed = 0;        ///< classifier initialisation, clip order and positions
  std::int64_t eval_batch = 16;  ///< test views per forward pass
  bool progress = true;          ///< progress bars on a terminal
};

/// An encoder (`forward`: `[B, C, T, H, W]` -> `[B, D]`) with dropout and a linear classifier.
template <class Encoder>
class ActionClassifierImpl : public torch::nn::Module {
 public:
  ActionClassifierImpl(Encoder encoder_net, std::int64_t feature_dim, std::int64_t num_classes, double dropout_p) {
    encoder = register_module("encoder", std::move(encoder_net));
    dropout = register_module("dropout", torch::nn::Dropout(dropout_p));
    head = register_module("head", torch::nn::Linear(feature_dim, num_classes));
  }
  at::Tensor forward(const at::Tensor& x) { return head->forward(dropout->forward(encoder->forward(x))); }

  Encoder encoder{nullptr};
  torch::nn::Dropout dropout{nullptr};
  torch::nn::Linear head{nullptr};
};

/// Fine-tunes `encoder` with a new classifier on `train` and returns the logits `[N, V, C]` of the
/// V views of the N videos of `test`. `feature_dim` is the width of `encoder->forward`.
/// `on_epoch(epoch, mean_loss)`, when given, hears each epoch's mean training loss (epochs from 1).
/// @throws config_error for bad options; the clips' decode errors.
template <class Encoder>
[[nodiscard]] at::Tensor finetune(Encoder encoder, std::int64_t feature_dim, const ActionClips& train, const ActionClips& test,
                                  std::int64_t num_classes, const FinetuneOptions& options = {},
                                  const std::function<void(std::int64_t, double)>& on_epoch = {}) {
  if (options.epochs <= 0 || options.batch <= 0 || !(options.lr > 0) || train.size() == 0) {
    throw config_error("finetune: epochs, batch, lr and the training set must be positive");
  }
  const c10::Device device(options.device);
  at::manual_seed(options.seed);
  auto model = std::make_shared<ActionClassifierImpl<Encoder>>(std::move(encoder), feature_dim, num_classes, options.dropout);
  model->to(device);
  model->train();
  torch::optim::AdamW optimizer(model->parameters(), torch::optim::AdamWOptions(options.lr).weight_decay(options.weight_decay));
  const auto n = static_cast<std::int64_t>(train.size());
  const std::int64_t steps_per_epoch = n / options.batch + (n % options.batch != 0);
  const std::int64_t total = options.epochs * steps_per_epoch;
  SplitMix64 rng(options.seed + 11);
  std::vector<std::size_t> order(train.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  ProgressBar bar(total, 0, options.progress);
  std::int64_t step = 0;
  for (std::int64_t e = 0; e < options.epochs; ++e) {
    detail::shuffle(order, rng);
    double epoch_loss = 0;
    for (std::int64_t s = 0; s < n; s += options.batch) {
      std::vector<at::Tensor> clips;
      std::vector<std::int64_t> labels;
      for (std::int64_t b = s; b < std::min(n, s + options.batch); ++b) {
        const auto v = order[static_cast<std::size_t>(b)];
        clips.push_back(train.train_clip(v, rng));
        labels.push_back(train.video(v).label);
      }
      const double lr = 0.5 * options.lr * (1 + std::cos(std::numbers::pi * static_cast<double>(step) / static_cast<double>(total)));
      for (auto& g : optimizer.param_groups()) g.options().set_lr(lr);
      optimizer.zero_grad();
      const at::Tensor y = at::tensor(labels, at::kLong).to(device);
      const at::Tensor loss = at::cross_entropy_loss(model->forward(at::stack(clips).to(device)), y);
      loss.backward();
      optimizer.step();
      ++step;
      const double loss_value = loss.item<double>();
      epoch_loss += loss_value * static_cast<double>(labels.size());
      char detail[64];
      std::snprintf(detail, sizeof detail, "fine-tune epoch %lld  loss %.4f", static_cast<long long>(e + 1), loss_value);
      bar.update(step, detail);
    }
    if (on_epoch) on_epoch(e + 1, epoch_loss / static_cast<double>(n));
  }
  bar.finish();
  return view_features(model, test, device, options.eval_batch, "testing", options.progress);
}

}  // namespace longform

LONGFORM_REFLECT(longform::FinetuneOptions, epochs, batch, lr, weight_decay, dropout, device, seed, eval_batch, progress);
