// expected-error: the Pretrainer's clip preparation must be deterministic, and this transform draws at random
// The decode workers run the clip preparation, each with its own copy: a random augmentation there
// is refused with the library's sentence (it belongs in the objective).
#include <longform/objective/moco.hpp>
#include <longform/sampler/sequential.hpp>
#include <longform/source/synthetic_video.hpp>
#include <longform/train/pretrainer.hpp>
#include <longform/transform/flip.hpp>

int main() {
  using namespace longform;
  using FlippedCrop = decltype(CenterCrop(112) | HorizontalFlip{});
  Pretrainer<SequentialSampler<>, MoCo<X3D>, SyntheticVideo, AdamW, FlippedCrop> trainer(SyntheticVideo{});
  (void)trainer;
}
