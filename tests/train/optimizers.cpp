// SPDX-License-Identifier: MIT
// Optimizers for a stream: momentum-free RMSProp, the update pace (`update_every`) and orthogonal
// gradients, each against its rule, checkpointed and resumed exactly, spelled as policies.
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <type_traits>
#include <vector>

#include <ATen/ops/allclose.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/dot.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/tensor.h>
#include <ATen/ops/zeros.h>
#include <torch/optim/adagrad.h>

#include <longform/backbone/x3d.hpp>
#include <longform/objective/moco.hpp>
#include <longform/sampler.hpp>
#include <longform/source/synthetic_video.hpp>
#include <longform/source/video_list.hpp>
#include <longform/train/checkpoint.hpp>
#include <longform/train/optimizer.hpp>
#include <longform/train/orthogonal.hpp>
#include <longform/train/pretrainer.hpp>

#include "../support.hpp"
#include "tiny_objective.hpp"

#include "../catch.hpp"

using namespace longform;
using longform::test::NextFrame;
using longform::test::NextFrameOptions;

namespace {

using Sequential = SequentialSampler<Frames<4>, Stride<2>>;

// Two synthetic videos of `frames` frames each (small frames), endless epochs.
SyntheticVideo videos(std::int64_t frames = 2000) { return SyntheticVideo({.seed = 7, .videos = 2, .frames = frames, .width = 48, .height = 40}); }
Sequential sequential() { return Sequential({.seed = 3, .epochs = 0}); }

PretrainerOptions tiny_options(const std::filesystem::path& dir = {}) {
  return {.steps = 6, .batch = 2, .size = 24, .lr = 2e-3, .warmup_steps = 1, .out_dir = dir.string(), .prefetch = 2, .progress = false};
}

// The objective as every run of a test starts it: same seed, same initial weights.
NextFrame fresh_objective(NextFrameOptions o = {}) {
  at::manual_seed(1234);
  return NextFrame(o);
}

// A batch whose clips come from `videos` (provenance only, as the boundary rule reads it).
ClipBatch batch_of(const std::vector<std::size_t>& videos) {
  ClipBatch b;
  for (auto v : videos) b.clips.push_back(Clip{.video = v});
  return b;
}

at::Tensor leaf(std::vector<std::int64_t> shape) { return at::zeros(shape).set_requires_grad(true); }

// Steps `optimizer` (SGD at lr 1, no momentum or decay) with these gradients; returns the update
// each parameter took, which is the gradient the SGD inside saw.
std::vector<at::Tensor> step_with(torch::optim::Optimizer& optimizer, std::vector<at::Tensor> params, const std::vector<at::Tensor>& grads) {
  std::vector<at::Tensor> before;
  for (std::size_t i = 0; i < params.size(); ++i) {
    before.push_back(params[i].detach().clone());
    params[i].mutable_grad() = grads[i].clone();
  }
  optimizer.step();
  std::vector<at::Tensor> update;
  for (std::size_t i = 0; i < params.size(); ++i) update.push_back(before[i] - params[i].detach());
  return update;
}

const PretrainerOptions plain_sgd{.lr = 1.0, .weight_decay = 0, .momentum = 0, .orthogonal_beta = 0.9};

template <class T>
concept orthogonal_policy_of = requires { typename Orthogonal<T>; };

// The card's spelling with the stream-aware optimizer: it compiles, its loop included.
using StreamingCard = Pretrainer<SequentialSampler<Stride<8>>, MoCo<X3DM>, VideoList, Orthogonal<RMSProp>>;
static_assert(std::is_constructible_v<StreamingCard, VideoList, PretrainerOptions>);
[[maybe_unused]] constexpr auto streaming_run = &StreamingCard::run;

}  // namespace

TEST_CASE("RMSProp: LibTorch's RMSprop without momentum, alpha and weight decay from the options, --optimizer rmsprop by name",
          "[train][optimizer]") {
  STATIC_REQUIRE(OptimizerPolicy<RMSProp>);
  PretrainerOptions o{.lr = 0.01, .weight_decay = 0.1, .rms_alpha = 0.9};
  auto p = leaf({3});
  const auto built = RMSProp{}.build({p}, o);
  auto* rms = dynamic_cast<torch::optim::RMSprop*>(built.get());
  REQUIRE(rms != nullptr);
  const auto& ro = static_cast<const torch::optim::RMSpropOptions&>(rms->param_groups()[0].options());
  CHECK(ro.momentum() == 0);
  CHECK(ro.alpha() == 0.9);
  CHECK(ro.weight_decay() == 0.1);
  CHECK(ro.lr() == 0.01);
  // One step from zero weights (no decay yet): p = −lr · g / (√((1 − α) g²) + ε).
  const at::Tensor g = at::tensor({0.5f, -2.0f, 4.0f});
  const auto update = step_with(*built, {p}, {g});
  CHECK(at::allclose(update[0], 0.01 * g / ((0.1 * g * g).sqrt() + 1e-8)));

  CHECK(enum_from_name<OptimizerKind>("rmsprop") == OptimizerKind::rmsprop);
  o.optimizer = OptimizerKind::rmsprop;
  CHECK(dynamic_cast<torch::optim::RMSprop*>(OptimizerFromOptions{}.build({leaf({3})}, o).get()) != nullptr);
}

