// SPDX-License-Identifier: MIT
/// @file
/// The one place FFmpeg's C headers enter longform: `extern "C"` includes, owning pointers for
/// every FFmpeg object, and the conversion of negative return codes into typed exceptions.
// IWYU pragma: private, include <longform/io.hpp>
#pragma once

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
#include <libavutil/error.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
}

#include <atomic>
#include <cstdarg>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include <longform/core/error.hpp>

namespace longform::detail {

/// `av_strerror` as a `std::string` (`av_err2str` does not compile in C++: it takes the address of a temporary).
inline std::string av_error_string(int code) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {};
  if (av_strerror(code, buf, sizeof buf) < 0) return "unknown FFmpeg error " + std::to_string(code);
  return buf;
}

/// Throws `Error(path, operation, av_strerror(rc), rc)` when `rc < 0`; returns `rc` otherwise.
template <class Error = decode_error>
int check(int rc, const std::string& path, const char* operation) {
  if (rc < 0) throw Error(path, operation, av_error_string(rc), rc);
  return rc;
}

// Deleters for the owning pointers below. The `**` free functions also null the pointer.
struct format_input_deleter {
  void operator()(AVFormatContext* p) const noexcept { avformat_close_input(&p); }
};
struct format_output_deleter {
  void operator()(AVFormatContext* p) const noexcept {
    if (p && p->pb && !(p->oformat->flags & AVFMT_NOFILE)) avio_closep(&p->pb);
    avformat_free_context(p);
  }
};
struct codec_context_deleter {
  void operator()(AVCodecContext* p) const noexcept { avcodec_free_context(&p); }
};
struct frame_deleter {
  void operator()(AVFrame* p) const noexcept { av_frame_free(&p); }
};
struct packet_deleter {
  void operator()(AVPacket* p) const noexcept { av_packet_free(&p); }
};
struct sws_deleter {
  void operator()(SwsContext* p) const noexcept { sws_freeContext(p); }
};
struct avio_context_deleter {
  void operator()(AVIOContext* p) const noexcept {
    if (p) av_freep(&p->buffer);
    avio_context_free(&p);
  }
};

using format_input_ptr = std::unique_ptr<AVFormatContext, format_input_deleter>;
using format_output_ptr = std::unique_ptr<AVFormatContext, format_output_deleter>;
using codec_context_ptr = std::unique_ptr<AVCodecContext, codec_context_deleter>;
using frame_ptr = std::unique_ptr<AVFrame, frame_deleter>;
using packet_ptr = std::unique_ptr<AVPacket, packet_deleter>;
using sws_ptr = std::unique_ptr<SwsContext, sws_deleter>;
using avio_context_ptr = std::unique_ptr<AVIOContext, avio_context_deleter>;

/// The one sink of FFmpeg's log (public side: io/ffmpeg_log.hpp): lines at or above `level` are
/// printed, every error and warning is counted. Process-wide, as FFmpeg's log is.
struct ffmpeg_log_state {
  std::atomic<int> level{AV_LOG_QUIET};
  std::atomic<std::int64_t> errors{0}, warnings{0};
};
inline ffmpeg_log_state& ffmpeg_log() {
  static ffmpeg_log_state state;
  return state;
}

inline void ffmpeg_log_callback(void* avcl, int level, const char* format, va_list args) {
  auto& log = ffmpeg_log();
  if (level <= AV_LOG_ERROR)
    ++log.errors;
  else if (level <= AV_LOG_WARNING)
    ++log.warnings;
  if (level > log.level.load(std::memory_order_relaxed)) return;
  av_log_default_callback(avcl, level, format, args);
}

/// Routes FFmpeg's log through `ffmpeg_log_callback` (once; every reader and writer calls this).
/// FFmpeg's own default prints INFO and up: libx264's statistics on every close, hundreds of
/// "error while decoding" lines per seek on damaged input. longform reports those through
/// exceptions and counters instead, so nothing is printed unless `set_ffmpeg_log_level` asks.
inline void quiet_default_logging() {
  static std::once_flag once;
  std::call_once(once, [] {
    av_log_set_level(ffmpeg_log().level.load());
    av_log_set_callback(&ffmpeg_log_callback);
  });
}

/// `av_frame_alloc` that throws instead of returning null.
inline frame_ptr make_frame() {
  frame_ptr f(av_frame_alloc());
  if (!f) throw std::bad_alloc();
  return f;
}
/// `av_packet_alloc` that throws instead of returning null.
inline packet_ptr make_packet() {
  packet_ptr p(av_packet_alloc());
  if (!p) throw std::bad_alloc();
  return p;
}

}  // namespace longform::detail
