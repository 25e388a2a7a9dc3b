// SPDX-License-Identifier: MIT
/// @file
/// X3D-XS/S/M/L, module for module and key for key as PyTorchVideo's `create_x3d` builds them, so
/// `X3D_M.pyth`'s `model_state` loads strictly (see `backbone/weights.hpp`).
///
/// Layout (state-dict prefixes): `blocks.0` stem, `blocks.1..4` residual stages, `blocks.5` head.
/// Three details of the reference are easy to "fix" by accident, and each would break checkpoints:
///   1. The stem's `conv.conv_t` is the *spatial* 1x3x3 conv and `conv.conv_xy` the *temporal*
///      depthwise 5x1x1 one (PyTorchVideo passes them swapped into `Conv2plus1d`).
///   2. A shortcut gets `branch1_norm` only when the width changes, so `blocks.1.res_blocks.0`
///      (24 -> 24, stride 2) has `branch1_conv` but no `branch1_norm`.
///   3. The head's average pool has a kernel fixed at build time from `frames` and `crop_size`
///      (`(T, ceil(S/32), ceil(S/32))`, stride 1); a larger input gives a larger map, which the
///      final global average then reduces. Options therefore carry the clip size. With
///      `X3DOutput::features` (an SSL encoder) a *smaller* map is pooled over all of it (the
///      window shrinks to the map), so X3D-M built for 16x224² also trains on 112² clips; the
///      classifier (`logits`) keeps the reference's fixed window and rejects smaller clips.
///
/// Presets as types: `X3DXS`, `X3DS`, `X3DM`, `X3DL` (and `X3DTiny`) are module holders deriving
/// from `X3D`, default-built as `x3d_xs()` ... `x3d_l()`: `X3DM net;` is `X3D net(x3d_m());`, and
/// `MoCo<X3DM>` pre-trains X3D-M (its default encoder: the preset with pooled features).
#pragma once

#include <longform/backbone/concepts.hpp>
#include <longform/core/reflect.hpp>

#include <ATen/ops/avg_pool3d.h>
#include <ATen/ops/silu.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/init.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/pooling.h>
#include <torch/nn/pimpl.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <string>
#include <vector>