TEST_CASE("update_every: k batches of B clips make the step of one batch of k·B clips", "[train][optimizer]") {
  auto o = tiny_options();
  o.steps = 2;
  o.warmup_steps = 0;
  o.optimizer = OptimizerKind::sgd;  // an update proportional to the gradient: a sum instead of a mean would show
  o.lr = 0.05;
  o.momentum = 0;
  o.weight_decay = 0;
  auto paced_options = o;
  paced_options.update_every = 2;
  auto wide_options = o;
  wide_options.batch = 2 * o.batch;
  // No input noise: the same clips give the same loss whatever the batching.
  Pretrainer paced{videos(), sequential(), fresh_objective({.noise = 0}), paced_options};
  Pretrainer wide{videos(), sequential(), fresh_objective({.noise = 0}), wide_options};
  const auto initial = fresh_objective({.noise = 0}).parameters();
  const auto a = paced.run(), b = wide.run();
  // `steps` counts optimizer steps: two, each of two batches.
  REQUIRE(a.last_step == 2);
  REQUIRE(b.last_step == 2);
  CHECK(paced.resume_state() == wide.resume_state());  // both read the same 8 clips
  REQUIRE(a.losses.size() == 2);
  for (std::size_t i = 0; i < 2; ++i) CHECK(a.losses[i] == Approx(b.losses[i]).epsilon(1e-6));
  const auto pa = paced.objective().parameters(), pb = wide.objective().parameters();
  REQUIRE(pa.size() == pb.size());
  for (std::size_t i = 0; i < pa.size(); ++i) {
    INFO("parameter " << i << ": largest difference " << (pa[i] - pb[i]).abs().max().item<float>());
    CHECK(at::allclose(pa[i], pb[i], 1e-5, 1e-6));  // float rounding; a sum instead of a mean would differ by the whole update
    CHECK_FALSE(at::allclose(pa[i], initial[i]));   // they did move
  }
}

TEST_CASE("RMSProp, orthogonal gradients and update_every: a run stopped and resumed continues bit for bit", "[train][optimizer]") {
  auto check = [](const std::string& name, PretrainerOptions o) {
    const auto full_dir = longform::test::scratch("optimizers-" + name + "-full");
    const auto split_dir = longform::test::scratch("optimizers-" + name + "-split");
    auto in = [&](const std::filesystem::path& dir) {
      auto d = o;
      d.out_dir = dir.string();
      return d;
    };
    Pretrainer full{videos(), sequential(), fresh_objective(), in(full_dir)};
    const auto whole = full.run();
    std::vector<double> split;
    {
      Pretrainer first{videos(), sequential(), fresh_objective(), in(split_dir)};
      split = first.run(3).losses;
    }
    auto resumed = in(split_dir);
    resumed.resume = true;
    Pretrainer second{videos(), sequential(), NextFrame({.seed = 5}), resumed};
    const auto rest = second.run();
    CHECK(rest.first_step == 3);
    split.insert(split.end(), rest.losses.begin(), rest.losses.end());
    CHECK(split == whole.losses);
    const auto want = full.objective().parameters(), got = second.objective().parameters();
    for (std::size_t i = 0; i < want.size(); ++i) CHECK(at::equal(want[i], got[i]));
    if (o.orthogonal) {
      // A plain optimizer does not resume an orthogonal run, nor the other way round.
      auto plain = resumed;
      plain.orthogonal = false;
      Pretrainer refused{videos(), sequential(), NextFrame({.seed = 5}), plain};
      CHECK_THROWS_WITH(refused.run(), Catch::Contains("orthogonal gradients there, plain here"));
    }
  };
  auto o = tiny_options();
  o.optimizer = OptimizerKind::rmsprop;
  SECTION("RMSProp") { check("rmsprop", o); }
  SECTION("orthogonal RMSProp, two batches per step") {
    o.orthogonal = true;
    o.update_every = 2;
    o.grad_clip = 0.5;
    check("orthogonal-rmsprop-paced", o);
  }
  SECTION("orthogonal AdamW") {
    o.optimizer = OptimizerKind::adamw;
    o.orthogonal = true;
    check("orthogonal-adamw", o);
  }
}

