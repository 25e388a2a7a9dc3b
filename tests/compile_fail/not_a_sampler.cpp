// expected-error: is not a ClipSampler.*sampler_concept = longform::sampler_tag
// A type that merely looks like a sampler (it has `next`) but did not opt in is rejected with a
// sentence that says what to add.
#include <optional>

#include <longform/pipeline/sample.hpp>
#include <longform/sampler/sequential.hpp>
#include <longform/source/synthetic_video.hpp>

struct LooksLikeASampler {
  std::optional<longform::Clip> next(longform::ClipContext&) { return std::nullopt; }
};

int main() {
  longform::SyntheticVideo source;
  auto clips = source | longform::views::sample(LooksLikeASampler{});
  (void)clips;
}
