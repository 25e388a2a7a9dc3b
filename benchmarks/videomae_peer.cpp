// SPDX-License-Identifier: MIT
// VideoMAE's loss next to the peer's on identical inputs. The training of `longform pretrain
// --synthetic --method videomae --arch vit_tiny` runs here (the built-in streams, sequential clips
// of 8 frames at stride 2, 32², the Pretrainer's AdamW and schedule); every step's clips, tube mask, learning rate
// and longform's loss go to stdout, so benchmarks/videomae_peer.py trains transformers'
// VideoMAEForPreTraining on the very same batches and masks in the same run (driver:
// benchmarks/videomae_peer.sh).
//
// Record per step: float32 clips [B, 3, 8, 32, 32], uint8 mask [B, 64] (1 = masked), then float64
// learning rate and float64 loss, after one JSON line of the settings.
// usage: bench_videomae_peer [--steps 600] [--seed 0] [--lr 1e-3] [--warmup 10] [--mask-ratio 0.5] [--batch 8]
#include <cstdio>
#include <cstdlib>
#include <cstdint>
#include <cstring>
#include <vector>

#include <longform/backbone/vit.hpp>
#include <longform/objective/videomae.hpp>
#include <longform/sampler/sequential.hpp>
#include <longform/source/synthetic_stream.hpp>
#include <longform/train/pretrainer.hpp>
#include <longform/train/schedule.hpp>

namespace {

// Longform's VideoMAE, unchanged, plus a record of what each step saw: the user-side extension
// point (`SslObjective`), so the losses are those of the real training loop.
struct RecordedVideoMAE {
  using objective_concept = longform::objective_tag;

  longform::VideoMAE<longform::VideoViT> mae;
  longform::WarmupCosine schedule;
  std::FILE* out;

  at::Tensor loss(const longform::ClipBatch& batch) {
    const auto& x = batch.data;
    const std::int64_t step = mae->step.item<std::int64_t>();
    const auto mask = mae->make_mask(x.size(0), x.size(2), x.size(3), x.size(4), step);
    auto value = mae->loss_with_mask(x, mask);
    const auto clips = x.to(at::kFloat).contiguous().cpu();
    const auto bytes = mask.to(at::kByte).contiguous();
    const double record[2] = {schedule(step + 1), value.item<double>()};
    std::fwrite(clips.const_data_ptr<float>(), sizeof(float), static_cast<std::size_t>(clips.numel()), out);
    std::fwrite(bytes.const_data_ptr<std::uint8_t>(), 1, static_cast<std::size_t>(bytes.numel()), out);
    std::fwrite(record, sizeof(double), 2, out);
    std::fflush(out);
    return value;
  }
  std::vector<at::Tensor> parameters() { return mae.parameters(); }
  void after_step() { mae.after_step(); }
  torch::nn::Module& module() { return mae.module(); }
};
static_assert(longform::SslObjective<RecordedVideoMAE>);

}  // namespace

int main(int argc, char** argv) {
  longform::PretrainerOptions o{.steps = 600, .batch = 8, .size = 32, .lr = 1e-3, .warmup_steps = 10};
  double mask_ratio = 0.5;
  std::uint64_t seed = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const char* v = argv[i + 1];
    if (!std::strcmp(argv[i], "--steps"))
      o.steps = std::atoll(v);
    else if (!std::strcmp(argv[i], "--seed"))
      seed = std::strtoull(v, nullptr, 10);
    else if (!std::strcmp(argv[i], "--lr"))
      o.lr = std::atof(v);
    else if (!std::strcmp(argv[i], "--warmup"))
      o.warmup_steps = std::atoll(v);
    else if (!std::strcmp(argv[i], "--mask-ratio"))
      mask_ratio = std::atof(v);
    else if (!std::strcmp(argv[i], "--batch"))
      o.batch = std::atoll(v);
    else {
      std::fprintf(stderr, "bench_videomae_peer: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  o.seed = seed;
  o.threads = 1;  // the peer gets the other core
  o.progress = false;
  try {
    // As `longform pretrain --synthetic --sampler sequential --frames 8 --stride 2 --size 32 --arch vit_tiny`.
    at::manual_seed(seed);
    longform::SyntheticStream streams({.seed = seed, .videos = 4, .frames = 3 * 60 * 25, .width = 40, .height = 32});
    using longform::dynamic;
    using Sequential = longform::SequentialSampler<longform::Frames<dynamic>, longform::Stride<dynamic>, longform::Hop<dynamic>>;
    Sequential sampler(longform::Frames<dynamic>{8}, longform::Stride<dynamic>{2}, longform::Hop<dynamic>{0},
                       {.seed = seed, .epochs = 0});  // endless: the step count ends the run
    RecordedVideoMAE objective{longform::VideoMAE<longform::VideoViT>(longform::VideoMAEOptions{.mask_ratio = mask_ratio, .seed = seed},
                                                                      longform::VideoViT(longform::vit_tiny())),
                               longform::WarmupCosine::of(o), stdout};
    std::fprintf(stdout,
                 "{\"steps\": %lld, \"batch\": %lld, \"lr\": %g, \"warmup\": %lld, \"mask_ratio\": %g, \"seed\": %llu, "
                 "\"weight_decay\": %g, \"beta1\": %g, \"beta2\": %g}\n",
                 static_cast<long long>(o.steps), static_cast<long long>(o.batch), o.lr, static_cast<long long>(o.warmup_steps), mask_ratio,
                 static_cast<unsigned long long>(seed), o.weight_decay, o.beta1, o.beta2);
    std::fflush(stdout);
    longform::Pretrainer<Sequential, RecordedVideoMAE, longform::SyntheticStream> trainer(std::move(streams), std::move(sampler),
                                                                                          std::move(objective), o);
    trainer.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_videomae_peer: %s\n", e.what());
    return 1;
  }
}
