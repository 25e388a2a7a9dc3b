// SPDX-License-Identifier: MIT
/// @file
/// `ClipContext`: what a sampler sees of a `VideoSource` — how many videos, their names, frame
/// counts and rates — and the one way it gets pixels, `fill(clip)`.
///
/// The context owns the source and a few open readers (least recently used are closed), and
/// decodes with forward reads whenever it can:
/// - frames ahead of a reader's position are reached by decoding forward (frames that are not
///   needed are decoded but not converted to RGB, when the reader offers `skip()`);
/// - a frame behind the position, or far ahead of it (`ContextOptions::seek_threshold`), is reached
///   by an exact seek when the reader is seekable, else by reopening the video.
/// So a sequential sampler never seeks, and several interleaved streams (`MultiStream`) each keep
/// their own reader.
///
/// A video that fails to open or decode is skipped and recorded in the telemetry
/// (`ContextOptions::skip_bad_videos`), so a long run over other people's files survives a few bad ones.
///
/// It is type-erased over the source (one virtual call per clip, nothing per frame), so samplers
/// are plain classes that work with every source. Not thread-safe: one context per producer thread.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>
#include <ATen/ops/stack.h>

#include <longform/core/clip.hpp>
#include <longform/core/error.hpp>
#include <longform/core/frame.hpp>
#include <longform/core/reflect.hpp>
#include <longform/core/telemetry.hpp>
#include <longform/source/concepts.hpp>

namespace longform {

/// What a sampler knows about one video before decoding it.
struct VideoMeta {
  std::int64_t frames = -1;  ///< exact frame count; -1 when unknown (pipes, live streams)
  double fps = 0.0;          ///< average frame rate; 0 when unknown
};

/// How a `ClipContext` decodes.
struct ContextOptions {
  /// false: `fill` checks and timestamps indices but decodes nothing (index-only sampling, e.g.
  /// `longform clips` without `--decode`). Frame counts are then still exact where the reader can tell.
  bool decode = true;
  /// Readers kept open at once (raised automatically by samplers that interleave streams).
  std::size_t max_open = 4;
  /// Seek instead of decoding forward when the next wanted frame is more than this many frames ahead.
  std::int64_t seek_threshold = 96;
  /// A video that fails to open or to decode (a `decode_error`: missing, not a video, damaged
  /// beyond the decoder's repair) is skipped: it has no frames from then on, so samplers move on,
  /// and it is recorded in the telemetry (`Telemetry::skipped`). When every video of the source has
  /// failed, the last failure propagates. false: the first failure propagates.
  bool skip_bad_videos = true;
  /// Counters to update; may be null.
  std::shared_ptr<Telemetry> telemetry;
};

namespace detail {

// The type-erased interface behind `ClipContext`.
struct context_base {
  virtual ~context_base() = default;
  [[nodiscard]] virtual std::size_t size() const = 0;
  [[nodiscard]] virtual std::string name(std::size_t video) const = 0;
  virtual VideoMeta probe(std::size_t video) = 0;
  // Presentation time of frame `frame` of `video` (in range), without decoding.
  virtual double seconds(std::size_t video, std::int64_t frame) = 0;
  // Decodes the frames `wanted` (sorted, unique) of `video` into `out`; false if the video ends first.
  // Frames from `retain_from` on (if >= 0) are kept converted for the next read of this video.
  virtual bool read(std::size_t video, const std::vector<std::int64_t>& wanted, std::vector<Frame>& out, std::int64_t retain_from) = 0;
  virtual void reserve_readers(std::size_t n) = 0;
  [[nodiscard]] virtual std::size_t readers_reserved() const = 0;
};

template <class R>
concept SkippingReader = requires(R& r) {
  { r.skip() } -> std::same_as<std::optional<std::int64_t>>;
};
// Readers that can move forward to a frame without decoding what nothing references.
template <class R>
concept ForwardSkippingReader = requires(R& r, std::int64_t k) { r.skip_to(k); };
template <class R>
concept ReaderWithStats = requires(const R& r) {
  { r.stats().frames } -> std::convertible_to<std::int64_t>;
};
template <class R>
concept ReaderWithCorruptionCount = requires(const R& r) {
  { r.stats().corrupt_packets } -> std::convertible_to<std::int64_t>;
};
// Readers that know every frame's timestamp without decoding (from a packet index).
template <class R>
concept ReaderWithTimestamps = requires(R& r) {
  { r.frame_timestamps()[0] } -> std::convertible_to<std::int64_t>;
  { r.info().time_base.value() } -> std::convertible_to<double>;
};
template <class R>
concept ReaderWithSeekableFlag = requires(const R& r) {
  { r.seekable() } -> std::convertible_to<bool>;
};

template <VideoSource Src>
class context_impl final : public context_base {
  using Reader = reader_t<Src>;

