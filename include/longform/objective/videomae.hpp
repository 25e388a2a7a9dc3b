// SPDX-License-Identifier: MIT
/// @file
/// `VideoMAE<Encoder>`: masked tube reconstruction (MCG-NJU VideoMAE) as an `SslObjective`.
///
/// Available here: `VideoMAEOptions`, `tube_mask`, `patch_targets`, `masked_mse`, `VideoMAEImpl`,
/// the holder `VideoMAE<Encoder>`.
/// When to use: pre-training a video ViT (`VideoViT`, ViT-S/B with tubelet 2).
///
/// One step:
///   1. tube masking: per sample, one random spatial mask of exactly `round(mask_ratio · S)` of
///      the `S = (H/p)·(W/p)` positions, repeated over all `T/tubelet` token slices (VideoMAE's
///      `TubeMaskingGenerator`, which takes `int(·)` instead of `round(·)`; they agree for its
///      ratios 0.5, 0.75 and 0.9 at 14×14 positions);
///   2. the encoder sees the visible tokens only; `encoder_to_decoder` (bias-free linear) maps them
///      to the decoder width, the decoder gets `[visible + pos, mask_token + pos]` (fixed sinusoid
///      positions) and predicts the masked tokens' pixels;
///   3. target: the clip cut into `tubelet × p × p` tubes, laid out `(p0 p1 p2 c)`, each tube and
///      channel normalised over its pixels with the unbiased std (`(x − mean) / (std + 1e-6)`);
///   4. loss: mean squared error over the masked tokens only.
///
/// Target un-normalisation with standardised clips. VideoMAE's input is ImageNet-normalised, and
/// it first maps it back to [0, 1] (`x · std + mean`) before the per-patch normalisation. The
/// pipeline here gives per-frame standardised clips (mean 0, std 1 per frame), whose pixels cannot
/// be recovered: the per-frame mean and std were not kept. `pixel_mean`/`pixel_std` (default 0
/// and 1: no-op) are therefore only for ImageNet-normalised input. It matters little: the
/// per-patch normalisation cancels any positive affine map of the pixels exactly (up to the 1e-6),
/// so a global un-normalisation changes nothing; the one difference of standardised input is
/// that the two frames of a tube may have been scaled by slightly different per-frame factors.
///
/// Determinism: the masks come from `seed` and the step counter (a buffer, checkpointed), so a
/// resumed run masks as an uninterrupted one; sample b's mask does not depend on the batch size.
#pragma once

#include <longform/backbone/concepts.hpp>
#include <longform/backbone/detail/linear.hpp>
#include <longform/backbone/videomae_decoder.hpp>
#include <longform/backbone/vit.hpp>
#include <longform/backbone/weights.hpp>
#include <longform/core/clip.hpp>
#include <longform/core/error.hpp>
#include <longform/core/host_scalar.hpp>
#include <longform/core/reflect.hpp>
#include <longform/core/splitmix.hpp>
#include <longform/objective/concepts.hpp>
#include <longform/objective/detail/holder.hpp>

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/tensor.h>
#include <ATen/ops/zeros.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace longform {

/// Hyper-parameters of `VideoMAE`. Defaults: VideoMAE's Kinetics recipe (mask ratio 0.9, ViT-S decoder).
struct VideoMAEOptions {
  double mask_ratio = 0.9;                                ///< masked share of spatial positions (the paper: 0.5)
  VideoMAEDecoderOptions decoder = videomae_decoder_s();  ///< `num_outputs` is set from the encoder
  bool normalize_target = true;                           ///< per-patch normalised pixels (VideoMAE default)
  std::array<double, 3> pixel_mean{0.0, 0.0, 0.0};        ///< un-normalisation of the input (file comment)
  std::array<double, 3> pixel_std{1.0, 1.0, 1.0};         ///< ... ImageNet input: {0.229, 0.224, 0.225}
  std::uint64_t seed = 0;                                 ///< masks (and the mask token's init)
};

