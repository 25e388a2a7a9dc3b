// SPDX-License-Identifier: MIT
// VideoMAE objective: tube masks (exact counts, one spatial mask over time), per-patch normalised
// targets in (p0 p1 p2 c) layout, a loss over masked tokens only, and training steps on synthetic
// clips lowering it.
#include <longform/objective/videomae.hpp>

#include <ATen/ops/allclose.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/full.h>
#include <ATen/ops/zeros.h>
#include <ATen/ops/randn.h>
#include <torch/optim/adam.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "common.hpp"
#include "../catch.hpp"

using namespace longform;
using longform::test::synthetic_batch;

namespace {

// A ViT small enough for a 2-core test run: 4×32² clips, 8×8 patches (2·4·4 = 32 tokens).
VideoViTOptions tiny_vit() {
  return {.embed_dim = 32, .depth = 2, .num_heads = 2, .patch_size = 8, .tubelet_size = 2, .frames = 4, .image_size = 32};
}

VideoMAE<VideoViT> tiny_mae(double ratio, std::uint64_t seed = 0) {
  VideoMAEOptions o{.mask_ratio = ratio, .decoder = {.embed_dim = 16, .depth = 1, .num_heads = 2}, .seed = seed};
  return VideoMAE<VideoViT>(o, VideoViT(tiny_vit()));
}

}  // namespace

static_assert(SslObjective<VideoMAE<VideoViT>>);

TEST_CASE("VideoMAE masks exactly round(ratio x positions) tubes per sample", "[objective][videomae]") {
  for (double ratio : {0.5, 0.75, 0.9, 0.3}) {
    INFO("ratio " << ratio);
    auto mae = tiny_mae(ratio);
    const std::int64_t B = 5, slices = 2, positions = 16;
    const auto masked = static_cast<std::int64_t>(std::llround(ratio * positions));
    for (std::int64_t step = 0; step < 3; ++step) {
      const auto mask = mae->make_mask(B, 4, 32, 32, step);
      REQUIRE(mask.sizes() == at::IntArrayRef({B, slices * positions}));
      REQUIRE(mask.scalar_type() == at::kBool);
      // Exact count per sample, the same spatial mask in every temporal slice.
      CHECK(at::equal(mask.sum(1), at::full({B}, slices * masked, at::kLong)));
      const auto per_slice = mask.reshape({B, slices, positions});
      for (std::int64_t t = 1; t < slices; ++t) CHECK(at::equal(per_slice.select(1, t), per_slice.select(1, 0)));
      CHECK(at::equal(mask, mae->make_mask(B, 4, 32, 32, step)));  // reproducible
    }
    // Samples and steps draw different masks.
    const auto m0 = mae->make_mask(B, 4, 32, 32, 0);
    CHECK_FALSE(at::equal(m0.select(0, 0), m0.select(0, 1)));
    CHECK_FALSE(at::equal(m0, mae->make_mask(B, 4, 32, 32, 1)));
    // Sample b's mask does not depend on the size of its batch.
    CHECK(at::equal(mae->make_mask(2, 4, 32, 32, 0), m0.narrow(0, 0, 2)));
  }
  // The paper's ratio at VideoMAE's 14x14 positions: 98 of 196 per slice; 0.9: 176.
  CHECK(tube_mask(1, 8, 196, 0.5, 1).sum().item<std::int64_t>() == 8 * 98);
  CHECK(tube_mask(1, 8, 196, 0.9, 1).sum().item<std::int64_t>() == 8 * 176);
  CHECK_THROWS_WITH(tube_mask(1, 2, 4, 0.01, 1), Catch::Contains("mask_ratio"));
  CHECK_THROWS_WITH(tiny_mae(1.0), Catch::Contains("mask_ratio"));
}

TEST_CASE("VideoMAE targets are per-patch normalised tubes in (p0 p1 p2 c) layout", "[objective][videomae]") {
  const auto x = at::randn({2, 3, 4, 16, 16}, at::kDouble);
  const auto raw = patch_targets(x, 2, 8, /*normalize=*/false);
  REQUIRE(raw.sizes() == at::IntArrayRef({2, 2 * 2 * 2, 2 * 8 * 8 * 3}));
  // Token (t', h', w') = (1, 0, 1) of sample 1 is index 1·4 + 0·2 + 1 = 5; value (p0, p1, p2, c) at
  // ((p0·8 + p1)·8 + p2)·3 + c.
  for (int p0 : {0, 1})
    for (int p1 : {0, 7})
      for (int p2 : {3, 5})
        for (int c : {0, 2}) CHECK(raw[1][5][((p0 * 8 + p1) * 8 + p2) * 3 + c].item<double>() == x[1][c][2 + p0][0 + p1][8 + p2].item<double>());
  const auto norm = patch_targets(x, 2, 8, /*normalize=*/true);
  // One tube and channel by hand: unbiased std, + 1e-6 on the std.
  const auto tube = x[0][1].narrow(0, 2, 2).narrow(1, 8, 8).narrow(2, 0, 8).reshape(-1);  // token 1·4 + 1·2 + 0 = 6
  const double mu = tube.mean().item<double>(), sd = tube.std(/*unbiased=*/true).item<double>();
  const auto got = norm[0][6].reshape({128, 3}).select(1, 1);
  CHECK(at::allclose(got, (tube - mu) / (sd + 1e-6), 1e-12, 1e-12));
  // A positive affine map of the pixels (the un-normalisation) leaves normalised targets unchanged.
  const auto shifted = patch_targets(x, 2, 8, true, {0.485, 0.456, 0.406}, {0.229, 0.224, 0.225});
  CHECK(at::allclose(shifted, norm, 1e-4, 1e-4));
}

