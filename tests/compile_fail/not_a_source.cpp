// expected-error: is not a VideoSource: it has the source_tag but lacks
// A source that opted in but lacks a member (here `open`) is refused where it enters a pipeline,
// with a sentence that names the members a source needs.
#include <cstddef>
#include <string>

#include <longform/pipeline/sample.hpp>
#include <longform/sampler/sequential.hpp>

struct HalfASource {
  using source_concept = longform::source_tag;
  std::size_t size() const { return 1; }
  std::string name(std::size_t) const { return "half"; }
};

int main() {
  auto clips = HalfASource{} | longform::views::sample(longform::SequentialSampler<>{});
  (void)clips;
}
