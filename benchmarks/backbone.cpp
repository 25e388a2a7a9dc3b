// SPDX-License-Identifier: MIT
// Backbone speed on CPU: forward (inference mode) and forward+backward (training step without the
// optimizer) of longform's X3D and video ViT. Prints one JSON line; benchmarks/backbone.py runs
// the same models in Python and prints the ratio.
// usage: bench_backbone MODEL FRAMES SIZE ITERS THREADS [channels_last]
#include <longform/backbone/memory_format.hpp>
#include <longform/backbone/vit.hpp>
#include <longform/backbone/x3d.hpp>

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

template <class Model>
void bench(Model model, const char* name, at::Tensor x, int iters, bool channels_last) {
  if (channels_last) {
    // NDHWC activations: oneDNN's depthwise conv3d avoids reorders in this layout.
    longform::to_memory_format(*model, at::MemoryFormat::ChannelsLast3d);
    x = x.contiguous(at::MemoryFormat::ChannelsLast3d);
  }
  model->eval();
  const double fwd = median_ms(iters, [&] {
    c10::InferenceMode guard;
    model->forward(x);
  });
  model->train();
  const double train = median_ms(iters, [&] {
    model->zero_grad();
    model->forward(x).sum().backward();
  });
  std::printf("{\"impl\": \"longform\", \"model\": \"%s\", \"layout\": \"%s\", \"threads\": %d, "
              "\"forward_ms\": %.2f, \"train_ms\": %.2f}\n",
              name, channels_last ? "channels_last_3d" : "contiguous", at::get_num_threads(), fwd, train);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 6) {
    std::fprintf(stderr, "usage: %s x3d_s|x3d_m|vit_s FRAMES SIZE ITERS THREADS [channels_last]\n", argv[0]);
    return 2;
  }
  const std::string model = argv[1];
  const std::int64_t frames = std::atoll(argv[2]), size = std::atoll(argv[3]);
  const int iters = std::atoi(argv[4]);
  // LibTorch may default to one intra-op thread: set it explicitly, as the Python peer does.
  at::set_num_threads(std::atoi(argv[5]));
  const bool channels_last = argc > 6 && std::string(argv[6]) == "channels_last";
  torch::manual_seed(0);
  const auto x = at::randn({1, 3, frames, size, size});
  if (model == "x3d_s" || model == "x3d_m") {
    auto o = model == "x3d_s" ? longform::x3d_s() : longform::x3d_m();
    o.frames = frames;
    o.crop_size = size;
    bench(longform::X3D(o), model.c_str(), x, iters, channels_last);
  } else if (model == "vit_s") {
    auto o = longform::vit_s();
    o.frames = frames;
    o.image_size = size;
    bench(longform::VideoViT(o), model.c_str(), x, iters, channels_last);
  } else {
    std::fprintf(stderr, "unknown model %s\n", model.c_str());
    return 2;
  }
}