namespace longform {

/// What `X3D::forward` returns.
enum class X3DOutput {
  logits,    ///< `[N, num_classes]`: the classifier, as PyTorchVideo's model (no softmax)
  features,  ///< `[N, head_dim_out]`: the pooled 2048-d embedding before dropout and classifier
};
LONGFORM_REFLECT_ENUM(X3DOutput, logits, features)

/// Hyper-parameters of `create_x3d`, defaulting to X3D-M. Use `x3d_xs()` ... `x3d_l()` for the hub models.
struct X3DOptions {
  std::int64_t num_classes = 400;        ///< classifier width (`model_num_class`)
  std::int64_t frames = 16;              ///< input clip length T; fixes the head pool kernel
  std::int64_t crop_size = 224;          ///< input height = width; fixes the head pool kernel
  X3DOutput output = X3DOutput::logits;  ///< classifier logits, or pooled features for SSL
  double width_factor = 2.0;             ///< channel multiplier (all hub models: 2.0)
  double depth_factor = 2.2;             ///< stage-depth multiplier (X3D-L: 5.0)
  double bottleneck_factor = 2.25;       ///< inner width of a bottleneck relative to its output
  double se_ratio = 0.0625;              ///< squeeze-excitation reduction, on every other block
  std::int64_t stem_dim_in = 12;         ///< stem width before `width_factor`
  std::int64_t head_dim_out = 2048;      ///< width of the head's projected pool (the feature width)
  double dropout = 0.5;                  ///< before the classifier (0 disables)
  double bn_eps = 1e-5;                  ///< BatchNorm epsilon
  double bn_momentum = 0.1;              ///< BatchNorm momentum (PyTorch convention)
};

/// X3D-XS: 4 frames of 160x160, the weights and widths of X3D-M.
inline X3DOptions x3d_xs() { return {.frames = 4, .crop_size = 160}; }
/// X3D-S: 13 frames of 160x160.
inline X3DOptions x3d_s() { return {.frames = 13, .crop_size = 160}; }
/// X3D-M: 16 frames of 224x224 (3,794,274 parameters, 563 state-dict entries).
inline X3DOptions x3d_m() { return {.frames = 16, .crop_size = 224}; }
/// X3D-L: 16 frames of 312x312, deeper (`depth_factor` 5.0).
inline X3DOptions x3d_l() { return {.frames = 16, .crop_size = 312, .depth_factor = 5.0}; }
/// X3D-Tiny: not a published model; X3D-M's design at a quarter of its width (`width_factor` 1)
/// and a third of its depth (stage depths 1, 2, 5, 3), 8 frames of 32x32 and 512-d features.
/// For the built-in benchmark on a laptop CPU.
inline X3DOptions x3d_tiny() { return {.frames = 8, .crop_size = 32, .width_factor = 1.0, .depth_factor = 1.0, .head_dim_out = 512}; }

namespace detail {

/// PyTorchVideo's `round_width`: scale, round to a multiple of `divisor`, never drop below 90%.
inline std::int64_t round_width(std::int64_t width, double multiplier, std::int64_t min_width = 8, std::int64_t divisor = 8) {
  if (multiplier == 0.0) return width;
  const double scaled = static_cast<double>(width) * multiplier;
  // int(w + divisor / 2) // divisor * divisor, with Python's truncating int() on a positive value.
  std::int64_t out = static_cast<std::int64_t>(scaled + static_cast<double>(divisor) / 2.0) / divisor * divisor;
  out = std::max(min_width, out);
  if (static_cast<double>(out) < 0.9 * scaled) out += divisor;
  return out;
}

/// PyTorchVideo's `round_repeats`: `ceil(multiplier * repeats)`.
inline std::int64_t round_repeats(std::int64_t repeats, double multiplier) {
  if (multiplier == 0.0) return repeats;
  return static_cast<std::int64_t>(std::ceil(multiplier * static_cast<double>(repeats)));
}

/// A bias-free `Conv3d` with per-axis kernel, stride and padding (the only kind X3D uses, SE aside).
inline torch::nn::Conv3d x3d_conv(std::int64_t in, std::int64_t out, std::array<std::int64_t, 3> kernel,
                                  std::array<std::int64_t, 3> stride = {1, 1, 1}, std::array<std::int64_t, 3> padding = {0, 0, 0},
                                  std::int64_t groups = 1) {
  return torch::nn::Conv3d(torch::nn::Conv3dOptions(in, out, torch::ExpandingArray<3>(kernel))
                               .stride(torch::ExpandingArray<3>(stride))
                               .padding(torch::ExpandingArray<3>(padding))
                               .groups(groups)
                               .bias(false));
}

/// BatchNorm3d with the model's epsilon and momentum.
inline torch::nn::BatchNorm3d x3d_norm(std::int64_t channels, const X3DOptions& o) {
  return torch::nn::BatchNorm3d(torch::nn::BatchNorm3dOptions(channels).eps(o.bn_eps).momentum(o.bn_momentum));
}

}  // namespace detail

/// The stem's factorized conv (`blocks.0.conv`): `conv_t` (spatial, strided) then `conv_xy` (temporal, depthwise).
class X3DStemConvImpl : public torch::nn::Cloneable<X3DStemConvImpl> {
 public:
  /// `in` -> `out` channels with PyTorchVideo's stem kernel (5,3,3) and stride (1,2,2).
  X3DStemConvImpl(std::int64_t in, std::int64_t out) : in_(in), out_(out) { reset(); }

