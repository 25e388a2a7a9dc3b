// SPDX-License-Identifier: MIT
/// @file
/// `VideoReader`: frame-accurate decoding of one video (file, URL or pipe) into `Frame`s.
///
/// - Frames come out in presentation order as `uint8 [H, W, 3]` RGB tensors (see `core/frame.hpp`),
///   at native size or scaled by swscale during decode (`ReaderOptions::width/height`).
/// - `seek_frame(k)` / `seek_time(t)` are exact: a keyframe seek, then decoding forward to the
///   target's PTS. Frame positions come from the sorted PTS of every video packet (one demux-only
///   pass, made on first need), never from `t · fps`, so B-frames and variable frame rate are exact.
/// - A corrupt packet is skipped and counted (`stats().corrupt_packets`), and the frames after it
///   keep their true indices (a frame's index counts the packets before it, not the frames that
///   decoded); a read error mid-stream
///   (truncated file, closed pipe) ends the stream after the frames that decoded
///   (`stats().stopped_by` says why). Failing to open is an `open_error`.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <iterator>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>

#include <longform/core/error.hpp>
#include <longform/core/frame.hpp>
#include <longform/io/detail/ffmpeg.hpp>
#include <longform/io/video_info.hpp>

namespace longform {

/// How a `VideoReader` decodes.
struct ReaderOptions {
  /// FFmpeg decoder threads; 0 lets FFmpeg use one per core. Pipelines set this from their budget.
  int threads = 0;
  /// Output size. Both 0: native. One 0: that side follows the aspect ratio.
  std::int64_t width = 0;
  std::int64_t height = 0;
  /// swscale interpolation; bicubic is what the `ffmpeg` command uses.
  int sws_flags = SWS_BICUBIC;
  /// Largest frame (width · height) accepted; a larger declared or decoded size is a `decode_error`
  /// instead of a multi-gigabyte allocation.
  std::int64_t max_pixels = 8192LL * 8192;
};

/// What happened while reading: for telemetry and for telling a clean end from a cut one.
struct ReaderStats {
  std::int64_t packets = 0;          ///< video packets sent to the decoder
  std::int64_t frames = 0;           ///< frames decoded (including those skipped while seeking)
  std::int64_t corrupt_packets = 0;  ///< packets the decoder rejected (skipped) or decoded with errors concealed
  std::string stopped_by;            ///< empty after a clean end of file; else the read error's text
};

/// Decodes one video stream of one input into `Frame`s, in order, with exact seeking.
class VideoReader {
 public:
  /// Opens `url` (a path, a URL FFmpeg understands, `pipe:0`, or `-` for standard input).
  /// @throws open_error naming `url` when it cannot be opened or has no decodable video stream.
  explicit VideoReader(std::string url, ReaderOptions options = {})
      : options_(options), packet_(detail::make_packet()), frame_(detail::make_frame()) {
    info_.path = std::move(url);
    detail::quiet_default_logging();
    open();
  }

  /// Reads a video held in memory (fuzzing, bytes from a network API). `bytes` must outlive the
  /// reader; `name` stands for the input in errors. The input is seekable.
  static VideoReader from_memory(std::span<const std::uint8_t> bytes, std::string name = "memory",
                                 ReaderOptions options = {}) {
    return VideoReader(std::make_unique<memory_input>(memory_input{bytes, 0}), std::move(name), options);
  }

  VideoReader(VideoReader&&) noexcept = default;
  VideoReader& operator=(VideoReader&&) noexcept = default;

  /// Metadata probed at open.
  [[nodiscard]] const VideoInfo& info() const noexcept { return info_; }
  [[nodiscard]] const ReaderOptions& options() const noexcept { return options_; }
  [[nodiscard]] const ReaderStats& stats() const noexcept { return stats_; }
  /// Whether `seek_*` can work: false for pipes and live streams.
  [[nodiscard]] bool seekable() const noexcept { return format_->pb && (format_->pb->seekable & AVIO_SEEKABLE_NORMAL); }

  /// The next frame in presentation order, or `std::nullopt` at the end of the stream.
  std::optional<Frame> next() {
    if (pending_) return std::exchange(pending_, std::nullopt);
    if (!decode_next()) return std::nullopt;
    return convert();
  }

