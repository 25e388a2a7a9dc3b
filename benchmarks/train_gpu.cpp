// SPDX-License-Identifier: MIT
// Training throughput on a GPU: X3D-M MoCo and VideoMAE ViT-B (mask 0.9) at 16×224², bf16
// autocast, cuDNN benchmark mode, the loss read back every 10 steps. X3D stays contiguous unless
// `--channels-last`: on an H200, channels-last-3d made its bf16 forward+backward 8x slower (the
// depthwise conv3d has no fast kernel in that layout; benchmarks/backbone.py --device cuda).
// The clips come from the real pipeline — sequential sampling, upload of the uint8 clips on the
// prefetcher's side stream, resize/crop/standardize on the GPU — fed by `SyntheticVideo` or, with
// `--videos` (builds with FFmpeg), by real footage: a video file, a folder of videos or a list file
// (`VideoList::from_path`), each decoded straight to the short side by the decode workers (one
// FFmpeg thread each; as many workers as the `ThreadBudget` gives, i.e. one per core, unless
// `--workers`), as `longform pretrain --videos` does. One JSON line per model: clips/s over the
// timed steps and the share of that time the trainer waited for data (the decode workers' share).
//
//     bench_train_gpu [--steps 40] [--warmup 10] [--batch 32] [--videos PATH] [--workers W]
//                     [--model x3d_m_moco|vit_b_videomae] [--channels-last]
//     bench_train_gpu --smoke [--videos PATH]   # tiny models on the CPU, two steps each: checks that it runs
// (`--video FILE` is the older spelling of `--videos FILE`.)
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <ATen/Context.h>

#include <longform/backbone/videomae_decoder.hpp>
#include <longform/backbone/vit.hpp>
#include <longform/backbone/x3d.hpp>
#include <longform/core/threads.hpp>
#include <longform/objective/moco.hpp>
#include <longform/objective/videomae.hpp>
#include <longform/sampler.hpp>
#include <longform/source/synthetic_video.hpp>
#include <longform/train/pretrainer.hpp>
#ifdef LONGFORM_WITH_FFMPEG
#include <longform/io/video_reader.hpp>
#include <longform/source/video_list.hpp>
#endif

namespace lf = longform;

namespace {

struct Args {
  bool smoke = false, channels_last = false;
  std::int64_t steps = 40, warmup = 10, batch = 32, frames = 16, size = 224, workers = 0;
  std::string videos, model, device;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw lf::config_error(std::string(arg) + " needs a value");
      return argv[++i];
    };
    if (arg == "--smoke")
      a.smoke = true;
    else if (arg == "--channels-last")
      a.channels_last = true;
    else if (arg == "--steps")
      a.steps = std::stoll(value());
    else if (arg == "--warmup")
      a.warmup = std::stoll(value());
    else if (arg == "--batch")
      a.batch = std::stoll(value());
    else if (arg == "--videos" || arg == "--video")
      a.videos = value();
    else if (arg == "--workers")
      a.workers = std::stoll(value());
    else if (arg == "--model")
      a.model = value();
    else if (arg == "--device")
      a.device = value();
    else
      throw lf::config_error("bench_train_gpu: unknown argument '" + std::string(arg) + "'");
  }
  if (a.smoke) {
    a.steps = 2, a.warmup = 1, a.batch = 2, a.frames = 4, a.size = 32;
    if (a.device.empty()) a.device = "cpu";
  }
  if (a.device.empty()) a.device = at::hasCUDA() ? "cuda" : "cpu";
  if (a.workers < 0) throw lf::config_error("bench_train_gpu: --workers must be >= 0 (0: one per core)");
  return a;
}

lf::MoCo<lf::X3D> moco(const Args& a) {
  at::manual_seed(0);
  auto o = a.smoke ? lf::x3d_xs() : lf::x3d_m();
  o.frames = a.frames;
  o.crop_size = a.size;
  o.output = lf::X3DOutput::features;
  auto mo = a.smoke ? lf::MoCoOptions{.dim = 16, .mlp_hidden = 32, .queue_size = 16} : lf::MoCoOptions{};
  return lf::MoCo<lf::X3D>(mo, lf::X3D(o));
}

