// SPDX-License-Identifier: MIT
/// @file
/// `views::prefetch(N)`: runs everything upstream — decoding, sampling, transforms, batching — on a
/// background thread, up to N elements ahead of the consumer.
///
/// - Bounded: at most N finished elements wait in the queue, so memory stays at N elements.
/// - Errors: an exception thrown upstream (a `decode_error` naming the video, a `c10::Error`, …) is
///   caught on the producer thread and rethrown to the consumer, in order: the elements produced
///   before it are delivered first.
/// - Early stop: when the last copy of the view is destroyed (the consumer broke out of its loop),
///   the producer is told to stop and joined. It finishes at most the element it is computing, so
///   shutdown takes at most one element's time and never hangs on a full queue.
/// - Telemetry: time the consumer spent waiting (`Telemetry::wait_ns`) and elements handed out.
///
/// NOTE: the producer starts when the first element is requested, not when the view is built.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include <range/v3/functional/bind_back.hpp>
#include <range/v3/view/all.hpp>
#include <range/v3/view/view.hpp>

#include <longform/core/error.hpp>
#include <longform/core/telemetry.hpp>
#include <longform/pipeline/detail/generator.hpp>

namespace longform::detail {

// The producer thread and its bounded queue. Destroying it stops and joins the thread.
template <class T, class Pull>
class prefetcher {
 public:
  prefetcher(Pull pull, std::size_t depth, std::shared_ptr<Telemetry> telemetry)
      : pull_(std::move(pull)), depth_(depth), telemetry_(std::move(telemetry)) {}
  prefetcher(const prefetcher&) = delete;
  prefetcher& operator=(const prefetcher&) = delete;
  ~prefetcher() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    space_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  std::optional<T> next() {
    std::unique_lock lock(mutex_);
    if (!thread_.joinable() && !done_) thread_ = std::thread([this] { run(); });
    const auto start = std::chrono::steady_clock::now();
    ready_.wait(lock, [&] { return !queue_.empty() || done_; });
    if (auto* t = telemetry_.get()) {
      t->wait_ns += std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start).count();
    }
    if (!queue_.empty()) {
      std::optional<T> out(std::move(queue_.front()));
      queue_.pop_front();
      lock.unlock();
      space_.notify_one();
      if (auto* t = telemetry_.get()) ++t->produced;
      return out;
    }
    if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
    return std::nullopt;
  }

 private:
  void run() {
    try {
      for (;;) {
        {
          std::unique_lock lock(mutex_);
          space_.wait(lock, [&] { return stop_ || queue_.size() < depth_; });
          if (stop_) break;
        }
        auto x = pull_();  // the expensive part, outside the lock
        std::lock_guard lock(mutex_);
        if (!x || stop_) break;
        queue_.push_back(std::move(*x));
        ready_.notify_one();
      }
    } catch (...) {
      std::lock_guard lock(mutex_);
      error_ = std::current_exception();
    }
    std::lock_guard lock(mutex_);
    done_ = true;
    ready_.notify_all();
  }

  Pull pull_;
  std::size_t depth_;
  std::shared_ptr<Telemetry> telemetry_;
  std::mutex mutex_;
  std::condition_variable ready_, space_;
  std::deque<T> queue_;
  std::exception_ptr error_;
  bool done_ = false, stop_ = false;
  std::thread thread_;  // last: joined before the members it uses are destroyed
};

}  // namespace longform::detail

namespace longform::views {

struct prefetch_fn {
  template <ranges::viewable_range Rng>
  auto operator()(Rng&& rng, std::size_t depth, std::shared_ptr<Telemetry> telemetry = nullptr) const {
    if (depth == 0) throw config_error("views::prefetch: depth must be at least 1");
    using T = ranges::range_value_t<Rng>;
    using Pull = longform::detail::puller<ranges::views::all_t<Rng>>;
    auto p = std::make_shared<longform::detail::prefetcher<T, Pull>>(Pull(ranges::views::all(std::forward<Rng>(rng))), depth, std::move(telemetry));
    return longform::detail::generator_view<T>([p]() { return p->next(); });
  }
  auto operator()(std::size_t depth, std::shared_ptr<Telemetry> telemetry = nullptr) const {
    return ranges::make_view_closure(ranges::bind_back(prefetch_fn{}, depth, std::move(telemetry)));
  }
};

/// `rng | views::prefetch(N)`: upstream runs on a background thread, N elements ahead.
inline constexpr prefetch_fn prefetch{};

}  // namespace longform::views