  /// (Re)creates the two convolutions; called by the constructor and by `clone()`.
  void reset() override {
    // NOTE: the names are PyTorchVideo's and they are swapped on purpose (file comment, trap 1).
    conv_t = register_module("conv_t", detail::x3d_conv(in_, out_, {1, 3, 3}, {1, 2, 2}, {0, 1, 1}));
    conv_xy = register_module("conv_xy", detail::x3d_conv(out_, out_, {5, 1, 1}, {1, 1, 1}, {2, 0, 0}, out_));
  }

  /// Spatial conv first, then temporal (PyTorchVideo runs `conv_t` then `conv_xy`).
  at::Tensor forward(const at::Tensor& x) { return conv_xy->forward(conv_t->forward(x)); }

  torch::nn::Conv3d conv_t{nullptr};   ///< spatial 1x3x3, stride (1,2,2)
  torch::nn::Conv3d conv_xy{nullptr};  ///< temporal depthwise 5x1x1

 private:
  std::int64_t in_, out_;
};
TORCH_MODULE(X3DStemConv);

/// The stem (`blocks.0`): factorized conv, BatchNorm, ReLU; no pooling.
class X3DStemImpl : public torch::nn::Cloneable<X3DStemImpl> {
 public:
  /// `in` -> `out` channels.
  X3DStemImpl(std::int64_t in, std::int64_t out, X3DOptions options) : in_(in), out_(out), options_(options) { reset(); }

  /// (Re)creates the submodules.
  void reset() override {
    conv = register_module("conv", X3DStemConv(in_, out_));
    norm = register_module("norm", detail::x3d_norm(out_, options_));
  }

  /// `[N, 3, T, H, W]` -> `[N, out, T, H/2, W/2]`.
  at::Tensor forward(const at::Tensor& x) { return norm->forward(conv->forward(x)).relu_(); }

  X3DStemConv conv{nullptr};             ///< `conv.conv_t`, `conv.conv_xy`
  torch::nn::BatchNorm3d norm{nullptr};  ///< after both convs

 private:
  std::int64_t in_, out_;
  X3DOptions options_;
};
TORCH_MODULE(X3DStem);

/// fvcore's 3-D `SqueezeExcitation`: global mean, 1x1x1 conv, ReLU, 1x1x1 conv, sigmoid gate.
class SqueezeExcitation3dImpl : public torch::nn::Cloneable<SqueezeExcitation3dImpl> {
 public:
  /// Gate `channels` through a bottleneck of `reduced` channels.
  SqueezeExcitation3dImpl(std::int64_t channels, std::int64_t reduced) : channels_(channels), reduced_(reduced) { reset(); }

  /// (Re)creates `block` (keys `block.0.*`, `block.2.*`; the activations hold no state).
  void reset() override {
    block = register_module(
        "block", torch::nn::Sequential(torch::nn::Conv3d(torch::nn::Conv3dOptions(channels_, reduced_, 1).bias(true)), torch::nn::ReLU(),
                                       torch::nn::Conv3d(torch::nn::Conv3dOptions(reduced_, channels_, 1).bias(true)), torch::nn::Sigmoid()));
  }

  /// `x * gate(mean_THW(x))`.
  at::Tensor forward(const at::Tensor& x) { return x * block->forward(x.mean({2, 3, 4}, /*keepdim=*/true)); }

  torch::nn::Sequential block{nullptr};  ///< conv, ReLU, conv, sigmoid

 private:
  std::int64_t channels_, reduced_;
};
TORCH_MODULE(SqueezeExcitation3d);

/// The residual branch of an X3D block (`branch2`): 1x1x1 expand, 3x3x3 depthwise (+SE), swish, 1x1x1 project.
class X3DBottleneckImpl : public torch::nn::Cloneable<X3DBottleneckImpl> {
 public:
  /// `in` -> `inner` -> `out` channels; `spatial_stride` on the depthwise conv; SE when `se_reduced > 0`.
  X3DBottleneckImpl(std::int64_t in, std::int64_t inner, std::int64_t out, std::int64_t spatial_stride, std::int64_t se_reduced, X3DOptions options)
      : in_(in), inner_(inner), out_(out), stride_(spatial_stride), se_reduced_(se_reduced), options_(options) {
    reset();
  }

