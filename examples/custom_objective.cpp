// SPDX-License-Identifier: MIT
// A new objective without touching the library: SimSiam (Chen & He, CVPR 2021) — two views, an
// X3D encoder, a projector and a predictor, loss −½[cos(p1, sg(z2)) + cos(p2, sg(z1))]. It models
// `longform::SslObjective` (a tag and four members), so a Pretrainer takes it like MoCo; here a
// plain loop runs the same protocol (loss, backward, step, after_step) on synthetic clips.
#include <cstdio>
#include <memory>
#include <vector>

#include <ATen/ops/cosine_similarity.h>
#include <ATen/ops/stack.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/optim/sgd.h>

#include <longform/backbone/x3d.hpp>
#include <longform/objective/concepts.hpp>
#include <longform/source/synthetic_video.hpp>
#include <longform/transform.hpp>

namespace nn = torch::nn;

struct SimSiamNet : nn::Module {
  explicit SimSiamNet(longform::X3DOptions o)
      : encoder(register_module("encoder", longform::X3D(o))),
        projector(register_module("projector", nn::Sequential(nn::Linear(o.head_dim_out, 64), nn::BatchNorm1d(64), nn::ReLU(), nn::Linear(64, 32)))),
        predictor(register_module("predictor", nn::Sequential(nn::Linear(32, 16), nn::ReLU(), nn::Linear(16, 32)))) {}
  longform::X3D encoder;
  nn::Sequential projector, predictor;
};

inline auto make_view(std::uint64_t seed) {
  return longform::RandomResizedCrop{.height = 32, .width = 32, .scale = {0.3, 1.0}, .seed = seed} | longform::HorizontalFlip{.seed = seed + 1} |
         longform::Standardize{};
}

struct SimSiam {
  using objective_concept = longform::objective_tag;  // opt in to longform::SslObjective

  std::shared_ptr<SimSiamNet> net;
  // One augmentation per view, each with its own seeded generators (one draw per batch here).
  decltype(make_view(0)) view1 = make_view(1), view2 = make_view(3);

  at::Tensor loss(const longform::ClipBatch& batch) {
    auto z1 = net->projector->forward(net->encoder->forward(view1(longform::ClipBatch{batch.data}).data));
    auto z2 = net->projector->forward(net->encoder->forward(view2(longform::ClipBatch{batch.data}).data));
    auto d = [this](const at::Tensor& z, const at::Tensor& other) {
      return -at::cosine_similarity(net->predictor->forward(z), other.detach(), 1, 1e-8).mean();
    };
    return 0.5 * (d(z1, z2) + d(z2, z1));
  }
  std::vector<at::Tensor> parameters() { return net->parameters(); }
  void after_step() {}  // SimSiam has no momentum encoder or queue
  torch::nn::Module& module() { return *net; }
};
static_assert(longform::SslObjective<SimSiam>);

int main() {
  auto o = longform::x3d_xs();  // X3D-XS widths at 4×32², pooled 128-d features: seconds per step on a CPU
  o.crop_size = 32, o.output = longform::X3DOutput::features, o.width_factor = 1.0, o.depth_factor = 1.0, o.head_dim_out = 128;
  SimSiam objective{std::make_shared<SimSiamNet>(o)};
  torch::optim::SGD optimizer(objective.parameters(), torch::optim::SGDOptions(0.05).momentum(0.9));

  longform::SyntheticVideo video({.seed = 7, .frames = 400, .width = 32, .height = 32});
  auto frames = video.open(0);
  for (int step = 0; step < 6; ++step) {  // batches of 4 consecutive clips of 4 frames (stride 2)
    std::vector<at::Tensor> clips;
    for (int b = 0; b < 4; ++b) {
      std::vector<at::Tensor> f;
      for (int t = 0; t < 8; ++t)
        if (auto frame = frames.next(); t % 2 == 0) f.push_back(frame->rgb);
      clips.push_back(longform::Standardize{}(at::stack(f).permute({3, 0, 1, 2})));
    }
    auto loss = objective.loss({at::stack(clips)});
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
    objective.after_step();
    std::printf("step %d  SimSiam loss %.4f\n", step, loss.item<double>());
  }
}
