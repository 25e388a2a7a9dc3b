// SPDX-License-Identifier: MIT
// MoCo and distillation objectives: gradients and momentum rule, the FIFO queue, losses against
// golden numbers from tests/reference/make_objective_golden.py, the frozen teacher, and a few
// optimizer steps on synthetic clips lowering each loss.
#include <longform/backbone/vit.hpp>
#include <longform/backbone/weights.hpp>
#include <longform/objective.hpp>

#include <ATen/ops/allclose.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/cross_entropy_loss.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/zeros.h>
#include <ATen/ops/randn.h>
#include <torch/optim/adam.h>
#include <torch/optim/sgd.h>

#include <numeric>
#include <sstream>

#include "common.hpp"
#include "../catch.hpp"

using namespace longform;
using longform::test::golden_file;
using longform::test::grid;
using longform::test::objective_golden;
using longform::test::synthetic_batch;
using longform::test::tiny_x3d;

namespace {

MoCo<X3D> tiny_moco(MoCoOptions o = {.dim = 16, .mlp_hidden = 32, .queue_size = 16}) { return MoCo<X3D>(o, X3D(tiny_x3d(X3DOutput::features))); }

std::vector<at::Tensor> snapshot(const std::vector<at::Tensor>& ts) {
  std::vector<at::Tensor> out;
  for (const auto& t : ts) out.push_back(t.detach().clone());
  return out;
}

double mean(const std::vector<double>& v, std::size_t from, std::size_t to) {
  return std::accumulate(v.begin() + static_cast<std::ptrdiff_t>(from), v.begin() + static_cast<std::ptrdiff_t>(to), 0.0) /
         static_cast<double>(to - from);
}

}  // namespace

static_assert(SslObjective<MoCo<X3D>>);
static_assert(SslObjective<Distill<X3D, X3D>>);
static_assert(!SslObjective<MoCoImpl<X3D>>);  // the Impl has no tag: only the holder is the objective
static_assert(!SslObjective<int>);

TEST_CASE("info_nce equals the Python reference", "[objective][moco]") {
  const auto& g = objective_golden()["info_nce"];
  auto unit = [](const at::Tensor& x) { return x / x.norm(2, {1}, true); };
  const auto q = unit(grid(g["q"])), k = unit(grid(g["k"])), queue = unit(grid(g["queue"]));
  for (const auto& c : g["cases"]) {
    const double t = c["temperature"].get<double>();
    INFO("T = " << t);
    CHECK(info_nce(q, k, queue, t).item<double>() == Approx(c["loss"].get<double>()).epsilon(1e-12));
  }
  CHECK_THROWS(info_nce(q, k.narrow(1, 0, 4), queue, 0.2));
}

TEST_CASE("MoCo key encoder gets no gradient and query encoder does", "[objective][moco]") {
  auto moco = tiny_moco();
  moco.module().train();
  const auto loss = moco.loss(synthetic_batch(4));
  REQUIRE(loss.dim() == 0);
  REQUIRE(std::isfinite(loss.item<double>()));
  loss.backward();
  for (const auto& p : moco->encoder_k->parameters()) CHECK_FALSE(p.grad().defined());
  for (const auto& p : moco->head_k->parameters()) CHECK_FALSE(p.grad().defined());
  for (const auto& p : moco->encoder_k->parameters()) CHECK_FALSE(p.requires_grad());
  std::size_t with_grad = 0;
  for (const auto& p : moco.parameters())
    if (p.grad().defined() && p.grad().abs().sum().item<double>() > 0) ++with_grad;
  CHECK(with_grad > moco.parameters().size() / 2);
  // parameters() is exactly the query side.
  CHECK(moco.parameters().size() == moco->encoder_q->parameters().size() + moco->head_q->parameters().size());
}

