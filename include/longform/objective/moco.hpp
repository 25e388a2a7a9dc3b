// SPDX-License-Identifier: MIT
/// @file
/// `MoCo<Encoder>`: momentum contrast (MoCo v2 with SlowFast's video recipe) as an `SslObjective`.
///
/// Available here: `MoCoOptions`, `info_nce`, `MoCoImpl<Encoder>`, the holder `MoCo<Encoder>`.
/// When to use: contrastive pre-training of a convolutional encoder (X3D-M by default, the paper's
/// setting, initialisable from a Kinetics-400 checkpoint with `MoCoOptions::init`). The encoder
/// is a template argument: `MoCo<X3DM>` (= `MoCo<X3D>`), `MoCo<X3DS>`, `MoCo<ViTS>`, ...
///
/// One step:
///   1. two views of every clip of the batch: the same clip, augmented twice independently
///      (random resized crop, clip-consistent colour jitter, grey, horizontal flip);
///   2. queries `q = normalize(head_q(encoder_q(view1)))`, with gradient;
///   3. keys `k = normalize(head_k(encoder_k(view2)))` under no-grad, through shuffle-BN (below);
///   4. InfoNCE: logits `[q·k, q·queue] / T`, cross-entropy with the positive at index 0.
/// `after_step()` then moves the key encoder and head by the momentum rule
/// `θ_k ← m·θ_k + (1−m)·θ_q` (under no-grad) and pushes the step's keys into the FIFO queue (those
/// of every batch since the last step: a Pretrainer with `update_every` k computes k losses per step).
/// Updating after the optimizer step is MoCo's "update before the key forward" one step shifted:
/// at the first step both copies are equal, so the sequences of key encoders are the same.
///
/// Shuffle-BN on one device. BatchNorm sees every sample of its batch; if a query and its key were
/// normalised with statistics of the same samples, the pair could be matched through those
/// statistics instead of content (the MoCo paper's reason for shuffling BN). As MoCo's
/// single-GPU demo (`SplitBatchNorm` + `_batch_shuffle_single_gpu`) does, both encoders here run
/// the batch in `bn_splits` groups (so each BatchNorm normalises over one group, like one GPU of a
/// multi-GPU run), and the key
/// batch is randomly permuted before it is split and un-permuted after, so a key is normalised
/// with other samples than its query. `bn_splits = 1` disables it. Mind the group size: with a
/// few clips per group the statistics differ more between groups than small clips differ from
/// each other, and a key stops matching its query (measured on a from-scratch X3D at 4×32²,
/// identical views, groups of 8: cosine 0.83 to its query against 0.72 to other clips). Keep
/// 16 or more clips per group, or start from a pre-trained encoder as the paper does.
///
/// Views from standardised clips. `ClipBatch::data` is per-frame standardised (mean 0, std 1),
/// while colour jitter is defined on pixels in [0, 1]. Each view therefore maps the clip to
/// pseudo-pixels `clamp(x · pixel_std + pixel_mean, 0, 1)` (defaults 0.225 / 0.45, the X3D
/// normalisation, so typical frames keep their spread), augments, and standardises each frame
/// again, so the encoder sees the distribution the pipeline gives it.
///
/// Determinism. The augmentations, the shuffle permutation and the initial queue come from
/// `seed` and the step counter (a buffer, so checkpoints carry it): a resumed run draws the same
/// views as an uninterrupted one, on every platform. Each step's seeds are `detail::mix_seed(seed,
/// stream, step)`: stream 0 the shuffle-BN permutation, streams 1, 2, ... the views' augmentations.
#pragma once

#include <longform/backbone/concepts.hpp>
#include <longform/backbone/weights.hpp>
#include <longform/backbone/x3d.hpp>
#include <longform/core/clip.hpp>
#include <longform/core/error.hpp>
#include <longform/core/host_scalar.hpp>
#include <longform/core/reflect.hpp>
#include <longform/core/splitmix.hpp>
#include <longform/objective/concepts.hpp>
#include <longform/objective/detail/holder.hpp>
#include <longform/transform/color_jitter.hpp>
#include <longform/transform/flip.hpp>
#include <longform/transform/grayscale.hpp>
#include <longform/transform/random_resized_crop.hpp>
#include <longform/transform/standardize.hpp>

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/cross_entropy_loss.h>
#include <ATen/ops/empty_like.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/stack.h>
#include <ATen/ops/tensor.h>
#include <ATen/ops/zeros.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <algorithm>
#include <array>
#include <concepts>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace longform {

