// SPDX-License-Identifier: MIT
/// @file
/// `SplitMix64`: a tiny deterministic generator. Used where results must be identical on every
/// platform and standard library (std distributions are not), e.g. procedural test videos.
#pragma once

#include <cstdint>

namespace longform {

/// SplitMix64 (Steele, Lea, Flood 2014): 64-bit state, full period, portable output.
class SplitMix64 {
 public:
  explicit constexpr SplitMix64(std::uint64_t seed) noexcept : state_(seed) {}

  constexpr std::uint64_t operator()() noexcept {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  /// Uniform in `[0, 1)` with 53 random bits.
  constexpr double uniform() noexcept { return static_cast<double>((*this)() >> 11) * 0x1.0p-53; }
  /// Uniform in `[lo, hi)`.
  constexpr double uniform(double lo, double hi) noexcept { return lo + (hi - lo) * uniform(); }

 private:
  std::uint64_t state_;
};

}  // namespace longform