TEST_CASE("MoCo key encoder starts as a deep copy and moves by the momentum rule exactly", "[objective][moco]") {
  const double m = 0.9;
  auto moco = tiny_moco({.dim = 16, .mlp_hidden = 32, .queue_size = 16, .momentum = m});
  auto qp = moco->encoder_q->parameters(), kp = moco->encoder_k->parameters();
  REQUIRE(qp.size() == kp.size());
  for (std::size_t i = 0; i < qp.size(); ++i) {
    CHECK(at::equal(qp[i], kp[i]));
    CHECK(qp[i].data_ptr() != kp[i].data_ptr());  // clone(), not a shared holder: copying a holder shares weights
  }
  torch::optim::SGD opt(moco.parameters(), torch::optim::SGDOptions(0.5));
  moco.loss(synthetic_batch(4)).backward();
  opt.step();
  const auto k_before = snapshot(kp), q_after = snapshot(qp);
  const auto hk_before = snapshot(moco->head_k->parameters()), hq_after = snapshot(moco->head_q->parameters());
  moco.after_step();
  std::size_t moved = 0;
  for (std::size_t i = 0; i < kp.size(); ++i) {
    const auto expected = k_before[i] * m + q_after[i] * (1 - m);
    CHECK(at::allclose(kp[i], expected, 1e-6, 1e-7));
    if (!at::equal(kp[i], k_before[i])) ++moved;
  }
  CHECK(moved > kp.size() / 2);
  const auto hk = moco->head_k->parameters();
  for (std::size_t i = 0; i < hk.size(); ++i) CHECK(at::allclose(hk[i], hk_before[i] * m + hq_after[i] * (1 - m), 1e-6, 1e-7));
  // The query side is what the optimizer left.
  for (std::size_t i = 0; i < qp.size(); ++i) CHECK(at::equal(qp[i], q_after[i]));
}

TEST_CASE("MoCo queue is a FIFO of size K", "[objective][moco]") {
  auto moco = tiny_moco({.dim = 4, .mlp_hidden = 8, .queue_size = 6});
  REQUIRE(moco->queue.sizes() == at::IntArrayRef({6, 4}));
  CHECK(at::allclose(moco->queue.norm(2, {1}), at::ones({6})));  // random unit vectors to start
  const auto a = at::arange(16, at::kFloat).reshape({4, 4}), b = -at::arange(1, 17, at::kFloat).reshape({4, 4});
  const auto initial = moco->queue.clone();
  moco->enqueue(a);
  CHECK(at::equal(moco->queue.narrow(0, 0, 4), a));
  CHECK(at::equal(moco->queue.narrow(0, 4, 2), initial.narrow(0, 4, 2)));
  CHECK(moco->queue_ptr.item<std::int64_t>() == 4);
  moco->enqueue(b);  // wraps: rows 4, 5 then 0, 1 — the oldest entries go first
  CHECK(at::equal(moco->queue.narrow(0, 4, 2), b.narrow(0, 0, 2)));
  CHECK(at::equal(moco->queue.narrow(0, 0, 2), b.narrow(0, 2, 2)));
  CHECK(at::equal(moco->queue.narrow(0, 2, 2), a.narrow(0, 2, 2)));
  CHECK(moco->queue_ptr.item<std::int64_t>() == 2);
  CHECK(moco->queue.size(0) == 6);

  // Through the objective protocol: after_step pushes the keys of the last loss.
  auto moco2 = tiny_moco({.dim = 8, .mlp_hidden = 16, .queue_size = 6});
  (void)moco2.loss(synthetic_batch(4));
  const auto keys = moco2->last_keys().clone();
  REQUIRE(keys.sizes() == at::IntArrayRef({4, 8}));
  CHECK(at::allclose(keys.norm(2, {1}), at::ones({4})));
  moco2.after_step();
  CHECK(at::equal(moco2->queue.narrow(0, 0, 4), keys));
  CHECK(moco2->queue_ptr.item<std::int64_t>() == 4);
  CHECK(moco2->step.item<std::int64_t>() == 1);
  // A batch larger than the queue is rejected with a message naming both sizes.
  CHECK_THROWS_WITH(moco2.loss(synthetic_batch(8)), Catch::Contains("batch size 8") && Catch::Contains("queue_size 6"));
}

