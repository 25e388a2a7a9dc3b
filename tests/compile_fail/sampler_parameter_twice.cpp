// expected-error: SequentialSampler<...>: Stride<tau> is given more than once
// Sampler parameters go in any order, but each kind at most once: a second Stride is refused with
// a sentence naming it, not a template backtrace.
#include <longform/sampler/sequential.hpp>

int main() {
  longform::SequentialSampler<longform::Stride<8>, longform::Frames<16>, longform::Stride<4>> sampler;
  (void)sampler;
}
