// SPDX-License-Identifier: MIT
/// @file
/// Sampler parameters in the "static or dynamic extent" shape (like `std::span<T, N>`):
///
///   Frames<16>          T, frames per clip               Frames<dynamic>{t}
///   Stride<4>           τ, frame step inside a clip      Stride<dynamic>{s}
///   Hop<32>             h, step between clip starts      Hop<dynamic>{h};  Hop<> = back to back (h = T·τ)
///   SegmentSeconds<10>  random-clip segment length (s)   SegmentSeconds<dynamic>{sec}
///   Streams<4>          B, streams of a `MultiStream`    Streams<dynamic>{b}
///   Capacity<256>       clips a `ReplayBuffer` holds     Capacity<dynamic>{c}
///   ShortTerm<64>       recent clips of a TwoTierReplay  ShortTerm<dynamic>{s}
///   LongTerm<4096>      its reservoir of older clips     LongTerm<dynamic>{l}
///   Batch<8>            clips per batch (replay, Dedup)  Batch<dynamic>{b}
///   Fresh<4>            stream clips per replay batch    Fresh<dynamic>{f}
///   Gap<64>             least start distance (Dedup)     Gap<dynamic>{g}
///   Shuffle<true>       shuffle each clip's frames       Shuffle<dynamic>{on};  Shuffle<false> keeps order
///
/// A static parameter is an empty type (0 bytes as a `[[no_unique_address]]` member) whose value is
/// `static constexpr`; its `dynamic` twin holds the value and checks it at run time. Both read the
/// same way, `p.value` or `std::int64_t(p)`, so one sampler body serves both, and a command line can
/// choose every number at run time with a single instantiation (`Stride<dynamic>`), not one per value.
///
/// Samplers take their parameters by kind, in any order, each at most once; a missing one takes
/// the paper's default: `SequentialSampler<Stride<8>>` is `SequentialSampler<Frames<16>, Stride<8>, Hop<>>`
/// (the very same type). Their constructors take the `dynamic` parameters, and `SamplerOptions`,
/// in any order as well.
///
/// Also here: the frame-order policies of `RandomSampler` (`ShuffleFrames` = `Shuffle<true>`,
/// `KeepOrder` = `Shuffle<false>`, `Shuffle<dynamic>{bool}`).
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <string>
#include <tuple>
#include <type_traits>

#include <longform/core/error.hpp>