lf::VideoMAE<lf::VideoViT> videomae(const Args& a) {
  at::manual_seed(0);
  auto o = a.smoke ? lf::VideoViTOptions{.embed_dim = 64, .depth = 2, .num_heads = 2, .patch_size = 8} : lf::vit_b();
  o.frames = a.frames;
  o.image_size = a.size;
  auto d = a.smoke ? lf::VideoMAEDecoderOptions{.embed_dim = 32, .depth = 1, .num_heads = 2} : lf::videomae_decoder_b();
  return lf::VideoMAE<lf::VideoViT>(lf::VideoMAEOptions{.mask_ratio = 0.9, .decoder = d}, lf::VideoViT(o));
}

template <class Source, class Objective>
void bench(const char* name, const Args& a, Source source, const char* source_name, Objective objective, bool channels_last) {
  const std::size_t videos = source.size();
  const int workers = a.workers > 0 ? static_cast<int>(a.workers) : lf::ThreadBudget::plan().workers;
  using Sampler = lf::SequentialSampler<lf::Frames<lf::dynamic>, lf::Stride<lf::dynamic>>;
  Sampler sampler(lf::Frames<lf::dynamic>{a.frames}, lf::Stride<lf::dynamic>{2}, lf::Hop<>{}, {.seed = 0, .epochs = 0});
  const lf::PretrainerOptions options{.steps = a.warmup + a.steps,
                                      .batch = a.batch,
                                      .size = a.size,
                                      .bf16 = true,
                                      .channels_last = channels_last,
                                      .cudnn_benchmark = true,
                                      .sync_every = 10,
                                      .device = a.device,
                                      .prefetch = 4,
                                      .decode_workers = workers,
                                      .progress = false};
  lf::Pretrainer trainer{std::move(source), std::move(sampler), std::move(objective), options};
  trainer.run(a.warmup);  // cuDNN picks its algorithms, the allocator fills its cache
  const auto r = trainer.run();
  const auto ran = r.last_step - r.first_step;
  std::printf(
      "{\"bench\":\"train_gpu\",\"model\":\"%s\",\"device\":\"%s\",\"source\":\"%s\",\"videos\":%zu,\"decode_workers\":%d,"
      "\"frames\":%lld,\"size\":%lld,\"batch\":%lld,"
      "\"bf16\":%s,\"steps\":%lld,\"clips_per_s\":%.2f,\"step_s\":%.4f,\"data_wait_share\":%.4f,\"loss\":%.4f}\n",
      name, a.device.c_str(), source_name, videos, workers, static_cast<long long>(a.frames), static_cast<long long>(a.size),
      static_cast<long long>(a.batch), a.device.starts_with("cuda") ? "true" : "false", static_cast<long long>(ran), r.clips_per_s,
      ran > 0 ? r.seconds / static_cast<double>(ran) : 0.0, r.data_wait_share, r.losses.empty() ? 0.0 : r.losses.back());
  std::fflush(stdout);
}

template <class Objective>
void bench_on_any_source(const char* name, const Args& a, Objective objective, bool channels_last) {
#ifdef LONGFORM_WITH_FFMPEG
  if (!a.videos.empty()) {
    // Decoded straight to the short side (swscale), as `longform pretrain --videos` does: one
    // FFmpeg thread per decode worker, frame threads when there is one worker.
    const lf::ThreadBudget budget = lf::ThreadBudget::plan();
    const lf::ReaderOptions reader{.threads = budget.decoder_threads(a.workers > 0 ? static_cast<int>(a.workers) : budget.workers),
                                   .short_side = a.size};
    bench(name, a, lf::VideoList::from_path(a.videos, reader), "videos", std::move(objective), channels_last);
    return;
  }
#endif
  if (!a.videos.empty()) throw lf::config_error("bench_train_gpu: --videos needs a build with FFmpeg (LONGFORM_WITH_FFMPEG)");
  // Frames already at the short side, as a decoder scaling on the fly delivers them.
  const lf::SyntheticVideo synthetic({.seed = 1, .videos = 4, .frames = 100000, .width = a.size * 4 / 3, .height = a.size});
  bench(name, a, synthetic, "synthetic", std::move(objective), channels_last);
}

}  // namespace

int main(int argc, char** argv) try {
  const Args a = parse(argc, argv);
  if (a.model.empty() || a.model == "x3d_m_moco") bench_on_any_source(a.smoke ? "x3d_xs_moco" : "x3d_m_moco", a, moco(a), a.channels_last);
  if (a.model.empty() || a.model == "vit_b_videomae") bench_on_any_source(a.smoke ? "vit_tiny_videomae" : "vit_b_videomae", a, videomae(a), false);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "bench_train_gpu: %s\n", e.what());
  return 1;
}