  /// Decodes the next frame without converting it to RGB, for strided reading (frames between the
  /// wanted ones must be decoded, not converted). Returns its index, or `std::nullopt` at the end.
  std::optional<std::int64_t> skip() {
    if (pending_) {
      const std::int64_t index = pending_->index;
      pending_.reset();
      return index;
    }
    if (!decode_next()) return std::nullopt;
    const std::int64_t index = index_of(frame_pts());
    next_index_ = index + 1;
    av_frame_unref(frame_.get());
    return index;
  }

  /// Moves forward so that `next()` returns frame `index` (at or after the current position),
  /// without decoding the non-reference frames before it (`AVDISCARD_NONREF`: nothing depends on
  /// them). Reading every τ-th frame this way decodes far fewer frames than `skip()`ing through
  /// them. No seek. Inputs without an index (pipes) fall back to decoding every frame.
  void skip_to(std::int64_t index) {
    if (pending_ && pending_->index >= index) return;
    if (!seekable()) {
      while (next_index_ < index && skip()) {
      }
      return;
    }
    const auto& ts = frame_timestamps();
    pending_.reset();
    if (index >= static_cast<std::int64_t>(ts.size())) {
      at_end_ = true;
      return;
    }
    const std::int64_t target = ts[static_cast<std::size_t>(index)];
    discard_before_ = target;
    while (decode_next()) {
      if (frame_pts() < target) {
        av_frame_unref(frame_.get());
        continue;
      }
      discard_before_ = no_discard;
      pending_ = convert();
      return;
    }
    discard_before_ = no_discard;
  }

  /// Positions the reader so that `next()` returns frame `index` (0-based, presentation order).
  /// If that frame's packet is damaged and does not decode, `next()` returns the first later frame
  /// that does, with its true (larger) index, as sequential decoding skips such a frame.
  /// @throws decode_error if the input is not seekable or `index` is outside the video.
  void seek_frame(std::int64_t index) {
    const auto& ts = frame_timestamps();
    const auto n = static_cast<std::int64_t>(ts.size());
    if (index < 0 || index >= n) {
      throw decode_error(info_.path, "seek to frame " + std::to_string(index),
                         "out of range: the video has " + std::to_string(n) + " frames");
    }
    seek_to_pts(ts[static_cast<std::size_t>(index)], "seek to frame " + std::to_string(index));
  }

  /// Positions the reader so that `next()` returns the first frame whose `seconds >= t`
  /// (or the end of the stream if there is none).
  void seek_time(double seconds) {
    const auto& ts = frame_timestamps();
    const auto it = std::find_if(ts.begin(), ts.end(), [&](std::int64_t pts) { return to_seconds(pts) >= seconds - 1e-9; });
    if (it == ts.end()) {
      pending_.reset();
      at_end_ = true;
      return;
    }
    seek_to_pts(*it, "seek to " + std::to_string(seconds) + " s");
  }

  /// Exact number of frames (the size of `frame_timestamps()`).
  std::int64_t frame_count() { return static_cast<std::int64_t>(frame_timestamps().size()); }

  /// PTS of every frame in presentation order; its size is the frame count. The first call makes
  /// one demux-only pass over the file (packets are read, not decoded) and restores the position.
  /// @throws decode_error if the input is not seekable.
  const std::vector<std::int64_t>& frame_timestamps() {
    if (!index_built_) build_index();
    return timestamps_;
  }

 private:
  // Bytes in memory and a read position, behind a custom AVIOContext.
  struct memory_input {
    std::span<const std::uint8_t> bytes;
    std::size_t position;

    static int read(void* opaque, uint8_t* buf, int size) {
      auto* m = static_cast<memory_input*>(opaque);
      const std::size_t n = std::min<std::size_t>(static_cast<std::size_t>(size), m->bytes.size() - m->position);
      if (n == 0) return AVERROR_EOF;
      std::memcpy(buf, m->bytes.data() + m->position, n);
      m->position += n;
      return static_cast<int>(n);
    }
    static int64_t seek(void* opaque, int64_t offset, int whence) {
      auto* m = static_cast<memory_input*>(opaque);
      const auto size = static_cast<int64_t>(m->bytes.size());
      int64_t target = 0;
      switch (whence & ~AVSEEK_FORCE) {
        case AVSEEK_SIZE: return size;
        case SEEK_SET: target = offset; break;
        case SEEK_CUR: target = static_cast<int64_t>(m->position) + offset; break;
        case SEEK_END: target = size + offset; break;
        default: return AVERROR(EINVAL);
      }
      if (target < 0 || target > size) return AVERROR(EINVAL);
      m->position = static_cast<std::size_t>(target);
      return target;
    }
  };