TEST_CASE("Orthogonal: the optimizer steps on g − (g·c / c·c) c, orthogonal to the gradients' average c, per tensor", "[train][optimizer]") {
  auto a = leaf({3}), b = leaf({2, 2});
  const auto opt = Orthogonal<SGD>{}.build({a, b}, plain_sgd);
  const auto& orthogonal = dynamic_cast<const OrthogonalGradients&>(*opt);
  CHECK(orthogonal.beta() == 0.9);

  // The first gradient passes unchanged (the average is still zero) and starts the average.
  const at::Tensor g1a = at::tensor({1.0f, 2.0f, 3.0f}), g1b = at::tensor({1.0f, 0.0f, 0.0f, 1.0f}).view({2, 2});
  const auto u1 = step_with(*opt, {a, b}, {g1a, g1b});
  CHECK(at::allclose(u1[0], g1a));
  CHECK(at::allclose(u1[1], g1b));
  REQUIRE(orthogonal.averages().size() == 2);
  const at::Tensor ca = orthogonal.averages()[0].clone(), cb = orthogonal.averages()[1].clone();
  CHECK(at::allclose(ca, 0.1 * g1a));
  CHECK(at::allclose(cb, 0.1 * g1b));

  const at::Tensor g2a = at::tensor({2.0f, -1.0f, 0.5f}), g2b = at::tensor({0.0f, 1.0f, 1.0f, 1.0f}).view({2, 2});
  const auto u2 = step_with(*opt, {a, b}, {g2a, g2b});
  auto projected = [](const at::Tensor& g, const at::Tensor& c) { return g - (g * c).sum() / (c * c).sum() * c; };
  CHECK(at::allclose(u2[0], projected(g2a, ca), 1e-5, 1e-6));
  CHECK(at::allclose(u2[1], projected(g2b, cb), 1e-5, 1e-6));
  CHECK(at::dot(u2[0], ca).item<float>() == Approx(0).margin(1e-6));
  CHECK(at::dot(u2[1].reshape({-1}), cb.reshape({-1})).item<float>() == Approx(0).margin(1e-6));
  CHECK(at::dot(u2[0], g2a).item<float>() > 0);  // what is left still descends
  // Per tensor, not over the concatenated gradient.
  const at::Tensor flat = projected(at::cat({g2a, g2b.reshape({-1})}), at::cat({ca, cb.reshape({-1})}));
  CHECK_FALSE(at::allclose(at::cat({u2[0], u2[1].reshape({-1})}), flat, 1e-3, 1e-4));
  // The average follows the raw gradient, not the projected one.
  CHECK(at::allclose(orthogonal.averages()[0], 0.9 * ca + 0.1 * g2a));
  CHECK(at::allclose(orthogonal.averages()[1], 0.9 * cb + 0.1 * g2b));

  // A gradient along the average is all removed; an average of zeros removes nothing.
  const auto u3 = step_with(*opt, {a, b}, {orthogonal.averages()[0].clone() * 3, at::zeros({2, 2})});
  CHECK(at::allclose(u3[0], at::zeros({3}), 0, 1e-6));
  CHECK(at::allclose(u3[1], at::zeros({2, 2})));
}

