// SPDX-License-Identifier: MIT
/// @file
/// Helpers shared by the built-in samplers: seeded epoch orders, state packing (seed mixing and
/// shuffles: core/splitmix.hpp).
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

}  // namespace detail
}  // namespace longform

LONGFORM_REFLECT(longform::SamplerOptions, seed, epochs);
