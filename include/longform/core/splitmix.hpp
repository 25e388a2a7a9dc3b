// SPDX-License-Identifier: MIT
/// @file
/// `SplitMix64`: a tiny deterministic generator. Used where results must be identical on every
/// platform and standard library (std distributions are not), e.g. procedural test videos.
/// Also the library's one seed mixer, unbiased bounded draw and shuffle, built on it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

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

namespace detail {

/// A well-mixed seed for stream `a`, item `b` of a run seeded `seed` (SplitMix64 of the three).
constexpr std::uint64_t mix_seed(std::uint64_t seed, std::uint64_t a, std::uint64_t b = 0) noexcept {
  SplitMix64 g(seed ^ (a * 0x9e3779b97f4a7c15ULL) ^ (b * 0xc2b2ae3d27d4eb4fULL));
  g();
  return g();
}

/// Uniform integer in `[0, n)` (n > 0). Rejection sampling: no modulo bias.
constexpr std::uint64_t uniform_below(SplitMix64& g, std::uint64_t n) noexcept {
  const std::uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  for (;;) {
    const std::uint64_t x = g();
    if (x < limit) return x % n;
  }
}

/// Fisher–Yates shuffle of `v` (a `std::vector` or `std::array`), driven by `g`: every order
/// equally likely. (Indexing rather than <ranges>: this header is in every sampler's and
/// transform's include chain.)
template <class Container>
constexpr void shuffle(Container& v, SplitMix64& g) {
  for (std::size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[static_cast<std::size_t>(uniform_below(g, i))]);
}

/// `0, 1, …, n−1` in an order drawn by `g` (`shuffle` of the identity), as `Index` values.
template <class Index>
std::vector<Index> shuffled_indices(std::size_t n, SplitMix64& g) {
  std::vector<Index> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<Index>(i);
  shuffle(v, g);
  return v;
}

}  // namespace detail

}  // namespace longform
