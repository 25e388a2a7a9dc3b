// SPDX-License-Identifier: MIT
/// @file
/// Decode workers behind `views::sample` (`SampleOptions::workers`): the sampler runs on the
/// calling thread in index-only mode (its clips' frame indices need frame counts, not pixels), and
/// W threads, each with its own `ClipContext` and readers, decode the clips. Clips come out in the
/// sampler's order, with the same frames, bytes and `resume` states as one decoding thread gives.
///
/// - Chunks: consecutive clips are grouped into chunks of about `chunk_frames` frames of span, and
///   a worker that is free takes the oldest chunk nobody has taken (so a worker slowed by a seek or
///   a hard stretch of video never holds up the others). Inside a chunk a worker reads forward
///   (overlapping clips keep their shared frames); between its chunks it moves by an exact seek
///   (`VideoReader`: from the keyframe before, bit for bit). So one long video is decoded in W
///   segments at once.
/// - Each worker runs its own copy of the `prepare` transform (deterministic: resize, crop,
///   standardize) on the clips it decodes, on its own thread (pipeline/detail/prepare.hpp).
/// - Memory: at most 2·W chunks of clips are sampled ahead of the consumer, decoded or being decoded.
/// - A clip the index promised but the video ended before (a damaged file) is dropped, as the
///   sampler drops such a clip itself when one thread decodes.
/// - An error (a video that fails when it cannot be skipped) reaches the consumer in order.
#pragma once

#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include <longform/core/clip.hpp>
#include <longform/core/telemetry.hpp>
#include <longform/pipeline/detail/prepare.hpp>
#include <longform/sampler/context.hpp>

namespace longform::detail {

template <class Src, class Sampler, class Prepare>
class decode_workers {
 public:
  decode_workers(const Src& source, Sampler sampler, const Prepare& prepare, ContextOptions options, bool record_state, int workers,
                 std::int64_t chunk_frames)
      : index_(source, index_options(options)),
        sampler_(std::move(sampler)),
        telemetry_(options.telemetry),
        record_(record_state),
        chunk_frames_(chunk_frames) {
    options.decode = true;
    for (int w = 0; w < workers; ++w) workers_.push_back(std::make_unique<worker>(source, options, prepare));
    for (auto& w : workers_) w->thread = std::thread([this, p = w.get()] { run(*p); });
  }
  decode_workers(const decode_workers&) = delete;
  decode_workers& operator=(const decode_workers&) = delete;
  ~decode_workers() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    work_.notify_all();
    for (auto& w : workers_) w->thread.join();
  }

  /// The next clip in the sampler's order, decoded; `std::nullopt` after the last.
  std::optional<Clip> next() {
    for (;;) {
      top_up();
      std::unique_lock lock(mutex_);
      if (delivered_ == sampled_) return std::nullopt;
      done_.wait(lock, [&] { return results_.count(delivered_) > 0; });
      auto node = results_.extract(delivered_++);
      chunk_of_.pop_front();
      lock.unlock();
      work_.notify_all();  // room in the window
      result& r = node.mapped();
      if (r.error) std::rethrow_exception(r.error);
      if (r.clip) return std::move(r.clip);
    }
  }

 private:
  struct job {
    std::int64_t seq = 0;
    Clip clip;                      // video and frames from the sampler; `resume` set
    std::int64_t retain_from = -1;  // the next clip of this worker starts there, in the same video
    std::size_t readers = 4;
  };
  struct result {
    std::optional<Clip> clip;  // empty: the video ended before the clip's last frame
    std::exception_ptr error;
  };
  struct chunk {
    std::deque<job> jobs;  // sampled, not yet taken by its worker
    bool taken = false;    // a worker decodes this chunk
    bool closed = false;   // the sampler has moved on to the next chunk
  };
  struct worker {
    worker(const Src& source, const ContextOptions& options, const Prepare& p) : ctx(source, options), prepare(p) {}
    ClipContext ctx;
    Prepare prepare;
    std::thread thread;
  };

  // The sampler's context counts nothing: workers count what they decode; its skipped videos are
  // passed on to the pipeline's telemetry.
  ContextOptions index_options(ContextOptions options) {
    options.decode = false;
    options.telemetry = index_telemetry_;
    return options;
  }

