// SPDX-License-Identifier: MIT
/// @file
/// `VideoReader`: frame-accurate decoding of one video (file, URL or pipe) into `Frame`s.
///
/// - Frames come out in presentation order as `uint8 [H, W, 3]` RGB tensors (see `core/frame.hpp`),
///   at native size or scaled by swscale during decode (`ReaderOptions::width/height`).
/// - Frame positions come from an index of every video packet (one demux-only pass over a second,
///   fresh demuxer, made on first need): frame 0 is the first presented frame whatever the
///   container's first timestamp, and positions never come from `t · fps`, so B-frames, variable
///   frame rate and MPEG-TS/PS are exact. Packets without a PTS get one from the demuxer (`genpts`).
/// - `seek_frame(k)`, `seek_time(t)` and `skip_to(k)` return, bit for bit, what sequential decoding
///   gives at `k`: decoding starts at the last keyframe before the target, in decode order, that is
///   presented at or before it (so open-GOP leading pictures are decoded from the earlier keyframe),
///   the demuxer's landing point is checked against the index, and the leading pictures of the
///   start keyframe, which reference frames never decoded, are dropped unsent. A target the decoder
///   still reconstructs with errors concealed, or skips, is decoded again from the keyframe before
///   (`stats().seek_fallbacks`).
/// - The display matrix is honoured (`ReaderOptions::autorotate`), as the `ffmpeg` command does.
/// - A corrupt packet is skipped and counted (`stats().corrupt_packets`), and the frames after it
///   keep their true indices (a frame's index counts the packets before it, not the frames that
///   decoded); a read error mid-stream
///   (truncated file, closed pipe) ends the stream after the frames that decoded
///   (`stats().stopped_by` says why). Failing to open is an `open_error`.
///
/// GPU decoding (`ReaderOptions::device = "cuda"` or `"cuda:N"`), through FFmpeg's CUDA hwaccel (NVDEC):
/// - The decoder writes into GPU memory (`AV_PIX_FMT_CUDA` surfaces, NV12 / P010 / P016 / 4:4:4),
///   and colour conversion, resizing and rotation run there too, as ATen ops on the surfaces'
///   planes wrapped in place (`io/detail/frame_planes.hpp`, `io/detail/yuv_to_rgb.hpp`): frames
///   come out as CUDA `uint8 [H, W, 3]` tensors, the CPU path's layout, with nothing crossing the
///   bus. Each is complete when returned (the reader waits for its conversion), so any stream or
///   thread may use it.
/// - Only the conversion differs: packets, indices, seeks, `skip_to` and timestamps are the CPU
///   path's code. H.264 decoding is exact, so `next_planes()` gives the CPU decoder's planes bit for
///   bit; RGB frames follow swscale's matrix (BT.601/709/..., limited or full range, from the frame)
///   to within 2 per 8-bit channel at native size, limited range (mean below 0.5; full range: max
///   12, mean 1.5), and within a mean of 2.5 when resized (`short_side`, `width`/`height`:
///   antialiased bicubic, not swscale's own filter).
/// - FFmpeg parses on one thread (`ReaderOptions::threads` is not used): the GPU decodes.
/// - Where it cannot run, opening throws `hardware_decode_error` naming the input and what is
///   missing (`missing()`): FFmpeg without CUDA, no CUDA device (no GPU, no driver, a CPU-only
///   LibTorch), no NVDEC library (libnvcuvid.so.1), or a codec FFmpeg has no CUDA hwaccel for; a
///   stream this GPU's NVDEC refuses (profile, bit depth, size) throws it on the first frame.
///   `VideoReader::device_unavailable()` tells the first three without a video.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <iterator>
#include <optional>
#include <numeric>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/rot90.h>

#include <longform/core/error.hpp>
#include <longform/core/frame.hpp>
#include <longform/core/reflect.hpp>
#include <longform/io/detail/ffmpeg.hpp>
#include <longform/io/detail/frame_planes.hpp>
#include <longform/io/detail/nvdec.hpp>
#include <longform/io/detail/yuv_to_rgb.hpp>
#include <longform/core/video_info.hpp>
#include <longform/io/yuv_planes.hpp>

extern "C" {
#include <libavutil/display.h>
}

