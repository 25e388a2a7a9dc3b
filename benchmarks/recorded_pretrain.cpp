// SPDX-License-Identifier: MIT
// Longform's pre-training on the built-in streams with a record of every step's inputs, so a peer
// written in Python can train in lockstep on the very same inputs in the same run:
//   --method videomae: transformers' VideoMAEForPreTraining (driver: benchmarks/videomae_peer.sh)
//   --method moco:     a MoCo v2 written in PyTorch over PyTorchVideo's X3D (driver: benchmarks/moco_peer.sh)
// The training is that of `longform pretrain --synthetic --sampler sequential --frames 8 --stride 2
// --size 32` with `--arch vit_tiny` or `x3d_tiny` (MoCo: queue 512, no flips, as scripts/study),
// the Pretrainer's AdamW and warmup-cosine schedule, 1 thread (the peer gets the other core).
//
// stdout: one JSON line of the settings, then per step
//   videomae: float32 clips [B, 3, 8, 32, 32], uint8 tube mask [B, 64] (1 = masked),
//   moco:     float32 query view and key view, each [B, 3, 8, 32, 32] (MoCo's own augmentations),
// then float64 learning rate and float64 loss. --save writes the trained encoder's state dict
// (`longform finetune --weights` probes it).
// usage: bench_recorded_pretrain --method videomae|moco [--steps 600] [--seed 0] [--lr 1e-3] [--min-lr 0]
//                                [--warmup 10] [--mask-ratio 0.5] [--batch 8] [--save FILE]
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <longform/backbone/vit.hpp>
#include <longform/backbone/weights.hpp>
#include <longform/backbone/x3d.hpp>
#include <longform/objective/moco.hpp>
#include <longform/objective/videomae.hpp>
#include <longform/sampler/sequential.hpp>
#include <longform/source/synthetic_stream.hpp>
#include <longform/train/pretrainer.hpp>
#include <longform/train/schedule.hpp>

namespace {

void write_floats(const at::Tensor& t, std::FILE* out) {
  const auto c = t.to(at::kFloat).contiguous().cpu();
  std::fwrite(c.const_data_ptr<float>(), sizeof(float), static_cast<std::size_t>(c.numel()), out);
}

// What each objective's step sees beyond the batch, written before its loss.
at::Tensor recorded_loss(longform::VideoMAE<longform::VideoViT>& mae, const longform::ClipBatch& batch, std::int64_t step, std::FILE* out) {
  const auto& x = batch.data;
  const auto mask = mae->make_mask(x.size(0), x.size(2), x.size(3), x.size(4), step);
  write_floats(x, out);
  const auto bytes = mask.to(at::kByte).contiguous();
  std::fwrite(bytes.const_data_ptr<std::uint8_t>(), 1, static_cast<std::size_t>(bytes.numel()), out);
  return mae->loss_with_mask(x, mask);
}

at::Tensor recorded_loss(longform::MoCo<longform::X3D>& moco, const longform::ClipBatch& batch, std::int64_t step, std::FILE* out) {
  write_floats(moco->views(batch.data, step, 0), out);  // the query's view
  write_floats(moco->views(batch.data, step, 1), out);  // the key's view
  return moco->loss(batch);
}

// Longform's objective, unchanged, plus the record: the user-side extension point
// (`SslObjective`), so the losses are those of the real training loop.
template <class Objective>
struct Recorded {
  using objective_concept = longform::objective_tag;

  Objective objective;
  longform::WarmupCosine schedule;
  std::FILE* out;

