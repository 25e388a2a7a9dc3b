// expected-error: is not a ClipSampler: it does not declare `using sampler_concept = longform::sampler_tag;`
// The sampler slot of a `Pretrainer` refuses a type that did not opt in with the library's
// sentence, as `views::sample` does, not with a trace of the concept's clauses.
#include <optional>

#include <longform/objective/moco.hpp>
#include <longform/source/synthetic_video.hpp>
#include <longform/train/pretrainer.hpp>

struct NotASampler {
  std::optional<longform::Clip> next(longform::ClipContext&) { return std::nullopt; }
};

int main() {
  longform::Pretrainer<NotASampler, longform::MoCo<longform::X3D>, longform::SyntheticVideo> trainer(longform::SyntheticVideo{});
  (void)trainer;
}
