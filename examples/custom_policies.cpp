// SPDX-License-Identifier: MIT
// A Pretrainer with two policies of one's own, without touching the library: the optimizer (AdamW
// without weight decay on biases and BatchNorm parameters, a common recipe) and the clip
// preparation (X3D's input normalisation, mean 0.45 and std 0.225 per channel, instead of the
// paper's per-frame standardization), plus a TensorBoard observer beside the default metrics.jsonl.
// MoCo pre-trains X3D-Tiny on the built-in synthetic videos for a few steps.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <tuple>
#include <vector>

#include <torch/optim/adamw.h>

#include <longform/backbone/x3d.hpp>
#include <longform/objective/moco.hpp>
#include <longform/sampler/sequential.hpp>
#include <longform/source/synthetic_video.hpp>
#include <longform/train/pretrainer.hpp>
#include <longform/train/tensorboard.hpp>
#include <longform/transform/normalize.hpp>

using namespace longform;

// Weight decay on the weights of convolutions and linear layers only: the 1-D parameters (biases,
// BatchNorm scales and shifts) go into a second group without it.
struct AdamWNoDecayOnNorms {
  using optimizer_concept = optimizer_tag;  // opt in to longform::OptimizerPolicy

  std::unique_ptr<torch::optim::Optimizer> build(std::vector<at::Tensor> params, const PretrainerOptions& o) const {
    std::vector<at::Tensor> decayed, kept;
    for (auto& p : params) (p.dim() > 1 ? decayed : kept).push_back(p);
    auto adamw = [&](double weight_decay) {
      return torch::optim::AdamWOptions(o.lr).betas(std::make_tuple(o.beta1, o.beta2)).weight_decay(weight_decay);
    };
    std::vector<torch::optim::OptimizerParamGroup> groups;
    groups.emplace_back(decayed, std::make_unique<torch::optim::AdamWOptions>(adamw(o.weight_decay)));
    groups.emplace_back(kept, std::make_unique<torch::optim::AdamWOptions>(adamw(0.0)));
    return std::make_unique<torch::optim::AdamW>(groups, adamw(o.weight_decay));
  }
};
static_assert(OptimizerPolicy<AdamWNoDecayOnNorms>);

int main() {
  auto x3d = x3d_tiny();  // X3D-Tiny at 4 × 32²: a fraction of a second per step on a CPU
  x3d.frames = 4;
  x3d.output = X3DOutput::features;
  const auto out = std::filesystem::temp_directory_path() / "longform-example-custom-policies";
  std::filesystem::remove_all(out);

  // Deterministic, so the decode workers run it: the short side to 40, the centre 32², X3D's normalisation.
  const auto x3d_input = ShortSideScale{.size = 40} | CenterCrop(32) | Normalize{};
  Pretrainer trainer{SyntheticVideo({.seed = 7, .frames = 400, .width = 48, .height = 40}),
                     SequentialSampler<Frames<4>, Stride<2>>({.epochs = 0}),
                     MoCo<X3D>(MoCoOptions{.queue_size = 16}, X3D(x3d)),
                     PretrainerOptions{.steps = 3, .batch = 4, .lr = 1e-3, .out_dir = out.string(), .progress = false},
                     AdamWNoDecayOnNorms{},
                     x3d_input};
  const auto& board = trainer.observe(TensorBoard(out / "tensorboard"));
  const PretrainReport report = trainer.run();

  const auto& groups = trainer.optimizer().param_groups();
  std::printf("parameter groups: %zu with weight decay %g, %zu without\n", groups[0].params().size(),
              static_cast<const torch::optim::AdamWOptions&>(groups[0].options()).weight_decay(), groups[1].params().size());
  for (std::size_t i = 0; i < report.losses.size(); ++i) std::printf("step %zu: MoCo loss %.4f\n", i + 1, report.losses[i]);
  std::printf("metrics: %s\nTensorBoard: %s\n", trainer.metrics_path().c_str(), board.path().c_str());
  return report.losses.size() == 3 && std::filesystem::file_size(board.path()) > 0 ? 0 : 1;
}
