// expected-error: required type .+typename O::objective_concept.+ is invalid
// A type that has the members of an objective but did not opt in (no
// `using objective_concept = longform::objective_tag;`) is rejected by any entry point
// constrained on `SslObjective` (a Pretrainer's), and the diagnostic names the missing tag.
#include <vector>

#include <ATen/core/Tensor.h>

#include <longform/core/clip.hpp>
#include <longform/objective/concepts.hpp>

struct LooksLikeAnObjective {
  at::Tensor loss(const longform::ClipBatch&) { return {}; }
  std::vector<at::Tensor> parameters() { return {}; }
  void after_step() {}
  torch::nn::Module& module();
};

// Stands for `Pretrainer<Sampler, Objective>`'s constraint.
template <longform::SslObjective Objective>
void pretrain(Objective&) {}

int main() {
  LooksLikeAnObjective objective;
  pretrain(objective);
}
