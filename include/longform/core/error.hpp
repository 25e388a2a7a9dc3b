// SPDX-License-Identifier: MIT
/// @file
/// The exceptions longform throws. Everything derives from `longform::error`, so one `catch`
/// covers the library; the subclasses say which input failed and how.
///
///   error
///   ├── decode_error   a video could not be read (carries path, operation, FFmpeg text)
///   │   ├── open_error a video could not be opened at all (missing, not a video, no video stream)
///   │   └── hardware_decode_error  GPU decoding asked for, but a piece of it is missing (which one: `missing()`)
///   ├── encode_error   a video could not be written
///   └── config_error   a bad option, list file or split file (carries the input's name)
///
/// Preconditions on tensors and options use `TORCH_CHECK` (a `c10::Error`), as LibTorch does.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>

namespace longform {

/// Base class of every exception thrown by longform.
struct error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// A video failed while being read. `what()` reads "PATH: OPERATION: DETAIL".
class decode_error : public error {
 public:
  decode_error(std::string path, std::string operation, std::string detail, int code = 0)
      : error(path + ": " + operation + ": " + detail),
        path_(std::move(path)),
        operation_(std::move(operation)),
        detail_(std::move(detail)),
        code_(code) {}

  /// The input that failed (file path, URL or `pipe:`).
  [[nodiscard]] const std::string& path() const noexcept { return path_; }
  /// What was being done, e.g. "open", "seek to frame 42".
  [[nodiscard]] const std::string& operation() const noexcept { return operation_; }
  /// FFmpeg's `av_strerror` text, or longform's own explanation.
  [[nodiscard]] const std::string& detail() const noexcept { return detail_; }
  /// The negative FFmpeg error code, or 0 when the error is longform's own.
  [[nodiscard]] int code() const noexcept { return code_; }

 private:
  std::string path_, operation_, detail_;
  int code_;
};

/// A video could not be opened: missing, unreadable, not a container, or without a video stream.
struct open_error : decode_error {
  using decode_error::decode_error;
};

/// What GPU decoding (`ReaderOptions::device = "cuda"`) lacked.
enum class hardware_missing {
  ffmpeg_cuda,    ///< this FFmpeg has no CUDA support (built without it, or without libavutil/hwcontext_cuda.h)
  cuda_device,    ///< no CUDA device is visible (no GPU, no driver / libcuda, a CPU-only LibTorch, or FFmpeg cannot open it)
  nvdec_library,  ///< the NVIDIA driver's decode library (libnvcuvid.so.1) is not installed
  codec_support,  ///< the codec has no CUDA hwaccel in FFmpeg, or this GPU's NVDEC cannot decode the stream (profile, depth, size)
};

/// A video could not be decoded on the GPU. `what()` reads "PATH: OPERATION: DETAIL", the detail
/// saying which piece is missing; `missing()` says it as a value (the `longform` command falls back
/// to CPU decoding on any of them).
class hardware_decode_error : public decode_error {
 public:
  hardware_decode_error(std::string path, std::string operation, std::string detail, hardware_missing missing, int code = 0)
      : decode_error(std::move(path), std::move(operation), std::move(detail), code), missing_(missing) {}

  [[nodiscard]] hardware_missing missing() const noexcept { return missing_; }

 private:
  hardware_missing missing_;
};

/// A video could not be written.
struct encode_error : decode_error {
  using decode_error::decode_error;
};

/// A bad option value, list file or split file. `what()` names the input.
struct config_error : error {
  using error::error;
};

}  // namespace longform