namespace longform {

/// How a `VideoReader` decodes.
struct ReaderOptions {
  /// FFmpeg decoder threads; 0 lets FFmpeg use one per core. Pipelines set this from their budget.
  int threads = 0;
  /// Output size, as displayed (after rotation). Both 0: native. One 0: that side follows the aspect ratio.
  std::int64_t width = 0;
  std::int64_t height = 0;
  /// If > 0: scale so that the shorter displayed side is this many pixels, the other following the
  /// aspect ratio, whatever each video's orientation (then `width` and `height` must be 0).
  std::int64_t short_side = 0;
  /// Turn frames as the stream's display matrix says (90/180/270°, as the `ffmpeg` command does);
  /// false keeps the coded orientation (`ffmpeg -noautorotate`).
  bool autorotate = true;
  /// swscale interpolation; bicubic is what the `ffmpeg` command uses.
  int sws_flags = SWS_BICUBIC;
  /// Largest frame (width · height) accepted; a larger declared or decoded size is a `decode_error`
  /// instead of a multi-gigabyte allocation.
  std::int64_t max_pixels = 8192LL * 8192;
  /// Where frames are decoded and converted: `cpu`, or `cuda` / `cuda:N` for NVDEC through FFmpeg's
  /// CUDA hwaccel, giving CUDA frames (see the file comment for what differs, and the
  /// `hardware_decode_error` thrown where it cannot run). `sws_flags` is not used there.
  std::string device = "cpu";
};

/// What happened while reading: for telemetry and for telling a clean end from a cut one.
struct ReaderStats {
  std::int64_t packets = 0;           ///< video packets sent to the decoder
  std::int64_t frames = 0;            ///< frames decoded (including those skipped while seeking)
  std::int64_t corrupt_packets = 0;   ///< packets the decoder rejected (skipped) or decoded with errors concealed
  std::int64_t concealed_frames = 0;  ///< of those, frames that came out with errors concealed (`decode_error_flags`, corrupt flag)
  std::int64_t seeks = 0;             ///< demuxer repositionings (seeks, skips past a keyframe)
  std::int64_t seek_fallbacks = 0;    ///< seek targets decoded again from the keyframe before (concealed or missing at first)
  std::string stopped_by;             ///< empty after a clean end of file; else the read error's text
};

/// Decodes one video stream of one input into `Frame`s, in order, with exact seeking.
class VideoReader {
 public:
  /// Opens `url` (a path, a URL FFmpeg understands, `pipe:0`, or `-` for standard input).
  /// @throws open_error naming `url` when it cannot be opened or has no decodable video stream.
  /// @throws config_error if `options` ask for both `short_side` and `width`/`height`.
  explicit VideoReader(std::string url, ReaderOptions options = {})
      : options_(options), packet_(detail::make_packet()), frame_(detail::make_frame()) {
    info_.path = std::move(url);
    open();
  }

  /// Reads a video held in memory (fuzzing, bytes from a network API). `bytes` must outlive the
  /// reader; `name` stands for the input in errors. The input is seekable.
  static VideoReader from_memory(std::span<const std::uint8_t> bytes, std::string name = "memory", ReaderOptions options = {}) {
    return VideoReader(bytes, std::move(name), options);
  }

  VideoReader(VideoReader&&) noexcept = default;
  VideoReader& operator=(VideoReader&&) noexcept = default;

  /// Metadata probed at open.
  [[nodiscard]] const VideoInfo& info() const noexcept { return info_; }
  [[nodiscard]] const ReaderOptions& options() const noexcept { return options_; }
  [[nodiscard]] const ReaderStats& stats() const noexcept { return stats_; }
  /// Whether `seek_*` can work: false for pipes and live streams.
  [[nodiscard]] bool seekable() const noexcept {
    const AVFormatContext* f = demuxer_.format.get();
    return f->pb && (f->pb->seekable & AVIO_SEEKABLE_NORMAL);
  }

  /// The next frame in presentation order, or `std::nullopt` at the end of the stream.
  std::optional<Frame> next() {
    if (pending_) {
      av_frame_unref(pending_raw_.get());
      return std::exchange(pending_, std::nullopt);
    }
    if (!decode_next()) return std::nullopt;
    return convert();
  }

  /// The next frame as the decoder made it: its Y, U, V planes before colour conversion and
  /// scaling, on the reader's device (CUDA planes copied out of NVDEC's surfaces), or
  /// `std::nullopt` at the end of the stream. Advances the reader as `next()` does.
  /// @throws decode_error if the decoder's pixel format is not YUV (a video of RGB pictures).
  std::optional<YuvPlanes> next_planes() {
    if (pending_) {
      const Frame f = *std::exchange(pending_, std::nullopt);
      YuvPlanes p = planes_of(*pending_raw_);
      av_frame_unref(pending_raw_.get());
      p.index = f.index;
      p.pts = f.pts;
      p.seconds = f.seconds;
      return p;
    }
    if (!decode_next()) return std::nullopt;
    YuvPlanes p = planes_of(*frame_);
    stamp(p);
    return p;
  }

  /// Why decoding on `device` (see `ReaderOptions::device`) cannot work on this machine, as far as
  /// it can be told without a video: FFmpeg's CUDA support, a CUDA device, the NVDEC library
  /// (whether a video's codec has NVDEC support is known when it is opened). `std::nullopt` if it
  /// can; always for `cpu`. @throws config_error for a device name that is not cpu, cuda, cuda:N.
  static std::optional<std::string> device_unavailable(const std::string& device) {
    std::optional<int> index = detail::parse_decode_device(device, "device_unavailable");
    if (!index) return std::nullopt;
    auto gap = detail::nvdec_gap_for_device(*index);
    if (!gap) return std::nullopt;
    return gap->detail;
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
  /// decoding as little as exactness allows: up to the target's keyframe the reader seeks, and
  /// after it the non-reference frames before the target are not decoded (`AVDISCARD_NONREF`:
  /// nothing depends on them). Inputs without an index (pipes) decode every frame up to it.
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
    // A keyframe between here and the target: start there instead of decoding up to it.
    if (start_packet(index) > fed_position_ + 1) {
      seek_to_frame(index, "skip to frame " + std::to_string(index));
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
      hold_pending();
      return;
    }
    discard_before_ = no_discard;
  }

