// SPDX-License-Identifier: MIT
/// @file
/// FFmpeg's own log. longform reports bad input through typed errors and counters
/// (`ReaderStats::corrupt_packets`, `Telemetry`), so FFmpeg's lines are off by default: every reader
/// and writer routes them through one callback, which prints those at or above
/// `set_ffmpeg_log_level` (default `quiet`) on stderr and counts every error and warning.
///
///     longform::set_ffmpeg_log_level(longform::FfmpegLogLevel::warning);  // `longform --verbose`
///     ...
///     std::int64_t n = longform::ffmpeg_log_counts().errors;  // e.g. "error while decoding MB ..."
#pragma once

#include <cstdint>

#include <longform/io/detail/ffmpeg.hpp>

namespace longform {

/// FFmpeg's log levels (`AV_LOG_*`), least to most talkative.
enum class FfmpegLogLevel : int {
  quiet = AV_LOG_QUIET,
  error = AV_LOG_ERROR,
  warning = AV_LOG_WARNING,
  info = AV_LOG_INFO,
  verbose = AV_LOG_VERBOSE,
  debug = AV_LOG_DEBUG,
};

/// Prints FFmpeg's log lines at `level` and above on stderr, from now on, process-wide.
inline void set_ffmpeg_log_level(FfmpegLogLevel level) {
  detail::quiet_default_logging();
  detail::ffmpeg_log().level = static_cast<int>(level);
  av_log_set_level(static_cast<int>(level));  // FFmpeg's default printer checks its own level too
}

/// The level set by `set_ffmpeg_log_level` (`quiet` until then).
[[nodiscard]] inline FfmpegLogLevel ffmpeg_log_level() noexcept { return static_cast<FfmpegLogLevel>(detail::ffmpeg_log().level.load()); }

/// FFmpeg log messages of the process so far, printed or not.
struct FfmpegLogCounts {
  std::int64_t errors = 0;    ///< at error level or worse (damaged packets, failed reads)
  std::int64_t warnings = 0;  ///< at warning level
};

/// How many errors and warnings FFmpeg has logged since the first reader or writer opened.
[[nodiscard]] inline FfmpegLogCounts ffmpeg_log_counts() noexcept {
  const auto& log = detail::ffmpeg_log();
  return {log.errors.load(), log.warnings.load()};
}

}  // namespace longform