  /// (Re)creates the submodules.
  void reset() override {
    conv_a = register_module("conv_a", detail::x3d_conv(in_, inner_, {1, 1, 1}));
    norm_a = register_module("norm_a", detail::x3d_norm(inner_, options_));
    conv_b = register_module("conv_b", detail::x3d_conv(inner_, inner_, {3, 3, 3}, {1, stride_, stride_}, {1, 1, 1}, inner_));
    // `norm_b` is `Sequential(BN, SE or Identity)` in PyTorchVideo, hence the keys `norm_b.0.*`, `norm_b.1.block.*`.
    torch::nn::Sequential norm_b_seq(detail::x3d_norm(inner_, options_));
    if (se_reduced_ > 0)
      norm_b_seq->push_back(SqueezeExcitation3d(inner_, se_reduced_));
    else
      norm_b_seq->push_back(torch::nn::Identity());
    norm_b = register_module("norm_b", norm_b_seq);
    conv_c = register_module("conv_c", detail::x3d_conv(inner_, out_, {1, 1, 1}));
    norm_c = register_module("norm_c", detail::x3d_norm(out_, options_));
  }

  /// ReLU after `norm_a`, swish after `norm_b`, nothing after `norm_c` (the block adds the shortcut first).
  at::Tensor forward(const at::Tensor& x) {
    auto y = norm_a->forward(conv_a->forward(x)).relu_();
    // Swish is x * sigmoid(x): `silu` computes exactly that (PyTorchVideo's custom autograd only saves memory).
    y = at::silu(norm_b->forward(conv_b->forward(y)));
    return norm_c->forward(conv_c->forward(y));
  }

  torch::nn::Conv3d conv_a{nullptr};       ///< 1x1x1 expand
  torch::nn::BatchNorm3d norm_a{nullptr};  ///< then ReLU
  torch::nn::Conv3d conv_b{nullptr};       ///< 3x3x3 depthwise, carries the stage's spatial stride
  torch::nn::Sequential norm_b{nullptr};   ///< BN, then SE or Identity; then swish
  torch::nn::Conv3d conv_c{nullptr};       ///< 1x1x1 project
  torch::nn::BatchNorm3d norm_c{nullptr};  ///< no activation

 private:
  std::int64_t in_, inner_, out_, stride_, se_reduced_;
  X3DOptions options_;
};
TORCH_MODULE(X3DBottleneck);

/// One residual block: `ReLU(shortcut(x) + branch2(x))`.
class X3DResBlockImpl : public torch::nn::Cloneable<X3DResBlockImpl> {
 public:
  /// `in` -> `out` channels with the bottleneck `inner` width; SE when `se_reduced > 0`.
  X3DResBlockImpl(std::int64_t in, std::int64_t inner, std::int64_t out, std::int64_t spatial_stride, std::int64_t se_reduced, X3DOptions options)
      : in_(in), inner_(inner), out_(out), stride_(spatial_stride), se_reduced_(se_reduced), options_(options) {
    reset();
  }

  /// (Re)creates the submodules; the shortcut modules exist only where PyTorchVideo creates them.
  void reset() override {
    branch1_conv = nullptr;
    branch1_norm = nullptr;
    // A projection shortcut when the shape changes (width or stride) ...
    if (in_ != out_ || stride_ > 1) branch1_conv = register_module("branch1_conv", detail::x3d_conv(in_, out_, {1, 1, 1}, {1, stride_, stride_}));
    // ... but its BatchNorm only when the width changes (file comment, trap 2).
    if (in_ != out_) branch1_norm = register_module("branch1_norm", detail::x3d_norm(out_, options_));
    branch2 = register_module("branch2", X3DBottleneck(in_, inner_, out_, stride_, se_reduced_, options_));
  }

