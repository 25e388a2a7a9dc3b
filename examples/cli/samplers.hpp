// SPDX-License-Identifier: MIT
// The clip samplers the `longform` commands build by name (--sampler), one table for all of them.
// Run-time numbers go into the samplers' dynamic-extent twins (Stride<dynamic>, …) and each is
// type-erased (AnySampler), so a command instantiates its pipeline once, whatever the sampler.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include <longform/core/error.hpp>
#include <longform/sampler.hpp>
#include <longform/sampler/any_sampler.hpp>

namespace longform::cli {

/// What the samplers are built from (each takes the numbers it has a parameter for).
struct SamplerArgs {
  std::int64_t frames = 16, stride = 4, hop = 0;  // T, τ, h (sequential, and the streams of multistream and replay)
  double segment_seconds = 10;                    // random
  bool shuffle_frames = true;                     // random
  std::int64_t streams = 4, capacity = 32;        // multistream, replay
  std::uint64_t seed = 0;
  std::int64_t epochs = 1;  // 0 = endless
};

/// A named entry of a command's table (samplers here, methods in pretrain.cpp).
template <class Make>
struct Named {
  const char* name;
  Make make;
};

/// The names of a table, in its order (for --help and the lists errors give).
template <class Make>
std::vector<std::string> names_of(const std::vector<Named<Make>>& table) {
  std::vector<std::string> out;
  for (const auto& entry : table) out.emplace_back(entry.name);
  return out;
}

/// The entry `name` of a table. @throws config_error "unknown WHAT 'NAME' (accepted: ...)".
template <class Make>
const Make& find_named(const std::vector<Named<Make>>& table, const std::string& name, const std::string& what) {
  for (const auto& entry : table)
    if (name == entry.name) return entry.make;
  throw config_error("unknown " + what + " '" + name + "' (accepted: " + CLI::detail::join(names_of(table), ", ") + ")");
}

using Sequential = SequentialSampler<Frames<dynamic>, Stride<dynamic>, Hop<dynamic>>;

inline Sequential sequential_sampler(const SamplerArgs& a) {
  return Sequential(Frames<dynamic>{a.frames}, Stride<dynamic>{a.stride}, Hop<dynamic>{a.hop}, {.seed = a.seed, .epochs = a.epochs});
}

/// Every sampler, by its --sampler name.
inline const std::vector<Named<AnySampler (*)(const SamplerArgs&)>>& samplers() {
  static const std::vector<Named<AnySampler (*)(const SamplerArgs&)>> table{
      {"sequential", [](const SamplerArgs& a) { return AnySampler(sequential_sampler(a)); }},
      {"random",
       [](const SamplerArgs& a) {
         return AnySampler(RandomSampler<SegmentSeconds<dynamic>, Frames<dynamic>, Stride<dynamic>, Shuffle<dynamic>>(
             SegmentSeconds<dynamic>{a.segment_seconds}, Frames<dynamic>{a.frames}, Stride<dynamic>{a.stride}, Shuffle<dynamic>{a.shuffle_frames},
             {.seed = a.seed, .epochs = a.epochs}));
       }},
      {"iid",
       [](const SamplerArgs& a) {
         return AnySampler(IIDSampler<Frames<dynamic>, Stride<dynamic>>(Frames<dynamic>{a.frames}, Stride<dynamic>{a.stride},
                                                                        {.seed = a.seed, .epochs = a.epochs}));
       }},
      {"multistream", [](const SamplerArgs& a) { return AnySampler(MultiStream<Streams<dynamic>, Sequential>(a.streams, sequential_sampler(a))); }},
      {"replay",
       [](const SamplerArgs& a) { return AnySampler(ReplayBuffer<Capacity<dynamic>, Sequential>(a.capacity, sequential_sampler(a), a.seed)); }},
  };
  return table;
}

/// The sampler `name`. @throws config_error listing the names when there is none.
inline AnySampler make_sampler(const std::string& name, const SamplerArgs& a) { return find_named(samplers(), name, "sampler")(a); }

}  // namespace longform::cli
