// SPDX-License-Identifier: MIT
/// @file
/// Helpers shared by the built-in samplers: seeded epoch orders, state packing (seed mixing and
/// shuffles: core/splitmix.hpp), nested states, and the clips a sampler keeps to emit later
/// (indices in its state, decoded again when emitted after a restore).
// IWYU pragma: private, include <longform/sampler.hpp>
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <longform/core/clip.hpp>
#include <longform/core/error.hpp>
#include <longform/core/reflect.hpp>
#include <longform/core/splitmix.hpp>
#include <longform/sampler/context.hpp>

namespace longform {

/// Options every built-in sampler takes.
struct SamplerOptions {
  std::uint64_t seed = 0;   ///< same seed, same clips in the same order, on every platform
  std::int64_t epochs = 1;  ///< passes over the data before `next` returns `std::nullopt`; 0 = endless
};

namespace detail {

/// The permutation of `0..n-1` for `epoch` of a run seeded `seed`.
inline std::vector<std::size_t> epoch_order(std::uint64_t seed, std::int64_t epoch, std::size_t n) {
  SplitMix64 g(mix_seed(seed, 0x5eed, static_cast<std::uint64_t>(epoch)));
  return shuffled_indices<std::size_t>(n, g);
}

/// Checks that a state was made by a sampler of kind `kind` with at least `n` values.
inline void expect_state(const SamplerState& st, const std::string& kind, std::size_t n) {
  if (st.kind != kind) throw config_error("restore: state of a '" + st.kind + "' sampler given to a '" + kind + "' sampler");
  if (st.values.size() < n) {
    throw config_error("restore: '" + kind + "' state has " + std::to_string(st.values.size()) + " values, needs at least " + std::to_string(n));
  }
}

inline std::int64_t as_int(std::uint64_t u) { return static_cast<std::int64_t>(u); }
inline std::uint64_t as_uint(std::int64_t i) { return static_cast<std::uint64_t>(i); }

/// The state of a sampler whose clips follow from its seed and a count of clips drawn (random,
/// i.i.d.): {seed, epochs, clips drawn}.
inline SamplerState counted_state(const char* kind, const SamplerOptions& options, std::int64_t drawn) {
  return {kind, {as_int(options.seed), options.epochs, drawn}};
}
/// Sets `options` and `drawn` from a `counted_state`. @throws config_error if `st` is not of kind `kind`.
inline void restore_counted(const SamplerState& st, const char* kind, SamplerOptions& options, std::int64_t& drawn) {
  expect_state(st, kind, 3);
  options.seed = as_uint(st.values[0]);
  options.epochs = st.values[1];
  drawn = st.values[2];
}

/// Appends another sampler's state (a wrapped one's) to `values`: its length, then its values.
inline void append_nested(std::vector<std::int64_t>& values, const SamplerState& inner) {
  values.push_back(static_cast<std::int64_t>(inner.values.size()));
  values.insert(values.end(), inner.values.begin(), inner.values.end());
}

/// Appends a clip's indices to `values`: video, T, then the T frame indices.
inline void append_clip(std::vector<std::int64_t>& values, std::size_t video, const std::vector<std::int64_t>& frames) {
  values.push_back(static_cast<std::int64_t>(video));
  values.push_back(static_cast<std::int64_t>(frames.size()));
  values.insert(values.end(), frames.begin(), frames.end());
}

/// Reads a state's values in order, as `append_nested` and `append_clip` wrote them.
class state_reader {
 public:
  /// From the first value on. @throws config_error if `st` is not of kind `kind` or has fewer than `n` values.
  state_reader(const SamplerState& st, const std::string& kind, std::size_t n) : st_(st) { expect_state(st, kind, n); }
  /// The next value. @throws config_error if there is none.
  std::int64_t take() {
    if (at_ >= st_.values.size()) throw config_error("restore: '" + st_.kind + "' state is truncated");
    return st_.values[at_++];
  }
  /// A wrapped sampler's state, given the kind it is restored as.
  SamplerState nested(const std::string& kind) {
    SamplerState inner{kind, {}};
    for (auto n = take(); n > 0; --n) inner.values.push_back(take());
    return inner;
  }
  /// A clip's video and frame indices, nothing decoded.
  Clip clip() {
    Clip c;
    c.video = static_cast<std::size_t>(take());
    for (auto t = take(); t > 0; --t) c.frames.push_back(take());
    return c;
  }

 private:
  const SamplerState& st_;
  std::size_t at_ = 0;
};

/// Completes a remembered clip before it is emitted again: one restored from a state holds its
/// indices only, so it is filled (decoded by seeking) now. false: its video can no longer give it.
inline bool refill(ClipContext& ctx, Clip& clip) {
  if (clip.data.defined() || (!ctx.decoding() && !clip.seconds.empty())) return true;
  return ctx.fill(clip);
}

}  // namespace detail
}  // namespace longform

LONGFORM_REFLECT(longform::SamplerOptions, seed, epochs);
