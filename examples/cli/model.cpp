// SPDX-License-Identifier: MIT
// `longform model --arch ARCH [--summary] [--frames T --size N] [--weights FILE]`: build a backbone,
// report its size and cost, and check that a checkpoint loads into it strictly.
#include <longform/backbone/complexity.hpp>
#include <longform/backbone/vit.hpp>
#include <longform/backbone/weights.hpp>
#include <longform/backbone/x3d.hpp>

#include <ATen/Parallel.h>
#include <fmt/format.h>

#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "backbones.hpp"
#include "commands.hpp"

namespace {

struct ModelArgs {
  std::string arch;
  bool summary = false;
  std::optional<std::int64_t> frames, size;
  std::string weights, prefix, entry;
  bool hugging_face = false;
  int threads = 0;
};

// 1234567 -> "1,234,567"
std::string grouped(std::int64_t n) {
  auto s = std::to_string(n);
  for (auto i = static_cast<std::ptrdiff_t>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<std::size_t>(i), ",");
  return s;
}

template <class Model>
void run(Model model, const ModelArgs& a, std::int64_t frames, std::int64_t size) {
  model->eval();
  std::printf("arch        %s\n", a.arch.c_str());
  std::printf("input       1x3x%lldx%lldx%lld\n", static_cast<long long>(frames), static_cast<long long>(size), static_cast<long long>(size));
  if (!a.weights.empty()) {
    const longform::CheckpointOptions options{
        .entry = a.entry, .prefix = a.prefix, .naming = a.hugging_face ? longform::KeyNaming::hugging_face : longform::KeyNaming::native};
    longform::load_checkpoint(*model, a.weights, options);  // throws, naming the file, on any mismatch
    std::printf("weights     %s: %zu tensors loaded, keys and shapes match\n", a.weights.c_str(), longform::state_dict(*model).size());
  }
  if (a.summary) {
    std::printf("parameters  %s\n", grouped(longform::count_parameters(*model)).c_str());
    std::printf("state dict  %zu entries\n", longform::state_dict(*model).size());
    const auto macs = longform::count_macs(model, frames, size);
    std::printf(
        "MACs        %s (%.3f G; 1 MAC = 1 multiply-add over conv/linear/matmul/attention,\n"
        "            what fvcore and the X3D paper call FLOPs)\n",
        grouped(macs).c_str(), static_cast<double>(macs) / 1e9);
    std::printf("threads     %d\n", at::get_num_threads());
  }
}

void run_model(const ModelArgs& a) {
  // LibTorch may start with one intra-op thread; use the machine unless told otherwise.
  at::set_num_threads(a.threads > 0 ? a.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  if (const auto x3d = longform::cli::x3d_presets().find(a.arch); x3d != longform::cli::x3d_presets().end()) {
    auto o = x3d->second();
    o.frames = a.frames.value_or(o.frames);
    o.crop_size = a.size.value_or(o.crop_size);
    run(longform::X3D(o), a, o.frames, o.crop_size);
    return;
  }
  auto o = longform::cli::vit_presets().at(a.arch)();
  o.frames = a.frames.value_or(o.frames);
  o.image_size = a.size.value_or(o.image_size);
  run(longform::VideoViT(o), a, o.frames, o.image_size);
}

}  // namespace

void add_model_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("model", "Build a backbone; print its size and multiply-adds, or validate a checkpoint");
  auto a = std::make_shared<ModelArgs>();
  cmd->add_option("--arch", a->arch, "Backbone")->required()->check(CLI::IsMember(longform::cli::arch_names()));
  cmd->add_flag("--summary", a->summary, "Print parameter count and multiply-adds for one clip");
  cmd->add_option("--frames", a->frames, "Clip length T (default: the model's; X3D fixes its head pool to it)")->check(CLI::PositiveNumber);
  cmd->add_option("--size", a->size, "Clip height = width (default: the model's)")->check(CLI::PositiveNumber);
  cmd->add_option("--weights", a->weights, "torch.save checkpoint to load strictly (PyTorchVideo, VideoMAE)");
  cmd->add_option("--prefix", a->prefix, "Load only keys under this prefix, stripped (VideoMAE pre-training: encoder.)");
  cmd->add_option("--entry", a->entry, "Checkpoint dict entry holding the state dict (default: auto)");
  cmd->add_flag("--hf", a->hugging_face, "Keys use Hugging Face VideoMAE names");
  cmd->add_option("--threads", a->threads, "Intra-op threads (default: all cores)");
  cmd->callback([a] {
    if (!a->summary && a->weights.empty()) throw CLI::ValidationError("model", "nothing to do: give --summary and/or --weights");
    run_model(*a);
  });
}
