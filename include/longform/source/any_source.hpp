// SPDX-License-Identifier: MIT
/// @file
/// `AnySource`: one `VideoSource` type for any source (files, AVA movies, streams, synthetic
/// videos), and `AnyReader`, the `SeekableFrameReader` it opens. A program that picks its source at
/// run time instantiates its pipeline or `Pretrainer` once instead of once per source type; one
/// virtual call per frame is nothing next to decoding it.
///
///     longform::AnySource source = use_ava ? longform::AnySource(longform::AvaVideos(list, root))
///                                          : longform::AnySource(longform::VideoList::from_path(dir));
///
/// Every optional ability of the wrapped reader survives (`skip_to`, `seek_frame`, `stats()`, frame
/// timestamps, `seekable()`), and the source's `forward_only()`; readers without one get the plain
/// equivalent (`skip_to` by skipping, `stats()` counting the frames returned).
///
/// Customization: none; wrap any `VideoSource`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <longform/core/error.hpp>
#include <longform/io/video_reader.hpp>
#include <longform/sampler/context.hpp>
#include <longform/source/concepts.hpp>

namespace longform {

/// A type-erased `FrameReader` that keeps the seek and skip abilities of the reader it wraps.
class AnyReader {
 public:
  /// Wraps `reader`.
  template <FrameReader R>
  explicit AnyReader(R reader) : impl_(std::make_unique<model<R>>(std::move(reader))) {}

  /// The next frame, or `std::nullopt` at the end.
  std::optional<Frame> next() { return impl_->next(); }
  /// The wrapped reader's `info()`.
  [[nodiscard]] const VideoInfo& info() const { return impl_->info(); }
  /// Passes the next frame without converting it (the wrapped reader's `skip()`, else `next()`);
  /// its index, or `std::nullopt` at the end.
  std::optional<std::int64_t> skip() { return impl_->skip(); }
  /// The wrapped reader's `skip_to` (non-reference frames before `k` are not decoded, keyframes
  /// past are sought), else `skip()` up to `k`: wrapped or not, a source decodes the same frames.
  void skip_to(std::int64_t k) { impl_->skip_to(k); }
  /// The wrapped reader's `seek_frame`. @throws decode_error when it cannot seek.
  void seek_frame(std::int64_t k) { impl_->seek_frame(k); }
  /// The wrapped reader's frame timestamps (from its index), or none for readers without.
  [[nodiscard]] const std::vector<std::int64_t>& frame_timestamps() { return impl_->frame_timestamps(); }
  /// The wrapped reader's `frame_count()`, or -1 for a reader that cannot seek.
  [[nodiscard]] std::int64_t frame_count() const { return impl_->frame_count(); }
  /// Whether `seek_frame` works: the wrapped reader's `seekable()`, else whether it can seek at all.
  [[nodiscard]] bool seekable() const { return impl_->seekable(); }
  /// The wrapped reader's `stats()`; for readers without, the frames it returned.
  [[nodiscard]] ReaderStats stats() const { return impl_->stats(); }