TEST_CASE("VideoMAE loss uses masked tokens only", "[objective][videomae]") {
  const auto target = at::randn({2, 8, 6});
  const auto mask = tube_mask(2, 2, 4, 0.5, 7);
  auto pred = at::randn({2, 8, 6});
  const double base = masked_mse(pred, target, mask).item<double>();
  // Predictions of visible tokens do not matter...
  auto changed = pred.clone();
  changed.masked_fill_(mask.logical_not().unsqueeze(-1), 1e3);
  CHECK(masked_mse(changed, target, mask).item<double>() == base);
  // ... nor do the targets of visible tokens; masked ones do.
  auto target2 = target.clone();
  target2.masked_fill_(mask.logical_not().unsqueeze(-1), -1e3);
  CHECK(masked_mse(pred, target2, mask).item<double>() == base);
  auto changed2 = pred.clone();
  changed2.masked_fill_(mask.unsqueeze(-1), 1e3);
  CHECK(masked_mse(changed2, target, mask).item<double>() > base);
  // The masked-only prediction (what the decoder returns) gives the same value.
  CHECK(masked_mse(select_tokens(pred, mask), target, mask).item<double>() == Approx(base).epsilon(1e-6));
  // And equals a plain mean over the masked entries.
  const auto diff = (pred - target).pow(2).masked_select(mask.unsqueeze(-1).expand_as(pred));
  CHECK(base == Approx(diff.mean().item<double>()).epsilon(1e-6));

  // Through the model: the decoder predicts only the masked tokens, and every part gets gradient.
  auto mae = tiny_mae(0.5);
  const auto batch = synthetic_batch(2);
  const auto loss = mae.loss(batch);
  REQUIRE(std::isfinite(loss.item<double>()));
  loss.backward();
  CHECK(mae->mask_token.grad().defined());
  CHECK(mae->encoder_to_decoder->weight.grad().abs().sum().item<double>() > 0);
  CHECK(mae->encoder->patch_embed->proj->weight.grad().abs().sum().item<double>() > 0);
  CHECK(mae.parameters().size() == mae.module().parameters().size());
  ClipBatch bad;
  bad.data = at::zeros({2, 3, 4, 30, 32});
  CHECK_THROWS(mae.loss(bad));
  CHECK_THROWS_WITH(mae.loss(ClipBatch{}), Catch::Contains("batch.data"));
}

TEST_CASE("VideoMAE state dict uses MCG-NJU names", "[objective][videomae]") {
  auto mae = tiny_mae(0.9);
  const auto names = mae.module().named_parameters().keys();
  auto has = [&](const std::string& k) { return std::find(names.begin(), names.end(), k) != names.end(); };
  CHECK(has("mask_token"));
  CHECK(has("encoder_to_decoder.weight"));
  CHECK_FALSE(has("encoder_to_decoder.bias"));
  CHECK(has("encoder.patch_embed.proj.weight"));
  CHECK(has("decoder.head.weight"));
  CHECK(mae->decoder->head->weight.size(0) == 3 * 2 * 8 * 8);
}

namespace {

// The losses of `steps` Adam steps (lr 2e-3) of `mae` on one fixed batch of 4 synthetic clips.
std::vector<double> fixed_batch_losses(VideoMAE<VideoViT>& mae, int steps) {
  mae.module().train();
  torch::optim::Adam opt(mae.parameters(), torch::optim::AdamOptions(2e-3));
  const auto batch = synthetic_batch(4);
  std::vector<double> losses;
  for (int step = 0; step < steps; ++step) {
    opt.zero_grad();
    auto loss = mae.loss(batch);
    loss.backward();
    opt.step();
    mae.after_step();
    losses.push_back(loss.item<double>());
  }
  return losses;
}

}  // namespace

TEST_CASE("VideoMAE training steps on synthetic clips lower the loss", "[objective][videomae][train]") {
  at::manual_seed(0);
  auto mae = tiny_mae(0.5, 3);
  const std::vector<double> losses = fixed_batch_losses(mae, 30);
  INFO("first " << losses.front() << ", last " << losses.back());
  const auto avg = [&](std::size_t a, std::size_t b) {
    return std::accumulate(losses.begin() + static_cast<std::ptrdiff_t>(a), losses.begin() + static_cast<std::ptrdiff_t>(b), 0.0) /
           static_cast<double>(b - a);
  };
  CHECK(avg(25, 30) < 0.9 * avg(0, 5));
  CHECK(mae->step.item<std::int64_t>() == 30);
}

TEST_CASE("VideoMAE learns to reconstruct: below the predict-zero level on a fixed batch", "[objective][videomae][train]") {
  // Per-patch normalised targets have mean square (n-1)/n (unbiased variance, n = 128 pixels per
  // channel here): what predicting zeros scores. A model that reads the visible tubes and the
  // masked positions goes below it; one that cannot (a lost position, a wrong target) stays there.
  at::manual_seed(0);
  auto mae = tiny_mae(0.5, 3);
  const std::vector<double> losses = fixed_batch_losses(mae, 300);
  const double last = std::accumulate(losses.end() - 20, losses.end(), 0.0) / 20;
  INFO("mean loss of the last 20 steps " << last << " (0.46 when written)");
  CHECK(last < 0.8 * 127.0 / 128.0);
}