  /// Shortcut plus residual, then ReLU.
  at::Tensor forward(const at::Tensor& x) {
    auto shortcut = x;
    if (branch1_conv) shortcut = branch1_conv->forward(shortcut);
    if (branch1_norm) shortcut = branch1_norm->forward(shortcut);
    return (shortcut + branch2->forward(x)).relu_();
  }

  torch::nn::Conv3d branch1_conv{nullptr};       ///< projection shortcut, first block of a stage only
  torch::nn::BatchNorm3d branch1_norm{nullptr};  ///< only when the width changes
  X3DBottleneck branch2{nullptr};                ///< the residual branch

 private:
  std::int64_t in_, inner_, out_, stride_, se_reduced_;
  X3DOptions options_;
};
TORCH_MODULE(X3DResBlock);

/// A residual stage (`blocks.1..4`): `depth` blocks, the first strided, SE on blocks 0, 2, 4, ...
class X3DResStageImpl : public torch::nn::Cloneable<X3DResStageImpl> {
 public:
  /// `depth` blocks from `in` to `out` channels.
  X3DResStageImpl(std::int64_t depth, std::int64_t in, std::int64_t inner, std::int64_t out, X3DOptions options)
      : depth_(depth), in_(in), inner_(inner), out_(out), options_(options) {
    reset();
  }

  /// (Re)creates the blocks.
  void reset() override {
    res_blocks = register_module("res_blocks", torch::nn::ModuleList());
    const std::int64_t se_reduced = detail::round_width(inner_, options_.se_ratio);
    for (std::int64_t i = 0; i < depth_; ++i) {
      // PyTorchVideo: `se_ratio if (idx + 1) % 2 else 0.0`, i.e. SE on even indices.
      const bool se = options_.se_ratio > 0.0 && (i + 1) % 2 != 0;
      X3DResBlock block(i == 0 ? in_ : out_, inner_, out_, i == 0 ? 2 : 1, se ? se_reduced : 0, options_);
      res_blocks->push_back(block);
    }
  }

  /// Runs the blocks in order.
  at::Tensor forward(at::Tensor x) {
    for (const auto& block : *res_blocks) x = block->as<X3DResBlockImpl>()->forward(x);
    return x;
  }

  torch::nn::ModuleList res_blocks{nullptr};  ///< `res_blocks.{i}`

 private:
  std::int64_t depth_, in_, inner_, out_;
  X3DOptions options_;
};
TORCH_MODULE(X3DResStage);

/// The head's `ProjectedPool` (`blocks.5.pool`): 1x1x1 conv + BN + ReLU, fixed-kernel average pool,
/// 1x1x1 conv to `head_dim_out` + ReLU (no BN: `head_bn_lin5_on=False`).
class X3DProjectedPoolImpl : public torch::nn::Cloneable<X3DProjectedPoolImpl> {
 public:
  /// `in` -> `inner` -> pool -> `out` channels; `kernel` is the fixed (T, H, W) pooling window.
  X3DProjectedPoolImpl(std::int64_t in, std::int64_t inner, std::int64_t out, std::array<std::int64_t, 3> kernel, X3DOptions options)
      : in_(in), inner_(inner), out_(out), kernel_(kernel), options_(options) {
    reset();
  }

  /// (Re)creates the submodules.
  void reset() override {
    pre_conv = register_module("pre_conv", detail::x3d_conv(in_, inner_, {1, 1, 1}));
    pre_norm = register_module("pre_norm", detail::x3d_norm(inner_, options_));
    pool = register_module("pool", torch::nn::AvgPool3d(torch::nn::AvgPool3dOptions(kernel_).stride(1)));
    post_conv = register_module("post_conv", detail::x3d_conv(inner_, out_, {1, 1, 1}));
  }