TEST_CASE("Orthogonal: the average starts again when a batch brings a video the previous batch did not", "[train][optimizer]") {
  auto p = leaf({3});
  const auto opt = Orthogonal<SGD>{}.build({p}, plain_sgd);
  const auto& orthogonal = dynamic_cast<const OrthogonalGradients&>(*opt);
  const Orthogonal<SGD> policy;
  const at::Tensor g = at::tensor({1.0f, -1.0f, 2.0f});
  auto averaged = [&] { return orthogonal.averages().size() == 1 && orthogonal.averages()[0].defined(); };

  policy.on_batch(batch_of({0, 0}), *opt);
  step_with(*opt, {p}, {g});
  REQUIRE(averaged());
  policy.on_batch(batch_of({0}), *opt);  // the same video goes on
  CHECK(averaged());
  policy.on_batch(batch_of({0, 1}), *opt);  // video 1 starts
  CHECK_FALSE(averaged());
  CHECK(orthogonal.videos() == std::vector<std::int64_t>{0, 1});
  // After the reset a gradient along the old average passes unchanged, like a first one.
  CHECK(at::allclose(step_with(*opt, {p}, {g})[0], g));
  policy.on_batch(batch_of({1}), *opt);  // video 0 ended: nothing new
  CHECK(averaged());
  policy.on_batch(batch_of({1, 1}), *opt);
  CHECK(averaged());
  policy.on_batch(batch_of({0}), *opt);  // back to video 0: new to the previous batch
  CHECK_FALSE(averaged());

  // The default policy forwards the batches to an orthogonal optimizer it built.
  auto o = plain_sgd;
  o.optimizer = OptimizerKind::sgd;
  o.orthogonal = true;
  const auto chosen = OptimizerFromOptions{}.build({leaf({3})}, o);
  OptimizerFromOptions{}.on_batch(batch_of({4, 2, 4}), *chosen);
  CHECK(dynamic_cast<const OrthogonalGradients&>(*chosen).videos() == std::vector<std::int64_t>{2, 4});

  // The Pretrainer tells the policy of every batch: its sequential stream reaches the second video
  // (40 frames each: a few clips of 4 frames at stride 2) within a few steps.
  auto options = tiny_options();
  options.steps = 8;
  Pretrainer trainer{videos(40), sequential(), fresh_objective(), options, Orthogonal<SGD>{}};
  trainer.run(1);
  const auto& seen = dynamic_cast<const OrthogonalGradients&>(trainer.optimizer());
  const auto start = seen.videos();
  REQUIRE(start.size() == 1);
  bool reached = false;
  for (std::int64_t s = 2; s <= options.steps && !reached; ++s) {
    trainer.run(s);
    reached = !std::ranges::includes(start, seen.videos());
  }
  CHECK(reached);
}

TEST_CASE("Orthogonal composes with AdamW, SGD and RMSProp, as a type or by the options, and refuses other optimizers", "[train][optimizer]") {
  STATIC_REQUIRE(OptimizerPolicy<Orthogonal<AdamW>>);
  STATIC_REQUIRE(OptimizerPolicy<Orthogonal<SGD>>);
  STATIC_REQUIRE(OptimizerPolicy<Orthogonal<RMSProp>>);
  STATIC_REQUIRE_FALSE(orthogonal_policy_of<torch::optim::AdamW>);  // it wraps a policy, not LibTorch's class
  PretrainerOptions o{.orthogonal = true, .orthogonal_beta = 0.75};
  auto wraps = [&]<class Torch>(std::unique_ptr<torch::optim::Optimizer> built) {
    CHECK(dynamic_cast<Torch*>(built.get()) != nullptr);  // its type, options and state stay the inner optimizer's
    const auto* orthogonal = dynamic_cast<OrthogonalGradients*>(built.get());
    REQUIRE(orthogonal != nullptr);
    CHECK(orthogonal->beta() == 0.75);
  };
  wraps.operator()<torch::optim::AdamW>(Orthogonal<AdamW>{}.build({leaf({2})}, o));
  wraps.operator()<torch::optim::SGD>(Orthogonal<SGD>{}.build({leaf({2})}, o));
  wraps.operator()<torch::optim::RMSprop>(Orthogonal<RMSProp>{}.build({leaf({2})}, o));
  for (const auto& [kind, name] : enum_names(OptimizerKind{})) {
    INFO(std::string(name));
    o.optimizer = kind;
    const auto built = OptimizerFromOptions{}.build({leaf({2})}, o);
    CHECK(dynamic_cast<OrthogonalGradients*>(built.get()) != nullptr);
    CHECK(std::string(longform::detail::ckpt::optimizer_type(*built)) == (kind == OptimizerKind::sgd       ? "SGD"
                                                                          : kind == OptimizerKind::rmsprop ? "RMSprop"
                                                                                                           : "AdamW"));
  }
  o.orthogonal = false;
  CHECK(dynamic_cast<OrthogonalGradients*>(OptimizerFromOptions{}.build({leaf({2})}, o).get()) == nullptr);
  CHECK_THROWS_WITH(orthogonalize(std::make_unique<torch::optim::Adagrad>(std::vector<at::Tensor>{leaf({2})}), 0.9),
                    Catch::Contains("AdamW, Adam, SGD or RMSprop"));

  // In a Pretrainer: the projection changes the run (consecutive batches of one video are alike).
  auto options = tiny_options();
  options.steps = 4;
  Pretrainer plain{videos(), sequential(), fresh_objective(), options, RMSProp{}};
  Pretrainer projected{videos(), sequential(), fresh_objective(), options, Orthogonal<RMSProp>{}};
  const auto a = plain.run().losses, b = projected.run().losses;
  REQUIRE(b.size() == 4);
  CHECK(a[0] == b[0]);  // the first step's loss comes before any update
  CHECK(a != b);
}