  VideoReader(std::unique_ptr<memory_input> memory, std::string name, ReaderOptions options)
      : options_(options), memory_(std::move(memory)), packet_(detail::make_packet()), frame_(detail::make_frame()) {
    info_.path = std::move(name);
    detail::quiet_default_logging();
    open();
  }

  void open() {
    const std::string url = info_.path == "-" ? std::string("pipe:0") : info_.path;
    AVFormatContext* raw = avformat_alloc_context();
    if (!raw) throw std::bad_alloc();
    if (memory_) {
      constexpr int buffer_size = 1 << 16;
      auto* buffer = static_cast<unsigned char*>(av_malloc(buffer_size));
      if (!buffer) throw std::bad_alloc();
      avio_.reset(avio_alloc_context(buffer, buffer_size, 0, memory_.get(), &memory_input::read, nullptr, &memory_input::seek));
      if (!avio_) {
        av_free(buffer);
        throw std::bad_alloc();
      }
      raw->pb = avio_.get();
      raw->flags |= AVFMT_FLAG_CUSTOM_IO;
    }
    // On failure avformat_open_input frees `raw` itself.
    detail::check<open_error>(avformat_open_input(&raw, memory_ ? nullptr : url.c_str(), nullptr, nullptr), info_.path, "open");
    format_.reset(raw);
    detail::check<open_error>(avformat_find_stream_info(format_.get(), nullptr), info_.path, "read stream info");

    // A still image is a one-frame "video" to FFmpeg (its image demuxers are `image2` and `*_pipe`);
    // a list of training videos that names one has a mistake in it, so say so.
    const std::string_view demuxer = format_->iformat->name;
    if (demuxer.starts_with("image2") || demuxer.ends_with("_pipe")) {
      throw open_error(info_.path, "open", "a still image (" + std::string(demuxer) + "), not a video", AVERROR_STREAM_NOT_FOUND);
    }
    const AVCodec* decoder = nullptr;
    const int stream = av_find_best_stream(format_.get(), AVMEDIA_TYPE_VIDEO, video_stream_candidate(), -1, &decoder, 0);
    if (stream == AVERROR_STREAM_NOT_FOUND) throw open_error(info_.path, "open", "no video stream", stream);
    if (stream == AVERROR_DECODER_NOT_FOUND || !decoder) {
      throw open_error(info_.path, "open", "no decoder for this video codec", AVERROR_DECODER_NOT_FOUND);
    }
    detail::check<open_error>(stream, info_.path, "find video stream");
    stream_ = format_->streams[stream];
    for (unsigned i = 0; i < format_->nb_streams; ++i) {
      if (static_cast<int>(i) != stream) format_->streams[i]->discard = AVDISCARD_ALL;  // demux video only
    }

    codec_.reset(avcodec_alloc_context3(decoder));
    if (!codec_) throw std::bad_alloc();
    detail::check<open_error>(avcodec_parameters_to_context(codec_.get(), stream_->codecpar), info_.path,
                              "copy codec parameters");
    codec_->pkt_timebase = stream_->time_base;
    codec_->thread_count = options_.threads;
    codec_->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;
    detail::check<open_error>(avcodec_open2(codec_.get(), decoder, nullptr), info_.path, "open decoder");
    if (codec_->width <= 0 || codec_->height <= 0) throw open_error(info_.path, "open", "video stream has no frame size");
    check_size(codec_->width, codec_->height, "open");

    info_.width = codec_->width;
    info_.height = codec_->height;
    info_.codec = avcodec_get_name(stream_->codecpar->codec_id);  // ffprobe's codec_name
    info_.stream_index = stream;
    info_.time_base = {stream_->time_base.num, stream_->time_base.den};
    const AVRational fps = stream_->avg_frame_rate.num > 0 ? stream_->avg_frame_rate : stream_->r_frame_rate;
    info_.fps = {fps.num, fps.den};
    if (stream_->duration > 0) {
      info_.duration = static_cast<double>(stream_->duration) * av_q2d(stream_->time_base);
    } else if (format_->duration > 0) {
      info_.duration = static_cast<double>(format_->duration) / AV_TIME_BASE;
    }
    if (stream_->start_time != AV_NOPTS_VALUE) info_.start_time = to_seconds(stream_->start_time);
    if (stream_->nb_frames > 0) {
      info_.frame_count = stream_->nb_frames;
    } else if (info_.duration > 0 && info_.fps.value() > 0) {
      info_.frame_count = std::llround(info_.duration * info_.fps.value());
    }
  }