  /// `[N, in, T, H, W]` -> `[N, out, T-kt+1, H-kh+1, W-kw+1]` (1x1x1 for the build-time clip size).
  /// `fit`: a map smaller than the window is averaged whole (the window shrinks to it) instead of rejected.
  at::Tensor forward(const at::Tensor& x, bool fit = false) {
    auto y = pre_norm->forward(pre_conv->forward(x)).relu_();
    if (fit && (y.size(2) < kernel_[0] || y.size(3) < kernel_[1] || y.size(4) < kernel_[2])) {
      const std::array<std::int64_t, 3> window{std::min(kernel_[0], y.size(2)), std::min(kernel_[1], y.size(3)), std::min(kernel_[2], y.size(4))};
      return post_conv->forward(at::avg_pool3d(y, window, {1, 1, 1})).relu_();
    }
    TORCH_CHECK(y.size(2) >= kernel_[0] && y.size(3) >= kernel_[1] && y.size(4) >= kernel_[2], "X3D head: the pool kernel (", kernel_[0], ", ",
                kernel_[1], ", ", kernel_[2], ") is fixed when the model is built (options frames and crop_size); the input gives a ", y.size(2), "x",
                y.size(3), "x", y.size(4), " map, build the model for a clip at least this large");
    return post_conv->forward(pool->forward(y)).relu_();
  }

  torch::nn::Conv3d pre_conv{nullptr};       ///< last stage width -> its inner width
  torch::nn::BatchNorm3d pre_norm{nullptr};  ///< then ReLU
  torch::nn::AvgPool3d pool{nullptr};        ///< fixed kernel, stride 1 (file comment, trap 3)
  torch::nn::Conv3d post_conv{nullptr};      ///< -> `head_dim_out`, then ReLU

 private:
  std::int64_t in_, inner_, out_;
  std::array<std::int64_t, 3> kernel_;
  X3DOptions options_;
};
TORCH_MODULE(X3DProjectedPool);

/// The head (`blocks.5`): projected pool, global average, dropout, linear classifier.
class X3DHeadImpl : public torch::nn::Cloneable<X3DHeadImpl> {
 public:
  /// Head over the last stage's `in` channels (`inner` = its bottleneck width).
  X3DHeadImpl(std::int64_t in, std::int64_t inner, std::array<std::int64_t, 3> kernel, X3DOptions options)
      : in_(in), inner_(inner), kernel_(kernel), options_(options) {
    reset();
  }

  /// (Re)creates the submodules. `proj` exists in `features` mode too, so checkpoints still load.
  void reset() override {
    pool = register_module("pool", X3DProjectedPool(in_, inner_, options_.head_dim_out, kernel_, options_));
    dropout = register_module("dropout", torch::nn::Dropout(options_.dropout));
    proj = register_module("proj", torch::nn::Linear(options_.head_dim_out, options_.num_classes));
  }

  /// `[N, C, T, H, W]` -> `[N, head_dim_out]`: the projected pool, averaged over what remains of T, H, W.
  /// A map smaller than the pool window is averaged whole (file comment, trap 3).
  at::Tensor forward_features(const at::Tensor& x) { return pool->forward(x, /*fit=*/true).mean({2, 3, 4}); }

  /// `[N, C, T, H, W]` -> `[N, num_classes]`.
  at::Tensor forward(const at::Tensor& x) {
    // PyTorchVideo applies dropout and `proj` at every position of the pooled map and averages
    // afterwards; `proj` is affine, so averaging first is the same function and cheaper. Dropout
    // stays on the map, where the reference applies it.
    auto map = pool->forward(x);
    if (options_.dropout > 0.0) map = dropout->forward(map);
    return proj->forward(map.mean({2, 3, 4}));
  }

  X3DProjectedPool pool{nullptr};       ///< `pool.pre_conv`, `pool.pre_norm`, `pool.post_conv`
  torch::nn::Dropout dropout{nullptr};  ///< before the classifier
  torch::nn::Linear proj{nullptr};      ///< the classifier