/// Throws `config_error` naming the first invalid field of `o`.
inline void validate(const VideoMAEOptions& o) {
  if (!(o.mask_ratio > 0 && o.mask_ratio < 1))
    throw config_error("longform::VideoMAEOptions: mask_ratio must be in (0, 1) (was " + std::to_string(o.mask_ratio) + ")");
  for (double s : o.pixel_std)
    if (!(s > 0)) throw config_error("longform::VideoMAEOptions: pixel_std must be > 0 (was " + std::to_string(s) + ")");
}

/// Tube masks `[batch, slices · positions]` (bool, true = masked, token order t, h, w): per sample
/// `round(ratio · positions)` spatial positions drawn without replacement (sample b: the first of a
/// shuffle seeded `detail::mix_seed(seed, b)`), the same in every temporal slice. Throws
/// `config_error` when that leaves no masked or no visible token.
inline at::Tensor tube_mask(std::int64_t batch, std::int64_t slices, std::int64_t positions, double ratio, std::uint64_t seed) {
  const auto masked = static_cast<std::int64_t>(std::llround(ratio * static_cast<double>(positions)));
  if (masked < 1 || masked >= positions)
    throw config_error("longform::VideoMAE: mask_ratio " + std::to_string(ratio) + " masks " + std::to_string(masked) + " of " +
                       std::to_string(positions) + " positions; need at least one masked and one visible");
  auto mask = at::zeros({batch, slices, positions}, at::kBool);
  auto a = mask.accessor<bool, 3>();
  for (std::int64_t b = 0; b < batch; ++b) {
    SplitMix64 g(detail::mix_seed(seed, static_cast<std::uint64_t>(b)));
    const auto order = detail::shuffled_indices<std::int64_t>(static_cast<std::size_t>(positions), g);
    for (std::int64_t i = 0; i < masked; ++i)
      for (std::int64_t t = 0; t < slices; ++t) a[b][t][order[static_cast<std::size_t>(i)]] = true;
  }
  return mask.reshape({batch, slices * positions});
}

/// Reconstruction targets `[B, L, tubelet · patch² · C]` of clips `[B, C, T, H, W]`: tubes in token
/// order, values laid out `(p0 p1 p2 c)`, un-normalised by `mean`/`std` per channel, then (when
/// `normalize`) normalised per tube and channel with the unbiased std + 1e-6.
inline at::Tensor patch_targets(const at::Tensor& x, std::int64_t tubelet, std::int64_t patch, bool normalize,
                                const std::array<double, 3>& mean = {0, 0, 0}, const std::array<double, 3>& std = {1, 1, 1}) {
  const auto B = x.size(0), C = x.size(1), T = x.size(2), H = x.size(3), W = x.size(4);
  TORCH_CHECK(T % tubelet == 0 && H % patch == 0 && W % patch == 0, "longform::patch_targets: clip ", x.sizes(), " is not divisible into ", tubelet,
              "x", patch, "x", patch, " tubes");
  auto v = at::isFloatingType(x.scalar_type()) ? x : x.to(at::kFloat);
  if (C == 3 && (mean != std::array<double, 3>{0, 0, 0} || std != std::array<double, 3>{1, 1, 1})) {
    const auto m = at::tensor(at::ArrayRef<double>(mean.data(), 3), v.options()).view({1, 3, 1, 1, 1});
    const auto s = at::tensor(at::ArrayRef<double>(std.data(), 3), v.options()).view({1, 3, 1, 1, 1});
    v = v * s + m;
  }
  // b c (t p0) (h p1) (w p2) -> b (t h w) (p0 p1 p2) c
  v = v.reshape({B, C, T / tubelet, tubelet, H / patch, patch, W / patch, patch})
          .permute({0, 2, 4, 6, 3, 5, 7, 1})
          .reshape({B, (T / tubelet) * (H / patch) * (W / patch), tubelet * patch * patch, C});
  if (normalize) {
    const auto mu = v.mean({-2}, /*keepdim=*/true);
    const auto sd = v.var({-2}, /*unbiased=*/true, /*keepdim=*/true).sqrt();
    v = (v - mu) / (sd + 1e-6);
  }
  return v.reshape({v.size(0), v.size(1), -1});
}

