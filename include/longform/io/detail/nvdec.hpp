// SPDX-License-Identifier: MIT
/// @file
/// GPU decoding through FFmpeg's CUDA hwaccel (NVDEC): what must be present, the device context a
/// decoder is given, the `get_format` that picks `AV_PIX_FMT_CUDA`, and the stream the colour
/// conversion runs on. `VideoReader` uses it when `ReaderOptions::device` is `cuda`.
///
/// - The FFmpeg device context is made on LibTorch's own (primary) CUDA context of the device,
///   retained through the driver (`libcuda.so.1`, loaded at run time, never linked), so the
///   decoded surfaces are ordinary device pointers to LibTorch, and FFmpeg's copies out of NVDEC
///   (on the context's legacy default stream, as FFmpeg leaves `AVCUDADeviceContext::stream` null)
///   are ordered before the conversion kernels, which run on that same stream.
/// - Builds without CUDA anywhere: FFmpeg's CUDA header is optional (`__has_include`), `cuda.h` is
///   not needed, LibTorch's CUDA is reached through c10's device-generic interfaces only.
// IWYU pragma: private, include <longform/io/video_reader.hpp>
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include <dlfcn.h>

#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <c10/core/Device.h>
#include <c10/core/Stream.h>
#include <c10/core/StreamGuard.h>
#include <c10/core/impl/DeviceGuardImplInterface.h>

#include <longform/core/error.hpp>
#include <longform/io/detail/ffmpeg.hpp>

extern "C" {
#include <libavutil/hwcontext.h>
}

#if __has_include(<libavutil/hwcontext_cuda.h>)
#define LONGFORM_FFMPEG_CUDA 1
// The header includes the CUDA driver's <cuda.h> for two handle types unless CUDA_VERSION says it
// is in already; those two opaque handles are all it needs (the same typedefs as <cuda.h>'s, so a
// later <cuda.h> agrees with them).
#ifdef CUDA_VERSION
extern "C" {
#include <libavutil/hwcontext_cuda.h>
}
#else
typedef struct CUctx_st* CUcontext;    // NOLINT(modernize-use-using): as <cuda.h> spells them
typedef struct CUstream_st* CUstream;  // NOLINT(modernize-use-using)
#define CUDA_VERSION 0
extern "C" {
#include <libavutil/hwcontext_cuda.h>
}
#undef CUDA_VERSION
#endif
#else
#define LONGFORM_FFMPEG_CUDA 0
#endif