TEST_CASE("MoCo views are seeded per step and leave the batch untouched", "[objective][moco]") {
  auto moco = tiny_moco();
  const auto batch = synthetic_batch(2);
  const auto before = batch.data.clone();
  const auto v0 = moco->views(batch.data, 0, 0), v1 = moco->views(batch.data, 0, 1);
  CHECK(at::equal(batch.data, before));
  CHECK(v0.sizes() == batch.data.sizes());
  CHECK_FALSE(at::equal(v0, v1));                             // two different augmentations
  CHECK(at::equal(v0, moco->views(batch.data, 0, 0)));        // reproducible
  CHECK_FALSE(at::equal(v0, moco->views(batch.data, 1, 0)));  // new draws each step
  // Each view is standardised per frame again.
  CHECK(at::allclose(v0.mean({1, 3, 4}), at::zeros({2, 4}), 0, 1e-4));
}

TEST_CASE("MoCo initialises its encoder from a PyTorchVideo checkpoint", "[objective][moco]") {
  const auto file = golden_file("x3d_tiny.pyth");
  auto moco = MoCo<X3D>(MoCoOptions{.dim = 8, .mlp_hidden = 16, .queue_size = 8, .init = file.string()}, X3D(tiny_x3d(X3DOutput::features)));
  const auto ref = read_checkpoint(file);
  const auto q = state_dict(*moco->encoder_q), k = state_dict(*moco->encoder_k);
  REQUIRE(q.size() == ref.size());
  for (const auto& item : ref) {
    CHECK(at::equal(q[item.key()], item.value().to(q[item.key()].scalar_type())));
    CHECK(at::equal(k[item.key()], item.value().to(k[item.key()].scalar_type())));
  }
  CHECK_THROWS_AS(MoCo<X3D>(MoCoOptions{.init = "/nonexistent/X3D_M.pyth"}, X3D(tiny_x3d(X3DOutput::features))), config_error);
  CHECK_THROWS_WITH(MoCo<X3D>(MoCoOptions{.init = "/nonexistent/X3D_M.pyth"}, X3D(tiny_x3d(X3DOutput::features))),
                    Catch::Contains("/nonexistent/X3D_M.pyth"));
  CHECK_THROWS_WITH(MoCo<X3D>(MoCoOptions{.temperature = 0}, X3D(tiny_x3d(X3DOutput::features))), Catch::Contains("temperature"));
}

TEST_CASE("MoCo rejects malformed batches naming the input", "[objective][moco]") {
  auto moco = tiny_moco();
  ClipBatch bad;
  bad.data = at::zeros({2, 1, 4, 32, 32});
  CHECK_THROWS_AS(moco.loss(bad), config_error);
  CHECK_THROWS_WITH(moco.loss(bad), Catch::Contains("batch.data"));
  CHECK_THROWS_WITH(moco.loss(ClipBatch{}), Catch::Contains("batch.data"));
}

TEST_CASE("MoCo training steps on synthetic clips lower the loss", "[objective][moco][train]") {
  // The first K/B steps contrast against the random initial queue, which is easy; the loss then
  // rises as real keys fill it. So the comparison is against a control run that sees the same
  // clips, views and queue schedule without learning (lr 0), over the steps after that warm-up.
  // NOTE: at this toy size (B 4, K 8, X3D width 1 at 4x32²) the trained loss first drops well
  // below the control and then drifts up toward ln(K + 1), the value of identical embeddings (a
  // queue this short collapses). The check is the honest part: training beats not training.
  const std::int64_t B = 4, K = 8, videos = 6;
  auto run = [&](double lr) {
    at::manual_seed(0);
    auto moco = tiny_moco({.dim = 16, .mlp_hidden = 64, .queue_size = K, .momentum = 0.9, .seed = 5});
    moco.module().train();
    torch::optim::SGD opt(moco.parameters(), torch::optim::SGDOptions(lr).momentum(0.9));
    std::vector<double> losses;
    for (std::int64_t step = 0; step < 24; ++step) {
      // Each batch mixes videos (as a multi-stream sampler gives): a batch of clips of one video
      // would leave its BatchNorm groups nothing but that video, normalising its identity away.
      std::vector<at::Tensor> clips;
      for (std::int64_t b = 0; b < B; ++b)
        clips.push_back(synthetic_batch(1, step, 4, 32, 2, 10 + static_cast<std::uint64_t>((step * B + b) % videos)).data);
      opt.zero_grad();
      auto loss = moco.loss(ClipBatch{at::cat(clips)});
      loss.backward();
      opt.step();
      moco.after_step();
      losses.push_back(loss.item<double>());
    }
    return losses;
  };
  const auto trained = run(0.02), control = run(0.0);
  std::ostringstream all;
  for (std::size_t i = 0; i < trained.size(); ++i) all << trained[i] << '/' << control[i] << ' ';
  INFO("trained/control losses " << all.str());
  const auto warm = static_cast<std::size_t>(K / B);
  CHECK(mean(trained, warm, trained.size()) < 0.9 * mean(control, warm, control.size()));
  CHECK(mean(trained, warm, warm + 8) < 0.8 * mean(control, warm, warm + 8));
}

