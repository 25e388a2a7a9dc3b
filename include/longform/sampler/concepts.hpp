// SPDX-License-Identifier: MIT
/// @file
/// The sampler family: `ClipSampler` and `ShardableSampler`.
///
/// Protocol. A sampler decides which clips a run sees and in what order; a `ClipContext` gives it
/// the videos' metadata and decodes what it asks for.
/// - `s.next(ctx)` returns the next clip, already filled by `ctx.fill` (pixels when the context
///   decodes, indices and timestamps only when it does not), or `std::nullopt` when the sampler is
///   exhausted (its configured number of epochs is done).
/// - `s.state()` is the resume point after the last clip returned; `s.restore(st)` on a sampler of
///   the same type and parameters makes its next `next(ctx)` return exactly what the original's
///   would have. States are small `SamplerState` values, so they go into checkpoints.
/// - Samplers are single-threaded values: copy one to fork a stream, keep one per producer thread.
///
/// Customization: any type with `using sampler_concept = longform::sampler_tag;` and these members
/// is a sampler; no base class, no registration. `ShardableSampler` adds `shard(b, n)`: a copy that
/// visits only its share of the videos, which is what `MultiStream` needs.
#pragma once

#include <concepts>
#include <cstddef>
#include <optional>
#include <type_traits>

#include <longform/core/clip.hpp>
#include <longform/sampler/context.hpp>

namespace longform {

/// Opt-in tag: a type is a `ClipSampler` only if it says so.
struct sampler_tag {};

namespace detail {
template <class S>
concept has_sampler_tag = requires { typename S::sampler_concept; } && std::same_as<typename S::sampler_concept, sampler_tag>;
/// The parameter kind of the sampler a wrapping sampler (`MultiStream`, `ReplayBuffer`, …) takes among its parameters.
template <class P>
struct inner_sampler_kind : std::bool_constant<has_sampler_tag<P>> {};
}  // namespace detail

/// A policy that yields clips from a `ClipContext` and can resume exactly from a `SamplerState`.
/// @tparam S the sampler type: declares `using sampler_concept = sampler_tag;`,
///   `std::optional<Clip> next(ClipContext&)`, `SamplerState state() const` and `void restore(const SamplerState&)`.
template <class S>
concept ClipSampler =
    detail::has_sampler_tag<S> && std::copy_constructible<S> && requires(S& s, const S& cs, ClipContext& ctx, const SamplerState& st) {
      { s.next(ctx) } -> std::same_as<std::optional<Clip>>;
      { cs.state() } -> std::same_as<SamplerState>;
      s.restore(st);
    };

/// A `ClipSampler` that can be split into `n` disjoint streams over the videos: `shard(b, n)` visits
/// only stream `b`'s videos, and together the `n` shards visit every video.
template <class S>
concept ShardableSampler = ClipSampler<S> && requires(const S& cs, std::size_t b) {
  { cs.shard(b, b) } -> std::same_as<S>;
};

namespace detail {
/// Compile-time diagnosis for entry points that take a sampler: names what is missing in words.
template <class S>
consteval bool require_sampler() {
  static_assert(has_sampler_tag<S>,
                "longform: the type given as a sampler is not a ClipSampler: it does not declare "
                "`using sampler_concept = longform::sampler_tag;` (see longform/sampler/concepts.hpp)");
  static_assert(!has_sampler_tag<S> || ClipSampler<S>,
                "longform: the type given as a sampler is not a ClipSampler: it has the sampler_tag but lacks "
                "`std::optional<Clip> next(ClipContext&)`, `SamplerState state() const` or `void restore(const SamplerState&)`");
  return ClipSampler<S>;
}
}  // namespace detail

}  // namespace longform
