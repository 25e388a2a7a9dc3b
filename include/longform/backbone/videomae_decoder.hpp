// SPDX-License-Identifier: MIT
/// @file
/// VideoMAE's pre-training decoder (`decoder.*` in MCG-NJU checkpoints): `depth` ViT blocks
/// (4 in every VideoMAE script, though the class default upstream is 8), a LayerNorm, and a
/// linear head to the pixels of one tubelet (3 · 2 · 16 · 16 = 1536 values per token, laid out
/// pixel-major, channel-minor as VideoMAE's normalized targets).
///
/// The pieces around it belong to the pre-training objective, not here: `encoder_to_decoder`
/// (a bias-free linear from the encoder width), the learned `mask_token`, and the decoder's own
/// sinusoid table (`sinusoid_position_table(L, dim)`), added to visible and mask tokens before
/// they are concatenated `[visible..., masked...]`.
#pragma once

#include <longform/backbone/detail/linear.hpp>
#include <longform/backbone/vit.hpp>
#include <longform/core/reflect.hpp>

#include <torch/nn/cloneable.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include <cstdint>

namespace longform {

/// Options of `VideoMAEDecoder`; defaults are the ViT-S pre-training decoder.
struct VideoMAEDecoderOptions {
  std::int64_t embed_dim = 192;     ///< decoder width (ViT-S: 192, ViT-B: 384)
  std::int64_t depth = 4;           ///< blocks
  std::int64_t num_heads = 3;       ///< heads (ViT-S: 3, ViT-B: 6)
  double mlp_ratio = 4.0;           ///< MLP width relative to `embed_dim`
  std::int64_t num_outputs = 1536;  ///< values predicted per token: channels · tubelet · patch²
  double norm_eps = 1e-6;           ///< LayerNorm epsilon
};

/// The decoder paired with ViT-S/16 (192 wide, 3 heads, depth 4).
inline VideoMAEDecoderOptions videomae_decoder_s() { return {}; }
/// The decoder paired with ViT-B/16 (384 wide, 6 heads, depth 4).
inline VideoMAEDecoderOptions videomae_decoder_b() { return {.embed_dim = 384, .num_heads = 6}; }

/// VideoMAE's decoder: `blocks`, `norm`, `head`.
class VideoMAEDecoderImpl : public torch::nn::Cloneable<VideoMAEDecoderImpl> {
 public:
  /// Builds the decoder with VideoMAE's initialization.
  explicit VideoMAEDecoderImpl(VideoMAEDecoderOptions options = {}) : options_(options) { reset(); }

  /// (Re)creates the modules.
  void reset() override {
    const auto& o = options_;
    const ViTBlockOptions block{.dim = o.embed_dim, .num_heads = o.num_heads, .mlp_ratio = o.mlp_ratio, .norm_eps = o.norm_eps};
    blocks = register_module("blocks", torch::nn::ModuleList());
    for (std::int64_t i = 0; i < o.depth; ++i) blocks->push_back(ViTBlock(block));
    norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({o.embed_dim}).eps(o.norm_eps)));
    head = register_module("head", torch::nn::Linear(o.embed_dim, o.num_outputs));
    detail::init_vit_weights(*this);
  }

  /// `[N, L, D_dec]` (visible tokens first, then mask tokens) -> `[N, n, num_outputs]` for the
  /// last `return_token_num` tokens, i.e. the masked ones; `0` predicts all L.
  at::Tensor forward(const at::Tensor& tokens, std::int64_t return_token_num = 0) {
    TORCH_CHECK(tokens.dim() == 3 && tokens.size(2) == options_.embed_dim, "VideoMAEDecoder: expected [N, L, ", options_.embed_dim, "] tokens, got ",
                tokens.sizes());
    TORCH_CHECK(return_token_num >= 0 && return_token_num <= tokens.size(1), "VideoMAEDecoder: return_token_num ", return_token_num, " not in [0, ",
                tokens.size(1), "]");
    auto x = tokens;
    for (const auto& b : *blocks) x = b->as<ViTBlockImpl>()->forward(x);
    if (return_token_num > 0) x = x.slice(1, x.size(1) - return_token_num);
    return detail::linear(head, norm->forward(x));
  }

  /// The options the decoder was built with.
  [[nodiscard]] const VideoMAEDecoderOptions& options() const noexcept { return options_; }

  torch::nn::ModuleList blocks{nullptr};  ///< `blocks.{i}`
  torch::nn::LayerNorm norm{nullptr};     ///< before the head
  torch::nn::Linear head{nullptr};        ///< to tubelet pixels

 private:
  VideoMAEDecoderOptions options_;
};

/// Holder for `VideoMAEDecoderImpl`.
TORCH_MODULE(VideoMAEDecoder);

}  // namespace longform

LONGFORM_REFLECT(longform::VideoMAEDecoderOptions, embed_dim, depth, num_heads, mlp_ratio, num_outputs, norm_eps);