TEST_CASE("MoCo: 30 steps on synthetic long videos lower the InfoNCE of held-out clips", "[objective][moco][train]") {
  // The training loss of MoCo is not stationary (the queue and the key encoder move), so what
  // must fall is the loss of fixed held-out clips: their two views contrasted against each other,
  // before and after 30 steps. The encoder is a ViT: at 4x32² a from-scratch X3D collapses here
  // (every embedding the same, probe loss ln(32)): BatchNorm over groups of 2-8 clips adds more
  // noise to a key than its content carries, which is why the paper starts MoCo's X3D from a
  // Kinetics-400 checkpoint. The views are milder than the defaults for the same reason of size:
  // 32² frames cropped to 20 % of their area, recoloured or greyed keep nothing of their video.
  const std::int64_t B = 4, K = 16, videos = 40, held_out = 32;
  auto run = [&](double lr) {
    at::manual_seed(0);
    MoCoOptions o{
        .dim = 16, .mlp_hidden = 64, .queue_size = K, .momentum = 0.9, .crop_scale = {0.5, 1.0}, .jitter_p = 0.0, .grayscale_p = 0.0, .seed = 5};
    MoCo<VideoViT> moco(o, VideoViT(VideoViTOptions{.embed_dim = 64, .depth = 2, .num_heads = 2, .patch_size = 8, .frames = 4, .image_size = 32}));
    moco.module().train();
    std::vector<at::Tensor> probe_clips;
    for (std::int64_t i = 0; i < held_out; ++i)
      probe_clips.push_back(synthetic_batch(1, 100 + i, 4, 32, 2, 1000 + static_cast<std::uint64_t>(i)).data);
    const auto probe = at::cat(probe_clips);
    auto probe_loss = [&] {
      at::NoGradGuard no_grad;
      auto embed = [](auto& encoder, auto& head, const at::Tensor& x) {
        auto z = head->forward(encoder->forward(x));
        return z.div(z.norm(2, {1}, true));
      };
      const auto q = embed(moco->encoder_q, moco->head_q, moco->views(probe, 1000, 0));
      const auto k = embed(moco->encoder_k, moco->head_k, moco->views(probe, 1000, 1));
      return at::cross_entropy_loss(q.matmul(k.t()) / o.temperature, at::arange(held_out, at::kLong)).item<double>();
    };
    const double before = probe_loss();
    torch::optim::SGD opt(moco.parameters(), torch::optim::SGDOptions(lr).momentum(0.9));
    for (std::int64_t step = 0; step < 30; ++step) {
      std::vector<at::Tensor> clips;  // clips of B different videos, moving along each
      for (std::int64_t b = 0; b < B; ++b)
        clips.push_back(synthetic_batch(1, step, 4, 32, 2, 10 + static_cast<std::uint64_t>((step * B + b) % videos)).data);
      opt.zero_grad();
      moco.loss(ClipBatch{at::cat(clips)}).backward();
      opt.step();
      moco.after_step();
    }
    return std::pair{before, probe_loss()};
  };
  const auto [before, after] = run(0.005);
  const auto [control_before, control_after] = run(0.0);
  INFO("held-out InfoNCE " << before << " -> " << after << " (chance ln 32 = 3.47), control " << control_after);
  CHECK(after < 0.9 * before);
  CHECK(control_after == Approx(control_before));
}

