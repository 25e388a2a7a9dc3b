// SPDX-License-Identifier: MIT
/// @file
/// `KeyedPermutation`: a seeded bijection of `[0, n)`, computed one element at a time, so that a
/// shuffled pass over more items than fit in memory (every frame of a corpus) needs no table and
/// resumes from a position alone.
///
/// A balanced Feistel network (six rounds keyed by SplitMix64: a pseudo-random permutation, Luby and
/// Rackoff 1988) over the smallest even power of two of at least 2^8 that holds `n`, restricted to
/// `[0, n)` by cycle walking (Black and Rogaway 2002): a value outside is permuted again until one
/// falls inside. The walk ends because the bijection's cycle through the input returns to it; it
/// takes fewer than four steps on average once n > 2^8 (the domain is then below 4n). The 2^8 floor
/// keeps the halves at 4 bits or more, where the rounds mix well.
// IWYU pragma: private, include <longform/sampler.hpp>
#pragma once

#include <array>
#include <cstdint>

#include <longform/core/splitmix.hpp>

namespace longform::detail {

/// A seeded bijection of `[0, n)` (see the file comment).
class KeyedPermutation {
 public:
  /// The permutation of `[0, n)` (n > 0) keyed by `key`.
  KeyedPermutation(std::uint64_t n, std::uint64_t key) : n_(n) {
    int bits = 8;
    while (bits < 64 && (std::uint64_t{1} << bits) < n) bits += 2;
    half_ = bits / 2;
    mask_ = (std::uint64_t{1} << half_) - 1;
    SplitMix64 g(key);
    for (auto& k : keys_) k = g();
  }

  [[nodiscard]] std::uint64_t size() const noexcept { return n_; }

  /// The image of `i` (i < n).
  [[nodiscard]] std::uint64_t operator()(std::uint64_t i) const noexcept {
    do i = feistel(i);
    while (i >= n_);
    return i;
  }

 private:
  [[nodiscard]] std::uint64_t feistel(std::uint64_t x) const noexcept {
    std::uint64_t left = x >> half_, right = x & mask_;
    for (const std::uint64_t k : keys_) {
      SplitMix64 round(right ^ k);
      const std::uint64_t next = left ^ (round() & mask_);
      left = right;
      right = next;
    }
    return (left << half_) | right;
  }

  std::uint64_t n_;
  int half_;
  std::uint64_t mask_;
  std::array<std::uint64_t, 6> keys_{};
};

}  // namespace longform::detail
