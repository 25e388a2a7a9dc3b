// SPDX-License-Identifier: MIT
// Video ViT and VideoMAE decoder against Hugging Face transformers' VideoMAE: MCG-NJU key names,
// parameter counts, multiply-adds, and outputs of a tiny pre-training model whose weights (in
// Hugging Face names), input, mask and outputs transformers produced (golden files).
#include <longform/backbone/complexity.hpp>
#include <longform/backbone/videomae_decoder.hpp>
#include <longform/backbone/vit.hpp>
#include <longform/backbone/weights.hpp>

#include <ATen/ops/randn.h>

#include <algorithm>

// c10 defines a glog-style CHECK; Catch must own the name.
#undef CHECK
#include <catch2/catch.hpp>

#include "golden.hpp"

using namespace longform;
using longform::test::golden;
using longform::test::golden_summary;

namespace {

// VideoMAE's pre-training model around the encoder and decoder, with MCG-NJU's member names and
// order (own parameter `mask_token` first). The objective owns this composition in the library.
struct PretrainImpl : torch::nn::Module {
  PretrainImpl(VideoViTOptions enc, VideoMAEDecoderOptions dec)
      : decoder_pos(sinusoid_position_table(VideoViTImpl(enc).num_tokens(), dec.embed_dim)) {
    mask_token = register_parameter("mask_token", at::zeros({1, 1, dec.embed_dim}));
    encoder = register_module("encoder", VideoViT(enc));
    decoder = register_module("decoder", VideoMAEDecoder(dec));
    encoder_to_decoder = register_module("encoder_to_decoder", torch::nn::Linear(torch::nn::LinearOptions(enc.embed_dim, dec.embed_dim).bias(false)));
  }
  at::Tensor forward(const at::Tensor& clip, const at::Tensor& mask) {
    auto visible = encoder_to_decoder->forward(encoder->forward_tokens(clip, mask));
    const auto n = clip.size(0);
    auto pos = decoder_pos.expand({n, -1, -1});
    auto pos_visible = select_tokens(pos, mask.logical_not());
    auto pos_masked = select_tokens(pos, mask);
    auto full = at::cat({visible + pos_visible, mask_token + pos_masked}, 1);
    return decoder->forward(full, pos_masked.size(1));
  }
  at::Tensor mask_token;
  VideoViT encoder{nullptr};
  VideoMAEDecoder decoder{nullptr};
  torch::nn::Linear encoder_to_decoder{nullptr};
  at::Tensor decoder_pos;
};

std::pair<VideoViTOptions, VideoMAEDecoderOptions> tiny_options() {
  const auto& c = golden_summary()["videomae_tiny"]["config"];
  VideoViTOptions enc{.embed_dim = c["hidden"], .depth = c["depth"], .num_heads = c["heads"], .frames = c["frames"], .image_size = c["image"]};
  VideoMAEDecoderOptions dec{.embed_dim = c["decoder_hidden"], .depth = c["decoder_depth"], .num_heads = c["decoder_heads"]};
  return {enc, dec};
}

double max_abs_diff(const at::Tensor& a, const at::Tensor& b) { return (a - b).abs().max().item<double>(); }

}  // namespace

TEST_CASE("sinusoid_position_table follows VideoMAE's formula", "[backbone][vit]") {
  const auto t = sinusoid_position_table(10, 6);
  CHECK(t.sizes() == c10::IntArrayRef{1, 10, 6});
  CHECK(t[0][3][0].item<double>() == Approx(std::sin(3.0)));
  CHECK(t[0][3][1].item<double>() == Approx(std::cos(3.0)));
  CHECK(t[0][7][4].item<double>() == Approx(std::sin(7.0 / std::pow(10000.0, 4.0 / 6.0))));
}

TEST_CASE("ViT-S/B and their decoders have MCG-NJU VideoMAE's keys, in order", "[backbone][vit]") {
  for (const auto& [name, enc, dec] : {std::tuple{"vit_s", vit_s(), videomae_decoder_s()}, std::tuple{"vit_b", vit_b(), videomae_decoder_b()}}) {
    INFO(name);
    PretrainImpl model(enc, dec);
    const auto& ref = golden_summary()[name];
    const auto sd = state_dict(model);
    CHECK(test::key_list(sd) == ref["keys"]);
    CHECK(count_parameters(model) == ref["num_parameters"].get<std::int64_t>());
    CHECK(count_parameters(*model.encoder) == ref["encoder_parameters"].get<std::int64_t>());
  }
  // ViT-S encoder ≈ 21.9 M, ViT-B ≈ 86.2 M (the VideoMAE paper's Table).
  CHECK(count_parameters(*VideoViT(vit_s())) == 21'879'936);
  CHECK(count_parameters(*VideoViT(vit_b())) == 86'227'200);
}