namespace longform::detail {

/// The CUDA device `device` names: `std::nullopt` for `cpu` (or empty), -1 for `cuda` (the current
/// device), N for `cuda:N`. @throws config_error naming `path` for anything else.
inline std::optional<int> parse_decode_device(const std::string& device, const std::string& path) {
  if (device.empty() || device == "cpu") return std::nullopt;
  if (device == "cuda") return -1;
  if (device.starts_with("cuda:") && device.size() > 5 && device.size() < 9 && device.find_first_not_of("0123456789", 5) == std::string::npos) {
    return std::stoi(device.substr(5));
  }
  throw config_error(path + ": ReaderOptions::device: '" + device + "' is not cpu, cuda or cuda:N");
}

/// Why GPU decoding cannot run here.
struct nvdec_gap {
  hardware_missing missing;
  std::string detail;
};

/// Whether a shared library can be loaded (as FFmpeg will load it, by this name).
inline bool library_present(const char* name) {
  void* handle = dlopen(name, RTLD_LAZY | RTLD_LOCAL);
  if (!handle) return false;
  dlclose(handle);
  return true;
}

/// The checks that need no video, in the order a user fixes them: FFmpeg with CUDA, a CUDA
/// device LibTorch sees (and the driver), then the NVDEC library. `index` -1: the current device.
/// Resolves `index` to the device's number.
inline std::optional<nvdec_gap> nvdec_gap_for_device(int& index) {
  if (!LONGFORM_FFMPEG_CUDA) {
    return nvdec_gap{hardware_missing::ffmpeg_cuda,
                     "FFmpeg's CUDA support is missing: longform was built against an FFmpeg without libavutil/hwcontext_cuda.h"};
  }
  bool cuda_type = false;
  for (AVHWDeviceType t = AV_HWDEVICE_TYPE_NONE; (t = av_hwdevice_iterate_types(t)) != AV_HWDEVICE_TYPE_NONE;) {
    cuda_type = cuda_type || t == AV_HWDEVICE_TYPE_CUDA;
  }
  if (!cuda_type) return nvdec_gap{hardware_missing::ffmpeg_cuda, "FFmpeg's CUDA support is missing: this libavutil was built without it"};
  const int count = c10::impl::hasDeviceGuardImpl(c10::DeviceType::CUDA)
                        ? static_cast<int>(c10::impl::getDeviceGuardImpl(c10::DeviceType::CUDA)->deviceCount())
                        : 0;
  if (count <= 0) {
    return nvdec_gap{hardware_missing::cuda_device,
                     "no CUDA device: LibTorch sees no GPU (none visible, no NVIDIA driver, or a LibTorch built without CUDA)"};
  }
  if (index < 0) index = c10::impl::getDeviceGuardImpl(c10::DeviceType::CUDA)->getDevice().index();
  if (index < 0 || index >= count) {
    return nvdec_gap{hardware_missing::cuda_device, "no CUDA device " + std::to_string(index) + " (" + std::to_string(count) + " visible)"};
  }
  if (!library_present("libcuda.so.1")) {
    return nvdec_gap{hardware_missing::cuda_device, "no CUDA device: the NVIDIA driver library libcuda.so.1 cannot be loaded"};
  }
  if (!library_present("libnvcuvid.so.1")) {
    return nvdec_gap{
        hardware_missing::nvdec_library,
        "NVDEC is missing: the NVIDIA driver's decode library libnvcuvid.so.1 cannot be loaded (install the driver's decode/video package)"};
  }
  return std::nullopt;
}

/// Whether FFmpeg has a CUDA hwaccel for `decoder` (a device-context one: NVDEC behind the native decoder).
inline bool has_cuda_hwaccel(const AVCodec* decoder) {
  for (int i = 0;; ++i) {
    const AVCodecHWConfig* config = avcodec_get_hw_config(decoder, i);
    if (!config) return false;
    if ((config->methods & AV_CODEC_HW_CONFIG_METHOD_HW_DEVICE_CTX) && config->device_type == AV_HWDEVICE_TYPE_CUDA &&
        config->pix_fmt == AV_PIX_FMT_CUDA) {
      return true;
    }
  }
}

/// One FFmpeg CUDA device context per GPU, for the process (decoders on one GPU share it, as
/// the `ffmpeg` command's do), made on LibTorch's primary context of that GPU.
/// @returns a new reference, or the FFmpeg error code (negative) and what failed.
inline std::pair<AVBufferRef*, std::string> cuda_device_context(int index) {
#if LONGFORM_FFMPEG_CUDA
  static std::mutex mutex;
  static auto* contexts = new std::map<int, AVBufferRef*>;  // never freed: outlives every decoder
  const std::lock_guard lock(mutex);
  if (auto it = contexts->find(index); it != contexts->end()) return {av_buffer_ref(it->second), {}};

  // LibTorch brings up its (primary) context of the device first ...
  const c10::Device device(c10::DeviceType::CUDA, static_cast<c10::DeviceIndex>(index));
  (void)at::empty({1}, at::TensorOptions(at::kByte).device(device));
  // ... and the driver hands that same context to FFmpeg. FFmpeg's own AV_CUDA_USE_PRIMARY_CONTEXT
  // refuses a primary context LibTorch made already (its scheduling flags differ).
  void* cuda = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL);  // kept: FFmpeg loads it too
  if (!cuda) return {nullptr, "libcuda.so.1 cannot be loaded"};
  using init_fn = int (*)(unsigned);
  using device_get_fn = int (*)(int*, int);
  using retain_fn = int (*)(CUcontext*, int);
  const auto init = reinterpret_cast<init_fn>(dlsym(cuda, "cuInit"));
  const auto device_get = reinterpret_cast<device_get_fn>(dlsym(cuda, "cuDeviceGet"));
  const auto retain = reinterpret_cast<retain_fn>(dlsym(cuda, "cuDevicePrimaryCtxRetain"));
  if (!init || !device_get || !retain) return {nullptr, "libcuda.so.1 lacks cuInit/cuDeviceGet/cuDevicePrimaryCtxRetain"};
  int cu_device = 0;
  CUcontext primary = nullptr;
  if (int rc = init(0); rc != 0) return {nullptr, "cuInit failed (CUDA error " + std::to_string(rc) + ")"};
  if (int rc = device_get(&cu_device, index); rc != 0) return {nullptr, "cuDeviceGet failed (CUDA error " + std::to_string(rc) + ")"};
  if (int rc = retain(&primary, cu_device); rc != 0) {
    return {nullptr, "cuDevicePrimaryCtxRetain failed (CUDA error " + std::to_string(rc) + ")"};
  }
  AVBufferRef* ref = av_hwdevice_ctx_alloc(AV_HWDEVICE_TYPE_CUDA);
  if (!ref) throw std::bad_alloc();
  auto* hw = static_cast<AVCUDADeviceContext*>(reinterpret_cast<AVHWDeviceContext*>(ref->data)->hwctx);
  hw->cuda_ctx = primary;  // not FFmpeg's to destroy: it frees only contexts it made itself
  hw->stream = nullptr;    // the legacy default stream, LibTorch's default stream too
  if (const int rc = av_hwdevice_ctx_init(ref); rc < 0) {
    av_buffer_unref(&ref);
    return {nullptr, "av_hwdevice_ctx_init: " + av_error_string(rc)};
  }
  contexts->emplace(index, ref);
  return {av_buffer_ref(ref), {}};
#else
  (void)index;
  return {nullptr, "FFmpeg without CUDA"};
#endif
}