  // The first video stream that is not cover art (an `attached_pic`: one picture that FFmpeg shows as
  // a video stream of an audio file), for `av_find_best_stream`, which would pick it; -1: any.
  // @throws open_error when the input's only video is cover art.
  [[nodiscard]] int video_stream_candidate() const {
    bool cover_art = false;
    int first_video = -1;
    for (unsigned i = 0; i < format_->nb_streams; ++i) {
      const AVStream* s = format_->streams[i];
      if (s->codecpar->codec_type != AVMEDIA_TYPE_VIDEO) continue;
      if (s->disposition & AV_DISPOSITION_ATTACHED_PIC) cover_art = true;
      else if (first_video < 0) first_video = static_cast<int>(i);
    }
    if (cover_art && first_video < 0) throw open_error(info_.path, "open", "no video stream (only cover art)", AVERROR_STREAM_NOT_FOUND);
    return cover_art ? first_video : -1;
  }

  [[nodiscard]] double to_seconds(std::int64_t pts) const {
    return static_cast<double>(pts) * av_q2d(stream_->time_base);
  }

  // Decodes until a frame is in `frame_`; false at the end of the stream.
  bool decode_next() {
    if (at_end_) return false;
    for (;;) {
      const int rc = avcodec_receive_frame(codec_.get(), frame_.get());
      if (rc == 0) {
        ++stats_.frames;
        if (frame_->decode_error_flags != 0 || (frame_->flags & AV_FRAME_FLAG_CORRUPT)) ++stats_.corrupt_packets;
        return true;
      }
      if (rc == AVERROR_EOF) {
        at_end_ = true;
        return false;
      }
      if (rc != AVERROR(EAGAIN)) {  // a frame the decoder could not reconstruct: skip it
        ++stats_.corrupt_packets;
        continue;
      }
      if (flushed_) {  // drained after end of input
        at_end_ = true;
        return false;
      }
      feed_packet();
    }
  }

  // Sends the next video packet to the decoder, or the flush packet at the end of input.
  void feed_packet() {
    for (;;) {
      const int rc = av_read_frame(format_.get(), packet_.get());
      if (rc < 0) {
        if (rc != AVERROR_EOF) stats_.stopped_by = detail::av_error_string(rc);
        avcodec_send_packet(codec_.get(), nullptr);
        flushed_ = true;
        return;
      }
      if (packet_->stream_index != stream_->index) {
        av_packet_unref(packet_.get());
        continue;
      }
      // While skipping ahead, frames before the target that nothing references need no decoding.
      const std::int64_t pts = packet_->pts != AV_NOPTS_VALUE ? packet_->pts : packet_->dts;
      if (!index_built_ && pts != AV_NOPTS_VALUE && counts_as_frame(*packet_)) fed_pts_.insert(pts);
      codec_->skip_frame = pts != AV_NOPTS_VALUE && pts < discard_before_ ? AVDISCARD_NONREF : AVDISCARD_DEFAULT;
      const int sent = avcodec_send_packet(codec_.get(), packet_.get());
      av_packet_unref(packet_.get());
      ++stats_.packets;
      if (sent < 0 && sent != AVERROR(EAGAIN)) ++stats_.corrupt_packets;  // skip it, keep going
      return;
    }
  }

