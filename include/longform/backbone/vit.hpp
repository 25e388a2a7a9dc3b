// SPDX-License-Identifier: MIT
/// @file
/// Video ViT (ViT-S/16, ViT-B/16 with tubelet 2) as MCG-NJU VideoMAE defines its encoder, with the
/// same state-dict names (`patch_embed.proj`, `blocks.{i}.{norm1,attn,norm2,mlp}`, `norm`,
/// `fc_norm`, `head`), so VideoMAE checkpoints load strictly (`backbone/weights.hpp`).
///
/// Tokens: a `(2, 16, 16)` conv with the same stride cuts `[N, 3, T, H, W]` into
/// `L = T/2 · H/16 · W/16` tokens, ordered t-major then h then w (1568 for 16x224²). A fixed 1-D
/// sinusoid table over that index is added (not learned, not in the state dict; no CLS token).
/// `forward_tokens(clip, mask)` drops the masked tokens (mask `[N, L]`, true = masked, the same
/// count per sample) *after* adding positions, as VideoMAE's encoder does.
///
/// Blocks are pre-norm: `x + attn(norm1(x))`, `x + mlp(norm2(x))`, LayerNorm eps 1e-6, GELU MLP of
/// ratio 4, and a bias-free `qkv` projection with separate `q_bias`/`v_bias` (k has no bias).
/// Attention runs through `at::scaled_dot_product_attention` (fused kernels where available).
///
/// Presets as types: `ViTS`, `ViTB` (and `ViTTiny`) are holders deriving from `VideoViT`,
/// default-built as `vit_s()`, `vit_b()`: `ViTB net;` is `VideoViT net(vit_b());`, and
/// `VideoMAE<ViTB>` pre-trains ViT-B/16.
#pragma once

#include <longform/backbone/concepts.hpp>
#include <longform/backbone/detail/linear.hpp>
#include <longform/core/reflect.hpp>

#include <ATen/ops/cat.h>
#include <ATen/ops/gelu.h>
#include <ATen/ops/linear.h>
#include <ATen/ops/scaled_dot_product_attention.h>
#include <ATen/ops/zeros.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/init.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

namespace longform {

/// The fixed position table `[1, n, dim]` of VideoMAE: angle(p, j) = p / 10000^(2⌊j/2⌋/dim),
/// sine on even j, cosine on odd j (computed in double, stored as float, as upstream).
inline at::Tensor sinusoid_position_table(std::int64_t n, std::int64_t dim) {
  auto table = at::zeros({n, dim}, at::kDouble);
  auto a = table.accessor<double, 2>();
  for (std::int64_t p = 0; p < n; ++p)
    for (std::int64_t j = 0; j < dim; ++j) {
      const double angle = static_cast<double>(p) / std::pow(10000.0, 2.0 * static_cast<double>(j / 2) / static_cast<double>(dim));
      a[p][j] = j % 2 == 0 ? std::sin(angle) : std::cos(angle);
    }
  return table.to(at::kFloat).unsqueeze(0);
}

/// Tokens `[N, L, D]` where `keep` (`[N, L]` bool) is true, as `[N, K, D]` in token order; every
/// sample must keep the same number K (VideoMAE's tube masks do). This is Python's `x[keep].reshape(N, -1, D)`.
/// A CPU `keep` for device `tokens` is counted on the host, so the GPU is never waited for.
inline at::Tensor select_tokens(const at::Tensor& tokens, const at::Tensor& keep) {
  TORCH_CHECK(keep.dim() == 2 && keep.size(0) == tokens.size(0) && keep.size(1) == tokens.size(1), "select_tokens: mask must be [N, L] = [",
              tokens.size(0), ", ", tokens.size(1), "], got ", keep.sizes());
  const auto counts = keep.sum(1);
  const auto k = counts[0].item<std::int64_t>();
  TORCH_CHECK(counts.eq(k).all().item<bool>(), "select_tokens: every sample must mask the same number of tokens");
  const auto index = keep.reshape(-1).nonzero().squeeze(1).to(tokens.device());
  return tokens.reshape({-1, tokens.size(2)}).index_select(0, index).reshape({tokens.size(0), k, tokens.size(2)});
}

/// Options of a ViT block (shared by the encoder and the VideoMAE decoder).
struct ViTBlockOptions {
  std::int64_t dim = 384;      ///< token width
  std::int64_t num_heads = 6;  ///< attention heads (`dim / num_heads` per head)
  double mlp_ratio = 4.0;      ///< MLP hidden width relative to `dim`
  double norm_eps = 1e-6;      ///< LayerNorm epsilon (VideoMAE: 1e-6)
};

/// Multi-head self-attention with VideoMAE's parameterization (`qkv` without bias, `q_bias`, `v_bias`).
class ViTAttentionImpl : public torch::nn::Cloneable<ViTAttentionImpl> {
 public:
  /// Attention over `options.dim`-wide tokens.
  explicit ViTAttentionImpl(ViTBlockOptions options) : options_(options) { reset(); }