  /// Positions the reader so that `next()` returns frame `index` (0-based, presentation order).
  /// If that frame's packet is damaged and does not decode, `next()` returns the first later frame
  /// that does, with its true (larger) index, as sequential decoding skips such a frame.
  /// @throws decode_error if the input is not seekable or `index` is outside the video.
  void seek_frame(std::int64_t index) {
    const auto n = frame_count();
    if (index < 0 || index >= n) {
      throw decode_error(info_.path, "seek to frame " + std::to_string(index), "out of range: the video has " + std::to_string(n) + " frames");
    }
    seek_to_frame(index, "seek to frame " + std::to_string(index));
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
    seek_to_frame(it - ts.begin(), "seek to " + std::to_string(seconds) + " s");
  }

  /// Exact number of frames (the size of `frame_timestamps()`).
  std::int64_t frame_count() { return static_cast<std::int64_t>(frame_timestamps().size()); }

  /// PTS of every frame in presentation order; its size is the frame count. The first call makes
  /// one demux-only pass over the input (packets are read, not decoded) on a second demuxer.
  /// @throws decode_error if the input is not seekable.
  const std::vector<std::int64_t>& frame_timestamps() {
    if (!index_built_) build_index();
    return timestamps_;
  }

  /// Presentation indices of the random access points, rising: decoding from keyframe `k`
  /// reproduces every frame at index `k` and after exactly (where segment-parallel decoding may start).
  const std::vector<std::int64_t>& keyframes() {
    if (!index_built_) build_index();
    return keyframes_;
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
        case AVSEEK_SIZE:
          return size;
        case SEEK_SET:
          target = offset;
          break;
        case SEEK_CUR:
          target = static_cast<int64_t>(m->position) + offset;
          break;
        case SEEK_END:
          target = size + offset;
          break;
        default:
          return AVERROR(EINVAL);
      }
      if (target < 0 || target > size) return AVERROR(EINVAL);
      m->position = static_cast<std::size_t>(target);
      return target;
    }
  };

  // One opened input. Members are destroyed in reverse order: the format context before the I/O
  // context it reads through, and that before the memory it reads.
  struct Demuxer {
    std::unique_ptr<memory_input> memory;
    detail::avio_context_ptr avio;
    detail::format_input_ptr format;
  };

  // One video packet of the index, in decode order.
  struct IndexedPacket {
    std::int64_t pts;  // presentation timestamp (the DTS where the container has none)
    std::int64_t dts;  // AV_NOPTS_VALUE if unknown
    bool keyframe;
    bool frame;  // presented (not an empty or discard-marked packet)
  };

  VideoReader(std::span<const std::uint8_t> bytes, std::string name, ReaderOptions options)
      : options_(options), bytes_(bytes), in_memory_(true), packet_(detail::make_packet()), frame_(detail::make_frame()) {
    info_.path = std::move(name);
    open();
  }

  // Opens the input afresh: a new format context positioned before the first packet.
  [[nodiscard]] Demuxer open_demuxer() const {
    const std::string url = info_.path == "-" ? std::string("pipe:0") : info_.path;
    Demuxer d;
    AVFormatContext* raw = avformat_alloc_context();
    if (!raw) throw std::bad_alloc();
    if (in_memory_) {
      constexpr int buffer_size = 1 << 16;
      d.memory = std::make_unique<memory_input>(memory_input{bytes_, 0});
      auto* buffer = static_cast<unsigned char*>(av_malloc(buffer_size));
      if (!buffer) {
        avformat_free_context(raw);
        throw std::bad_alloc();
      }
      d.avio.reset(avio_alloc_context(buffer, buffer_size, 0, d.memory.get(), &memory_input::read, nullptr, &memory_input::seek));
      if (!d.avio) {
        av_free(buffer);
        avformat_free_context(raw);
        throw std::bad_alloc();
      }
      raw->pb = d.avio.get();
      raw->flags |= AVFMT_FLAG_CUSTOM_IO;
    }
    // MPEG-PS/TS leave the PTS of some packets unset; the demuxer fills them from later packets, so
    // every packet has the same PTS in the index pass and after any seek.
    raw->flags |= AVFMT_FLAG_GENPTS;
    // On failure avformat_open_input frees `raw` itself.
    detail::check<open_error>(avformat_open_input(&raw, in_memory_ ? nullptr : url.c_str(), nullptr, nullptr), info_.path, "open");
    d.format.reset(raw);
    detail::check<open_error>(avformat_find_stream_info(raw, nullptr), info_.path, "read stream info");
    return d;
  }

  // Every stream but the video one is dropped by the demuxer.
  void demux_video_only(AVFormatContext* f) const {
    for (unsigned i = 0; i < f->nb_streams; ++i) {
      if (static_cast<int>(i) != info_.stream_index) f->streams[i]->discard = AVDISCARD_ALL;
    }
  }

  void open() {
    if (options_.short_side > 0 && (options_.width > 0 || options_.height > 0)) {
      throw config_error(info_.path + ": ReaderOptions: give short_side or width/height, not both");
    }
    const std::optional<int> gpu = detail::parse_decode_device(options_.device, info_.path);
    detail::quiet_default_logging();
    demuxer_ = open_demuxer();
    AVFormatContext* const format = demuxer_.format.get();

    // A still image is a one-frame "video" to FFmpeg (its image demuxers are `image2` and `*_pipe`);
    // a list of training videos that names one has a mistake in it, so say so.
    const std::string_view demuxer = format->iformat->name;
    if (demuxer.starts_with("image2") || demuxer.ends_with("_pipe")) {
      throw open_error(info_.path, "open", "a still image (" + std::string(demuxer) + "), not a video", AVERROR_STREAM_NOT_FOUND);
    }
    const AVCodec* decoder = nullptr;
    const int stream = av_find_best_stream(format, AVMEDIA_TYPE_VIDEO, video_stream_candidate(), -1, &decoder, 0);
    if (stream == AVERROR_STREAM_NOT_FOUND) throw open_error(info_.path, "open", "no video stream", stream);
    if (stream == AVERROR_DECODER_NOT_FOUND || !decoder) {
      throw open_error(info_.path, "open", "no decoder for this video codec", AVERROR_DECODER_NOT_FOUND);
    }
    detail::check<open_error>(stream, info_.path, "find video stream");
    info_.stream_index = stream;
    stream_ = format->streams[stream];
    demux_video_only(format);

    codec_.reset(avcodec_alloc_context3(decoder));
    if (!codec_) throw std::bad_alloc();
    detail::check<open_error>(avcodec_parameters_to_context(codec_.get(), stream_->codecpar), info_.path, "copy codec parameters");
    codec_->pkt_timebase = stream_->time_base;
    codec_->thread_count = options_.threads;
    codec_->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;
    if (gpu) {
      nvdec_ = detail::attach_nvdec(codec_.get(), decoder, *gpu, info_.path);
      codec_->thread_count = 1;  // the GPU decodes; FFmpeg only parses
    }
    detail::check<open_error>(avcodec_open2(codec_.get(), decoder, nullptr), info_.path, "open decoder");
    if (codec_->width <= 0 || codec_->height <= 0) throw open_error(info_.path, "open", "video stream has no frame size");
    check_size(codec_->width, codec_->height, "open");

    info_.coded_width = codec_->width;
    info_.coded_height = codec_->height;
    info_.rotation = display_rotation();
    const bool turned = options_.autorotate && info_.rotation % 180 != 0;
    info_.width = turned ? info_.coded_height : info_.coded_width;
    info_.height = turned ? info_.coded_width : info_.coded_height;
    info_.codec = avcodec_get_name(stream_->codecpar->codec_id);  // ffprobe's codec_name
    info_.time_base = {stream_->time_base.num, stream_->time_base.den};
    const AVRational fps = stream_->avg_frame_rate.num > 0 ? stream_->avg_frame_rate : stream_->r_frame_rate;
    info_.fps = {fps.num, fps.den};
    if (stream_->duration > 0) {
      info_.duration = static_cast<double>(stream_->duration) * av_q2d(stream_->time_base);
      info_.duration_is_stream = true;
    } else if (format->duration > 0) {
      info_.duration = static_cast<double>(format->duration) / AV_TIME_BASE;
    }
    if (stream_->start_time != AV_NOPTS_VALUE) info_.start_time = to_seconds(stream_->start_time);
    if (stream_->nb_frames > 0) {
      info_.frame_count = stream_->nb_frames;
    } else if (info_.duration > 0 && info_.fps.value() > 0) {
      info_.frame_count = std::llround(info_.duration * info_.fps.value());
    }
  }

  // The clockwise turn the display matrix asks for, as the `ffmpeg` command reads it: 0, 90, 180
  // or 270 (another angle, or a mirrored matrix, is shown as coded).
  [[nodiscard]] int display_rotation() const {
    const auto* matrix = reinterpret_cast<const std::int32_t*>(av_stream_get_side_data(stream_, AV_PKT_DATA_DISPLAYMATRIX, nullptr));
    if (!matrix) return 0;
    const double counterclockwise = av_display_rotation_get(matrix);
    if (std::isnan(counterclockwise)) return 0;
    const long turn = (-std::lround(counterclockwise) % 360 + 360) % 360;
    return turn % 90 == 0 ? static_cast<int>(turn) : 0;
  }

  // The first video stream that is not cover art (an `attached_pic`: one picture that FFmpeg shows as
  // a video stream of an audio file), for `av_find_best_stream`, which would pick it; -1: any.
  // @throws open_error when the input's only video is cover art.
  [[nodiscard]] int video_stream_candidate() const {
    bool cover_art = false;
    int first_video = -1;
    const AVFormatContext* format = demuxer_.format.get();
    for (unsigned i = 0; i < format->nb_streams; ++i) {
      const AVStream* s = format->streams[i];
      if (s->codecpar->codec_type != AVMEDIA_TYPE_VIDEO) continue;
      if (s->disposition & AV_DISPOSITION_ATTACHED_PIC)
        cover_art = true;
      else if (first_video < 0)
        first_video = static_cast<int>(i);
    }
    if (cover_art && first_video < 0) throw open_error(info_.path, "open", "no video stream (only cover art)", AVERROR_STREAM_NOT_FOUND);
    return cover_art ? first_video : -1;
  }

  [[nodiscard]] double to_seconds(std::int64_t pts) const { return static_cast<double>(pts) * av_q2d(stream_->time_base); }

  // Decodes until a frame is in `frame_`; false at the end of the stream.
  bool decode_next() {
    if (at_end_) return false;
    for (;;) {
      const int rc = avcodec_receive_frame(codec_.get(), frame_.get());
      if (nvdec_ && (nvdec_->refused || (rc == 0 && frame_->format != AV_PIX_FMT_CUDA))) nvdec_refused();
      if (rc == 0) {
        ++stats_.frames;
        if (concealed()) {
          ++stats_.concealed_frames;
          ++stats_.corrupt_packets;
        }
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

  // Whether the decoded `frame_` has damage the decoder concealed.
  [[nodiscard]] bool concealed() const { return frame_->decode_error_flags != 0 || (frame_->flags & AV_FRAME_FLAG_CORRUPT); }

  // The next packet of the video stream into `packet_`; false at the end of input (or a read
  // error, which `stopped_by` records).
  bool read_video_packet() {
    for (;;) {
      const int rc = av_read_frame(demuxer_.format.get(), packet_.get());
      if (rc < 0) {
        if (rc != AVERROR_EOF) stats_.stopped_by = detail::av_error_string(rc);
        return false;
      }
      if (packet_->stream_index == stream_->index) return true;
      av_packet_unref(packet_.get());
    }
  }

  // Sends the next video packet to the decoder (a seek's held one first), or the flush packet at
  // the end of input.
  void feed_packet() {
    for (;;) {
      if (!std::exchange(holding_, false) && !read_video_packet()) {
        avcodec_send_packet(codec_.get(), nullptr);
        flushed_ = true;
        return;
      }
      const std::int64_t pts = packet_pts(*packet_);
      if (index_built_) fed_position_ = std::max(fed_position_, position_of(*packet_));
      // After a seek, the start keyframe's leading pictures reference frames that were not decoded.
      if (pts != AV_NOPTS_VALUE && pts < leading_before_) {
        av_packet_unref(packet_.get());
        continue;
      }
      if (!index_built_ && pts != AV_NOPTS_VALUE && counts_as_frame(*packet_)) fed_pts_.insert(pts);
      // While skipping ahead, frames before the target that nothing references need no decoding.
      codec_->skip_frame = pts != AV_NOPTS_VALUE && pts < discard_before_ ? AVDISCARD_NONREF : AVDISCARD_DEFAULT;
      const int sent = avcodec_send_packet(codec_.get(), packet_.get());
      av_packet_unref(packet_.get());
      if (nvdec_ && nvdec_->refused) nvdec_refused();
      ++stats_.packets;
      if (sent < 0 && sent != AVERROR(EAGAIN)) ++stats_.corrupt_packets;  // skip it, keep going
      return;
    }
  }

  // A packet that is a frame of the video (the index's entries): not empty, not marked for discarding.
  static bool counts_as_frame(const AVPacket& p) { return p.size > 0 && !(p.flags & AV_PKT_FLAG_DISCARD); }

  // The packet's presentation timestamp: its PTS, else its DTS.
  static std::int64_t packet_pts(const AVPacket& p) { return p.pts != AV_NOPTS_VALUE ? p.pts : p.dts; }

  [[nodiscard]] std::int64_t frame_pts() const {
    return frame_->best_effort_timestamp != AV_NOPTS_VALUE ? frame_->best_effort_timestamp : frame_->pts;
  }

  void check_size(std::int64_t width, std::int64_t height, const std::string& operation) const {
    if (width * height > options_.max_pixels) {
      throw decode_error(info_.path, operation,
                         "frame size " + std::to_string(width) + "x" + std::to_string(height) + " exceeds ReaderOptions::max_pixels (" +
                             std::to_string(options_.max_pixels) + ")");
    }
  }

  // The output size, as displayed, for a displayed source of `w` x `h`.
  [[nodiscard]] std::pair<int, int> output_size(int w, int h) const {
    const auto scaled = [](int side, int other_out, int other_in) {
      return std::max(1, static_cast<int>(std::lround(double(side) * other_out / other_in)));
    };
    auto out_w = static_cast<int>(options_.width), out_h = static_cast<int>(options_.height);
    if (options_.short_side > 0) {
      const auto s = static_cast<int>(options_.short_side);
      return w <= h ? std::pair{s, scaled(h, s, w)} : std::pair{scaled(w, s, h), s};
    }
    if (out_w == 0 && out_h == 0) return {w, h};
    if (out_w == 0) out_w = scaled(w, out_h, h);
    if (out_h == 0) out_h = scaled(h, out_w, w);
    return {out_w, out_h};
  }

  // Turns the decoded `frame_` into a `Frame` (RGB24 tensor, index, timestamps), turned for display.
  Frame convert() {
    const int src_w = frame_->width, src_h = frame_->height;
    check_size(src_w, src_h, "decode frame");
    const int turn = options_.autorotate ? info_.rotation : 0;
    const bool sideways = turn % 180 != 0;
    auto [out_w, out_h] = output_size(sideways ? src_h : src_w, sideways ? src_w : src_h);
    if (sideways) std::swap(out_w, out_h);  // swscale writes the coded orientation
    Frame out;
    out.rgb = nvdec_ ? convert_on_gpu(out_w, out_h, turn) : convert_with_swscale(out_w, out_h, turn);
    stamp(out);
    return out;
  }

  // The CPU path: swscale, from the frame's own matrix and range, then the turn.
  at::Tensor convert_with_swscale(int out_w, int out_h, int turn) {
    const int src_w = frame_->width, src_h = frame_->height;
    SwsContext* const previous = sws_.get();
    sws_.reset(sws_getCachedContext(sws_.release(), src_w, src_h, static_cast<AVPixelFormat>(frame_->format), out_w, out_h, AV_PIX_FMT_RGB24,
                                    options_.sws_flags, nullptr, nullptr, nullptr));
    if (!sws_) throw decode_error(info_.path, "convert frame to RGB", "swscale cannot convert this pixel format");
    // The frame's own colour matrix and range, as the ffmpeg command's scale filter uses them.
    // Setting them re-initialises swscale, so only when they (or the context) change.
    const std::pair<int, int> colour{frame_->colorspace, frame_->color_range};
    if (sws_.get() != previous || colour != colour_) {
      colour_ = colour;
      sws_setColorspaceDetails(sws_.get(), sws_getCoefficients(frame_->colorspace), frame_->color_range == AVCOL_RANGE_JPEG,
                               sws_getCoefficients(SWS_CS_DEFAULT), 1, 0, 1 << 16, 1 << 16);
    }

    // swscale's SIMD writes whole vectors: up to 16 bytes past a row's end for some widths (40).
    const std::int64_t bytes = std::int64_t{out_h} * out_w * 3;
    at::Tensor rgb = at::empty({bytes + sws_overrun}, at::kByte).narrow(0, 0, bytes).view({out_h, out_w, 3});
    uint8_t* dst[4] = {rgb.data_ptr<uint8_t>(), nullptr, nullptr, nullptr};
    int dst_stride[4] = {out_w * 3, 0, 0, 0};
    sws_scale(sws_.get(), frame_->data, frame_->linesize, 0, src_h, dst, dst_stride);
    // rot90 turns counterclockwise for positive k; the display matrix's turn is clockwise.
    if (turn != 0) rgb = at::rot90(rgb, -turn / 90, {0, 1}).contiguous();
    return rgb;
  }

  // The GPU path: the NVDEC surface's planes, wrapped where they are, converted by ATen ops on the
  // stream FFmpeg copied them on; complete when returned.
  at::Tensor convert_on_gpu(int out_w, int out_h, int turn) {
    detail::nvdec_stream_scope scope(nvdec_->device);
    const detail::frame_planes p = detail::wrap_frame_planes(*frame_, nvdec_->device, info_.path);
    at::Tensor rgb = detail::yuv_to_rgb(p.y, p.u, p.v, p.bit_depth, frame_->colorspace, frame_->color_range == AVCOL_RANGE_JPEG, out_w, out_h, turn);
    scope.finish();
    return rgb;
  }

  // Copies of a decoded frame's planes, on the reader's device.
  YuvPlanes planes_of(const AVFrame& frame) const {
    check_size(frame.width, frame.height, "decode frame");
    std::optional<detail::nvdec_stream_scope> scope;
    if (nvdec_) scope.emplace(nvdec_->device);
    const detail::frame_planes p = detail::wrap_frame_planes(frame, nvdec_ ? nvdec_->device : c10::Device(c10::kCPU), info_.path);
    YuvPlanes out;
    out.y = p.y.clone(at::MemoryFormat::Contiguous);
    out.u = p.u.clone(at::MemoryFormat::Contiguous);
    out.v = p.v.clone(at::MemoryFormat::Contiguous);
    out.bit_depth = p.bit_depth;
    out.colorspace = frame.colorspace;
    out.full_range = frame.color_range == AVCOL_RANGE_JPEG;
    if (scope) scope->finish();
    return out;
  }

  // Gives a frame or planes of the decoded `frame_` its index and timestamps, and releases `frame_`.
  template <class Decoded>
  void stamp(Decoded& out) {
    out.pts = frame_pts();
    out.seconds = to_seconds(out.pts);
    out.index = index_of(out.pts);
    next_index_ = out.index + 1;
    av_frame_unref(frame_.get());
  }

  // The converted `frame_` becomes the one the next `next()` returns (a seek's, a skip's target);
  // its decoded picture is kept too, for `next_planes()`.
  void hold_pending() {
    av_frame_unref(pending_raw_.get());
    detail::check(av_frame_ref(pending_raw_.get(), frame_.get()), info_.path, "keep the decoded frame");
    pending_ = convert();
  }

  // NVDEC could not start for this stream, or a software frame came out of the CUDA decoder.
  [[noreturn]] void nvdec_refused() const {
    const char* profile = avcodec_profile_name(codec_->codec_id, codec_->profile);
    throw hardware_decode_error(info_.path, "decode on the GPU",
                                "no NVDEC support for this stream: this GPU's decoder cannot take " + std::string(codec_->codec->name) +
                                    (profile ? std::string(" ") + profile : std::string()) + " " + std::to_string(codec_->width) + "x" +
                                    std::to_string(codec_->height) + " (" +
                                    (av_get_pix_fmt_name(codec_->sw_pix_fmt) ? av_get_pix_fmt_name(codec_->sw_pix_fmt) : "?") + ")",
                                hardware_missing::codec_support);
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

  // Demux-only pass over a fresh demuxer, so that it starts at the first packet whatever the
  // container's timestamps, and this reader's position is left alone.
  void build_index() {
    require_seekable("build frame index");
    const Demuxer d = open_demuxer();
    AVFormatContext* const f = d.format.get();
    if (static_cast<int>(f->nb_streams) <= info_.stream_index) {
      throw decode_error(info_.path, "build frame index", "the input changed: its video stream is gone");
    }
    demux_video_only(f);
    detail::packet_ptr p = detail::make_packet();
    while (av_read_frame(f, p.get()) >= 0) {
      if (p->stream_index == info_.stream_index && packet_pts(*p) != AV_NOPTS_VALUE) {
        packets_.push_back({packet_pts(*p), p->dts, (p->flags & AV_PKT_FLAG_KEY) != 0, counts_as_frame(*p)});
      }
      av_packet_unref(p.get());
    }
    for (const IndexedPacket& e : packets_) {
      if (e.frame) timestamps_.push_back(e.pts);
    }
    std::sort(timestamps_.begin(), timestamps_.end());
    timestamps_.erase(std::unique(timestamps_.begin(), timestamps_.end()), timestamps_.end());
    // Packets by PTS (decode order among equals), to find a packet's place from its timestamps.
    by_pts_.resize(packets_.size());
    std::iota(by_pts_.begin(), by_pts_.end(), std::int64_t{0});
    std::stable_sort(by_pts_.begin(), by_pts_.end(), [&](std::int64_t a, std::int64_t b) { return pts_at(a) < pts_at(b); });
    for (std::size_t i = 0; i < packets_.size(); ++i) {
      if (packets_[i].keyframe && packets_[i].frame) keyframes_.push_back(index_of_indexed(static_cast<std::int64_t>(i)));
    }
    std::sort(keyframes_.begin(), keyframes_.end());
    keyframes_.erase(std::unique(keyframes_.begin(), keyframes_.end()), keyframes_.end());
    index_built_ = true;
    // Packets already sent were not located in the index: skip_to decodes forward from there.
    fed_position_ = stats_.packets == 0 ? -1 : fed_position_unknown;
    if (next_index_ >= static_cast<std::int64_t>(timestamps_.size())) at_end_ = true;
  }

  [[nodiscard]] std::int64_t pts_at(std::int64_t position) const { return packets_[static_cast<std::size_t>(position)].pts; }

  [[nodiscard]] std::int64_t index_of_indexed(std::int64_t position) const {
    return std::lower_bound(timestamps_.begin(), timestamps_.end(), pts_at(position)) - timestamps_.begin();
  }

  // Where a packet read from the demuxer stands in the index (decode order), or -1 if it is not in it.
  [[nodiscard]] std::int64_t position_of(const AVPacket& p) const {
    const std::int64_t pts = packet_pts(p);
    auto it = std::lower_bound(by_pts_.begin(), by_pts_.end(), pts, [&](std::int64_t pos, std::int64_t v) { return pts_at(pos) < v; });
    if (it == by_pts_.end() || pts_at(*it) != pts) return -1;
    // Equal PTS (a damaged file): the DTS tells the packets apart.
    for (auto same = it; same != by_pts_.end() && pts_at(*same) == pts; ++same) {
      if (packets_[static_cast<std::size_t>(*same)].dts == p.dts) return *same;
    }
    return *it;
  }

  // The packet decoding must start from for frame `index` to come out exact: the last keyframe
  // before the frame's own packet, in decode order, that is presented at or before it. A keyframe
  // presented after it is one whose leading picture the frame is (open GOP).
  [[nodiscard]] std::int64_t start_packet(std::int64_t index, std::int64_t before = -1) const {
    const std::int64_t pts = timestamps_[static_cast<std::size_t>(index)];
    auto it = std::lower_bound(by_pts_.begin(), by_pts_.end(), pts, [&](std::int64_t pos, std::int64_t v) { return pts_at(pos) < v; });
    std::int64_t p = it != by_pts_.end() ? *it : static_cast<std::int64_t>(packets_.size()) - 1;
    if (before >= 0) p = std::min(p, before - 1);
    for (; p > 0; --p) {
      const IndexedPacket& e = packets_[static_cast<std::size_t>(p)];
      if (e.keyframe && e.pts <= pts) return p;
    }
    return 0;
  }

  void reset_decoder() {
    avcodec_flush_buffers(codec_.get());
    fed_pts_.clear();
    pending_.reset();
    av_frame_unref(pending_raw_.get());
    discard_before_ = leading_before_ = no_discard;
    holding_ = at_end_ = flushed_ = false;
    av_packet_unref(packet_.get());
  }

  // Makes packet `start` of the index the next one fed to a flushed decoder. A timestamp seek
  // lands wherever the demuxer's own index or search puts it, so the packets read after it are
  // checked against ours: earlier ones are read past, a landing after `start` seeks further back,
  // and if no seek lands before it the input is opened afresh and read from its first packet.
  void position_at(std::int64_t start, const std::string& operation) {
    ++stats_.seeks;
    const IndexedPacket& k = packets_[static_cast<std::size_t>(start)];
    const std::int64_t ts = k.dts != AV_NOPTS_VALUE ? std::min(k.pts, k.dts) : k.pts;
    const std::int64_t second = std::max<std::int64_t>(1, stream_->time_base.den / std::max(1, stream_->time_base.num));
    // Aim just before the keyframe: a demuxer that must parse frames out of its packets (MPEG-PS/TS)
    // starts mid-stream at the seek point, and the keyframe must not be the first frame it parses.
    for (std::int64_t backoff = 1; start > 0 && backoff <= 64 * second; backoff = std::max(2 * backoff, second)) {
      const std::int64_t at = ts - backoff;
      int rc = avformat_seek_file(demuxer_.format.get(), stream_->index, INT64_MIN, at, at, 0);
      if (rc < 0) rc = av_seek_frame(demuxer_.format.get(), stream_->index, at, AVSEEK_FLAG_BACKWARD);
      if (rc < 0) break;
      reset_decoder();
      const int landed = read_up_to(start);
      if (landed == 0) return;
      if (landed < 0) break;  // the end of input, without meeting `start`
    }
    demuxer_ = open_demuxer();
    stream_ = demuxer_.format->streams[info_.stream_index];
    demux_video_only(demuxer_.format.get());
    reset_decoder();
    if (read_up_to(start) != 0) throw decode_error(info_.path, operation, "the input no longer matches its frame index");
  }

  // Reads packets up to packet `start` of the index and holds it for `feed_packet`: 0 on success,
  // 1 if a later packet came first, -1 at the end of input.
  int read_up_to(std::int64_t start) {
    while (read_video_packet()) {
      const std::int64_t position = position_of(*packet_);
      if (position == start) {
        holding_ = true;
        fed_position_ = start - 1;
        return 0;
      }
      av_packet_unref(packet_.get());
      if (position > start) return 1;
    }
    return -1;
  }

  // Decodes frame `index` from its start keyframe and leaves it in `pending_`. A frame that comes
  // out concealed, or not at all, is decoded once more from the keyframe before: if it is still
  // damaged then, the damage is in its own packets, and it is what sequential decoding gives too.
  void seek_to_frame(std::int64_t index, const std::string& operation) {
    require_seekable(operation);
    frame_timestamps();
    const std::int64_t target = timestamps_[static_cast<std::size_t>(index)];
    std::int64_t start = start_packet(index);
    for (bool retried = false;; retried = true) {
      position_at(start, operation);
      leading_before_ = start > 0 ? packets_[static_cast<std::size_t>(start)].pts : no_discard;
      bool exact = false;
      while (decode_next()) {
        if (frame_pts() < target) {
          av_frame_unref(frame_.get());
          continue;
        }
        exact = frame_pts() == target && !concealed();
        break;
      }
      if (exact || retried || start == 0) {
        // `leading_before_` stays: later packets presented before the keyframe are its leading pictures too.
        if (!at_end_) hold_pending();
        return;
      }
      ++stats_.seek_fallbacks;
      av_frame_unref(frame_.get());
      start = start_packet(index, start);
    }
  }

  ReaderOptions options_;
  VideoInfo info_;
  ReaderStats stats_;
  std::span<const std::uint8_t> bytes_;  // from_memory only
  bool in_memory_ = false;
  Demuxer demuxer_;
  std::unique_ptr<detail::nvdec_state> nvdec_;  // GPU decoding only; before `codec_`, whose `opaque` it is, so it outlives it
  detail::codec_context_ptr codec_;
  detail::packet_ptr packet_;
  detail::frame_ptr frame_;
  detail::frame_ptr pending_raw_ = detail::make_frame();  // the decoded picture of `pending_`
  detail::sws_ptr sws_;
  std::pair<int, int> colour_{-1, -1};  // colorspace and range swscale was last set up for
  AVStream* stream_ = nullptr;
  std::optional<Frame> pending_;  // the frame a seek decoded, returned by the next `next()`
  // The index (built on first need): packets in decode order, frame PTS in presentation order,
  // packet positions sorted by PTS, random access points.
  std::vector<IndexedPacket> packets_;
  std::vector<std::int64_t> timestamps_;
  std::vector<std::int64_t> by_pts_;
  std::vector<std::int64_t> keyframes_;
  bool index_built_ = false;
  std::int64_t next_index_ = 0;
  std::set<std::int64_t> fed_pts_;  // without an index: PTS of packets fed whose frame has not come out
  static constexpr std::int64_t no_discard = INT64_MIN;
  static constexpr std::int64_t sws_overrun = 64;                      // slack after a frame's bytes for swscale's vector stores
  static constexpr std::int64_t fed_position_unknown = INT64_MAX / 2;  // decoded past an unknown point: never seek ahead
  std::int64_t discard_before_ = no_discard;                           // skip_to: packets with PTS below this may be dropped if non-reference
  std::int64_t leading_before_ = no_discard;                           // after a seek: packets presented before the start keyframe are not sent
  std::int64_t fed_position_ = -1;                                     // index position of the last packet read for the decoder (-1: none yet)
  bool holding_ = false;                                               // `packet_` holds the packet a seek positioned at, not yet sent
  bool flushed_ = false;                                               // flush packet sent: the decoder is draining
  bool at_end_ = false;
};

}  // namespace longform

LONGFORM_REFLECT(longform::ReaderOptions, threads, width, height, short_side, autorotate, sws_flags, max_pixels, device);