  // Samples ahead until 2·W chunks are in flight; the newest clip waits for its successor, which
  // tells whether the worker should keep its frames (`retain_from`).
  void top_up() {
    const auto window = static_cast<std::int64_t>(2 * workers_.size());
    for (;;) {
      {
        std::lock_guard lock(mutex_);
        if (finished_ || (!chunk_of_.empty() && chunk_ - chunk_of_.front() >= window)) return;
      }
      std::optional<Clip> clip = sampler_.next(index_);
      forward_skips();
      if (!clip) {
        finished_ = true;
        if (held_) enqueue(std::move(*held_), -1);
        held_.reset();
        close_chunk();
        return;
      }
      if (record_) clip->resume = sampler_.state();
      const auto [lo, hi] = std::minmax_element(clip->frames.begin(), clip->frames.end());
      const std::int64_t span = *hi - *lo + 1;
      if (held_) {
        const bool same_chunk = chunk_span_ + span <= chunk_frames_;
        const bool keep = same_chunk && held_->video == clip->video;
        enqueue(std::move(*held_), keep ? *lo : -1);
        if (!same_chunk) {
          close_chunk();
          chunk_span_ = 0;
        }
      }
      chunk_span_ += span;
      held_ = std::move(clip);
    }
  }

  void enqueue(Clip clip, std::int64_t retain_from) {
    std::lock_guard lock(mutex_);
    job j{sampled_++, std::move(clip), retain_from, index_.readers_reserved()};
    chunk_of_.push_back(chunk_);
    chunks_[chunk_].jobs.push_back(std::move(j));
    work_.notify_all();
  }

  void close_chunk() {
    std::lock_guard lock(mutex_);
    if (auto c = chunks_.find(chunk_); c != chunks_.end()) c->second.closed = true;
    ++chunk_;
    work_.notify_all();
  }

  void forward_skips() {
    if (!telemetry_) return;
    for (auto& s : index_telemetry_->skipped(skips_forwarded_)) {
      telemetry_->skip(std::move(s.video), std::move(s.error));
      ++skips_forwarded_;
    }
  }

  // The next job of the chunk this worker decodes; once that chunk is closed and done, the oldest
  // chunk nobody has taken. Empty when the workers stop.
  std::optional<job> next_job(std::optional<std::int64_t>& mine) {
    std::unique_lock lock(mutex_);
    for (;;) {
      if (stop_) return std::nullopt;
      if (mine) {
        chunk& c = chunks_.at(*mine);
        if (!c.jobs.empty()) {
          job j = std::move(c.jobs.front());
          c.jobs.pop_front();
          return j;
        }
        if (c.closed) {
          chunks_.erase(*mine);
          mine.reset();
          continue;
        }
      } else if (auto c = std::find_if(chunks_.begin(), chunks_.end(), [](const auto& kv) { return !kv.second.taken; }); c != chunks_.end()) {
        c->second.taken = true;
        mine = c->first;
        continue;
      }
      work_.wait(lock);
    }
  }

  void run(worker& w) {
    std::optional<std::int64_t> mine;  // the chunk this worker decodes
    for (;;) {
      std::optional<job> next = next_job(mine);
      if (!next) return;
      job& j = *next;
      result r;
      try {
        w.ctx.reserve_readers(j.readers);
        if (w.ctx.fill(j.clip, j.retain_from)) r.clip = prepared(w.prepare, std::move(j.clip));
      } catch (...) {
        r.error = std::current_exception();
      }
      std::lock_guard lock(mutex_);
      results_.emplace(j.seq, std::move(r));
      done_.notify_all();
    }
  }

  std::shared_ptr<Telemetry> index_telemetry_ = std::make_shared<Telemetry>();
  ClipContext index_;  // the sampler's, index-only
  Sampler sampler_;
  std::shared_ptr<Telemetry> telemetry_;
  bool record_;
  std::int64_t chunk_frames_;
  std::size_t skips_forwarded_ = 0;
  std::optional<Clip> held_;  // sampled, waiting for its successor
  std::int64_t chunk_span_ = 0;
  bool finished_ = false;  // the sampler has no more clips

  std::mutex mutex_;  // guards what follows
  std::condition_variable work_, done_;
  std::int64_t sampled_ = 0, delivered_ = 0, chunk_ = 0;
  std::deque<std::int64_t> chunk_of_;     // chunk of each clip sampled and not yet delivered
  std::map<std::int64_t, chunk> chunks_;  // chunks not yet done, by number
  std::map<std::int64_t, result> results_;
  bool stop_ = false;
  std::vector<std::unique_ptr<worker>> workers_;  // last: their threads stop before the rest goes
};

}  // namespace longform::detail