  struct Entry {
    std::size_t video = 0;
    std::optional<Reader> reader;
    std::int64_t next = 0;  // index of the frame `next()` returns
    std::uint64_t last_use = 0;
    bool ended = false;                                  // the reader hit the end of the video
    std::vector<std::pair<std::int64_t, Frame>> recent;  // (wanted index, frame) of the last clip read
  };

 public:
  context_impl(Src source, ContextOptions options) : source_(std::move(source)), options_(std::move(options)) {
    meta_.resize(source_.size());
    bad_.resize(source_.size(), false);
  }

  [[nodiscard]] std::size_t size() const override { return source_.size(); }
  [[nodiscard]] std::string name(std::size_t video) const override { return source_.name(video); }
  void reserve_readers(std::size_t n) override { options_.max_open = std::max(options_.max_open, n); }
  [[nodiscard]] std::size_t readers_reserved() const override { return options_.max_open; }

  VideoMeta probe(std::size_t video) override {
    check_index(video);
    if (meta_[video]) return *meta_[video];
    VideoMeta m;
    try {
      Entry& e = acquire(video);
      Reader& r = *e.reader;
      m.fps = r.info().fps.value();
      if constexpr (SeekableFrameReader<Reader>) {
        bool can = true;
        if constexpr (ReaderWithSeekableFlag<Reader>) can = r.seekable();
        if (can) m.frames = static_cast<std::int64_t>(r.frame_count());
      }
    } catch (const decode_error& error) {
      if (!skip(video, error)) throw;
      m = VideoMeta{.frames = 0, .fps = 0.0};
    }
    meta_[video] = m;
    return m;
  }

  double seconds(std::size_t video, std::int64_t frame) override {
    const VideoMeta m = probe(video);
    if constexpr (ReaderWithTimestamps<Reader>) {
      if (!bad_[video] && m.frames > frame) {  // the PTS, as `Frame::seconds` (variable frame rate, a first timestamp not 0)
        Reader& r = *acquire(video).reader;
        const auto& ts = r.frame_timestamps();
        if (static_cast<std::size_t>(frame) < ts.size()) {
          return static_cast<double>(ts[static_cast<std::size_t>(frame)]) * r.info().time_base.value();
        }
      }
    }
    return m.fps > 0 ? static_cast<double>(frame) / m.fps : 0.0;
  }

  bool read(std::size_t video, const std::vector<std::int64_t>& wanted, std::vector<Frame>& out, std::int64_t retain_from) override {
    check_index(video);
    if (wanted.empty()) return true;
    if (bad_[video]) return false;
    try {
      return read_frames(video, wanted, out, retain_from);
    } catch (const decode_error& error) {
      if (!skip(video, error)) throw;
      return false;
    }
  }