  at::Tensor loss(const longform::ClipBatch& batch) {
    const std::int64_t step = objective->step.template item<std::int64_t>();
    auto value = recorded_loss(objective, batch, step, out);
    const double record[2] = {schedule(step + 1), value.template item<double>()};
    std::fwrite(record, sizeof(double), 2, out);
    std::fflush(out);
    return value;
  }
  std::vector<at::Tensor> parameters() { return objective.parameters(); }
  void after_step() { objective.after_step(); }
  torch::nn::Module& module() { return objective.module(); }
};
static_assert(longform::SslObjective<Recorded<longform::MoCo<longform::X3D>>>);

struct Args {
  std::string method, save;
  longform::PretrainerOptions options{.steps = 600, .batch = 8, .size = 32, .lr = 1e-3, .warmup_steps = 10};
  double mask_ratio = 0.5;
  std::int64_t queue_size = 512;
};

Args parse(int argc, char** argv) {
  Args a;
  auto& o = a.options;
  for (int i = 1; i + 1 < argc; i += 2) {
    const char* v = argv[i + 1];
    const std::string flag = argv[i];
    if (flag == "--method")
      a.method = v;
    else if (flag == "--save")
      a.save = v;
    else if (flag == "--steps")
      o.steps = std::atoll(v);
    else if (flag == "--seed")
      o.seed = std::strtoull(v, nullptr, 10);
    else if (flag == "--lr")
      o.lr = std::atof(v);
    else if (flag == "--min-lr")
      o.min_lr = std::atof(v);
    else if (flag == "--warmup")
      o.warmup_steps = std::atoll(v);
    else if (flag == "--mask-ratio")
      a.mask_ratio = std::atof(v);
    else if (flag == "--batch")
      o.batch = std::atoll(v);
    else
      throw longform::config_error("unknown option " + flag);
  }
  if (a.method != "videomae" && a.method != "moco") throw longform::config_error("--method must be videomae or moco (was '" + a.method + "')");
  o.threads = 1;  // the peer gets the other core
  o.progress = false;
  return a;
}

template <class Objective, class Encoder>
void train(const Args& a, Objective objective, const Encoder& encoder) {
  const auto& o = a.options;
  std::fprintf(stdout,
               "{\"method\": \"%s\", \"steps\": %lld, \"batch\": %lld, \"lr\": %g, \"min_lr\": %g, \"warmup\": %lld, \"mask_ratio\": %g, "
               "\"queue_size\": %lld, \"seed\": %llu, \"weight_decay\": %g, \"beta1\": %g, \"beta2\": %g}\n",
               a.method.c_str(), static_cast<long long>(o.steps), static_cast<long long>(o.batch), o.lr, o.min_lr,
               static_cast<long long>(o.warmup_steps), a.mask_ratio, static_cast<long long>(a.queue_size), static_cast<unsigned long long>(o.seed),
               o.weight_decay, o.beta1, o.beta2);
  std::fflush(stdout);
  // As `longform pretrain --synthetic`: 4 three-minute streams of 40 × 32, sequential clips of 8 frames at stride 2.
  longform::SyntheticStream streams({.seed = o.seed, .videos = 4, .frames = 3 * 60 * 25, .width = 40, .height = 32});
  using longform::dynamic;
  using Sequential = longform::SequentialSampler<longform::Frames<dynamic>, longform::Stride<dynamic>, longform::Hop<dynamic>>;
  Sequential sampler(longform::Frames<dynamic>{8}, longform::Stride<dynamic>{2}, longform::Hop<dynamic>{0},
                     {.seed = o.seed, .epochs = 0});  // endless: the step count ends the run
  longform::Pretrainer<Sequential, Recorded<Objective>, longform::SyntheticStream> trainer(
      std::move(streams), std::move(sampler), Recorded<Objective>{std::move(objective), longform::WarmupCosine::of(o), stdout}, o);
  trainer.run();
  if (!a.save.empty()) longform::save_state_dict(*encoder, a.save);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const auto a = parse(argc, argv);
    const auto seed = a.options.seed;
    at::manual_seed(seed);
    if (a.method == "videomae") {
      longform::VideoViT encoder(longform::vit_tiny());
      train(a, longform::VideoMAE<longform::VideoViT>(longform::VideoMAEOptions{.mask_ratio = a.mask_ratio, .seed = seed}, encoder), encoder);
    } else {
      auto x3d = longform::x3d_tiny();
      x3d.output = longform::X3DOutput::features;
      longform::X3D encoder(x3d);  // shares its weights with MoCo's query encoder
      train(a, longform::MoCo<longform::X3D>(longform::MoCoOptions{.queue_size = a.queue_size, .flip_p = 0, .seed = seed}, encoder), encoder);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_recorded_pretrain: %s\n", e.what());
    return 1;
  }
}