  // A packet that is a frame of the video (the index's entries): not empty, not marked for discarding.
  static bool counts_as_frame(const AVPacket& p) { return p.size > 0 && !(p.flags & AV_PKT_FLAG_DISCARD); }

  [[nodiscard]] std::int64_t frame_pts() const {
    return frame_->best_effort_timestamp != AV_NOPTS_VALUE ? frame_->best_effort_timestamp : frame_->pts;
  }

  void check_size(std::int64_t width, std::int64_t height, const std::string& operation) const {
    if (width * height > options_.max_pixels) {
      throw decode_error(info_.path, operation,
                         "frame size " + std::to_string(width) + "x" + std::to_string(height) +
                             " exceeds ReaderOptions::max_pixels (" + std::to_string(options_.max_pixels) + ")");
    }
  }

  // Turns the decoded `frame_` into a `Frame` (RGB24 tensor, index, timestamps).
  Frame convert() {
    const int src_w = frame_->width, src_h = frame_->height;
    check_size(src_w, src_h, "decode frame");
    auto out_w = static_cast<int>(options_.width), out_h = static_cast<int>(options_.height);
    if (out_w == 0 && out_h == 0) {
      out_w = src_w;
      out_h = src_h;
    } else if (out_w == 0) {
      out_w = std::max(1, static_cast<int>(std::lround(double(src_w) * out_h / src_h)));
    } else if (out_h == 0) {
      out_h = std::max(1, static_cast<int>(std::lround(double(src_h) * out_w / src_w)));
    }
    SwsContext* const previous = sws_.get();
    sws_.reset(sws_getCachedContext(sws_.release(), src_w, src_h, static_cast<AVPixelFormat>(frame_->format), out_w,
                                    out_h, AV_PIX_FMT_RGB24, options_.sws_flags, nullptr, nullptr, nullptr));
    if (!sws_) throw decode_error(info_.path, "convert frame to RGB", "swscale cannot convert this pixel format");
    // The frame's own colour matrix and range, as the ffmpeg command's scale filter uses them.
    // Setting them re-initialises swscale, so only when they (or the context) change.
    const std::pair<int, int> colour{frame_->colorspace, frame_->color_range};
    if (sws_.get() != previous || colour != colour_) {
      colour_ = colour;
      sws_setColorspaceDetails(sws_.get(), sws_getCoefficients(frame_->colorspace), frame_->color_range == AVCOL_RANGE_JPEG,
                               sws_getCoefficients(SWS_CS_DEFAULT), 1, 0, 1 << 16, 1 << 16);
    }

    Frame out;
    out.rgb = at::empty({out_h, out_w, 3}, at::kByte);
    uint8_t* dst[4] = {out.rgb.data_ptr<uint8_t>(), nullptr, nullptr, nullptr};
    int dst_stride[4] = {out_w * 3, 0, 0, 0};
    sws_scale(sws_.get(), frame_->data, frame_->linesize, 0, src_h, dst, dst_stride);
    out.pts = frame_pts();
    out.seconds = to_seconds(out.pts);
    out.index = index_of(out.pts);
    next_index_ = out.index + 1;
    av_frame_unref(frame_.get());
    return out;
  }

  // Position of a PTS in presentation order: from the index when there is one; else the frames
  // before it, counted from the packets fed so far (a frame the decoder dropped still counts).
  // Frames come out in PTS order after every packet with a smaller PTS went in.
  [[nodiscard]] std::int64_t index_of(std::int64_t pts) {
    if (!index_built_) {
      const auto below = fed_pts_.lower_bound(pts);
      const auto earlier = static_cast<std::int64_t>(std::distance(fed_pts_.begin(), below));
      fed_pts_.erase(fed_pts_.begin(), below != fed_pts_.end() && *below == pts ? std::next(below) : below);
      return next_index_ + earlier;
    }
    const auto it = std::lower_bound(timestamps_.begin(), timestamps_.end(), pts);
    return it - timestamps_.begin();
  }

  void require_seekable(const std::string& operation) const {
    if (!seekable()) throw decode_error(info_.path, operation, "input is not seekable (pipe or live stream)");
  }