 private:
  std::int64_t in_, inner_;
  std::array<std::int64_t, 3> kernel_;
  X3DOptions options_;
};
TORCH_MODULE(X3DHead);

/// The X3D network: `blocks` = stem, four residual stages, head. Input `[N, 3, T, H, W]`, float,
/// normalized as PyTorchVideo's hub models expect (x/255, mean 0.45, std 0.225).
class X3DImpl : public torch::nn::Cloneable<X3DImpl> {
 public:
  /// Opts in to `longform::Backbone`.
  using backbone_concept = backbone_tag;

  /// Builds the network for `options` (default X3D-M) with PyTorchVideo's initialization.
  explicit X3DImpl(X3DOptions options = {}) : options_(options) { reset(); }

  /// (Re)creates every module and re-initializes the weights.
  void reset() override {
    const auto& o = options_;
    TORCH_CHECK(o.frames >= 1 && o.crop_size >= 32, "X3D: frames must be >= 1 and crop_size >= 32 (got frames=", o.frames,
                ", crop_size=", o.crop_size, ")");
    TORCH_CHECK(o.num_classes >= 1 && o.head_dim_out >= 1, "X3D: num_classes and head_dim_out must be positive");
    blocks = register_module("blocks", torch::nn::ModuleList());

    const std::int64_t stem_out = detail::round_width(o.stem_dim_in, o.width_factor);
    blocks->push_back(X3DStem(3, stem_out, o));

    // Stage widths before `width_factor` double from the stem's (12, 24, 48, 96 by default).
    const std::array<std::int64_t, 4> base_depths{1, 2, 5, 3};
    std::array<std::int64_t, 4> base_dims{o.stem_dim_in, 0, 0, 0};
    for (std::size_t s = 1; s < 4; ++s) base_dims[s] = detail::round_width(base_dims[s - 1], 2.0);
    std::int64_t dim_in = stem_out, dim_inner = 0;
    for (std::size_t s = 0; s < 4; ++s) {
      const std::int64_t dim_out = detail::round_width(base_dims[s], o.width_factor);
      dim_inner = static_cast<std::int64_t>(o.bottleneck_factor * static_cast<double>(dim_out));
      X3DResStage stage(detail::round_repeats(base_depths[s], o.depth_factor), dim_in, dim_inner, dim_out, o);
      blocks->push_back(stage);
      dim_in = dim_out;
    }

    // Total spatial stride 2 (stem) x 2^4 (stages) = 32, temporal stride 1.
    const std::int64_t side = (o.crop_size + 31) / 32;
    blocks->push_back(X3DHead(dim_in, dim_inner, std::array<std::int64_t, 3>{o.frames, side, side}, o));
    initialize();
  }

  /// Logits `[N, num_classes]` or features `[N, head_dim_out]`, per `options().output`.
  at::Tensor forward(const at::Tensor& clip) {
    auto x = forward_trunk(clip);
    return options_.output == X3DOutput::features ? head().forward_features(x) : head().forward(x);
  }

  /// Pooled features `[N, head_dim_out]` whatever `options().output` says.
  at::Tensor forward_features(const at::Tensor& clip) { return head().forward_features(forward_trunk(clip)); }

  /// Width of `forward`'s output.
  [[nodiscard]] std::int64_t feature_dim() const { return options_.output == X3DOutput::features ? options_.head_dim_out : options_.num_classes; }

  /// The options the model was built with.
  [[nodiscard]] const X3DOptions& options() const noexcept { return options_; }

  /// `blocks.0` stem ... `blocks.5` head. NOTE: reached through `as<>()` rather than cached typed
  /// handles: `clone()` replaces a `ModuleList`'s elements, which would leave such handles stale.
  torch::nn::ModuleList blocks{nullptr};

 private:
  at::Tensor forward_trunk(const at::Tensor& clip) {
    TORCH_CHECK(clip.dim() == 5 && clip.size(1) == 3, "X3D: expected a [N, 3, T, H, W] clip, got shape ", clip.sizes());
    auto x = blocks[0]->as<X3DStemImpl>()->forward(clip);
    for (std::size_t s = 1; s + 1 < blocks->size(); ++s) x = blocks[s]->as<X3DResStageImpl>()->forward(x);
    return x;
  }

