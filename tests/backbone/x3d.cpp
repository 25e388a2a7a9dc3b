// SPDX-License-Identifier: MIT
// X3D against PyTorchVideo: key names and shapes, parameter counts, multiply-adds, and outputs of
// a tiny model whose weights, input and outputs PyTorchVideo produced (golden files).
#include <longform/backbone/complexity.hpp>
#include <longform/backbone/memory_format.hpp>
#include <longform/backbone/weights.hpp>
#include <longform/backbone/vit.hpp>
#include <longform/backbone/x3d.hpp>
#include <longform/objective/distill.hpp>
#include <longform/objective/moco.hpp>
#include <longform/objective/videomae.hpp>

#include <ATen/ops/allclose.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/randn.h>

// c10 defines a glog-style CHECK; Catch must own the name.
#undef CHECK
#include <catch2/catch.hpp>

#include "golden.hpp"

using namespace longform;
using longform::test::golden;
using longform::test::golden_summary;

namespace {

X3DOptions tiny_options() {
  const auto& cfg = golden_summary()["x3d_tiny"];
  return {.num_classes = cfg["model_num_class"].get<std::int64_t>(),
          .frames = cfg["input_clip_length"].get<std::int64_t>(),
          .crop_size = cfg["input_crop_size"].get<std::int64_t>(),
          .width_factor = cfg["width_factor"].get<double>(),
          .depth_factor = cfg["depth_factor"].get<double>(),
          .head_dim_out = cfg["head_dim_out"].get<std::int64_t>()};
}

X3D tiny_model(X3DOptions options = tiny_options()) {
  X3D model(options);
  load_checkpoint(*model, golden("x3d_tiny.pyth"));
  model->eval();
  return model;
}

double max_abs_diff(const at::Tensor& a, const at::Tensor& b) { return (a - b).abs().max().item<double>(); }

}  // namespace

TEST_CASE("round_width and round_repeats follow PyTorchVideo", "[backbone][x3d]") {
  CHECK(longform::detail::round_width(12, 2.0) == 24);
  CHECK(longform::detail::round_width(54, 0.0625) == 8);    // SE width of stage 1
  CHECK(longform::detail::round_width(432, 0.0625) == 32);  // ... of stage 4
  CHECK(longform::detail::round_width(12, 1.0) == 16);      // never below 90% after rounding
  CHECK(longform::detail::round_repeats(5, 2.2) == 11);
  CHECK(longform::detail::round_repeats(3, 5.0) == 15);
}

TEST_CASE("X3D state dicts match PyTorchVideo key for key, in order", "[backbone][x3d]") {
  for (const auto& [name, options] : {std::pair{"x3d_m", x3d_m()}, std::pair{"x3d_l", x3d_l()}}) {
    INFO(name);
    X3D model(options);
    const auto& ref = golden_summary()[name];
    const auto sd = state_dict(*model);
    CHECK(test::key_list(sd) == ref["keys"]);
    CHECK(static_cast<std::int64_t>(sd.size()) == ref["num_entries"].get<std::int64_t>());
    CHECK(count_parameters(*model) == ref["num_parameters"].get<std::int64_t>());
  }
  X3D m(x3d_m());
  CHECK(count_parameters(*m) == 3'794'274);
  CHECK(state_dict(*m).size() == 563);
  // Where PyTorchVideo's names are easy to get wrong: the stem's conv_t is the spatial (1x3x3) and
  // conv_xy the temporal (5x1x1) convolution, stage 1 has no branch1_norm, SE sits on even blocks only.
  const auto sd = state_dict(*m);
  CHECK(sd["blocks.0.conv.conv_t.weight"].sizes() == c10::IntArrayRef{24, 3, 1, 3, 3});
  CHECK(sd["blocks.0.conv.conv_xy.weight"].sizes() == c10::IntArrayRef{24, 1, 5, 1, 1});
  CHECK(sd.contains("blocks.1.res_blocks.0.branch1_conv.weight"));
  CHECK_FALSE(sd.contains("blocks.1.res_blocks.0.branch1_norm.weight"));
  CHECK(sd.contains("blocks.2.res_blocks.0.branch1_norm.weight"));
  CHECK(sd.contains("blocks.3.res_blocks.10.branch2.norm_b.1.block.0.weight"));
  CHECK_FALSE(sd.contains("blocks.3.res_blocks.9.branch2.norm_b.1.block.0.weight"));
}

TEST_CASE("X3D multiply-adds match the reference counter", "[backbone][x3d][slow]") {
  for (const auto& [name, options] : {std::pair{"x3d_xs", x3d_xs()}, std::pair{"x3d_m", x3d_m()}}) {
    INFO(name);
    X3D model(options);
    model->eval();
    const auto macs = count_macs(model, options.frames, options.crop_size);
    CHECK(macs == golden_summary()[name]["macs"].get<std::int64_t>());
    if (std::string(name) == "x3d_m") CHECK(std::abs(static_cast<double>(macs) / 1e9 - 4.73) < 0.01);
  }
}