 private:
  // Marks `video` bad and closes its reader, if skipping is on and some video is still good.
  // false: the caller rethrows.
  bool skip(std::size_t video, const decode_error& error) {
    std::erase_if(open_, [&](const Entry& e) { return e.video == video; });
    if (!options_.skip_bad_videos || bad_[video]) return false;
    bad_[video] = true;
    meta_[video] = VideoMeta{.frames = 0, .fps = 0.0};
    if (++bad_count_ == bad_.size()) return false;
    if (auto* t = options_.telemetry.get()) t->skip(source_.name(video), error.what());
    return true;
  }

  bool read_frames(std::size_t video, const std::vector<std::int64_t>& wanted, std::vector<Frame>& out, std::int64_t retain_from) {
    Entry& e = acquire(video);
    // Frames the previous read of this video kept (overlapping clips, h < (T-1)·τ+1) come from
    // `recent`; only the rest is decoded.
    std::vector<std::int64_t> missing;
    for (auto k : wanted) {
      if (!find_recent(e, k)) missing.push_back(k);
    }
    std::vector<Frame> fresh;
    std::vector<std::pair<std::int64_t, Frame>> keep;
    if (!decode(e, missing, fresh, retain_from, keep)) {
      e.ended = true;
      return false;
    }
    std::size_t f = 0;
    for (auto k : wanted) {
      if (f < missing.size() && missing[f] == k) {
        keep.emplace_back(k, fresh[f++]);
        out.push_back(keep.back().second);
      } else {
        out.push_back(*find_recent(e, k));
        keep.emplace_back(k, out.back());
      }
    }
    if (retain_from >= 0) {  // carry over what the next clip may still need, once each
      for (auto& p : e.recent) {
        if (p.first >= retain_from && std::none_of(keep.begin(), keep.end(), [&](const auto& q) { return q.first == p.first; })) {
          keep.push_back(std::move(p));
        }
      }
      std::erase_if(keep, [&](const auto& p) { return p.first < retain_from; });
    } else {
      keep.clear();
    }
    e.recent = std::move(keep);
    return true;
  }

  static const Frame* find_recent(const Entry& e, std::int64_t k) {
    for (const auto& [index, frame] : e.recent) {
      if (index == k) return &frame;
    }
    return nullptr;
  }

  // Decodes `wanted` (sorted) forward from the reader's position (seeking when behind or far behind).
  bool decode(Entry& e, const std::vector<std::int64_t>& wanted, std::vector<Frame>& out, std::int64_t retain_from,
              std::vector<std::pair<std::int64_t, Frame>>& keep) {
    if (wanted.empty()) return true;
    const std::int64_t decoded_before = decoded(e), corrupt_before = corrupt(e);
    std::int64_t stepped = 0;  // frames advanced, for readers without stats
    const auto first = wanted.front();
    if (e.next > first || first - e.next > options_.seek_threshold) reposition(e, first);
    bool complete = true;
    for (std::size_t k = 0; k < wanted.size();) {
      if (e.next < wanted[k]) {  // not wanted: decode without converting, when the reader can
        std::optional<std::int64_t> skipped;
        if (retain_from >= 0 && e.next >= retain_from) {  // wanted by the next clip: convert and keep
          auto f = e.reader->next();
          if (f) {
            skipped = f->index;
            keep.emplace_back(f->index, std::move(*f));
          }
        } else if constexpr (ForwardSkippingReader<Reader> && ReaderWithStats<Reader>) {
          // Jump to the wanted frame (or to the first one the next clip keeps), dropping the
          // non-reference frames in between undecoded.
          const std::int64_t to = retain_from > e.next ? std::min(wanted[k], retain_from) : wanted[k];
          e.reader->skip_to(to);
          e.next = to;
          continue;
        } else if constexpr (SkippingReader<Reader>) {
          skipped = e.reader->skip();
        } else {
          auto f = e.reader->next();
          if (f) skipped = f->index;
        }
        if (!skipped) {
          complete = false;
          break;
        }
        ++stepped;
        e.next = *skipped + 1;
        continue;
      }
      auto f = e.reader->next();
      if (!f) {
        complete = false;
        break;
      }
      ++stepped;
      e.next = f->index + 1;
      // A frame the stream lacks (a gap in a damaged file) is replaced by the next one; the clip's
      // `frames` then record what was really decoded.
      while (k < wanted.size() && wanted[k] <= f->index) {
        out.push_back(*f);
        ++k;
      }
    }
    if (auto* t = options_.telemetry.get()) {
      if constexpr (ReaderWithStats<Reader>) {
        t->frames_decoded += decoded(e) - decoded_before;
      } else {
        t->frames_decoded += stepped;
      }
      t->corrupt_packets += corrupt(e) - corrupt_before;
    }
    return complete;
  }