/// Mean squared error over the masked tokens only. `target` is `[B, L, P]`; `prediction` is
/// `[B, M, P]` for the M masked tokens in token order (what the decoder returns) or `[B, L, P]`
/// for all tokens, of which the visible ones are ignored.
inline at::Tensor masked_mse(const at::Tensor& prediction, const at::Tensor& target, const at::Tensor& mask) {
  TORCH_CHECK(target.dim() == 3 && mask.dim() == 2 && mask.size(1) == target.size(1),
              "longform::masked_mse: target [B, L, P] and mask [B, L] expected, got ", target.sizes(), " and ", mask.sizes());
  const auto labels = select_tokens(target, mask);
  const auto pred = prediction.size(1) == target.size(1) && prediction.size(1) != labels.size(1) ? select_tokens(prediction, mask) : prediction;
  TORCH_CHECK(pred.sizes() == labels.sizes(), "longform::masked_mse: prediction ", prediction.sizes(), " does not match the ", labels.size(1),
              " masked tokens");
  return (pred - labels.to(pred.scalar_type())).pow(2).mean();
}

/// The VideoMAE module, with MCG-NJU's state-dict names: `encoder.*`, `encoder_to_decoder.weight`,
/// `mask_token`, `decoder.*` (so pre-training checkpoints load strictly, `backbone/weights.hpp`).
/// @tparam Encoder a video ViT holder (`VideoViT`): `forward_tokens(clip, mask)` and its options.
template <Backbone Encoder = VideoViT>
class VideoMAEImpl : public torch::nn::Module {
  using EncoderImpl = backbone_impl_t<Encoder>;
  static_assert(
      requires(EncoderImpl& e, const at::Tensor& x) {
        { e.forward_tokens(x, x) } -> std::same_as<at::Tensor>;
        e.options().patch_size;
        e.options().tubelet_size;
        e.options().embed_dim;
      },
      "longform::VideoMAE<Encoder>: Encoder must be a token encoder like longform::VideoViT "
      "(forward_tokens(clip, mask), options().patch_size/tubelet_size/embed_dim)");

 public:
  /// VideoMAE over a default-built encoder (ViT-S/16 for `VideoViT`).
  explicit VideoMAEImpl(VideoMAEOptions options = {}) : VideoMAEImpl(std::move(options), Encoder()) {}

  /// VideoMAE over `encoder_net`; the decoder's output width follows the encoder's tubes.
  VideoMAEImpl(VideoMAEOptions options, Encoder encoder_net) : options_(std::move(options)) {
    validate(options_);
    const auto& eo = encoder_net->options();
    options_.decoder.num_outputs = eo.in_channels * eo.tubelet_size * eo.patch_size * eo.patch_size;
    encoder = this->register_module("encoder", encoder_net.ptr());
    encoder_to_decoder = this->register_module("encoder_to_decoder",
                                               torch::nn::Linear(torch::nn::LinearOptions(eo.embed_dim, options_.decoder.embed_dim).bias(false)));
    at::Tensor token;
    {
      at::NoGradGuard no_grad;
      // trunc_normal(std 0.02) upstream; its ±2 (absolute) bounds are 100 std away, so a normal draw is the same law.
      auto gen = at::detail::createCPUGenerator(options_.seed ^ 0x6d61736bULL);
      token = at::randn({1, 1, options_.decoder.embed_dim}, gen).mul_(0.02);
    }
    mask_token = this->register_parameter("mask_token", token);
    decoder = this->register_module("decoder", VideoMAEDecoder(options_.decoder));
    // Not a buffer: upstream keeps the decoder's position table out of the state dict.
    decoder_pos_ = sinusoid_position_table(encoder->num_tokens(), options_.decoder.embed_dim);
    step = this->register_buffer("step", at::zeros({}, at::kLong));
  }

  /// The masks of step `s` for clips of `T × H × W` (`[B, L]` bool, CPU).
  [[nodiscard]] at::Tensor make_mask(std::int64_t batch, std::int64_t T, std::int64_t H, std::int64_t W, std::int64_t s) const {
    const auto& eo = encoder->options();
    return tube_mask(batch, T / eo.tubelet_size, (H / eo.patch_size) * (W / eo.patch_size), options_.mask_ratio,
                     detail::mix_seed(options_.seed, static_cast<std::uint64_t>(s)));
  }