TEST_CASE("X3D reproduces PyTorchVideo's outputs in eval mode", "[backbone][x3d]") {
  const auto io = read_checkpoint(golden("x3d_tiny_io.pt"));
  auto model = tiny_model();
  torch::NoGradGuard no_grad;

  const auto logits = model->forward(io["input"]);
  REQUIRE(logits.sizes() == io["logits"].sizes());
  CHECK(max_abs_diff(logits, io["logits"]) <= 1e-4);

  // A clip larger than the model was built for: the head pool keeps its build-time kernel and the
  // global average takes the rest, as upstream.
  const auto big = model->forward(io["input_big"]);
  CHECK(max_abs_diff(big, io["logits_big"]) <= 1e-4);

  const auto features = model->forward_features(io["input"]);
  CHECK(features.sizes() == c10::IntArrayRef{2, 128});
  CHECK(max_abs_diff(features, io["features"]) <= 1e-4);

  // The same weights in features mode: `forward` returns the embedding, and `feature_dim` says so.
  auto options = tiny_options();
  options.output = X3DOutput::features;
  auto encoder = tiny_model(options);
  CHECK(encoder->feature_dim() == 128);
  CHECK(model->feature_dim() == 10);
  CHECK(max_abs_diff(encoder->forward(io["input"]), io["features"]) <= 1e-4);
}

TEST_CASE("X3D in channels-last-3d keeps NDHWC through every block and the same outputs", "[backbone][x3d]") {
  const auto io = read_checkpoint(golden("x3d_tiny_io.pt"));
  auto model = tiny_model();
  to_memory_format(*model, at::MemoryFormat::ChannelsLast3d);
  // Weights with size-1 dimensions (1x1x1 and depthwise convs) count as contiguous in both layouts;
  // only canonical NDHWC strides (channel stride 1) make a convolution choose NDHWC.
  for (const auto& item : model->named_parameters())
    if (item.value().dim() == 5) {
      INFO(item.key());
      CHECK(item.value().stride(1) == 1);
    }
  torch::NoGradGuard no_grad;
  const auto x = io["input"].contiguous(at::MemoryFormat::ChannelsLast3d);
  auto y = model->blocks[0]->as<X3DStemImpl>()->forward(x);
  for (std::size_t s = 1; s + 1 < model->blocks->size(); ++s) {
    y = model->blocks[s]->as<X3DResStageImpl>()->forward(y);
    INFO("stage " << s << " strides " << y.strides());
    CHECK((y.size(1) == 1 || y.stride(1) == 1));  // NDHWC: channels innermost
  }
  CHECK(max_abs_diff(model->forward(x), io["logits"]) <= 1e-4);
}

TEST_CASE("X3D clone() is deep and keeps the function", "[backbone][x3d]") {
  const auto io = read_checkpoint(golden("x3d_tiny_io.pt"));
  auto model = tiny_model();
  auto copy = std::dynamic_pointer_cast<X3DImpl>(model->clone());
  REQUIRE(copy);
  copy->eval();
  torch::NoGradGuard no_grad;
  CHECK(max_abs_diff(copy->forward(io["input"]), io["logits"]) <= 1e-4);
  // Changing the copy leaves the original alone (a momentum encoder relies on this).
  for (auto& p : copy->parameters()) p.mul_(1.1);
  CHECK(max_abs_diff(model->forward(io["input"]), io["logits"]) <= 1e-4);
  CHECK(max_abs_diff(copy->forward(io["input"]), io["logits"]) > 1e-2);
}

TEST_CASE("X3D rejects inputs it cannot take, saying why", "[backbone][x3d]") {
  X3D model(tiny_options());
  model->eval();
  torch::NoGradGuard no_grad;
  CHECK_THROWS_WITH(model->forward(at::randn({1, 4, 4, 48, 48})), Catch::Contains("[N, 3, T, H, W]"));
  CHECK_THROWS_WITH(model->forward(at::randn({1, 3, 2, 48, 48})), Catch::Contains("fixed when the model is built"));
  CHECK_NOTHROW(model->forward(at::randn({1, 3, 4, 48, 48})));
}

TEST_CASE("X3D trains: one SGD step lowers the loss", "[backbone][x3d]") {
  auto options = tiny_options();
  options.dropout = 0.0;
  X3D model(options);
  model->train();
  const auto x = at::randn({2, 3, 4, 48, 48});
  const auto target = at::randn({2, 10});
  auto loss_of = [&] { return (model->forward(x) - target).pow(2).mean(); };
  auto loss = loss_of();
  loss.backward();
  {
    torch::NoGradGuard no_grad;
    for (auto& p : model->parameters())
      if (p.grad().defined()) p.sub_(p.grad() * 1e-2);
  }
  CHECK(loss_of().item<double>() < loss.item<double>());
}