TEST_CASE("ViT-S multiply-adds match the reference counter", "[backbone][vit][slow]") {
  VideoViT model(vit_s());
  model->eval();
  CHECK(count_macs(model, 16, 224) == golden_summary()["vit_s"]["encoder_macs"].get<std::int64_t>());
}

TEST_CASE("VideoMAE encoder and decoder reproduce transformers' outputs", "[backbone][vit]") {
  const auto [enc, dec] = tiny_options();
  PretrainImpl model(enc, dec);
  load_checkpoint(model, golden("videomae_tiny_hf.bin"), {.naming = KeyNaming::hugging_face});
  model.eval();
  const auto io = read_checkpoint(golden("videomae_tiny_io.pt"));
  torch::NoGradGuard no_grad;

  const auto encoded = model.encoder->forward_tokens(io["input"], io["mask"]);
  REQUIRE(encoded.sizes() == io["encoded"].sizes());
  CHECK(max_abs_diff(encoded, io["encoded"]) <= 1e-4);

  const auto full = model.encoder->forward_tokens(io["input"]);
  CHECK(max_abs_diff(full, io["encoded_full"]) <= 1e-4);
  CHECK(max_abs_diff(model.encoder->forward(io["input"]), io["encoded_full"].mean(1)) <= 1e-4);

  const auto predicted = model.forward(io["input"], io["mask"]);
  REQUIRE(predicted.sizes() == io["predicted"].sizes());
  CHECK(max_abs_diff(predicted, io["predicted"]) <= 1e-4);
}

TEST_CASE("a VideoMAE checkpoint's encoder loads alone with a prefix", "[backbone][vit][weights]") {
  const auto [enc, dec] = tiny_options();
  VideoViT encoder(enc);
  load_checkpoint(*encoder, golden("videomae_tiny_hf.bin"), {.prefix = "encoder.", .naming = KeyNaming::hugging_face});
  // Without the prefix, the decoder's keys are unexpected: the strict check names them.
  try {
    load_checkpoint(*encoder, golden("videomae_tiny_hf.bin"), {.naming = KeyNaming::hugging_face});
    FAIL("no error");
  } catch (const state_dict_error& e) {
    CHECK(e.missing().size() == state_dict(*encoder).size());
    const auto& u = e.unexpected();
    CHECK(std::find(u.begin(), u.end(), "decoder.blocks.3.mlp.fc2.weight") != u.end());
    CHECK(std::find(u.begin(), u.end(), "mask_token") != u.end());
    // The message shows the first keys of each kind and counts the rest.
    CHECK_THAT(e.what(), Catch::Contains("videomae_tiny_hf.bin") && Catch::Contains("... and"));
  }
  // Without the name mapping, nothing matches.
  CHECK_THROWS_AS(load_checkpoint(*encoder, golden("videomae_tiny_hf.bin"), {.prefix = "encoder."}), config_error);
}

TEST_CASE("VideoViT checks its inputs and clones deeply", "[backbone][vit]") {
  auto [enc, dec] = tiny_options();
  VideoViT model(enc);
  model->eval();
  torch::NoGradGuard no_grad;
  const auto x = at::randn({2, 3, 4, 32, 32});
  CHECK_THROWS_WITH(model->forward(at::randn({2, 3, 4, 48, 48})), Catch::Contains("position table"));
  CHECK_THROWS_WITH(model->forward(at::randn({2, 3, 4, 32})), Catch::Contains("[N, 3, T, H, W]"));
  auto uneven = at::zeros({2, 8}, at::kBool);
  uneven[0][0] = true;
  CHECK_THROWS_WITH(model->forward_tokens(x, uneven), Catch::Contains("same number"));

  auto copy = std::dynamic_pointer_cast<VideoViTImpl>(model->clone());
  REQUIRE(copy);
  CHECK(max_abs_diff(copy->forward(x), model->forward(x)) == 0.0);
  for (auto& p : copy->parameters()) p.add_(0.5);
  CHECK(max_abs_diff(copy->forward(x), model->forward(x)) > 1e-3);
  CHECK(model->feature_dim() == enc.embed_dim);
}