 private:
  struct base {
    virtual ~base() = default;
    virtual std::optional<Frame> next() = 0;
    [[nodiscard]] virtual const VideoInfo& info() const = 0;
    virtual std::optional<std::int64_t> skip() = 0;
    virtual void skip_to(std::int64_t) = 0;
    virtual void seek_frame(std::int64_t) = 0;
    virtual const std::vector<std::int64_t>& frame_timestamps() = 0;
    [[nodiscard]] virtual std::int64_t frame_count() const = 0;
    [[nodiscard]] virtual bool seekable() const = 0;
    [[nodiscard]] virtual ReaderStats stats() const = 0;
  };
  template <class R>
  struct model final : base {
    explicit model(R r) : reader(std::move(r)) {}
    std::optional<Frame> next() override {
      auto f = reader.next();
      frames += f.has_value();
      if (f) position = f->index + 1;
      return f;
    }
    [[nodiscard]] const VideoInfo& info() const override { return reader.info(); }
    std::optional<std::int64_t> skip() override {
      if constexpr (detail::SkippingReader<R>) {
        auto i = reader.skip();
        if (i) position = *i + 1;
        return i;
      } else {
        auto f = next();
        return f ? std::optional<std::int64_t>(f->index) : std::nullopt;
      }
    }
    void skip_to(std::int64_t k) override {
      if constexpr (detail::ForwardSkippingReader<R>) {
        reader.skip_to(k);
      } else {
        while (position < k && skip()) {
        }
      }
    }
    const std::vector<std::int64_t>& frame_timestamps() override {
      if constexpr (detail::ReaderWithTimestamps<R>)
        return reader.frame_timestamps();
      else
        return no_timestamps;
    }
    void seek_frame(std::int64_t k) override {
      if constexpr (SeekableFrameReader<R>) {
        reader.seek_frame(k);
        position = k;
      } else
        throw decode_error(reader.info().path, "seek to frame " + std::to_string(k), "the reader cannot seek");
    }
    [[nodiscard]] std::int64_t frame_count() const override {
      if constexpr (SeekableFrameReader<R>)
        return static_cast<std::int64_t>(reader.frame_count());
      else
        return -1;
    }
    [[nodiscard]] bool seekable() const override {
      if constexpr (detail::ReaderWithSeekableFlag<R>)
        return reader.seekable();
      else
        return SeekableFrameReader<R>;
    }
    [[nodiscard]] ReaderStats stats() const override {
      if constexpr (detail::ReaderWithStats<R>)
        return reader.stats();
      else
        return {.frames = frames};
    }
    mutable R reader;           // some readers count frames lazily (a non-const frame_count)
    std::int64_t frames = 0;    // frames returned, for readers without stats
    std::int64_t position = 0;  // index of the frame `next()` returns, for readers without `skip_to`
    const std::vector<std::int64_t> no_timestamps;
  };
  std::unique_ptr<base> impl_;
};

/// A type-erased `VideoSource` (copies share the wrapped source, which is immutable).
class AnySource {
 public:
  using source_concept = source_tag;

  /// Wraps `source`.
  template <VideoSource S>
  explicit AnySource(S source) : impl_(std::make_shared<model<S>>(std::move(source))) {}

  /// The wrapped source's `size()`, `name(i)` and `open(i)` (its reader, wrapped).
  [[nodiscard]] std::size_t size() const { return impl_->size(); }
  [[nodiscard]] std::string name(std::size_t i) const { return impl_->name(i); }
  [[nodiscard]] AnyReader open(std::size_t i) const { return impl_->open(i); }
  /// Whether the wrapped source is read forward only (a `Stream`): decoded by one reader.
  [[nodiscard]] bool forward_only() const { return impl_->forward_only(); }

 private:
  struct base {
    virtual ~base() = default;
    [[nodiscard]] virtual bool forward_only() const = 0;
    [[nodiscard]] virtual std::size_t size() const = 0;
    [[nodiscard]] virtual std::string name(std::size_t) const = 0;
    [[nodiscard]] virtual AnyReader open(std::size_t) const = 0;
  };
  template <class S>
  struct model final : base {
    explicit model(S s) : source(std::move(s)) {}
    [[nodiscard]] bool forward_only() const override {
      if constexpr (requires { source.forward_only(); })
        return source.forward_only();
      else
        return false;
    }
    [[nodiscard]] std::size_t size() const override { return source.size(); }
    [[nodiscard]] std::string name(std::size_t i) const override { return source.name(i); }
    [[nodiscard]] AnyReader open(std::size_t i) const override { return AnyReader(source.open(i)); }
    S source;
  };
  std::shared_ptr<const base> impl_;
};

static_assert(VideoSource<AnySource>);
static_assert(SeekableFrameReader<AnyReader>);

}  // namespace longform