  // Demux-only pass: the PTS of every video packet, sorted into presentation order.
  void build_index() {
    require_seekable("build frame index");
    const std::int64_t resume = next_index_;
    const bool was_at_start = resume == 0 && !pending_;
    rewind();
    std::vector<std::int64_t> ts;
    for (;;) {
      const int rc = av_read_frame(format_.get(), packet_.get());
      if (rc < 0) break;
      if (packet_->stream_index == stream_->index && counts_as_frame(*packet_)) {
        ts.push_back(packet_->pts != AV_NOPTS_VALUE ? packet_->pts : packet_->dts);
      }
      av_packet_unref(packet_.get());
    }
    std::sort(ts.begin(), ts.end());
    ts.erase(std::unique(ts.begin(), ts.end()), ts.end());
    timestamps_ = std::move(ts);
    index_built_ = true;
    rewind();
    if (!was_at_start && resume < static_cast<std::int64_t>(timestamps_.size())) seek_frame(resume);
    if (resume >= static_cast<std::int64_t>(timestamps_.size())) at_end_ = true;
  }

  // Back to the first packet, decoder state cleared.
  void rewind() {
    const std::int64_t start = stream_->start_time != AV_NOPTS_VALUE ? stream_->start_time : 0;
    detail::check(avformat_seek_file(format_.get(), stream_->index, INT64_MIN, start, start, 0), info_.path, "rewind");
    reset_decoder();
    next_index_ = 0;
  }

  void reset_decoder() {
    avcodec_flush_buffers(codec_.get());
    fed_pts_.clear();
    pending_.reset();
    discard_before_ = no_discard;
    at_end_ = flushed_ = false;
  }

  // Keyframe seek at or before `target`, then decode forward to it. If the demuxer lands after
  // the target (keyframe timestamps are DTS in some containers), seek again further back.
  void seek_to_pts(std::int64_t target, const std::string& operation) {
    require_seekable(operation);
    const std::int64_t first = timestamps_.empty() ? 0 : timestamps_.front();
    std::int64_t backoff = 0;
    for (;;) {
      const std::int64_t at = std::max(first, target - backoff);
      int rc = avformat_seek_file(format_.get(), stream_->index, INT64_MIN, at, at, 0);
      if (rc < 0) rc = av_seek_frame(format_.get(), stream_->index, at, AVSEEK_FLAG_BACKWARD);
      detail::check(rc, info_.path, operation.c_str());
      reset_decoder();
      bool overshot = false;
      while (decode_next()) {
        const std::int64_t pts = frame_pts();
        if (pts < target) {
          av_frame_unref(frame_.get());
          continue;
        }
        overshot = pts > target && at > first;
        if (!overshot) {
          pending_ = convert();
          return;
        }
        av_frame_unref(frame_.get());
        break;
      }
      if (!overshot && at <= first) {
        throw decode_error(info_.path, operation, "the frame at this position did not decode");
      }
      // Step back by at least a second's worth of time base, doubling each time.
      const std::int64_t second = std::max<std::int64_t>(1, stream_->time_base.den / std::max(1, stream_->time_base.num));
      backoff = std::max(backoff * 2, second);
    }
  }

  ReaderOptions options_;
  VideoInfo info_;
  ReaderStats stats_;
  std::unique_ptr<memory_input> memory_;  // from_memory only; outlives avio_, which outlives format_
  detail::avio_context_ptr avio_;
  detail::format_input_ptr format_;
  detail::codec_context_ptr codec_;
  detail::packet_ptr packet_;
  detail::frame_ptr frame_;
  detail::sws_ptr sws_;
  std::pair<int, int> colour_{-1, -1};  // colorspace and range swscale was last set up for
  AVStream* stream_ = nullptr;
  std::optional<Frame> pending_;       // the frame a seek decoded, returned by the next `next()`
  std::vector<std::int64_t> timestamps_;
  bool index_built_ = false;
  std::int64_t next_index_ = 0;
  std::set<std::int64_t> fed_pts_;  // without an index: PTS of packets fed whose frame has not come out
  static constexpr std::int64_t no_discard = INT64_MIN;
  std::int64_t discard_before_ = no_discard;  // skip_to: packets with PTS below this may be dropped if non-reference
  bool flushed_ = false;  // flush packet sent: the decoder is draining
  bool at_end_ = false;
};

}  // namespace longform
