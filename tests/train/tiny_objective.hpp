// SPDX-License-Identifier: MIT
// A small, real self-supervised objective for the Pretrainer's tests: predict frame t+2 from
// frames t and t+1 of a noisy clip (denoising next-frame prediction), with a two-layer Conv3d
// network. It has everything the real objectives have that a resume must restore — weights,
// a buffer updated in `after_step` (an EMA of the loss), and its own random generator (the
// input noise) — while staying fast enough for many runs per test on two cores.
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/Generator.h>
#include <ATen/ops/mse_loss.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/relu.h>
#include <ATen/ops/zeros.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

#include <longform/core/clip.hpp>
#include <longform/objective/concepts.hpp>

namespace longform::test {

struct NextFrameOptions {
  double noise = 0.1;          ///< std of the Gaussian noise added to the input frames
  std::uint64_t seed = 1;      ///< the noise generator's seed
  std::int64_t poison_at = 0;  ///< > 0: the loss of that call (1-based) is NaN (injected failure)
  std::int64_t width = 8;      ///< hidden channels
};

struct NextFrameNetImpl : torch::nn::Module {
  explicit NextFrameNetImpl(std::int64_t width) {
    // Two frames in (temporal kernel 2, no temporal padding), one frame out.
    enc = register_module("enc", torch::nn::Conv3d(torch::nn::Conv3dOptions(3, width, {2, 3, 3}).padding({0, 1, 1})));
    dec = register_module("dec", torch::nn::Conv3d(torch::nn::Conv3dOptions(width, 3, {1, 3, 3}).padding({0, 1, 1})));
    ema_loss = register_buffer("ema_loss", at::zeros({}));
  }
  torch::nn::Conv3d enc{nullptr}, dec{nullptr};
  at::Tensor ema_loss;
};
TORCH_MODULE(NextFrameNet);

/// Denoising next-frame prediction: MSE between f(x_t + n, x_{t+1} + n') and x_{t+2}.
class NextFrame {
 public:
  using objective_concept = objective_tag;

  explicit NextFrame(NextFrameOptions options = {})
      : options_(options), net_(options.width), generator_(at::make_generator<at::CPUGeneratorImpl>(options.seed)) {}

  at::Tensor loss(const ClipBatch& batch) {
    const at::Tensor& x = batch.data;  // [B, C, T, H, W], T >= 3
    const auto T = x.size(2);
    at::Tensor input = x.narrow(2, 0, T - 1);
    if (options_.noise > 0) input = input + at::randn(input.sizes(), generator_).mul_(options_.noise).to(x.device());
    const at::Tensor target = x.narrow(2, 2, T - 2);
    const at::Tensor prediction = net_->dec(at::relu(net_->enc(input)));
    at::Tensor loss = at::mse_loss(prediction, target);
    last_ = loss.detach();
    if (++calls_ == options_.poison_at) loss = loss * std::numeric_limits<double>::quiet_NaN();
    return loss;
  }
  std::vector<at::Tensor> parameters() { return net_->parameters(); }
  void after_step() {
    at::NoGradGuard no_grad;
    net_->ema_loss.mul_(0.9).add_(last_, 0.1);
  }
  torch::nn::Module& module() { return *net_; }
  at::Generator generator() { return generator_; }
  NextFrameNet& net() { return net_; }

 private:
  NextFrameOptions options_;
  NextFrameNet net_;
  at::Generator generator_;
  at::Tensor last_;
  std::int64_t calls_ = 0;
};

static_assert(SslObjective<NextFrame>);

}  // namespace longform::test
