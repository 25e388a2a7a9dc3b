// SPDX-License-Identifier: MIT
/// @file
/// `Compose<A, B>` and `a | b`: transforms applied in order, left to right.
#pragma once

#include <type_traits>
#include <utility>

#include <longform/core/clip.hpp>
#include <longform/transform/concepts.hpp>

namespace longform {

/// `first`, then `second`.
template <ClipTransform A, ClipTransform B>
struct Compose {
  using transform_concept = transform_tag;
  A first;
  B second;
  Clip operator()(Clip clip) { return second(first(std::move(clip))); }
  /// Batches too, when both parts take them.
  ClipBatch operator()(ClipBatch batch)
    requires requires(A& a, B& b, ClipBatch x) { b(a(std::move(x))); }
  {
    return second(first(std::move(batch)));
  }
};

template <class A, class B>
inline constexpr bool draws_at_random<Compose<A, B>> = draws_at_random<A> || draws_at_random<B>;

/// `a | b`: a transform that applies `a`, then `b`.
template <class A, class B>
  requires ClipTransform<std::remove_cvref_t<A>> && ClipTransform<std::remove_cvref_t<B>>
Compose<std::remove_cvref_t<A>, std::remove_cvref_t<B>> operator|(A&& a, B&& b) {
  return {std::forward<A>(a), std::forward<B>(b)};
}

}  // namespace longform