  /// (Re)creates the parameters.
  void reset() override {
    TORCH_CHECK(options_.dim % options_.num_heads == 0, "ViT: dim ", options_.dim, " is not a multiple of num_heads ", options_.num_heads);
    const auto d = options_.dim;
    // Own parameters come first in the state dict, as in Python: q_bias, v_bias, qkv.weight, proj.*
    q_bias = register_parameter("q_bias", at::zeros({d}));
    v_bias = register_parameter("v_bias", at::zeros({d}));
    qkv = register_module("qkv", torch::nn::Linear(torch::nn::LinearOptions(d, 3 * d).bias(false)));
    proj = register_module("proj", torch::nn::Linear(d, d));
  }

  /// `[N, L, D]` -> `[N, L, D]`.
  at::Tensor forward(const at::Tensor& x) {
    const auto n = x.size(0), l = x.size(1), h = options_.num_heads;
    // The key bias is a constant zero: VideoMAE concatenates (q_bias, 0, v_bias) for one fused GEMM.
    const auto bias = at::cat({q_bias, at::zeros_like(v_bias), v_bias});
    auto qkv_out = at::linear(x, qkv->weight, bias).reshape({n, l, 3, h, -1}).permute({2, 0, 3, 1, 4});
    auto y = at::scaled_dot_product_attention(qkv_out[0], qkv_out[1], qkv_out[2]);  // scale 1/sqrt(head dim)
    return detail::linear(proj, y.transpose(1, 2).reshape({n, l, options_.dim}));
  }

  at::Tensor q_bias;                ///< query bias
  at::Tensor v_bias;                ///< value bias
  torch::nn::Linear qkv{nullptr};   ///< fused q, k, v projection (rows q; k; v), no bias
  torch::nn::Linear proj{nullptr};  ///< output projection

 private:
  ViTBlockOptions options_;
};
TORCH_MODULE(ViTAttention);

/// The two-layer GELU MLP of a block (`mlp.fc1`, `mlp.fc2`).
class ViTMlpImpl : public torch::nn::Cloneable<ViTMlpImpl> {
 public:
  /// `dim` -> `dim · mlp_ratio` -> `dim`.
  explicit ViTMlpImpl(ViTBlockOptions options) : options_(options) { reset(); }

  /// (Re)creates the layers.
  void reset() override {
    const auto hidden = static_cast<std::int64_t>(static_cast<double>(options_.dim) * options_.mlp_ratio);
    fc1 = register_module("fc1", torch::nn::Linear(options_.dim, hidden));
    fc2 = register_module("fc2", torch::nn::Linear(hidden, options_.dim));
  }

  /// `fc2(gelu(fc1(x)))`, exact (erf) GELU as `nn.GELU()`.
  at::Tensor forward(const at::Tensor& x) { return detail::linear(fc2, at::gelu(detail::linear(fc1, x))); }

  torch::nn::Linear fc1{nullptr};  ///< expand
  torch::nn::Linear fc2{nullptr};  ///< project back

 private:
  ViTBlockOptions options_;
};
TORCH_MODULE(ViTMlp);

/// A pre-norm transformer block.
class ViTBlockImpl : public torch::nn::Cloneable<ViTBlockImpl> {
 public:
  /// Block over `options.dim`-wide tokens.
  explicit ViTBlockImpl(ViTBlockOptions options) : options_(options) { reset(); }