/// Hyper-parameters of `MoCo`. Defaults: MoCo v2 head and queue with SlowFast's video values
/// (temperature 0.1, momentum 0.994, colour jitter applied with p 0.8).
struct MoCoOptions {
  std::int64_t dim = 128;                                                ///< width of the projected, normalised embedding
  std::int64_t mlp_hidden = 2048;                                        ///< hidden width of the `Linear-ReLU-Linear` projection head
  std::int64_t queue_size = 65536;                                       ///< K, negatives kept (FIFO); must be >= the batch size
  double temperature = 0.1;                                              ///< T of the InfoNCE logits
  double momentum = 0.994;                                               ///< m of `θ_k ← m·θ_k + (1−m)·θ_q`
  std::int64_t bn_splits = 2;                                            ///< shuffle-BN groups (file comment); 1 disables
  std::int64_t crop_size = 0;                                            ///< side of the views; 0: the input's height and width
  std::array<double, 2> crop_scale{0.2, 1.0};                            ///< area fraction of the random crop
  std::array<double, 2> crop_ratio{3.0 / 4.0, 4.0 / 3.0};                ///< aspect range of the random crop
  double brightness = 0.4, contrast = 0.4, saturation = 0.4, hue = 0.1;  ///< colour jitter strengths
  double jitter_p = 0.8;                                                 ///< probability of colour jitter per view
  double grayscale_p = 0.2;                                              ///< probability of a grey view
  double flip_p = 0.5;                                                   ///< probability of a horizontal flip per view
  double pixel_mean = 0.45;                                              ///< standardised value -> pseudo-pixel offset (file comment)
  double pixel_std = 0.225;                                              ///< standardised value -> pseudo-pixel scale
  std::uint64_t seed = 0;                                                ///< views, shuffle permutation and initial queue
  std::string init;  ///< checkpoint to initialise the encoder from (e.g. `X3D_M.pyth`); empty: none
};

/// Throws `config_error` naming the first invalid field of `o`.
inline void validate(const MoCoOptions& o) {
  auto fail = [](const std::string& what) { throw config_error("longform::MoCoOptions: " + what); };
  if (o.dim < 1) fail("dim must be >= 1 (was " + std::to_string(o.dim) + ")");
  if (o.mlp_hidden < 1) fail("mlp_hidden must be >= 1 (was " + std::to_string(o.mlp_hidden) + ")");
  if (o.queue_size < 1) fail("queue_size must be >= 1 (was " + std::to_string(o.queue_size) + ")");
  if (!(o.temperature > 0)) fail("temperature must be > 0 (was " + std::to_string(o.temperature) + ")");
  if (!(o.momentum >= 0 && o.momentum <= 1)) fail("momentum must be in [0, 1] (was " + std::to_string(o.momentum) + ")");
  if (o.bn_splits < 1) fail("bn_splits must be >= 1 (was " + std::to_string(o.bn_splits) + ")");
  if (o.crop_size < 0) fail("crop_size must be >= 0 (was " + std::to_string(o.crop_size) + ")");
  if (!(o.pixel_std > 0)) fail("pixel_std must be > 0 (was " + std::to_string(o.pixel_std) + ")");
}

/// InfoNCE of MoCo: `q`, `k` `[N, D]` (L2-normalised), `queue` `[K, D]` negatives;
/// `cross_entropy(cat([q·k, q·queueᵀ], 1) / T, 0)`, mean over the batch.
inline at::Tensor info_nce(const at::Tensor& q, const at::Tensor& k, const at::Tensor& queue, double temperature) {
  TORCH_CHECK(q.dim() == 2 && q.sizes() == k.sizes(), "longform::info_nce: q and k must both be [N, D], got ", q.sizes(), " and ", k.sizes());
  TORCH_CHECK(queue.dim() == 2 && queue.size(1) == q.size(1), "longform::info_nce: queue must be [K, ", q.size(1), "], got ", queue.sizes());
  const auto l_pos = (q * k).sum(1, /*keepdim=*/true);         // [N, 1]
  const auto l_neg = q.matmul(queue.to(q.scalar_type()).t());  // [N, K]
  const auto logits = at::cat({l_pos, l_neg}, 1).div(temperature);
  const auto labels = at::zeros({q.size(0)}, q.options().dtype(at::kLong));
  return at::cross_entropy_loss(logits, labels);
}

