// SPDX-License-Identifier: MIT
/// @file
/// `ReplayBuffer<Capacity<C>, Sampler>`: a bounded shuffle buffer over a (sequential) clip stream, so
/// consecutive training clips are decorrelated — the paper's stated future work — while decoding
/// stays sequential.
///
/// The buffer holds up to C *decoded* clips taken from the inner sampler in its order.
/// Each call first tops the buffer up from the inner sampler, then returns a uniformly random
/// buffered clip and removes it (the tf.data shuffle-buffer scheme): every inner clip is emitted
/// exactly once, at most C − 1 places away from its position. Memory: C clips.
///
/// Resume: the state holds the inner state and the buffered clips' indices; a restored buffer
/// decodes those clips again (by seeking) when it emits them.
///
/// Customization: `Capacity<C>` (static, or `Capacity<dynamic>` given at construction) and the inner
/// `ClipSampler` (default `SequentialSampler<>`), in either order: `ReplayBuffer<Capacity<256>, SequentialSampler<Stride<8>>>`.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <longform/core/clip.hpp>
#include <longform/core/error.hpp>
#include <longform/core/splitmix.hpp>
#include <longform/sampler/concepts.hpp>
#include <longform/sampler/context.hpp>
#include <longform/sampler/detail/common.hpp>
#include <longform/sampler/params.hpp>
#include <longform/sampler/sequential.hpp>

namespace longform {

/// A shuffle buffer of C clips over `Inner`. Spell it `ReplayBuffer<...>` (below); this is the type that spelling names.
/// @tparam C `Capacity<C>` or `Capacity<dynamic>`
/// @tparam Inner any `ClipSampler`
template <CapacityParam C, ClipSampler Inner>
class BasicReplayBuffer {
 public:
  using sampler_concept = sampler_tag;
  static constexpr const char* kind = "replay";

  /// C static and `Inner` default-built.
  BasicReplayBuffer()
    requires std::default_initializable<C> && std::default_initializable<Inner>
      : BasicReplayBuffer(Inner()) {}
  /// C static, over `inner`; `seed` drives the draws.
  explicit BasicReplayBuffer(Inner inner, std::uint64_t seed = 0)
    requires std::default_initializable<C>
      : inner_(std::move(inner)), capacity_(C::value), seed_(seed) {}
  /// C clips over `inner`, in either order: `(Capacity<dynamic>{64}, inner)`, `(inner, Capacity<dynamic>{64})`.
  BasicReplayBuffer(C capacity, Inner inner, std::uint64_t seed = 0) : inner_(std::move(inner)), capacity_(capacity.value), seed_(seed) {}
  BasicReplayBuffer(Inner inner, C capacity, std::uint64_t seed = 0) : inner_(std::move(inner)), capacity_(capacity.value), seed_(seed) {}
  /// C chosen at run time as a plain number. @throws config_error if `capacity` is not positive.
  BasicReplayBuffer(std::int64_t capacity, Inner inner, std::uint64_t seed = 0)
    requires(!std::default_initializable<C>)
      : inner_(std::move(inner)), capacity_(C{capacity}.value), seed_(seed) {}

  [[nodiscard]] std::int64_t capacity() const noexcept { return capacity_; }
  [[nodiscard]] std::size_t buffered() const noexcept { return buffer_.size(); }
  [[nodiscard]] const Inner& inner() const noexcept { return inner_; }

  /// A random buffered clip (see the file comment); `std::nullopt` when the inner sampler and the
  /// buffer are both empty.
  std::optional<Clip> next(ClipContext& ctx) {
    while (!inner_done_ && static_cast<std::int64_t>(buffer_.size()) < capacity_) {
      auto clip = inner_.next(ctx);
      if (!clip) {
        inner_done_ = true;
        break;
      }
      clip->resume = SamplerState{};  // the buffer's state, not the inner one, is the resume point
      buffer_.push_back(std::move(*clip));
    }
    while (!buffer_.empty()) {
      SplitMix64 g(detail::mix_seed(seed_, 0xb0ff, detail::as_uint(emitted_++)));
      const auto r = detail::uniform_below(g, buffer_.size());
      std::swap(buffer_[r], buffer_.back());
      Clip clip = std::move(buffer_.back());
      buffer_.pop_back();
      if (detail::refill(ctx, clip)) return clip;  // a failure means the video changed since the state was saved
    }
    return std::nullopt;
  }

  /// Resume point: {seed, emitted, inner done, capacity, inner length, inner values…, clips buffered,
  /// then per clip: video, T, frame indices…}.
  [[nodiscard]] SamplerState state() const {
    SamplerState st{kind, {detail::as_int(seed_), emitted_, inner_done_ ? 1 : 0, capacity_}};
    detail::append_nested(st.values, inner_.state());
    st.values.push_back(static_cast<std::int64_t>(buffer_.size()));
    for (const auto& c : buffer_) detail::append_clip(st.values, c.video, c.frames);
    return st;
  }
  /// Continues from `st`. @throws config_error if it is not a replay-buffer state.
  void restore(const SamplerState& st) {
    detail::state_reader in(st, kind, 5);
    seed_ = detail::as_uint(in.take());
    emitted_ = in.take();
    inner_done_ = in.take() != 0;
    capacity_ = in.take();
    inner_.restore(in.nested(inner_.state().kind));
    buffer_.clear();
    for (auto n = in.take(); n > 0; --n) buffer_.push_back(in.clip());
  }

 private:
  Inner inner_;
  std::int64_t capacity_;
  std::uint64_t seed_;
  std::int64_t emitted_ = 0;
  bool inner_done_ = false;
  std::vector<Clip> buffer_;
};

namespace detail {
/// Checks one parameter of `ReplayBuffer<...>`; the compiler's note names `P` when it is unknown.
template <class P>
struct replay_buffer_parameter {
  static_assert(CapacityParam<P> || has_sampler_tag<P>,
                "longform::ReplayBuffer<...>: unknown parameter, the P of replay_buffer_parameter<P> in the note above. "
                "It takes Capacity<C> (or Capacity<dynamic>) and an inner sampler such as SequentialSampler<...>, in either order");
  static constexpr bool ok = true;
};
template <class... Ps>
struct replay_buffer_of {
  static_assert((replay_buffer_parameter<Ps>::ok && ...));
  static_assert(count_kind<capacity_kind, Ps...> == 1,
                "longform::ReplayBuffer<...>: give the number of clips it holds exactly once, as Capacity<C> or Capacity<dynamic>");
  static_assert(count_kind<inner_sampler_kind, Ps...> <= 1, "longform::ReplayBuffer<...>: more than one inner sampler is given");
  using type = BasicReplayBuffer<param_t<capacity_kind, Capacity<1>, Ps...>, param_t<inner_sampler_kind, SequentialSampler<>, Ps...>>;
};
}  // namespace detail

/// A shuffle buffer of decoded clips: `Capacity<C>` (required; or `Capacity<dynamic>`) and the inner
/// sampler (default `SequentialSampler<>`), in either order. Spellings that mean the same sampler
/// name the same type.
template <class... Params>
using ReplayBuffer = typename detail::replay_buffer_of<Params...>::type;

static_assert(ClipSampler<ReplayBuffer<Capacity<4>>>);
static_assert(std::same_as<ReplayBuffer<Capacity<4>>, ReplayBuffer<SequentialSampler<>, Capacity<4>>>);

}  // namespace longform