  /// (Re)creates the submodules.
  void reset() override {
    auto ln = [&] { return torch::nn::LayerNorm(torch::nn::LayerNormOptions({options_.dim}).eps(options_.norm_eps)); };
    norm1 = register_module("norm1", ln());
    attn = register_module("attn", ViTAttention(options_));
    norm2 = register_module("norm2", ln());
    mlp = register_module("mlp", ViTMlp(options_));
  }

  /// `x + attn(norm1(x))`, then `+ mlp(norm2(·))` (no layer scale: VideoMAE's `init_values` is 0).
  at::Tensor forward(const at::Tensor& x) {
    auto y = x + attn->forward(norm1->forward(x));
    return y + mlp->forward(norm2->forward(y));
  }

  torch::nn::LayerNorm norm1{nullptr};  ///< before attention
  ViTAttention attn{nullptr};           ///< self-attention
  torch::nn::LayerNorm norm2{nullptr};  ///< before the MLP
  ViTMlp mlp{nullptr};                  ///< MLP

 private:
  ViTBlockOptions options_;
};
TORCH_MODULE(ViTBlock);

/// The tubelet embedding (`patch_embed`): a conv with kernel = stride = (tubelet, patch, patch).
class VideoPatchEmbedImpl : public torch::nn::Cloneable<VideoPatchEmbedImpl> {
 public:
  /// `in_channels` -> `dim` per tubelet of `tubelet x patch x patch` pixels.
  VideoPatchEmbedImpl(std::int64_t in_channels, std::int64_t dim, std::int64_t tubelet, std::int64_t patch)
      : in_(in_channels), dim_(dim), tubelet_(tubelet), patch_(patch) {
    reset();
  }

  /// (Re)creates `proj`.
  void reset() override {
    proj = register_module("proj",
                           torch::nn::Conv3d(torch::nn::Conv3dOptions(in_, dim_, {tubelet_, patch_, patch_}).stride({tubelet_, patch_, patch_})));
  }

  /// `[N, C, T, H, W]` -> `[N, L, D]`, tokens ordered t, h, w, row-major: elementwise ops keep
  /// their input's layout, so a transposed view here would carry into every residual add and
  /// make each LayerNorm copy its input.
  at::Tensor forward(const at::Tensor& clip) { return proj->forward(clip).flatten(2).transpose(1, 2).contiguous(); }

  torch::nn::Conv3d proj{nullptr};  ///< the tubelet conv (with bias)

 private:
  std::int64_t in_, dim_, tubelet_, patch_;
};
TORCH_MODULE(VideoPatchEmbed);

namespace detail {
// VideoMAE's `_init_weights`: xavier-uniform linears with zero bias, LayerNorm 1/0. (The patch
// conv keeps PyTorch's default init, as upstream.)
inline void init_vit_weights(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  for (auto& m : module.modules(/*include_self=*/false)) {
    if (auto* fc = m->as<torch::nn::LinearImpl>()) {
      torch::nn::init::xavier_uniform_(fc->weight);
      if (fc->bias.defined()) fc->bias.zero_();
    } else if (auto* ln = m->as<torch::nn::LayerNormImpl>()) {
      ln->weight.fill_(1.0);
      ln->bias.zero_();
    }
  }
}
}  // namespace detail

/// Options of `VideoViT`; defaults are ViT-S/16 for 16x224² clips, VideoMAE's pre-training encoder.
struct VideoViTOptions {
  std::int64_t embed_dim = 384;   ///< token width D
  std::int64_t depth = 12;        ///< number of blocks
  std::int64_t num_heads = 6;     ///< attention heads
  double mlp_ratio = 4.0;         ///< MLP width relative to D
  std::int64_t patch_size = 16;   ///< spatial patch side
  std::int64_t tubelet_size = 2;  ///< temporal patch length
  std::int64_t frames = 16;       ///< clip length T the position table is built for
  std::int64_t image_size = 224;  ///< clip side H = W the position table is built for
  std::int64_t in_channels = 3;   ///< input channels
  std::int64_t num_classes = 0;   ///< > 0 adds a linear `head` (fine-tuning); 0: none
  bool use_mean_pooling = false;  ///< fine-tuning layout: no `norm`, `fc_norm` after the token mean
  double norm_eps = 1e-6;         ///< LayerNorm epsilon
};

/// ViT-S/16 (D 384, 12 blocks, 6 heads), tubelet 2.
inline VideoViTOptions vit_s() { return {}; }
/// ViT-B/16 (D 768, 12 blocks, 12 heads), tubelet 2.
inline VideoViTOptions vit_b() { return {.embed_dim = 768, .depth = 12, .num_heads = 12}; }
/// ViT-Tiny/8: not a published model; D 192, 4 blocks, 3 heads, 8x8 patches, 8 frames of 32x32
/// (64 tokens). For the built-in benchmark on a laptop CPU.
inline VideoViTOptions vit_tiny() { return {.embed_dim = 192, .depth = 4, .num_heads = 3, .patch_size = 8, .frames = 8, .image_size = 32}; }

/// The video ViT encoder. `forward` returns one vector per clip (the token mean, through
/// `fc_norm` and `head` when configured); `forward_tokens` returns the (visible) tokens.
class VideoViTImpl : public torch::nn::Cloneable<VideoViTImpl> {
 public:
  /// Opts in to `longform::Backbone`.
  using backbone_concept = backbone_tag;