namespace detail {

/// The encoder `MoCo<E>` builds when given none: X3D-M with pooled features for `X3D`, the
/// preset with pooled features for an X3D preset (`X3DM`, `X3DS`, ...), else `E()`.
template <class E>
E default_encoder() {
  if constexpr (std::is_same_v<E, X3D>) {
    auto o = x3d_m();
    o.output = X3DOutput::features;
    return X3D(o);
  } else if constexpr (std::derived_from<E, X3D> && requires {
                         { E::preset() } -> std::same_as<X3DOptions>;
                       }) {
    auto o = E::preset();
    o.output = X3DOutput::features;
    return E(o);
  } else {
    return E();
  }
}

/// `dynamic_pointer_cast` of `m.clone()` to `Impl`: a deep copy (a copy of a module holder would share the weights).
template <class Impl>
std::shared_ptr<Impl> deep_copy(const torch::nn::Module& m) {
  auto copy = std::dynamic_pointer_cast<Impl>(m.clone());
  TORCH_CHECK(copy, "longform: clone() of a module did not return its own type");
  return copy;
}

/// `Linear(in, hidden) → ReLU → Linear(hidden, out)`: MoCo v2's projection head.
inline torch::nn::Sequential mlp_head(std::int64_t in, std::int64_t hidden, std::int64_t out) {
  return torch::nn::Sequential(torch::nn::Linear(in, hidden), torch::nn::ReLU(), torch::nn::Linear(hidden, out));
}

}  // namespace detail

/// The MoCo module: query encoder and head (trained), key encoder and head (momentum copies),
/// the queue. State-dict names: `encoder_q.*`, `head_q.*`, `encoder_k.*`, `head_k.*`, `queue`
/// (`[K, dim]`, one negative per row), `queue_ptr` (next row to overwrite), `step`.
/// @tparam Encoder a `Backbone` module holder (`X3D`, `VideoViT`, ...) returning `[N, D]` features.
template <Backbone Encoder = X3D>
class MoCoImpl : public torch::nn::Module {
  static_assert(
      requires { typename Encoder::ContainedType; }, "longform::MoCo<Encoder>: Encoder must be a module holder such as longform::X3D (not X3DImpl)");

 public:
  using EncoderImpl = backbone_impl_t<Encoder>;

  /// MoCo over the default encoder (X3D-M features for `X3D`; see `detail::default_encoder`).
  explicit MoCoImpl(MoCoOptions options = {}) : MoCoImpl(std::move(options), detail::default_encoder<Encoder>()) {}

  /// MoCo over `encoder` (loaded from `options.init` first when set); the key encoder is its deep copy.
  MoCoImpl(MoCoOptions options, Encoder encoder) : options_(std::move(options)) {
    validate(options_);
    if (!options_.init.empty()) load_checkpoint(*encoder, options_.init);  // throws naming the file
    encoder_q = this->register_module("encoder_q", encoder.ptr());
    head_q = this->register_module("head_q", detail::mlp_head(encoder->feature_dim(), options_.mlp_hidden, options_.dim));
    encoder_k = this->register_module("encoder_k", detail::deep_copy<EncoderImpl>(*encoder_q));
    head_k = this->register_module("head_k", detail::deep_copy<torch::nn::SequentialImpl>(*head_q));
    for (auto& p : encoder_k->parameters()) p.set_requires_grad(false);
    for (auto& p : head_k->parameters()) p.set_requires_grad(false);
    // MoCo starts the queue with random unit vectors.
    at::Tensor q0;
    {
      at::NoGradGuard no_grad;
      auto gen = at::detail::createCPUGenerator(options_.seed);
      q0 = at::randn({options_.queue_size, options_.dim}, gen);
      q0 = q0.div(q0.norm(2, {1}, /*keepdim=*/true));
    }
    queue = this->register_buffer("queue", q0);
    queue_ptr = this->register_buffer("queue_ptr", at::zeros({}, at::kLong));
    step = this->register_buffer("step", at::zeros({}, at::kLong));
  }

