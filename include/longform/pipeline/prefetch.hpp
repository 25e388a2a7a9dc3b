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
/// - Device: with a CUDA `device` the producer thread runs on a side stream of that device, so the
///   uploads (`ToDevice`: pinned memory, `non_blocking`) and GPU transforms upstream overlap the
///   consumer's compute. Each element carries an event recorded after it was made; handing it out
///   makes the consumer's current stream wait for that event (on the GPU, not the host) and marks
///   its tensors as used there (`record_stream`), so the caching allocator never recycles them
///   while the consumer's kernels still read them. Device-generic (`c10::Stream`, `c10::Event`):
///   no CUDA header is needed, and a CPU device changes nothing.
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
#include <type_traits>
#include <utility>

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <c10/core/Event.h>
#include <c10/core/Stream.h>
#include <c10/core/StreamGuard.h>
#include <c10/core/impl/DeviceGuardImplInterface.h>
#include <range/v3/functional/bind_back.hpp>
#include <range/v3/view/all.hpp>
#include <range/v3/view/view.hpp>

#include <longform/core/error.hpp>
#include <longform/core/telemetry.hpp>
#include <longform/pipeline/detail/generator.hpp>

namespace longform::detail {

// The tensors of a prefetched element (a tensor, or anything with a tensor `data`: `Clip`,
// `ClipBatch`) are marked as used on the consumer's stream.
template <class T>
void record_on(T& x, const c10::Stream& stream) {
  if constexpr (std::is_same_v<T, at::Tensor>) {
    if (x.defined() && x.device() == stream.device()) x.record_stream(stream);
  } else if constexpr (requires { x.data; } && std::is_same_v<std::remove_cvref_t<decltype(x.data)>, at::Tensor>) {
    record_on(x.data, stream);
  }
}

// The producer thread and its bounded queue. Destroying it stops and joins the thread.
template <class T, class Pull>
class prefetcher {
 public:
  prefetcher(Pull pull, std::size_t depth, std::shared_ptr<Telemetry> telemetry, c10::Device device)
      : pull_(std::move(pull)), depth_(depth), telemetry_(std::move(telemetry)) {
    if (device.type() != c10::DeviceType::CPU) {
      const auto* impl = c10::impl::getDeviceGuardImpl(device.type());
      if (!device.has_index()) device = c10::Device(device.type(), impl->getDevice().index());
      side_ = impl->getStreamFromGlobalPool(device);
    }
  }
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
      auto [value, ready] = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      space_.notify_one();
      if (ready) {
        const c10::Stream consumer = c10::impl::getDeviceGuardImpl(side_->device_type())->getStream(side_->device());
        ready->block(consumer);
        record_on(value, consumer);
      }
      if (auto* t = telemetry_.get()) ++t->produced;
      return std::optional<T>(std::move(value));
    }
    if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
    return std::nullopt;
  }

 private:
  void run() {
    try {
      std::optional<c10::StreamGuard> on_side;  // the producer's work goes to the side stream
      if (side_) on_side.emplace(*side_);
      for (;;) {
        {
          std::unique_lock lock(mutex_);
          space_.wait(lock, [&] { return stop_ || queue_.size() < depth_; });
          if (stop_) break;
        }
        auto x = pull_();  // the expensive part, outside the lock
        std::optional<c10::Event> ready;
        if (x && side_) {
          ready.emplace(side_->device_type());
          ready->record(*side_);
        }
        std::lock_guard lock(mutex_);
        if (!x || stop_) break;
        queue_.emplace_back(std::move(*x), std::move(ready));
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
  std::optional<c10::Stream> side_;  // CUDA: the producer's stream
  std::deque<std::pair<T, std::optional<c10::Event>>> queue_;
  std::exception_ptr error_;
  bool done_ = false, stop_ = false;
  std::thread thread_;  // last: joined before the members it uses are destroyed
};

}  // namespace longform::detail

namespace longform::views {

struct prefetch_fn {
  template <ranges::viewable_range Rng>
  auto operator()(Rng&& rng, std::size_t depth, std::shared_ptr<Telemetry> telemetry = nullptr, c10::Device device = c10::kCPU) const {
    if (depth == 0) throw config_error("views::prefetch: depth must be at least 1");
    using T = ranges::range_value_t<Rng>;
    using Pull = longform::detail::puller<ranges::views::all_t<Rng>>;
    auto p = std::make_shared<longform::detail::prefetcher<T, Pull>>(Pull(ranges::views::all(std::forward<Rng>(rng))), depth, std::move(telemetry),
                                                                     device);
    return longform::detail::generator_view<T>([p]() { return p->next(); });
  }
  auto operator()(std::size_t depth, std::shared_ptr<Telemetry> telemetry = nullptr, c10::Device device = c10::kCPU) const {
    return ranges::make_view_closure(ranges::bind_back(prefetch_fn{}, depth, std::move(telemetry), device));
  }
};

/// `rng | views::prefetch(N)`: upstream runs on a background thread, N elements ahead;
/// `views::prefetch(N, telemetry, at::kCUDA)`: ... on a side CUDA stream (file comment).
inline constexpr prefetch_fn prefetch{};

}  // namespace longform::views
