// SPDX-License-Identifier: MIT
/// @file
/// `ProgressBar`: the step, loss, learning rate, clips/s and ETA of a training run on stderr. On a
/// terminal, one self-rewriting line; otherwise (nohup, SLURM, CI logs) a plain line every
/// `LONGFORM_PROGRESS_SECONDS` seconds (default 30) and at the last step, so a log shows the run
/// is alive without filling up. No dependency beyond the C library.
///
///     [##########..........]  500/1000  loss 0.4213  lr 1.2e-04  86.1 clips/s  ETA 00:05:48
///     longform: 500/1000  loss 0.4213  lr 1.2e-04  86.1 clips/s  elapsed 00:05:40  ETA 00:05:48
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include <unistd.h>

namespace longform {

/// Progress of steps `start+1 .. total`; a no-op unless enabled.
class ProgressBar {
 public:
  ProgressBar(std::int64_t total, std::int64_t start, bool enabled)
      : total_(total),
        start_(start),
        enabled_(enabled),
        terminal_(::isatty(STDERR_FILENO) == 1),
        began_(clock::now()),
        plain_every_(plain_interval()),
        plain_at_(began_) {}
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;
  ~ProgressBar() { finish(); }

  /// Whether anything is drawn.
  [[nodiscard]] bool enabled() const noexcept { return enabled_; }

  /// Redraws after step `step` (at most 10 times a second, and always at the last step).
  void update(std::int64_t step, double loss, double lr, double clips_per_s) {
    if (!enabled_) return;
    char detail[96];
    std::snprintf(detail, sizeof detail, "loss %.4f  lr %.1e  %.1f clips/s", loss, lr, clips_per_s);
    update(step, detail);
  }

  /// Redraws after step `step` with `detail` between the count and the ETA (e.g. "extracting features").
  void update(std::int64_t step, const char* detail) {
    if (!enabled_) return;
    const auto now = clock::now();
    if (!terminal_) {
      if (step < total_ && now - plain_at_ < plain_every_) return;
      plain_at_ = now;
      const auto elapsed = static_cast<long long>(std::chrono::duration<double>(now - began_).count());
      const auto eta = static_cast<long long>(eta_seconds(step, now));
      std::fprintf(stderr, "longform: %lld/%lld  %s  elapsed %02lld:%02lld:%02lld  ETA %02lld:%02lld:%02lld\n", static_cast<long long>(step),
                   static_cast<long long>(total_), detail, elapsed / 3600, elapsed / 60 % 60, elapsed % 60, eta / 3600, eta / 60 % 60, eta % 60);
      std::fflush(stderr);
      return;
    }
    if (step < total_ && now - drawn_ < std::chrono::milliseconds(100)) return;
    drawn_ = now;
    constexpr int width = 20;
    const double done = total_ > 0 ? static_cast<double>(step) / static_cast<double>(total_) : 1.0;
    char bar[width + 1];
    const int filled = std::clamp(static_cast<int>(done * width), 0, width);
    for (int i = 0; i < width; ++i) bar[i] = i < filled ? '#' : '.';
    bar[width] = '\0';
    const auto s = static_cast<long long>(eta_seconds(step, now));
    std::fprintf(stderr, "\r[%s] %*lld/%lld  %s  ETA %02lld:%02lld:%02lld\033[K", bar, digits(total_), static_cast<long long>(step),
                 static_cast<long long>(total_), detail, s / 3600, s / 60 % 60, s % 60);
    std::fflush(stderr);
    dirty_ = true;
  }

  /// Ends the line (once), so what is printed next starts on a fresh one.
  void finish() {
    if (enabled_ && terminal_ && dirty_) {
      std::fputc('\n', stderr);
      std::fflush(stderr);
      dirty_ = false;
    }
  }

 private:
  using clock = std::chrono::steady_clock;

  // Seconds between plain lines: LONGFORM_PROGRESS_SECONDS, else 30.
  static clock::duration plain_interval() {
    const char* env = std::getenv("LONGFORM_PROGRESS_SECONDS");
    const double s = env && *env ? std::strtod(env, nullptr) : 30.0;
    return std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(s > 0 ? s : 0.0));
  }
  // From this run's own pace: steps restored from a checkpoint took no time here.
  [[nodiscard]] double eta_seconds(std::int64_t step, clock::time_point now) const {
    const double elapsed = std::chrono::duration<double>(now - began_).count();
    const auto ran = step - start_;
    return ran > 0 ? elapsed / static_cast<double>(ran) * static_cast<double>(total_ - step) : 0.0;
  }
  static int digits(std::int64_t n) {
    int d = 1;
    while (n >= 10) {
      n /= 10;
      ++d;
    }
    return d;
  }

  std::int64_t total_, start_;
  bool enabled_;
  bool terminal_;  // a self-rewriting line; else plain lines every plain_every_
  bool dirty_ = false;
  clock::time_point began_;
  clock::time_point drawn_{};
  clock::duration plain_every_;
  clock::time_point plain_at_;
};

}  // namespace longform