  /// The InfoNCE loss of one batch (file comment); adds its keys to those `after_step` enqueues.
  at::Tensor loss(const ClipBatch& batch) {
    const auto& x = batch.data;
    if (!x.defined() || x.dim() != 5 || x.size(1) != 3 || !at::isFloatingType(x.scalar_type()))
      throw config_error(
          "longform::MoCo::loss: batch.data must be float [B, 3, T, H, W], got " +
          (x.defined() ? detail::shape_string(x.sizes()) + " " + std::string(c10::toString(x.scalar_type())) : std::string("undefined")));
    if (x.size(0) > options_.queue_size)
      throw config_error("longform::MoCo::loss: batch size " + std::to_string(x.size(0)) + " exceeds queue_size " +
                         std::to_string(options_.queue_size));
    const auto s = steps_.get(step);
    const auto v1 = views(x, s, 0), v2 = views(x, s, 1);
    const auto q = normalize(head_q->forward(split_forward(*encoder_q, v1)));
    at::Tensor k;
    {
      at::NoGradGuard no_grad;
      SplitMix64 g(detail::mix_seed(options_.seed, 0, static_cast<std::uint64_t>(s)));  // stream 0: the shuffle
      const auto order = detail::shuffled_indices<std::int64_t>(static_cast<std::size_t>(x.size(0)), g);
      const auto perm = at::tensor(order, at::kLong).to(x.device());
      const auto inverse = at::empty_like(perm).index_put_({perm}, at::arange(x.size(0), perm.options()));
      k = normalize(head_k->forward(split_forward(*encoder_k, v2.index_select(0, perm)))).index_select(0, inverse);
    }
    last_keys_ = last_keys_.defined() ? at::cat({last_keys_, k.detach()}) : k.detach();
    return info_nce(q, k, queue, options_.temperature);
  }

  /// Trainable parameters: the query encoder and head.
  std::vector<at::Tensor> trainable_parameters() const {
    auto out = encoder_q->parameters();
    for (auto& p : head_q->parameters()) out.push_back(p);
    return out;
  }

  /// Momentum update of the key copies, then the keys of the `loss` calls since the last step into the queue.
  void after_step() {
    at::NoGradGuard no_grad;
    momentum_update();
    if (last_keys_.defined()) enqueue(key_gather_ ? key_gather_(last_keys_) : last_keys_);
    last_keys_ = at::Tensor();
    steps_.set(step, steps_.get(step) + 1);
  }

  /// Data parallelism: `gather(keys)` returns every rank's keys (`[world·B, dim]`, the same on
  /// every rank), which `after_step` enqueues instead of this rank's own, so all ranks share one queue.
  void set_key_gather(std::function<at::Tensor(const at::Tensor&)> gather) { key_gather_ = std::move(gather); }

  /// `θ_k ← m·θ_k + (1−m)·θ_q` over the encoder and head parameters (buffers such as BatchNorm
  /// statistics are the key encoder's own, as in MoCo).
  void momentum_update() {
    at::NoGradGuard no_grad;
    const double m = options_.momentum;
    auto blend = [m](const std::vector<at::Tensor>& keys, const std::vector<at::Tensor>& queries) {
      for (std::size_t i = 0; i < keys.size(); ++i) keys[i].mul_(m).add_(queries[i].detach(), 1.0 - m);
    };
    blend(encoder_k->parameters(), encoder_q->parameters());
    blend(head_k->parameters(), head_q->parameters());
  }

  /// Writes `keys` (`[N, dim]`) into the queue rows `ptr, ptr+1, ...` (mod K) and advances the pointer.
  void enqueue(const at::Tensor& keys) {
    at::NoGradGuard no_grad;
    const auto n = keys.size(0), K = queue.size(0);
    TORCH_CHECK(n <= K, "longform::MoCo: cannot enqueue ", n, " keys into a queue of ", K);
    const auto ptr = queue_at_.get(queue_ptr);
    const auto rows = at::arange(ptr, ptr + n, at::TensorOptions(at::kLong).device(queue.device())).remainder(K);
    queue.index_copy_(0, rows, keys.to(queue.scalar_type()));
    queue_at_.set(queue_ptr, (ptr + n) % K);
  }