  X3DHeadImpl& head() { return *blocks[blocks->size() - 1]->as<X3DHeadImpl>(); }

  // PyTorchVideo's `init_net_weights` ("c2_msra_fill" for convs): He normal, fan-out, zero biases;
  // BatchNorm 1/0; linear N(0, 0.01) with zero bias.
  void initialize() {
    torch::NoGradGuard no_grad;
    for (auto& m : modules(/*include_self=*/false)) {
      if (auto* conv = m->as<torch::nn::Conv3dImpl>()) {
        torch::nn::init::kaiming_normal_(conv->weight, 0.0, torch::kFanOut, torch::kReLU);
        if (conv->bias.defined()) conv->bias.zero_();
      } else if (auto* bn = m->as<torch::nn::BatchNorm3dImpl>()) {
        bn->weight.fill_(1.0);
        bn->bias.zero_();
      } else if (auto* fc = m->as<torch::nn::LinearImpl>()) {
        fc->weight.normal_(0.0, 0.01);
        fc->bias.zero_();
      }
    }
  }

  X3DOptions options_;
};

/// Holder for `X3DImpl` (a shared pointer, as every LibTorch module holder; use `clone()` for a copy).
TORCH_MODULE(X3D);

static_assert(Backbone<X3DImpl>);
static_assert(Backbone<X3D>);

/// An X3D preset as a type: an `X3D` holder whose default is `Preset()`'s options. It derives from
/// `X3D`, so it goes wherever an `X3D` does (functions, `load_checkpoint(*net, ...)`, `clone()`),
/// and as a template argument (`MoCo<X3DM>`, `Distill<X3DM, X3DS>`) it picks the network.
/// Spell it `X3DXS`, `X3DS`, `X3DM`, `X3DL` or `X3DTiny`.
template <X3DOptions (*Preset)()>
class X3DPreset : public X3D {
 public:
  /// The preset's options (`x3d_m()` for `X3DM`): start here to change a field.
  [[nodiscard]] static X3DOptions preset() { return Preset(); }

  /// The preset network, with PyTorchVideo's logits (as `create_x3d` builds it).
  X3DPreset() : X3D(Preset()) {}
  /// The network for `options` (all of them: start from `preset()` to keep the preset's clip size).
  explicit X3DPreset(const X3DOptions& options) : X3D(options) {}
  /// An empty holder, as `X3D(nullptr)`.
  X3DPreset(std::nullptr_t) : X3D(nullptr) {}  // NOLINT(google-explicit-constructor): as ModuleHolder
  /// Holds `impl`, as `X3D(impl)`.
  explicit X3DPreset(std::shared_ptr<X3DImpl> impl) : X3D(std::move(impl)) {}
};

/// X3D-XS (4 frames of 160²) as a type: `X3DXS net;`, `MoCo<X3DXS>`.
using X3DXS = X3DPreset<&x3d_xs>;
/// X3D-S (13 frames of 160²) as a type.
using X3DS = X3DPreset<&x3d_s>;
/// X3D-M (16 frames of 224²) as a type: the paper's encoder, `MoCo<X3DM>`.
using X3DM = X3DPreset<&x3d_m>;
/// X3D-L (16 frames of 312², deeper) as a type.
using X3DL = X3DPreset<&x3d_l>;
/// X3D-Tiny (not published; 8 frames of 32², for a laptop CPU) as a type.
using X3DTiny = X3DPreset<&x3d_tiny>;

static_assert(Backbone<X3DM>);
static_assert(std::same_as<backbone_impl_t<X3DM>, X3DImpl>);

}  // namespace longform

LONGFORM_REFLECT(longform::X3DOptions, num_classes, frames, crop_size, output, width_factor, depth_factor, bottleneck_factor, se_ratio, stem_dim_in,
                 head_dim_out, dropout, bn_eps, bn_momentum);