/// What a reader decoding on the GPU holds; `AVCodecContext::opaque` points here (a stable
/// address: the reader itself moves).
struct nvdec_state {
  c10::Device device{c10::DeviceType::CUDA, 0};
  bool refused = false;  // get_format found no CUDA format: the hwaccel could not start for this stream
};

/// `AVCodecContext::get_format` for GPU decoding: the CUDA format, never a software fallback. FFmpeg
/// offers it again without CUDA when the hwaccel fails to start (NVDEC lacking the profile, depth
/// or size); that is recorded, and decoding stops.
inline AVPixelFormat pick_cuda_format(AVCodecContext* codec, const AVPixelFormat* formats) {
  for (const AVPixelFormat* f = formats; *f != AV_PIX_FMT_NONE; ++f) {
    if (*f == AV_PIX_FMT_CUDA) return *f;
  }
  static_cast<nvdec_state*>(codec->opaque)->refused = true;
  return AV_PIX_FMT_NONE;
}

/// Sets `codec` (allocated, not yet opened, for `decoder`) up to decode on GPU `index` (-1: the
/// current one). @throws hardware_decode_error naming `path` and what is missing.
inline std::unique_ptr<nvdec_state> attach_nvdec(AVCodecContext* codec, const AVCodec* decoder, int index, const std::string& path) {
  const char* operation = "open the CUDA (NVDEC) decoder";
  if (auto gap = nvdec_gap_for_device(index)) throw hardware_decode_error(path, operation, gap->detail, gap->missing);
  if (!has_cuda_hwaccel(decoder)) {
    throw hardware_decode_error(path, operation, std::string("no NVDEC support for this codec: FFmpeg has no CUDA hwaccel for ") + decoder->name,
                                hardware_missing::codec_support);
  }
  auto [context, failure] = cuda_device_context(index);
  if (!context) {
    throw hardware_decode_error(path, operation, "no CUDA device: FFmpeg cannot open GPU " + std::to_string(index) + " (" + failure + ")",
                                hardware_missing::cuda_device);
  }
  auto state = std::make_unique<nvdec_state>();
  state->device = c10::Device(c10::DeviceType::CUDA, static_cast<c10::DeviceIndex>(index));
  codec->hw_device_ctx = context;  // the codec context owns this reference
  codec->opaque = state.get();
  codec->get_format = &pick_cuda_format;
  return state;
}

/// Runs the conversion of one decoded frame on the device's default stream (the one FFmpeg's
/// copies out of NVDEC are on), and waits for it on leaving, so that the frame handed out is
/// complete whatever stream or thread uses it next.
class nvdec_stream_scope {
 public:
  explicit nvdec_stream_scope(c10::Device device)
      : stream_(c10::impl::getDeviceGuardImpl(device.type())->getDefaultStream(device)), guard_(stream_) {}
  nvdec_stream_scope(const nvdec_stream_scope&) = delete;
  nvdec_stream_scope& operator=(const nvdec_stream_scope&) = delete;
  /// Waits for the work queued so far (call before handing results out).
  void finish() const { stream_.synchronize(); }

 private:
  c10::Stream stream_;
  c10::StreamGuard guard_;
};

}  // namespace longform::detail
