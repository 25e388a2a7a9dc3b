// SPDX-License-Identifier: MIT
/// @file
/// `VideoWriter`: encodes `uint8 [H, W, 3]` RGB frames into a video file with libavcodec.
/// H.264 (libx264) when FFmpeg has it, MPEG-4 part 2 otherwise; the container follows the file
/// extension. Used to make test videos and the built-in synthetic data set.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include <ATen/core/Tensor.h>

#include <longform/core/error.hpp>
#include <longform/core/rational.hpp>
#include <longform/core/reflect.hpp>
#include <longform/io/detail/ffmpeg.hpp>

namespace longform {

/// How a `VideoWriter` encodes.
struct WriterOptions {
  std::int64_t width = 0;   ///< frame width; required, even for yuv420p
  std::int64_t height = 0;  ///< frame height; required, even for yuv420p
  Rational fps{25, 1};      ///< constant frame rate
  std::string codec;        ///< encoder name; empty: "libx264" if available, else "mpeg4"
  int gop = 32;             ///< keyframe interval
  int max_b_frames = 2;     ///< B-frames between references (0 disables them)
  int crf = 23;             ///< libx264 quality (lower is better); mpeg4 uses a fixed quantiser
  int threads = 1;          ///< encoder threads
};

/// Writes RGB frames to a video file. Call `finish()` to flush; the destructor does it otherwise.
class VideoWriter {
 public:
  /// @throws encode_error naming `path` when the file or the encoder cannot be opened.
  VideoWriter(std::string path, WriterOptions options) : path_(std::move(path)), options_(std::move(options)) {
    detail::quiet_default_logging();
    open();
  }

  VideoWriter(VideoWriter&&) noexcept = default;
  VideoWriter& operator=(VideoWriter&&) noexcept = default;
  ~VideoWriter() {
    try {
      finish();
    } catch (...) {  // a destructor must not throw; call finish() to see the error
    }
  }

  /// The encoder actually used ("libx264" or "mpeg4").
  [[nodiscard]] const std::string& codec() const noexcept { return codec_name_; }
  /// Frames written so far.
  [[nodiscard]] std::int64_t frames_written() const noexcept { return next_pts_; }

  /// Appends one frame: a CPU `uint8` tensor `[height, width, 3]` (RGB).
  void write(const at::Tensor& rgb) {
    if (!format_) throw encode_error(path_, "write frame", "writer already finished");
    if (rgb.dim() != 3 || rgb.size(0) != options_.height || rgb.size(1) != options_.width || rgb.size(2) != 3 || rgb.scalar_type() != at::kByte ||
        !rgb.device().is_cpu()) {
      throw encode_error(path_, "write frame " + std::to_string(next_pts_),
                         "expected a CPU uint8 tensor [" + std::to_string(options_.height) + ", " + std::to_string(options_.width) + ", 3]");
    }
    const at::Tensor src = rgb.contiguous();
    detail::check<encode_error>(av_frame_make_writable(frame_.get()), path_, "prepare frame");
    const uint8_t* src_data[4] = {src.data_ptr<uint8_t>(), nullptr, nullptr, nullptr};
    const int src_stride[4] = {static_cast<int>(options_.width) * 3, 0, 0, 0};
    sws_scale(sws_.get(), src_data, src_stride, 0, static_cast<int>(options_.height), frame_->data, frame_->linesize);
    frame_->pts = next_pts_++;
    encode(frame_.get());
  }

  /// Flushes the encoder and writes the trailer. Idempotent.
  void finish() {
    if (!format_) return;
    encode(nullptr);
    detail::check<encode_error>(av_write_trailer(format_.get()), path_, "write trailer");
    format_.reset();
  }