  void check_index(std::size_t video) const {
    if (video >= source_.size()) {
      throw config_error("ClipContext: video " + std::to_string(video) + " requested, source has " + std::to_string(source_.size()));
    }
  }

  std::int64_t decoded(const Entry& e) const {
    if constexpr (ReaderWithStats<Reader>)
      return static_cast<std::int64_t>(e.reader->stats().frames);
    else
      return 0;
  }

  std::int64_t corrupt(const Entry& e) const {
    if constexpr (ReaderWithCorruptionCount<Reader>)
      return static_cast<std::int64_t>(e.reader->stats().corrupt_packets);
    else
      return 0;
  }

  bool can_seek(Entry& e) {
    if constexpr (SeekableFrameReader<Reader>) {
      if constexpr (ReaderWithSeekableFlag<Reader>)
        return e.reader->seekable();
      else
        return true;
    } else {
      return false;
    }
  }

  // Makes `e.next == target`, or puts it before `target` so that forward decoding reaches it.
  void reposition(Entry& e, std::int64_t target) {
    if (can_seek(e)) {
      if constexpr (SeekableFrameReader<Reader>) {
        const auto n = static_cast<std::int64_t>(e.reader->frame_count());
        if (target >= n) {  // past the end: leave it to the forward read to report the short video
          if (e.next <= target) return;
          target = n - 1;
        }
        e.reader->seek_frame(target);
        e.next = target;
        e.ended = false;
        if (auto* t = options_.telemetry.get()) ++t->seeks;
      }
    } else if (e.next > target) {  // cannot seek back: start the video again
      e.reader.reset();
      e.reader.emplace(source_.open(e.video));
      e.next = 0;
      e.ended = false;
      if (auto* t = options_.telemetry.get()) ++t->opens;
    }
  }

  Entry& acquire(std::size_t video) {
    ++clock_;
    for (auto& e : open_) {
      if (e.video == video) {
        e.last_use = clock_;
        return e;
      }
    }
    if (open_.size() >= std::max<std::size_t>(1, options_.max_open)) {
      // Close a reader that reached its end first (interleaved streams move on from those), else the LRU.
      auto lru = std::min_element(open_.begin(), open_.end(),
                                  [](const Entry& a, const Entry& b) { return a.ended != b.ended ? a.ended : a.last_use < b.last_use; });
      open_.erase(lru);
    }
    Entry e;
    e.video = video;
    e.reader.emplace(source_.open(video));
    e.last_use = clock_;
    if (auto* t = options_.telemetry.get()) ++t->opens;
    open_.push_back(std::move(e));
    return open_.back();
  }

  Src source_;
  ContextOptions options_;
  std::vector<std::optional<VideoMeta>> meta_;
  std::vector<bool> bad_;  // skipped videos (skip_bad_videos)
  std::size_t bad_count_ = 0;
  std::vector<Entry> open_;
  std::uint64_t clock_ = 0;
};

}  // namespace detail

/// A sampler's view of a `VideoSource` (see the file comment).
class ClipContext {
 public:
  /// Takes `source` (sources are cheap handles: paths and options).
  template <VideoSource Src>
  explicit ClipContext(Src source, ContextOptions options = {}) : decode_(options.decode), telemetry_(options.telemetry) {
    impl_ = std::make_unique<detail::context_impl<Src>>(std::move(source), std::move(options));
  }

