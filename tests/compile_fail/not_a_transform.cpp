// expected-error: is not a ClipTransform: it does not declare `using transform_concept = longform::transform_tag;`
// A clip-to-clip function that did not opt in is refused where a transform enters a pipeline
// (here `views::sample`'s prepare), with a sentence that says what to add.
#include <longform/pipeline/sample.hpp>
#include <longform/sampler/sequential.hpp>
#include <longform/source/synthetic_video.hpp>

struct LooksLikeATransform {
  longform::Clip operator()(longform::Clip clip) const { return clip; }
};

int main() {
  longform::SyntheticVideo source;
  auto clips = source | longform::views::sample(longform::SequentialSampler<>{}, {}, LooksLikeATransform{});
  (void)clips;
}