 private:
  void open() {
    if (options_.width <= 0 || options_.height <= 0 || options_.width % 2 || options_.height % 2) {
      throw encode_error(path_, "open", "width and height must be positive and even");
    }
    if (options_.fps.num <= 0 || options_.fps.den <= 0) throw encode_error(path_, "open", "fps must be positive");
    AVFormatContext* raw = nullptr;
    detail::check<encode_error>(avformat_alloc_output_context2(&raw, nullptr, nullptr, path_.c_str()), path_, "choose container");
    format_.reset(raw);

    const AVCodec* encoder = nullptr;
    if (!options_.codec.empty()) {
      encoder = avcodec_find_encoder_by_name(options_.codec.c_str());
      if (!encoder) throw encode_error(path_, "open", "no encoder named " + options_.codec);
    } else {
      encoder = avcodec_find_encoder_by_name("libx264");
      if (!encoder) encoder = avcodec_find_encoder(AV_CODEC_ID_MPEG4);
      if (!encoder) throw encode_error(path_, "open", "neither libx264 nor mpeg4 encoder is available");
    }
    codec_name_ = encoder->name;

    AVStream* stream = avformat_new_stream(format_.get(), nullptr);
    if (!stream) throw std::bad_alloc();
    codec_.reset(avcodec_alloc_context3(encoder));
    if (!codec_) throw std::bad_alloc();
    codec_->width = static_cast<int>(options_.width);
    codec_->height = static_cast<int>(options_.height);
    codec_->pix_fmt = AV_PIX_FMT_YUV420P;
    codec_->time_base = AVRational{static_cast<int>(options_.fps.den), static_cast<int>(options_.fps.num)};
    codec_->framerate = AVRational{static_cast<int>(options_.fps.num), static_cast<int>(options_.fps.den)};
    codec_->gop_size = options_.gop;
    codec_->max_b_frames = options_.max_b_frames;
    codec_->thread_count = options_.threads;
    if (format_->oformat->flags & AVFMT_GLOBALHEADER) codec_->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    if (codec_name_ == "libx264") {
      av_opt_set(codec_->priv_data, "preset", "veryfast", 0);
      av_opt_set(codec_->priv_data, "crf", std::to_string(options_.crf).c_str(), 0);
    } else {
      codec_->flags |= AV_CODEC_FLAG_QSCALE;
      codec_->global_quality = FF_QP2LAMBDA * 3;
    }
    detail::check<encode_error>(avcodec_open2(codec_.get(), encoder, nullptr), path_, ("open encoder " + codec_name_).c_str());
    detail::check<encode_error>(avcodec_parameters_from_context(stream->codecpar, codec_.get()), path_, "copy codec parameters");
    stream->time_base = codec_->time_base;
    stream->avg_frame_rate = codec_->framerate;
    stream_ = stream;

    if (!(format_->oformat->flags & AVFMT_NOFILE)) {
      detail::check<encode_error>(avio_open(&format_->pb, path_.c_str(), AVIO_FLAG_WRITE), path_, "open for writing");
    }
    detail::check<encode_error>(avformat_write_header(format_.get(), nullptr), path_, "write header");

    frame_ = detail::make_frame();
    frame_->format = codec_->pix_fmt;
    frame_->width = codec_->width;
    frame_->height = codec_->height;
    detail::check<encode_error>(av_frame_get_buffer(frame_.get(), 0), path_, "allocate frame");
    packet_ = detail::make_packet();
    sws_.reset(sws_getContext(codec_->width, codec_->height, AV_PIX_FMT_RGB24, codec_->width, codec_->height, AV_PIX_FMT_YUV420P, SWS_BICUBIC,
                              nullptr, nullptr, nullptr));
    if (!sws_) throw encode_error(path_, "open", "swscale cannot convert RGB24 to yuv420p");
  }

  // Sends a frame (or the flush signal) and writes every packet that comes out.
  void encode(AVFrame* frame) {
    detail::check<encode_error>(avcodec_send_frame(codec_.get(), frame), path_, "encode frame");
    for (;;) {
      const int rc = avcodec_receive_packet(codec_.get(), packet_.get());
      if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return;
      detail::check<encode_error>(rc, path_, "encode frame");
      av_packet_rescale_ts(packet_.get(), codec_->time_base, stream_->time_base);
      packet_->stream_index = stream_->index;
      detail::check<encode_error>(av_interleaved_write_frame(format_.get(), packet_.get()), path_, "write packet");
    }
  }

  std::string path_;
  WriterOptions options_;
  std::string codec_name_;
  detail::format_output_ptr format_;
  detail::codec_context_ptr codec_;
  detail::frame_ptr frame_;
  detail::packet_ptr packet_;
  detail::sws_ptr sws_;
  AVStream* stream_ = nullptr;
  std::int64_t next_pts_ = 0;
};

}  // namespace longform

LONGFORM_REFLECT(longform::WriterOptions, width, height, fps, codec, gop, max_b_frames, crf, threads);
