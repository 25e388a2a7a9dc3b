// expected-error: is not an OptimizerPolicy: it does not declare `using optimizer_concept = longform::optimizer_tag
// The optimizer slot of a `Pretrainer` takes a policy that builds the optimizer; LibTorch's
// optimizer class itself is refused with the library's sentence, not a trace of the concept.
#include <torch/optim/adamw.h>

#include <longform/objective/moco.hpp>
#include <longform/sampler/sequential.hpp>
#include <longform/source/synthetic_video.hpp>
#include <longform/train/pretrainer.hpp>

int main() {
  longform::Pretrainer<longform::SequentialSampler<>, longform::MoCo<longform::X3D>, longform::SyntheticVideo, torch::optim::AdamW> trainer(
      longform::SyntheticVideo{});
  (void)trainer;
}
