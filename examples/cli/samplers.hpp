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

/// The sizes of `storyboard` and of the `--dedup-gap` wrapper, with their flags (below).
struct ReplayArgs {
  std::int64_t short_term = 64, long_term = 4096;  // storyboard: FIFO of recent clips, reservoir of older ones
  std::int64_t fresh = 0;                          // storyboard: stream clips per batch, the rest replayed; 0 = half the batch
  std::int64_t dedup_gap = 0;                      // any sampler: least frames between the starts of a batch's clips of one video; 0 = off
};

/// What the samplers are built from (each takes the numbers it has a parameter for).
struct SamplerArgs {
  std::int64_t frames = 16, stride = 4, hop = 0;  // T, τ, h (sequential, and the streams of multistream and replay)
  double segment_seconds = 10;                    // random
  bool shuffle_frames = true;                     // random
  std::int64_t streams = 4, capacity = 32;        // multistream, replay
  std::uint64_t seed = 0;
  std::int64_t epochs = 1;  // 0 = endless
  std::int64_t batch = 8;   // the consumer's batch size: storyboard and --dedup-gap shape batches of it
  ReplayArgs replay;
};

/// The flags of `ReplayArgs`, for every command that builds samplers.
inline void add_replay_options(CLI::App* cmd, ReplayArgs& r) {
  cmd->add_option("--short-term", r.short_term, "storyboard: recent clips kept (FIFO)")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--long-term", r.long_term, "storyboard: older clips kept (reservoir, indices only)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--fresh", r.fresh, "storyboard: stream clips per batch, the rest replayed (0 = half the batch)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--dedup-gap", r.dedup_gap, "No two clips of a batch from one video with first frames closer than this (0 = off)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
}

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
      {"storyboard",
       [](const SamplerArgs& a) {
         const auto& r = a.replay;
         return AnySampler(TwoTierReplay<ShortTerm<dynamic>, LongTerm<dynamic>, Batch<dynamic>, Fresh<dynamic>, Sequential>(
             ShortTerm<dynamic>{r.short_term}, LongTerm<dynamic>{r.long_term}, Batch<dynamic>{a.batch},
             Fresh<dynamic>{r.fresh > 0 ? r.fresh : (a.batch + 1) / 2}, sequential_sampler(a), TwoTierReplayOptions{.seed = a.seed}));
       }},
  };
  return table;
}

/// The sampler `name`, de-duplicated within batches when `a.replay.dedup_gap` is set.
/// @throws config_error listing the names when there is none.
inline AnySampler make_sampler(const std::string& name, const SamplerArgs& a) {
  AnySampler s = find_named(samplers(), name, "sampler")(a);
  if (a.replay.dedup_gap == 0) return s;
  return AnySampler(Dedup<Gap<dynamic>, Batch<dynamic>, AnySampler>(Gap<dynamic>{a.replay.dedup_gap}, Batch<dynamic>{a.batch}, std::move(s)));
}

}  // namespace longform::cli
