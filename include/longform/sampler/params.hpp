// SPDX-License-Identifier: MIT
/// @file
/// Sampler parameters in the "static or dynamic extent" shape (like `std::span<T, N>`):
///
///   Frames<16>          T, frames per clip               Frames<dynamic>{t}
///   Stride<4>           τ, frame step inside a clip      Stride<dynamic>{s}
///   Hop<32>             h, step between clip starts      Hop<dynamic>{h};  Hop<> = back to back (h = T·τ)
///   SegmentSeconds<10>  random-clip segment length (s)   SegmentSeconds<dynamic>{sec}
///
/// A static parameter is an empty type (0 bytes as a `[[no_unique_address]]` member) whose value is
/// `static constexpr`; its `dynamic` twin holds the value and checks it at run time. Both read the
/// same way, `p.value` or `std::int64_t(p)`, so one sampler body serves both, and a command line can
/// choose every number at run time with a single instantiation (`Stride<dynamic>`), not one per value.
///
/// Also here: the frame-order policies of `RandomSampler` (`ShuffleFrames`, `KeepOrder`,
/// `Shuffle<dynamic>{bool}`).
#pragma once

#include <concepts>
#include <cstdint>
#include <string>

#include <longform/core/error.hpp>

namespace longform {

/// The extent that says "chosen at run time".
inline constexpr std::int64_t dynamic = -1;

namespace detail {
inline std::int64_t check_positive(std::int64_t v, const char* what) {
  if (v <= 0) throw config_error(std::string("longform::") + what + "<dynamic>: value must be positive (was " + std::to_string(v) + ")");
  return v;
}
}  // namespace detail

/// T, the number of frames in a clip.
template <std::int64_t N>
struct Frames {
  static_assert(N > 0, "longform::Frames<N>: N must be positive, or longform::dynamic to choose it at run time");
  static constexpr std::int64_t value = N;
  constexpr operator std::int64_t() const noexcept { return N; }
};
/// T chosen at run time. @throws config_error if not positive.
template <>
struct Frames<dynamic> {
  std::int64_t value;
  explicit Frames(std::int64_t v) : value(detail::check_positive(v, "Frames")) {}
  constexpr operator std::int64_t() const noexcept { return value; }
};

/// τ, the step between consecutive frames of a clip (1 = consecutive frames).
template <std::int64_t N>
struct Stride {
  static_assert(N > 0, "longform::Stride<N>: N must be positive, or longform::dynamic to choose it at run time");
  static constexpr std::int64_t value = N;
  constexpr operator std::int64_t() const noexcept { return N; }
};
/// τ chosen at run time. @throws config_error if not positive.
template <>
struct Stride<dynamic> {
  std::int64_t value;
  explicit Stride(std::int64_t v) : value(detail::check_positive(v, "Stride")) {}
  constexpr operator std::int64_t() const noexcept { return value; }
};

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

/// Frame-order policy: shuffle the frames of each clip (the paper's random clips).
struct ShuffleFrames {
  [[nodiscard]] static constexpr bool enabled() noexcept { return true; }
};
/// Frame-order policy: keep frames in temporal order.
struct KeepOrder {
  [[nodiscard]] static constexpr bool enabled() noexcept { return false; }
};
/// Frame-order policy chosen at run time.
template <std::int64_t N = dynamic>
struct Shuffle;
template <>
struct Shuffle<dynamic> {
  bool on = true;
  [[nodiscard]] constexpr bool enabled() const noexcept { return on; }
};

namespace detail {
template <class> inline constexpr bool is_frames = false;
template <std::int64_t N> inline constexpr bool is_frames<Frames<N>> = true;
template <class> inline constexpr bool is_stride = false;
template <std::int64_t N> inline constexpr bool is_stride<Stride<N>> = true;
template <class> inline constexpr bool is_hop = false;
template <std::int64_t N> inline constexpr bool is_hop<Hop<N>> = true;
template <class> inline constexpr bool is_segment = false;
template <std::int64_t N> inline constexpr bool is_segment<SegmentSeconds<N>> = true;
}  // namespace detail

/// `Frames<N>` or `Frames<dynamic>`.
template <class P> concept FramesParam = detail::is_frames<P>;
/// `Stride<N>` or `Stride<dynamic>`.
template <class P> concept StrideParam = detail::is_stride<P>;
/// `Hop<N>`, `Hop<>` or `Hop<dynamic>`.
template <class P> concept HopParam = detail::is_hop<P>;
/// `SegmentSeconds<N>` or `SegmentSeconds<dynamic>`.
template <class P> concept SegmentParam = detail::is_segment<P>;
/// `ShuffleFrames`, `KeepOrder` or `Shuffle<dynamic>`.
template <class P> concept FrameOrderPolicy = requires(const P& p) { { p.enabled() } -> std::convertible_to<bool>; };

}  // namespace longform
