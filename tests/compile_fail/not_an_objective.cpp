// expected-error: is not an SslObjective: it does not declare `using objective_concept = longform::objective_tag;`
// A type that has the members of an objective but did not opt in is refused where it enters a
// `Pretrainer`, with a sentence that says what to add (not a trace of the concept's clauses).
#include <vector>

#include <ATen/core/Tensor.h>

#include <longform/sampler/sequential.hpp>
#include <longform/source/synthetic_video.hpp>
#include <longform/train/pretrainer.hpp>

struct LooksLikeAnObjective {
  at::Tensor loss(const longform::ClipBatch&) { return {}; }
  std::vector<at::Tensor> parameters() { return {}; }
  void after_step() {}
  torch::nn::Module& module();
};

int main() {
  longform::Pretrainer<longform::SequentialSampler<>, LooksLikeAnObjective, longform::SyntheticVideo> trainer(longform::SyntheticVideo{});
  (void)trainer;
}