  /// Builds the encoder for `options` (default ViT-S/16) with VideoMAE's initialization.
  explicit VideoViTImpl(VideoViTOptions options = {}) : options_(options) { reset(); }

  /// (Re)creates every module and the position table.
  void reset() override {
    const auto& o = options_;
    TORCH_CHECK(o.frames % o.tubelet_size == 0 && o.image_size % o.patch_size == 0, "VideoViT: frames (", o.frames,
                ") must be a multiple of tubelet_size (", o.tubelet_size, ") and image_size (", o.image_size, ") of patch_size (", o.patch_size, ")");
    const ViTBlockOptions block{.dim = o.embed_dim, .num_heads = o.num_heads, .mlp_ratio = o.mlp_ratio, .norm_eps = o.norm_eps};
    patch_embed = register_module("patch_embed", VideoPatchEmbed(o.in_channels, o.embed_dim, o.tubelet_size, o.patch_size));
    blocks = register_module("blocks", torch::nn::ModuleList());
    for (std::int64_t i = 0; i < o.depth; ++i) blocks->push_back(ViTBlock(block));
    auto ln = [&] { return torch::nn::LayerNorm(torch::nn::LayerNormOptions({o.embed_dim}).eps(o.norm_eps)); };
    norm = o.use_mean_pooling ? nullptr : register_module("norm", ln());
    fc_norm = o.use_mean_pooling ? register_module("fc_norm", ln()) : nullptr;
    head = o.num_classes > 0 ? register_module("head", torch::nn::Linear(o.embed_dim, o.num_classes)) : nullptr;
    // Not a buffer: VideoMAE keeps it out of the state dict, and so must we for strict loading.
    pos_embed_ = sinusoid_position_table(num_tokens(), o.embed_dim);
    detail::init_vit_weights(*this);
  }

  /// Tokens `[N, L, D]` after the last block and `norm`; with `mask` (`[N, L]` bool, true =
  /// masked) only the visible ones, `[N, L_visible, D]`, in token order.
  at::Tensor forward_tokens(const at::Tensor& clip, const at::Tensor& mask = {}) {
    TORCH_CHECK(clip.dim() == 5 && clip.size(1) == options_.in_channels, "VideoViT: expected a [N, ", options_.in_channels,
                ", T, H, W] clip, got shape ", clip.sizes());
    auto x = patch_embed->forward(clip);
    TORCH_CHECK(x.size(1) == num_tokens(), "VideoViT: the position table is built for ", options_.frames, "x", options_.image_size, "x",
                options_.image_size, " clips (", num_tokens(), " tokens); got ", clip.size(2), "x", clip.size(3), "x", clip.size(4), " (", x.size(1),
                " tokens)");
    if (pos_embed_.device() != x.device() || pos_embed_.scalar_type() != x.scalar_type()) pos_embed_ = pos_embed_.to(x.device(), x.scalar_type());
    x = x + pos_embed_;
    if (mask.defined()) x = select_tokens(x, mask.logical_not());
    for (const auto& b : *blocks) x = b->as<ViTBlockImpl>()->forward(x);
    return norm ? norm->forward(x) : x;
  }

