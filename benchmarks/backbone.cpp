// SPDX-License-Identifier: MIT
// Backbone speed: forward (inference mode) and forward+backward (training step without the
// optimizer) of longform's X3D and video ViT, on the CPU or a GPU. Prints one JSON line;
// benchmarks/backbone.py runs the same models in Python and prints the ratio.
// usage: bench_backbone MODEL FRAMES SIZE ITERS THREADS [channels_last] [cuda] [bf16] [batch=N]
#include <longform/backbone/memory_format.hpp>
#include <longform/backbone/vit.hpp>
#include <longform/backbone/x3d.hpp>
#include <longform/core/retain_memory.hpp>
#include <longform/train/autocast.hpp>

#include <ATen/Parallel.h>
#include <ATen/ops/randn.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

template <class F>
double median_ms(int iters, F&& f) {
  f();  // warm-up: oneDNN primitive creation, allocator growth
  std::vector<double> ms;
  for (int i = 0; i < iters; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

struct Setting {
  bool channels_last = false, bf16 = false;
  at::Device device = at::kCPU;
};

template <class Model>
void bench(Model model, const char* name, at::Tensor x, int iters, const Setting& setting) {
  const bool channels_last = setting.channels_last;
  model->to(setting.device);
  x = x.to(setting.device);
  if (channels_last) {
    // NDHWC activations: oneDNN's depthwise conv3d avoids reorders in this layout.
    longform::to_memory_format(*model, at::MemoryFormat::ChannelsLast3d);
    x = x.contiguous(at::MemoryFormat::ChannelsLast3d);
  }
  model->eval();
  // Reading one number back waits for the GPU's queue (a no-op cost on the CPU); the first
  // parameter's gradient is the last one backward writes.
  const double fwd = median_ms(iters, [&] {
    c10::InferenceMode guard;
    longform::Bf16Autocast autocast(setting.bf16);
    model->forward(x).sum().template item<float>();
  });
  model->train();
  const auto first = model->parameters().front();
  const double train = median_ms(iters, [&] {
    model->zero_grad();
    {
      longform::Bf16Autocast autocast(setting.bf16);
      model->forward(x).sum().backward();
    }
    first.grad().sum().template item<float>();
  });
  std::printf(
      "{\"impl\": \"longform\", \"model\": \"%s\", \"layout\": \"%s\", \"device\": \"%s\", "
      "\"bf16\": %s, \"batch\": %lld, \"threads\": %d, \"forward_ms\": %.2f, \"train_ms\": %.2f}\n",
      name, channels_last ? "channels_last_3d" : "contiguous", setting.device.str().c_str(), setting.bf16 ? "true" : "false",
      static_cast<long long>(x.size(0)), at::get_num_threads(), fwd, train);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 6) {
    std::fprintf(stderr, "usage: %s x3d_s|x3d_m|vit_s FRAMES SIZE ITERS THREADS [channels_last] [cuda] [bf16] [batch=N]\n", argv[0]);
    return 2;
  }
  const std::string model = argv[1];
  const std::int64_t frames = std::atoll(argv[2]), size = std::atoll(argv[3]);
  const int iters = std::atoi(argv[4]);
  // LibTorch may default to one intra-op thread: set it explicitly, as the Python peer does.
  at::set_num_threads(std::atoi(argv[5]));
  Setting setting;
  std::int64_t batch = 1;
  for (int i = 6; i < argc; ++i) {
    const std::string word = argv[i];
    if (word == "channels_last")
      setting.channels_last = true;
    else if (word == "cuda")
      setting.device = at::kCUDA;
    else if (word == "bf16")
      setting.bf16 = true;
    else if (word.starts_with("batch="))
      batch = std::atoll(word.c_str() + 6);
    else {
      std::fprintf(stderr, "unknown option %s\n", word.c_str());
      return 2;
    }
  }
  if (setting.bf16 && !setting.device.is_cuda()) {
    std::fprintf(stderr, "bf16 autocast is for cuda only\n");
    return 2;
  }
  // Without it every forward pays page faults for its activations (core/retain_memory.hpp).
  longform::retain_freed_memory();
  torch::manual_seed(0);
  const auto x = at::randn({batch, 3, frames, size, size});
  if (model == "x3d_s" || model == "x3d_m") {
    auto o = model == "x3d_s" ? longform::x3d_s() : longform::x3d_m();
    o.frames = frames;
    o.crop_size = size;
    bench(longform::X3D(o), model.c_str(), x, iters, setting);
  } else if (model == "vit_s") {
    auto o = longform::vit_s();
    o.frames = frames;
    o.image_size = size;
    bench(longform::VideoViT(o), model.c_str(), x, iters, setting);
  } else {
    std::fprintf(stderr, "unknown model %s\n", model.c_str());
    return 2;
  }
}
