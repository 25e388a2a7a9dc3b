// SPDX-License-Identifier: MIT
/// @file
/// What a `Pretrainer` tells after each step, and who hears it: `StepRecord`, the `StepObserver`
/// concept, `Observers` (the list a Pretrainer calls) and `ProgressObserver` (the progress bar on
/// stderr). The progress bar and metrics.jsonl (`MetricsFile`, train/metrics_file.hpp) are the
/// default observers; TensorBoard event files (train/tensorboard.hpp) or your own join them:
///
///     struct LossPrinter {
///       void on_step(const longform::StepRecord& r) { std::printf("%lld %g\n", static_cast<long long>(r.step), r.loss); }
///     };
///     trainer.observe(LossPrinter{});
///
/// Protocol.
/// - `on_resume(step)` (optional): once, before the first step the observer hears: the step the run
///   continues after (0 for a fresh run, k after restoring the checkpoint of step k; steps after k
///   that an earlier process reported come again, so they are to be dropped).
/// - `on_step(record)`: every step, in order, once its loss and gradient norm are read back (every
///   `sync_every` steps, the pending ones together). A step whose loss or gradient norm is not finite
///   is never reported: the run stops there with a `nonfinite_error`.
/// - `on_finish()` (optional): when a `run` call ends, returning or throwing.
/// In a data-parallel job only rank 0 calls observers (a record's loss is the mean over the ranks).
///
/// Customization: any movable type with `on_step(const StepRecord&)` is an observer; no base class.
#pragma once

#include <concepts>
#include <cstdint>
#include <functional>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

#include <longform/core/progress.hpp>
#include <longform/core/reflect.hpp>

namespace longform {

/// One training step as observers see it (and as metrics.jsonl writes it, member by member).
struct StepRecord {
  std::int64_t step = 0;            ///< the optimizer step, counted from 1
  double loss = 0;                  ///< its loss (the mean over the ranks of a data-parallel job)
  double lr = 0;                    ///< the learning rate it stepped with
  double grad_norm = 0;             ///< global L2 norm of the gradients, before clipping
  double clips_per_s = 0;           ///< clips trained on per second by all ranks, over the steps read back together
  double step_s = 0;                ///< seconds per step over those steps
  double data_wait_share = 0;       ///< share of the wall time since the first batch spent waiting for data
  double decode_amplification = 0;  ///< frames decoded per frame used (this rank)
  double elapsed_s = 0;             ///< seconds since the first batch of this `run` call
};

/// A type that hears every step: `o.on_step(record)`; `on_resume(step)` and `on_finish()` optional.
template <class O>
concept StepObserver = std::move_constructible<O> && requires(O& o, const StepRecord& r) { o.on_step(r); };

/// The observers of one run, each type erased once; calls them in the order they were added.
class Observers {
 public:
  /// Keeps `observer` (moved or copied in) and returns the kept one, which lives as long as this list.
  template <class O>
    requires StepObserver<std::remove_cvref_t<O>>
  std::remove_cvref_t<O>& add(O&& observer) {
    auto held = std::make_shared<std::remove_cvref_t<O>>(std::forward<O>(observer));
    Entry e{.on_step = [held](const StepRecord& r) { held->on_step(r); }};
    if constexpr (requires { held->on_resume(std::int64_t{}); }) e.on_resume = [held](std::int64_t step) { held->on_resume(step); };
    if constexpr (requires { held->on_finish(); }) e.on_finish = [held] { held->on_finish(); };
    entries_.push_back(std::move(e));
    return *held;
  }
  /// Calls every `on_resume(step)`.
  void resume(std::int64_t step) const {
    for (const auto& e : entries_) {
      if (e.on_resume) e.on_resume(step);
    }
  }
  /// Calls every `on_step(record)`.
  void step(const StepRecord& record) const {
    for (const auto& e : entries_) e.on_step(record);
  }
  /// Calls every `on_finish()`.
  void finish() const {
    for (const auto& e : entries_) {
      if (e.on_finish) e.on_finish();
    }
  }

 private:
  struct Entry {
    std::function<void(const StepRecord&)> on_step;
    std::function<void(std::int64_t)> on_resume;
    std::function<void()> on_finish;
  };
  std::vector<Entry> entries_;
};

/// The progress bar (core/progress.hpp) as an observer: one bar per `run` call, towards step `total`.
class ProgressObserver {
 public:
  explicit ProgressObserver(std::int64_t total) : total_(total) {}
  void on_step(const StepRecord& r) {
    // Timed from the call's first step on: the ETA follows this call's pace alone.
    if (!bar_) bar_ = std::make_unique<ProgressBar>(total_, r.step, true);
    bar_->update(r.step, r.loss, r.lr, r.clips_per_s);
  }
  /// Ends the bar's line.
  void on_finish() { bar_.reset(); }

 private:
  std::int64_t total_;
  std::unique_ptr<ProgressBar> bar_;
};

}  // namespace longform

LONGFORM_REFLECT(longform::StepRecord, step, loss, lr, grad_norm, clips_per_s, step_s, data_wait_share, decode_amplification, elapsed_s);