namespace longform {

/// The extent that says "chosen at run time".
inline constexpr std::int64_t dynamic = -1;

namespace detail {
inline std::int64_t check_positive(std::int64_t v, const char* what) {
  if (v <= 0) throw config_error(std::string("longform::") + what + "<dynamic>: value must be positive (was " + std::to_string(v) + ")");
  return v;
}

/// A parameter's name as a template argument, for its messages.
template <std::size_t N>
struct parameter_name {
  char text[N]{};
  // Implicit: `positive_count<"Frames", N>` makes one from the literal.
  constexpr parameter_name(const char (&name)[N]) noexcept {  // NOLINT(google-explicit-constructor)
    for (std::size_t i = 0; i < N; ++i) text[i] = name[i];
  }
};

/// What every positive count parameter (`Frames`, `Stride`, `Streams`, `Capacity`, …) is built on:
/// for `N > 0` an empty type whose `value` is `N`; for `N = dynamic` the value itself, checked at
/// construction. The name keeps the static forms of different parameters distinct types, so two
/// of them share an address as `[[no_unique_address]]` members.
template <parameter_name Name, std::int64_t N>
struct positive_count {
  static_assert(N > 0,
                "longform: count parameters (Frames<N>, Stride<N>, Streams<N>, Capacity<N>, Batch<N>, …) take a positive N, "
                "or longform::dynamic to choose it at run time (the compiler's notes name the parameter)");
  static constexpr std::int64_t value = N;
  constexpr operator std::int64_t() const noexcept { return N; }
};
template <parameter_name Name>
struct positive_count<Name, dynamic> {
  std::int64_t value;
  /// @throws config_error if `v` is not positive. Implicit, so that `Frames<dynamic>{t}` (an
  /// aggregate of this base) initialises it from `t`.
  positive_count(std::int64_t v) : value(check_positive(v, Name.text)) {}  // NOLINT(google-explicit-constructor)
  constexpr operator std::int64_t() const noexcept { return value; }
};
}  // namespace detail

/// T, the number of frames in a clip; `Frames<dynamic>{t}` chooses it at run time.
template <std::int64_t N>
struct Frames : detail::positive_count<"Frames", N> {};

/// τ, the step between consecutive frames of a clip (1 = consecutive frames); `Stride<dynamic>{s}` at run time.
template <std::int64_t N>
struct Stride : detail::positive_count<"Stride", N> {};

/// The value of `Hop<>` that means "back to back": h = T·τ, so clips tile the video.
inline constexpr std::int64_t back_to_back = 0;

/// h, the step between the first frames of consecutive sequential clips. `h < T·τ` overlaps clips,
/// `h > T·τ` leaves gaps. `Hop<>` (= `Hop<back_to_back>`) resolves to T·τ.
template <std::int64_t N = back_to_back>
struct Hop {
  static_assert(N >= 0, "longform::Hop<N>: N must be positive, longform::back_to_back, or longform::dynamic");
  static constexpr std::int64_t value = N;
  constexpr operator std::int64_t() const noexcept { return N; }
  /// The hop in frames for clips of `span_frames = T·τ`.
  [[nodiscard]] static constexpr std::int64_t resolve(std::int64_t t_times_tau) noexcept { return N == back_to_back ? t_times_tau : N; }
};
/// h chosen at run time; `back_to_back` (0) allowed. @throws config_error if negative.
template <>
struct Hop<dynamic> {
  std::int64_t value;
  explicit Hop(std::int64_t v) : value(v) {
    if (v < 0) throw config_error("longform::Hop<dynamic>: value must be positive or 0 = back to back (was " + std::to_string(v) + ")");
  }
  constexpr operator std::int64_t() const noexcept { return value; }
  [[nodiscard]] constexpr std::int64_t resolve(std::int64_t t_times_tau) const noexcept { return value == back_to_back ? t_times_tau : value; }
};

/// Length in seconds of the trimmed segments random clips are drawn from (the paper: 10).
template <std::int64_t N>
struct SegmentSeconds {
  static_assert(N > 0, "longform::SegmentSeconds<N>: N must be positive, or longform::dynamic");
  static constexpr double value = static_cast<double>(N);
  constexpr operator double() const noexcept { return value; }
};
/// Segment length chosen at run time (fractional seconds allowed). @throws config_error if not positive.
template <>
struct SegmentSeconds<dynamic> {
  double value;
  explicit SegmentSeconds(double v) : value(v) {
    if (!(v > 0)) throw config_error("longform::SegmentSeconds<dynamic>: value must be positive (was " + std::to_string(v) + ")");
  }
  constexpr operator double() const noexcept { return value; }
};

/// B, the number of streams of a `MultiStream` (sequential streams over different videos);
/// `Streams<dynamic>{b}` at run time.
template <std::int64_t N>
struct Streams : detail::positive_count<"Streams", N> {};

/// The number of decoded clips a `ReplayBuffer` holds; `Capacity<dynamic>{c}` at run time.
template <std::int64_t N>
struct Capacity : detail::positive_count<"Capacity", N> {};

/// The recent stream clips a `TwoTierReplay` keeps in its short-term FIFO; `ShortTerm<dynamic>{s}` at run time.
template <std::int64_t N>
struct ShortTerm : detail::positive_count<"ShortTerm", N> {};

/// The clips of a `TwoTierReplay`'s long-term reservoir; `LongTerm<dynamic>{l}` at run time.
template <std::int64_t N>
struct LongTerm : detail::positive_count<"LongTerm", N> {};

/// The clips of one training batch, for policies that shape batches (`TwoTierReplay`, `Dedup`);
/// it must equal the batch size the clips are grouped by (`PretrainerOptions::batch`).
template <std::int64_t N>
struct Batch : detail::positive_count<"Batch", N> {};

/// The stream clips in each batch of a `TwoTierReplay` (the rest are replayed); `Fresh<dynamic>{f}` at run time.
template <std::int64_t N>
struct Fresh : detail::positive_count<"Fresh", N> {};

/// The least distance, in frames, between the first frames of two clips of one video in one batch (`Dedup`).
template <std::int64_t N>
struct Gap : detail::positive_count<"Gap", N> {};

/// Frame-order policy of `RandomSampler`: `Shuffle<true>` shuffles the frames of each clip (the
/// paper's random clips), `Shuffle<false>` keeps them in temporal order, `Shuffle<dynamic>{on}`
/// (= `Shuffle<>{on}`) decides at run time.
template <auto V = dynamic>
struct Shuffle {
  static_assert(std::is_same_v<decltype(V), bool>,
                "longform::Shuffle<V>: V must be true (shuffle each clip's frames), false (keep their order) "
                "or longform::dynamic (chosen at run time)");
  static constexpr bool value = static_cast<bool>(V);
  [[nodiscard]] static constexpr bool enabled() noexcept { return value; }
};
/// Frame order chosen at run time.
template <>
struct Shuffle<dynamic> {
  bool on = true;
  [[nodiscard]] constexpr bool enabled() const noexcept { return on; }
};
/// Shuffle the frames of each clip (the paper's random clips).
using ShuffleFrames = Shuffle<true>;
/// Keep the frames of each clip in temporal order.
using KeepOrder = Shuffle<false>;

namespace detail {
/// Whether `P` is `Param<N>` for some `N` (`dynamic` included).
template <template <std::int64_t> class Param, class P>
inline constexpr bool is_param = false;
template <template <std::int64_t> class Param, std::int64_t N>
inline constexpr bool is_param<Param, Param<N>> = true;
}  // namespace detail

/// `Frames<N>` or `Frames<dynamic>`.
template <class P>
concept FramesParam = detail::is_param<Frames, P>;
/// `Stride<N>` or `Stride<dynamic>`.
template <class P>
concept StrideParam = detail::is_param<Stride, P>;
/// `Hop<N>`, `Hop<>` or `Hop<dynamic>`.
template <class P>
concept HopParam = detail::is_param<Hop, P>;
/// `SegmentSeconds<N>` or `SegmentSeconds<dynamic>`.
template <class P>
concept SegmentParam = detail::is_param<SegmentSeconds, P>;
/// `Streams<N>` or `Streams<dynamic>`.
template <class P>
concept StreamsParam = detail::is_param<Streams, P>;
/// `Capacity<N>` or `Capacity<dynamic>`.
template <class P>
concept CapacityParam = detail::is_param<Capacity, P>;
/// `ShortTerm<N>` or `ShortTerm<dynamic>`.
template <class P>
concept ShortTermParam = detail::is_param<ShortTerm, P>;
/// `LongTerm<N>` or `LongTerm<dynamic>`.
template <class P>
concept LongTermParam = detail::is_param<LongTerm, P>;
/// `Batch<N>` or `Batch<dynamic>`.
template <class P>
concept BatchParam = detail::is_param<Batch, P>;
/// `Fresh<N>` or `Fresh<dynamic>`.
template <class P>
concept FreshParam = detail::is_param<Fresh, P>;
/// `Gap<N>` or `Gap<dynamic>`.
template <class P>
concept GapParam = detail::is_param<Gap, P>;
/// `ShuffleFrames`, `KeepOrder`, `Shuffle<true|false>`, `Shuffle<dynamic>`, or your own type with `enabled()`.
template <class P>
concept FrameOrderPolicy = requires(const P& p) {
  { p.enabled() } -> std::convertible_to<bool>;
};

namespace detail {

// Parameters by kind. A kind is a class template `K<P>` with a `bool value`.
template <class P>
struct frames_kind : std::bool_constant<FramesParam<P>> {};
template <class P>
struct stride_kind : std::bool_constant<StrideParam<P>> {};
template <class P>
struct hop_kind : std::bool_constant<HopParam<P>> {};
template <class P>
struct segment_kind : std::bool_constant<SegmentParam<P>> {};
template <class P>
struct order_kind : std::bool_constant<FrameOrderPolicy<P>> {};
template <class P>
struct streams_kind : std::bool_constant<StreamsParam<P>> {};
template <class P>
struct capacity_kind : std::bool_constant<CapacityParam<P>> {};
template <class P>
struct short_term_kind : std::bool_constant<ShortTermParam<P>> {};
template <class P>
struct long_term_kind : std::bool_constant<LongTermParam<P>> {};
template <class P>
struct batch_kind : std::bool_constant<BatchParam<P>> {};
template <class P>
struct fresh_kind : std::bool_constant<FreshParam<P>> {};
template <class P>
struct gap_kind : std::bool_constant<GapParam<P>> {};

/// How many of `Ps...` are of kind `K`.
template <template <class> class K, class... Ps>
inline constexpr std::size_t count_kind = (std::size_t{K<Ps>::value} + ... + std::size_t{0});

/// The first of `Ps...` of kind `K`, else `Default`.
template <template <class> class K, class Default, class... Ps>
struct param_of {
  using type = Default;
};
template <template <class> class K, class Default, class P, class... Ps>
struct param_of<K, Default, P, Ps...> {
  using type = std::conditional_t<K<P>::value, P, typename param_of<K, Default, Ps...>::type>;
};
template <template <class> class K, class Default, class... Ps>
using param_t = typename param_of<K, Default, Ps...>::type;

/// Constructor arguments by type. `params_args<type_list<Ts...>, As...>`: every `A` is one of
/// `Ts...`, none is given twice, and every `T` without a default value (a `dynamic` parameter) is given.
template <class...>
struct type_list {};
template <class T, class... As>
inline constexpr std::size_t occurrences = (std::size_t{std::is_same_v<T, As>} + ... + std::size_t{0});
template <class List, class... As>
inline constexpr bool params_args = false;
template <class... Ts, class... As>
inline constexpr bool params_args<type_list<Ts...>, As...> =
    ((occurrences<As, Ts...> == 1 && occurrences<As, As...> == 1) && ...) && ((std::default_initializable<Ts> || occurrences<Ts, As...> == 1) && ...);

/// The argument of type `T` among `as...`, or `T{}` when there is none.
template <class T, class... As>
T arg_or_default(const As&... as) {
  if constexpr (occurrences<T, As...> == 1) {
    return std::get<const T&>(std::tie(as...));
  } else {
    return T{};
  }
}

/// Tag of the constructors that take parameters by type.
struct from_params_t {};

/// The parameters `Ps...` of a built-in sampler and its `Options`, built from constructor arguments
/// given by type, in any order. A sampler derives from it and inherits the constructors.
template <class Options, class... Ps>
class sampler_parameters {
  using accepted = type_list<Ps..., Options>;