  /// The two augmented views of step `s` (`view` 0 or 1), `[B, 3, T, S, S]`.
  at::Tensor views(const at::Tensor& x, std::int64_t s, std::uint64_t view) const {
    const auto& o = options_;
    const std::int64_t h = o.crop_size > 0 ? o.crop_size : x.size(3), w = o.crop_size > 0 ? o.crop_size : x.size(4);
    std::vector<at::Tensor> out;
    out.reserve(static_cast<std::size_t>(x.size(0)));
    for (std::int64_t b = 0; b < x.size(0); ++b) {
      const auto base = (static_cast<std::uint64_t>(b) * 2 + view) * 4 + 1;  // streams 1, 2, ... (file comment)
      const auto sd = [&](std::uint64_t i) { return detail::mix_seed(o.seed, base + i, static_cast<std::uint64_t>(s)); };
      RandomResizedCrop crop{.height = h, .width = w, .scale = o.crop_scale, .ratio = o.crop_ratio, .seed = sd(0)};
      ColorJitter jitter{
          .brightness = o.brightness, .contrast = o.contrast, .saturation = o.saturation, .hue = o.hue, .p = o.jitter_p, .seed = sd(1)};
      RandomGrayscale grey{.p = o.grayscale_p, .seed = sd(2)};
      HorizontalFlip flip{.p = o.flip_p, .seed = sd(3)};
      // Pseudo-pixels in [0, 1] for the colour ops (file comment); out-of-place, so the batch, which
      // the other view and the caller share, is untouched.
      auto v = x[b].mul(o.pixel_std).add(o.pixel_mean).clamp(0.0, 1.0);
      v = flip(grey(jitter(crop(v))));
      out.push_back(Standardize{}(v));
    }
    return at::stack(out);
  }

  torch::nn::ModuleHolder<EncoderImpl> encoder_q{nullptr};  ///< query encoder (trained)
  torch::nn::Sequential head_q{nullptr};                    ///< query projection head (trained)
  torch::nn::ModuleHolder<EncoderImpl> encoder_k{nullptr};  ///< key encoder (momentum copy, no gradient)
  torch::nn::Sequential head_k{nullptr};                    ///< key projection head (momentum copy)
  at::Tensor queue;                                         ///< `[K, dim]` negatives, row `queue_ptr` is the oldest
  at::Tensor queue_ptr;                                     ///< int64 scalar: the next row to overwrite
  at::Tensor step;                                          ///< int64 scalar: completed steps (seeds the views)

  /// The options the objective was built with.
  [[nodiscard]] const MoCoOptions& options() const noexcept { return options_; }

  /// The keys of the `loss` calls since the last step (`[n·B, dim]`, normalised), pushed into the queue by `after_step`.
  [[nodiscard]] const at::Tensor& last_keys() const noexcept { return last_keys_; }

 private:
  static at::Tensor normalize(const at::Tensor& z) { return z.div(z.norm(2, {1}, /*keepdim=*/true).clamp_min(1e-12)); }

  // Encoder over `bn_splits` contiguous groups (each BatchNorm sees one group), concatenated back.
  at::Tensor split_forward(EncoderImpl& enc, const at::Tensor& x) const {
    const auto groups = std::min<std::int64_t>(options_.bn_splits, x.size(0));
    if (groups <= 1) return enc.forward(x);
    std::vector<at::Tensor> parts;
    for (const auto& chunk : x.chunk(groups, 0)) parts.push_back(enc.forward(chunk));
    return at::cat(parts, 0);
  }

  MoCoOptions options_;
  at::Tensor last_keys_;
  std::function<at::Tensor(const at::Tensor&)> key_gather_;
  HostScalar steps_, queue_at_;  // `step` and `queue_ptr` without a device sync
};

/// `MoCo<Encoder>`: the objective (an `SslObjective`), a holder of `MoCoImpl<Encoder>`.
///
///   longform::MoCo<longform::X3DM> moco(longform::MoCoOptions{.queue_size = 4096, .init = "X3D_M.pyth"});
template <Backbone Encoder = X3D>
class MoCo : public detail::ObjectiveHolder<MoCoImpl<Encoder>> {
 public:
  using detail::ObjectiveHolder<MoCoImpl<Encoder>>::ObjectiveHolder;

  /// See `MoCoImpl::set_key_gather`.
  void set_key_gather(std::function<at::Tensor(const at::Tensor&)> gather) { this->get()->set_key_gather(std::move(gather)); }
};

static_assert(SslObjective<MoCo<X3D>>);
static_assert(SslObjective<MoCo<X3DM>>);

}  // namespace longform

LONGFORM_REFLECT(longform::MoCoOptions, dim, mlp_hidden, queue_size, temperature, momentum, bn_splits, crop_size, crop_scale, crop_ratio, brightness,
                 contrast, saturation, hue, jitter_p, grayscale_p, flip_p, pixel_mean, pixel_std, seed, init);