  /// Number of videos in the source.
  [[nodiscard]] std::size_t size() const { return impl_->size(); }
  /// The source's name for video `video`.
  [[nodiscard]] std::string name(std::size_t video) const { return impl_->name(video); }
  /// Frame count and rate of `video` (opens it on first use; exact counts come from the reader).
  [[nodiscard]] VideoMeta meta(std::size_t video) { return impl_->probe(video); }
  /// Whether `fill` decodes pixels.
  [[nodiscard]] bool decoding() const noexcept { return decode_; }
  /// Keeps at least `n` readers open (for samplers that interleave `n` videos).
  void reserve_readers(std::size_t n) { impl_->reserve_readers(n); }
  /// How many readers this context keeps open at once.
  [[nodiscard]] std::size_t readers_reserved() const { return impl_->readers_reserved(); }
  /// The counters this context updates, or null.
  [[nodiscard]] const std::shared_ptr<Telemetry>& telemetry() const noexcept { return telemetry_; }

  /// Completes `clip` from `clip.video` and `clip.frames` (any order, repeats allowed): sets `name`,
  /// `seconds` and, when decoding, `data` (`uint8 [C, T, H, W]`).
  /// `retain_from` (optional) is a promise: the next clip of this video starts at that frame, so
  /// frames from there on are kept decoded and overlapping clips never seek back.
  /// @returns false, leaving `data` undefined, if the video ends before the clip's last frame.
  /// @throws config_error in index-only mode when the video's frame count is unknown.
  /// @throws decode_error (naming the video) when decoding fails and the video is not skipped
  ///   (`ContextOptions::skip_bad_videos` off, or every video of the source failed).
  bool fill(Clip& clip, std::int64_t retain_from = -1) {
    if (clip.frames.empty()) throw config_error("ClipContext::fill: clip of " + name(clip.video) + " has no frames");
    clip.name = name(clip.video);
    std::vector<std::int64_t> wanted = clip.frames;
    std::sort(wanted.begin(), wanted.end());
    wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
    if (wanted.front() < 0) throw config_error("ClipContext::fill: negative frame index in a clip of " + clip.name);
    if (!decode_) {
      const VideoMeta m = meta(clip.video);
      if (m.frames < 0) {
        throw config_error(clip.name + ": frame count unknown (not seekable); index-only sampling needs it, decode instead");
      }
      if (wanted.back() >= m.frames) return false;
      clip.seconds.clear();
      for (auto f : clip.frames) clip.seconds.push_back(impl_->seconds(clip.video, f));
      count(clip);
      return true;
    }
    std::vector<Frame> decoded;
    decoded.reserve(wanted.size());
    if (!impl_->read(clip.video, wanted, decoded, retain_from) || decoded.size() != wanted.size()) {
      clip.data = at::Tensor();
      return false;
    }
    std::vector<at::Tensor> pictures;
    pictures.reserve(clip.frames.size());
    clip.seconds.clear();
    for (auto& f : clip.frames) {
      const auto k = static_cast<std::size_t>(std::lower_bound(wanted.begin(), wanted.end(), f) - wanted.begin());
      const Frame& frame = decoded[k];
      pictures.push_back(frame.rgb);
      clip.seconds.push_back(frame.seconds);
      f = frame.index;
    }
    clip.data = at::stack(pictures).permute({3, 0, 1, 2});  // [T,H,W,C] -> [C,T,H,W], no copy
    count(clip);
    return true;
  }

 private:
  void count(const Clip& clip) {
    if (auto* t = telemetry_.get()) {
      ++t->clips;
      t->frames_used += static_cast<std::int64_t>(clip.frames.size());
    }
  }

  bool decode_;
  std::shared_ptr<Telemetry> telemetry_;
  std::unique_ptr<detail::context_base> impl_;
};

}  // namespace longform

LONGFORM_REFLECT(longform::ContextOptions, decode, max_open, seek_threshold, skip_bad_videos);