  /// The reconstruction loss of one batch (file comment).
  at::Tensor loss(const ClipBatch& batch) {
    const auto& x = batch.data;
    const auto& eo = encoder->options();
    if (!x.defined() || x.dim() != 5 || x.size(1) != eo.in_channels || !at::isFloatingType(x.scalar_type()))
      throw config_error("longform::VideoMAE::loss: batch.data must be float [B, " + std::to_string(eo.in_channels) + ", T, H, W], got " +
                         (x.defined() ? detail::shape_string(x.sizes()) : std::string("undefined")));
    // The mask stays on the host: token selection counts it there, so the step never waits for the GPU.
    return loss_with_mask(x, make_mask(x.size(0), x.size(2), x.size(3), x.size(4), steps_.get(step)));
  }

  /// The loss for given masks (`[B, L]` bool, the same count per sample).
  at::Tensor loss_with_mask(const at::Tensor& x, const at::Tensor& mask) {
    const auto& eo = encoder->options();
    const auto visible = detail::linear(encoder_to_decoder, encoder->forward_tokens(x, mask));
    if (decoder_pos_.device() != visible.device() || decoder_pos_.scalar_type() != visible.scalar_type())
      decoder_pos_ = decoder_pos_.to(visible.device(), visible.scalar_type());
    const auto pos = decoder_pos_.expand({x.size(0), -1, -1});
    const auto pos_visible = select_tokens(pos, mask.logical_not()), pos_masked = select_tokens(pos, mask);
    const auto tokens = at::cat({visible + pos_visible, mask_token.to(visible.scalar_type()) + pos_masked}, 1);
    const auto prediction = decoder->forward(tokens, pos_masked.size(1));
    at::Tensor target;
    {
      at::NoGradGuard no_grad;
      target = patch_targets(x, eo.tubelet_size, eo.patch_size, options_.normalize_target, options_.pixel_mean, options_.pixel_std);
    }
    return masked_mse(prediction, target, mask);
  }

  /// Encoder, `encoder_to_decoder`, `mask_token` and decoder: everything is trained.
  std::vector<at::Tensor> trainable_parameters() const { return this->parameters(); }

  /// Advances the step counter (new masks next step).
  void after_step() { steps_.set(step, steps_.get(step) + 1); }

  /// The options the objective was built with (`decoder.num_outputs` as set from the encoder).
  [[nodiscard]] const VideoMAEOptions& options() const noexcept { return options_; }

  torch::nn::ModuleHolder<EncoderImpl> encoder{nullptr};  ///< the ViT, sees visible tokens only
  torch::nn::Linear encoder_to_decoder{nullptr};          ///< encoder width -> decoder width, no bias
  at::Tensor mask_token;                                  ///< `[1, 1, D_dec]` learned stand-in of masked tokens
  VideoMAEDecoder decoder{nullptr};                       ///< predicts the masked tubes' pixels
  at::Tensor step;                                        ///< int64 scalar: completed steps (seeds the masks)

 private:
  VideoMAEOptions options_;
  at::Tensor decoder_pos_;
  HostScalar steps_;  // `step` without a device sync
};

/// `VideoMAE<Encoder>`: the objective (an `SslObjective`), a holder of `VideoMAEImpl<Encoder>`;
/// every parameter is trained.
///
///   longform::VideoMAE<longform::VideoViT> mae(longform::VideoMAEOptions{.mask_ratio = 0.5});
template <Backbone Encoder = VideoViT>
class VideoMAE : public detail::ObjectiveHolder<VideoMAEImpl<Encoder>> {
 public:
  using detail::ObjectiveHolder<VideoMAEImpl<Encoder>>::ObjectiveHolder;
};

static_assert(SslObjective<VideoMAE<VideoViT>>);

}  // namespace longform

LONGFORM_REFLECT(longform::VideoMAEOptions, mask_ratio, decoder, normalize_target, pixel_mean, pixel_std, seed);