TEST_CASE("distillation losses equal the Python reference", "[objective][distill]") {
  const auto& g = objective_golden()["distill"];
  const auto s = grid(g["student"]), t = grid(g["teacher"]);
  for (const auto& c : g["kl_cases"]) {
    const double temp = c["temperature"].get<double>();
    INFO("T = " << temp);
    CHECK(distillation_kl(s, t, temp).item<double>() == Approx(c["loss"].get<double>()).epsilon(1e-12));
  }
  CHECK(feature_cosine(grid(g["h_student"]), grid(g["h_teacher"])).item<double>() == Approx(g["cosine"].get<double>()).epsilon(1e-12));
  CHECK(distillation_kl(t, t, 2.0).item<double>() == Approx(0.0).margin(1e-12));
}

TEST_CASE("distillation teacher is frozen and never changes", "[objective][distill]") {
  const auto file = golden_file("x3d_tiny.pyth");
  Distill<X3D> kd(DistillOptions{.temperature = 2.0, .feature_weight = 0.5, .teacher = file.string()}, X3D(tiny_x3d(X3DOutput::logits)),
                  X3D(tiny_x3d(X3DOutput::logits)));
  const auto before = state_dict(*kd->teacher);
  std::vector<at::Tensor> saved;
  for (const auto& item : before) saved.push_back(item.value().clone());
  // Loaded from the checkpoint.
  const auto ref = read_checkpoint(file);
  for (const auto& item : ref) CHECK(at::equal(before[item.key()], item.value().to(before[item.key()].scalar_type())));
  for (const auto& p : kd->teacher->parameters()) CHECK_FALSE(p.requires_grad());
  CHECK(kd.parameters().size() == kd->student->parameters().size());

  kd.module().train();  // as a Pretrainer does: the teacher must stay in eval mode
  CHECK_FALSE(kd->teacher->is_training());
  CHECK(kd->student->is_training());
  torch::optim::SGD opt(kd.parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
  for (int step = 0; step < 3; ++step) {
    opt.zero_grad();
    kd.loss(synthetic_batch(2, step)).backward();
    opt.step();
    kd.after_step();
  }
  CHECK_FALSE(kd->teacher->is_training());
  std::size_t i = 0;
  for (const auto& item : state_dict(*kd->teacher)) {
    INFO(item.key());
    CHECK(at::equal(item.value(), saved[i++]));  // parameters and BatchNorm statistics alike
  }
  for (const auto& p : kd->teacher->parameters()) CHECK_FALSE(p.grad().defined());
  CHECK_THROWS_WITH(
      Distill<X3D>(DistillOptions{.teacher = "/nonexistent/teacher.pyth"}, X3D(tiny_x3d(X3DOutput::logits)), X3D(tiny_x3d(X3DOutput::logits))),
      Catch::Contains("/nonexistent/teacher.pyth"));
}

TEST_CASE("distillation: 30 steps on a synthetic long video lower the loss", "[objective][distill][train]") {
  at::manual_seed(0);
  X3D teacher(tiny_x3d(X3DOutput::logits));
  load_checkpoint(*teacher, golden_file("x3d_tiny.pyth"));
  auto student_options = tiny_x3d(X3DOutput::logits);
  student_options.dropout = 0.0;
  Distill<X3D> kd(DistillOptions{.temperature = 2.0, .feature_weight = 0.1}, teacher, X3D(student_options));
  kd.module().train();
  torch::optim::Adam opt(kd.parameters(), torch::optim::AdamOptions(3e-3));
  std::vector<double> losses;
  for (int step = 0; step < 30; ++step) {  // new clips every step, moving along one long video
    opt.zero_grad();
    auto loss = kd.loss(synthetic_batch(4, 4 * step));
    loss.backward();
    opt.step();
    kd.after_step();
    losses.push_back(loss.item<double>());
  }
  INFO("first " << losses.front() << ", last " << losses.back());
  CHECK(mean(losses, 25, 30) < 0.7 * mean(losses, 0, 5));
}