  /// One vector per clip: mean over tokens (then `fc_norm`, then `head`, where present).
  at::Tensor forward(const at::Tensor& clip) {
    auto x = forward_tokens(clip).mean(1);
    if (fc_norm) x = fc_norm->forward(x);
    return head ? head->forward(x) : x;
  }

  /// Width of `forward`'s output: `num_classes` with a head, else `embed_dim`.
  [[nodiscard]] std::int64_t feature_dim() const { return options_.num_classes > 0 ? options_.num_classes : options_.embed_dim; }

  /// Tokens per clip: `frames/tubelet · (image/patch)²`.
  [[nodiscard]] std::int64_t num_tokens() const {
    const auto side = options_.image_size / options_.patch_size;
    return options_.frames / options_.tubelet_size * side * side;
  }

  /// The options the model was built with.
  [[nodiscard]] const VideoViTOptions& options() const noexcept { return options_; }

  VideoPatchEmbed patch_embed{nullptr};   ///< `patch_embed.proj`, the tubelet conv
  torch::nn::ModuleList blocks{nullptr};  ///< `blocks.{i}` (reached through `as<>()`, `clone()`-safe)
  torch::nn::LayerNorm norm{nullptr};     ///< final norm (pre-training layout)
  torch::nn::LayerNorm fc_norm{nullptr};  ///< norm after mean pooling (fine-tuning layout)
  torch::nn::Linear head{nullptr};        ///< classifier, when `num_classes > 0`

 private:
  VideoViTOptions options_;
  at::Tensor pos_embed_;
};

/// Holder for `VideoViTImpl`.
TORCH_MODULE(VideoViT);

static_assert(Backbone<VideoViTImpl>);
static_assert(Backbone<VideoViT>);

/// A video-ViT preset as a type: a `VideoViT` holder whose default is `Preset()`'s options. It
/// derives from `VideoViT`, so it goes wherever a `VideoViT` does, and as a template argument
/// (`VideoMAE<ViTB>`, `MoCo<ViTS>`) it picks the network. Spell it `ViTS`, `ViTB` or `ViTTiny`.
template <VideoViTOptions (*Preset)()>
class VideoViTPreset : public VideoViT {
 public:
  /// The preset's options (`vit_b()` for `ViTB`): start here to change a field.
  [[nodiscard]] static VideoViTOptions preset() { return Preset(); }

  /// The preset encoder (no classifier: `forward` gives the token mean).
  VideoViTPreset() : VideoViT(Preset()) {}
  /// The encoder for `options` (all of them: start from `preset()` to keep the preset's shape).
  explicit VideoViTPreset(const VideoViTOptions& options) : VideoViT(options) {}
  /// An empty holder, as `VideoViT(nullptr)`.
  VideoViTPreset(std::nullptr_t) : VideoViT(nullptr) {}  // NOLINT(google-explicit-constructor): as ModuleHolder
  /// Holds `impl`, as `VideoViT(impl)`.
  explicit VideoViTPreset(std::shared_ptr<VideoViTImpl> impl) : VideoViT(std::move(impl)) {}
};

/// ViT-S/16 (D 384, 12 blocks, 6 heads; 16 frames of 224², tubelet 2) as a type: VideoMAE's encoder.
using ViTS = VideoViTPreset<&vit_s>;
/// ViT-B/16 (D 768, 12 blocks, 12 heads; 16 frames of 224², tubelet 2) as a type.
using ViTB = VideoViTPreset<&vit_b>;
/// ViT-Tiny/8 (not published; for a laptop CPU) as a type.
using ViTTiny = VideoViTPreset<&vit_tiny>;

static_assert(Backbone<ViTB>);
static_assert(std::same_as<backbone_impl_t<ViTB>, VideoViTImpl>);

}  // namespace longform

LONGFORM_REFLECT(longform::ViTBlockOptions, dim, num_heads, mlp_ratio, norm_eps);

LONGFORM_REFLECT(longform::VideoViTOptions, embed_dim, depth, num_heads, mlp_ratio, patch_size, tubelet_size, frames, image_size, in_channels,
                 num_classes, use_mean_pooling, norm_eps);
