// expected-error: sequential_sampler_parameter<longform::SegmentSeconds<10> ?>.*unknown parameter.*It takes Frames<T>, Stride<tau> and Hop<h>
// A parameter of another sampler (random clips' segment length) is refused, the note naming it and
// the sentence listing what SequentialSampler takes.
#include <longform/sampler.hpp>

using namespace longform;

int main() {
  SequentialSampler<Stride<8>, SegmentSeconds<10>> sampler;
  (void)sampler;
}