// Model presets as types, usable wherever X3D / VideoViT with options are.
namespace {
// A function written for the holder takes a preset as it is.
std::int64_t clip_length(const X3D& net) { return net->options().frames; }
}  // namespace

static_assert(std::is_base_of_v<X3D, X3DM> && std::is_base_of_v<VideoViT, ViTB>);
static_assert(Backbone<X3DXS> && Backbone<X3DS> && Backbone<X3DM> && Backbone<X3DL> && Backbone<ViTS> && Backbone<ViTB>);
static_assert(SslObjective<MoCo<X3DM>> && SslObjective<Distill<X3DM, X3DS>> && SslObjective<VideoMAE<ViTB>> && SslObjective<MoCo<ViTS>>);

TEST_CASE("X3D presets as types: X3DM is X3D(x3d_m()), key for key, and goes wherever X3D does", "[backbone][x3d][presets]") {
  X3DM m;
  CHECK(m->options().frames == 16);
  CHECK(m->options().crop_size == 224);
  CHECK(m->options().output == X3DOutput::logits);  // PyTorchVideo's create_x3d: the classifier
  CHECK(m->feature_dim() == 400);
  CHECK(count_parameters(*m) == 3'794'274);
  CHECK(test::key_list(state_dict(*m)) == golden_summary()["x3d_m"]["keys"]);
  X3DL l;
  CHECK(count_parameters(*l) == golden_summary()["x3d_l"]["num_parameters"].get<std::int64_t>());
  CHECK(X3DXS()->options().frames == 4);
  CHECK(X3DXS()->options().crop_size == 160);
  CHECK(X3DS()->options().frames == 13);
  CHECK(clip_length(X3DS()) == 13);
  CHECK(X3DS::preset().crop_size == 160);

  // The run-time options form through the type: the same network as X3D(options), weights included.
  const auto io = read_checkpoint(golden("x3d_tiny_io.pt"));
  X3DM tiny(tiny_options());
  load_checkpoint(*tiny, golden("x3d_tiny.pyth"));
  tiny->eval();
  torch::NoGradGuard no_grad;
  CHECK(max_abs_diff(tiny->forward(io["input"]), io["logits"]) <= 1e-4);
  auto copy = std::dynamic_pointer_cast<X3DImpl>(tiny->clone());  // deep copies, as for X3D
  REQUIRE(copy);
  CHECK(copy.get() != tiny.get());
}

TEST_CASE("MoCo<X3DM> pre-trains X3D-M features, the same encoder as MoCo<X3D>, and takes clips smaller than 224²", "[backbone][x3d][presets]") {
  const MoCoOptions small{.dim = 16, .mlp_hidden = 32, .queue_size = 16};
  torch::manual_seed(3);
  MoCo<X3DM> preset(small);
  torch::manual_seed(3);
  MoCo<X3D> plain(small);
  const auto& o = preset->encoder_q->options();
  CHECK(o.output == X3DOutput::features);
  CHECK(o.frames == 16);
  CHECK(o.crop_size == 224);
  CHECK(preset->encoder_q->feature_dim() == 2048);
  const auto a = state_dict(*preset.get()), b = state_dict(*plain.get());
  REQUIRE(test::key_list(a) == test::key_list(b));
  for (const auto& item : a) CHECK(at::equal(item.value(), b[item.key()]));

  // Features of a 16x64² clip from the network built for 16x224²: the head pools the whole (smaller) map.
  auto encoder = preset->encoder_q;
  encoder->eval();
  torch::NoGradGuard no_grad;
  const auto x = at::randn({1, 3, 16, 64, 64});
  const auto f = encoder->forward(x);
  CHECK(f.sizes() == c10::IntArrayRef{1, 2048});
  CHECK(f.isfinite().all().item<bool>());
  // The classifier keeps PyTorchVideo's fixed pool window: X3D-M logits reject a clip that small.
  CHECK_THROWS_WITH(X3DM()->forward(x), Catch::Contains("fixed when the model is built"));
}

TEST_CASE("Distill<X3DM, X3DS> and ViT presets: the preset networks by default", "[backbone][presets]") {
  Distill<X3DM, X3DS> kd;
  CHECK(kd->teacher->options().crop_size == 224);
  CHECK(kd->student->options().frames == 13);
  CHECK(kd->student->feature_dim() == 400);  // logits, as the teacher's
  ViTS s;
  CHECK(s->options().embed_dim == 384);
  CHECK(s->feature_dim() == 384);
  ViTB b;
  CHECK(b->options().embed_dim == 768);
  CHECK(b->options().depth == 12);
  CHECK(b->options().num_heads == 12);
  CHECK(b->options().patch_size == 16);
  CHECK(b->options().tubelet_size == 2);
  CHECK(count_parameters(*b) == count_parameters(*VideoViT(vit_b())));
  ViTS tiny(vit_tiny());  // the run-time options form
  CHECK(tiny->num_tokens() == 64);
}
