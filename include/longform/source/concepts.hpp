// SPDX-License-Identifier: MIT
/// @file
/// The two concepts of the source family.
///
/// - A `FrameReader` yields the frames of one video in order: `next()` until `std::nullopt`.
///   `VideoReader` is one; so are the readers of `SyntheticVideo` and `AvaVideos`.
///   A `SeekableFrameReader` can also jump to a frame and knows how many there are.
/// - A `VideoSource` is an ordered collection of videos (one file, a list, a stream, generated
///   videos); `open(i)` returns a fresh reader at the first frame of video `i`. Samplers decide
///   which video to open next and how to cut clips from it; sources never cut clips.
///
/// Customization: any type with `using source_concept = longform::source_tag;` and the members
/// below is a source; no base class, no registration.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include <longform/core/frame.hpp>
#include <longform/core/video_info.hpp>

namespace longform {

/// Opt-in tag: a type is a `VideoSource` only if it says so.
struct source_tag {};

/// Yields the frames of one video in presentation order.
template <class R>
concept FrameReader = requires(R& r, const R& cr) {
  { r.next() } -> std::same_as<std::optional<Frame>>;
  { cr.info() } -> std::convertible_to<const VideoInfo&>;
};

/// A `FrameReader` that can be positioned: `seek_frame(k)` makes `next()` return frame `k`.
template <class R>
concept SeekableFrameReader = FrameReader<R> && requires(R& r, std::int64_t k) {
  r.seek_frame(k);
  { r.frame_count() } -> std::convertible_to<std::int64_t>;
};

namespace detail {
template <class S>
concept has_source_tag = requires { typename S::source_concept; } && std::same_as<typename S::source_concept, source_tag>;
}  // namespace detail

/// An ordered collection of videos, each opened as a `FrameReader`.
template <class S>
concept VideoSource = detail::has_source_tag<S> && requires(const S& s, std::size_t i) {
  { s.size() } -> std::convertible_to<std::size_t>;
  { s.name(i) } -> std::convertible_to<std::string>;
  { s.open(i) } -> FrameReader;
};

namespace detail {
/// Compile-time diagnosis for the slots that take a source: names what is missing in words.
template <class S>
consteval bool require_source() {
  static_assert(has_source_tag<S>,
                "longform: the type given as a source is not a VideoSource: it does not declare "
                "`using source_concept = longform::source_tag;` (see longform/source/concepts.hpp)");
  static_assert(!has_source_tag<S> || VideoSource<S>,
                "longform: the type given as a source is not a VideoSource: it has the source_tag but lacks "
                "`size()`, `name(i)` or `open(i)` returning a FrameReader (`next()` and `info()`)");
  return VideoSource<S>;
}
}  // namespace detail

/// The reader type a source opens.
template <VideoSource S>
using reader_t = decltype(std::declval<const S&>().open(std::size_t{}));

}  // namespace longform