 public:
  /// All parameters static: only options to give.
  explicit sampler_parameters(Options options = {})
    requires(std::default_initializable<Ps> && ...)
      : options_(options) {}
  /// The `dynamic` parameters (all of them required), static ones (optional) and the options, in
  /// any order: `SequentialSampler<Frames<dynamic>, Stride<dynamic>>(Stride<dynamic>{4}, Frames<dynamic>{16})`.
  template <class... A>
    requires(sizeof...(A) > 0) && params_args<accepted, A...>
  explicit sampler_parameters(A... args) : sampler_parameters(from_params_t{}, args...) {}
  /// As above, with the options last as a braced list: `(Frames<dynamic>{t}, {.seed = 1})`. A braced
  /// list deduces no template argument, so each count of parameters before it has its overload.
  template <class A1>
    requires params_args<accepted, A1, Options>
  sampler_parameters(A1 a1, Options options) : sampler_parameters(from_params_t{}, a1, options) {}
  template <class A1, class A2>
    requires params_args<accepted, A1, A2, Options>
  sampler_parameters(A1 a1, A2 a2, Options options) : sampler_parameters(from_params_t{}, a1, a2, options) {}
  template <class A1, class A2, class A3>
    requires params_args<accepted, A1, A2, A3, Options>
  sampler_parameters(A1 a1, A2 a2, A3 a3, Options options) : sampler_parameters(from_params_t{}, a1, a2, a3, options) {}
  template <class A1, class A2, class A3, class A4>
    requires params_args<accepted, A1, A2, A3, A4, Options>
  sampler_parameters(A1 a1, A2 a2, A3 a3, A4 a4, Options options) : sampler_parameters(from_params_t{}, a1, a2, a3, a4, options) {}

  /// The options the sampler was built with.
  [[nodiscard]] const Options& options() const noexcept { return options_; }

 protected:
  /// The parameter of type `P` (one of `Ps...`).
  template <class P>
  [[nodiscard]] const P& param() const noexcept {
    return std::get<P>(params_);
  }
  /// The same, writable: samplers that wrap another keep it among their parameters and advance it.
  template <class P>
  [[nodiscard]] P& param() noexcept {
    return std::get<P>(params_);
  }

 private:
  template <class... A>
  sampler_parameters(from_params_t, const A&... args) : params_(arg_or_default<Ps>(args...)...), options_(arg_or_default<Options>(args...)) {}

  [[no_unique_address]] std::tuple<Ps...> params_;

 protected:
  Options options_;  ///< restored with the sampler's state, hence writable
};

}  // namespace detail

}  // namespace longform
