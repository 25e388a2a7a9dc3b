// SPDX-License-Identifier: MIT
// The Pretrainer on a synthetic long video with a real (small) objective: bit-identical resume,
// atomic checkpoints, NaN reporting, metrics, observers and TensorBoard event files, optimizer and
// preparation policies, a falling loss, options validation.
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include <ATen/ops/equal.h>
#include <torch/optim/adagrad.h>

#include <longform/sampler.hpp>
#include <longform/source/synthetic_video.hpp>
#include <longform/source/video_list.hpp>  // the default source
#include <longform/train/checkpoint.hpp>
#include <longform/train/options.hpp>
#include <longform/train/pretrainer.hpp>
#include <longform/train/schedule.hpp>
#include <longform/train/tensorboard.hpp>
#include <longform/transform/normalize.hpp>

#include "../support.hpp"
#include "tiny_objective.hpp"

#include "../catch.hpp"

using namespace longform;
using longform::test::NextFrame;
using longform::test::NextFrameOptions;

namespace {

using Sequential = SequentialSampler<Frames<4>, Stride<2>>;
using Replay = ReplayBuffer<Capacity<dynamic>, Sequential>;

// Two synthetic "long" videos (80 s at 25 fps each, small frames), endless epochs.
SyntheticVideo long_video() { return SyntheticVideo({.seed = 7, .videos = 2, .frames = 2000, .width = 48, .height = 40}); }
Sequential sequential() { return Sequential({.seed = 3, .epochs = 0}); }
Replay replay() { return Replay(6, sequential(), 11); }
// Replayed clips beside stream ones, held back where they are neighbours of one in the batch.
using TwoTier = TwoTierReplay<ShortTerm<4>, LongTerm<16>, Batch<2>, Fresh<1>, Sequential>;
using Storyboard = Dedup<Gap<16>, Batch<2>, TwoTier>;
Storyboard storyboard() { return Storyboard(TwoTier(sequential(), TwoTierReplayOptions{.seed = 5})); }

PretrainerOptions tiny_options(const std::filesystem::path& dir) {
  return {.steps = 20,
          .batch = 2,
          .size = 24,
          .lr = 2e-3,
          .warmup_steps = 3,
          .checkpoint_every = 5,
          .out_dir = dir.string(),
          .prefetch = 2,
          .progress = false};
}

// The objective as every run of a test starts it: same seed, same initial weights.
NextFrame fresh_objective(NextFrameOptions o = {}) {
  at::manual_seed(1234);
  return NextFrame(o);
}

std::vector<nlohmann::json> read_jsonl(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::vector<nlohmann::json> out;
  for (std::string line; std::getline(in, line);) out.push_back(nlohmann::json::parse(line));
  return out;
}

std::vector<std::filesystem::path> temporaries(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().filename().string().find(".tmp.") != std::string::npos) out.push_back(e.path());
  }
  return out;
}

std::string bytes_of(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// TensorBoard's own reader (Python) finds in `events` the scalars of `metrics`: the observer's tags,
// one value per step, each the metric as a float32.
void check_tensorboard(const std::filesystem::path& events, const std::filesystem::path& metrics) {
  const auto r = longform::test::run(std::string(LONGFORM_PYTHON) + " " LONGFORM_REFERENCE_DIR "/check_tensorboard.py " + events.string() + " " +
                                     metrics.string() + " loss lr grad_norm clips_per_s data_wait_share decode_amplification");
  INFO(r.output);
  CHECK(r.status == 0);
}

// Remembers everything it hears.
struct Recorder {
  std::vector<std::int64_t> resumed;
  std::vector<StepRecord> steps;
  int finished = 0;
  void on_resume(std::int64_t step) { resumed.push_back(step); }
  void on_step(const StepRecord& r) { steps.push_back(r); }
  void on_finish() { ++finished; }
};

// AdamW without weight decay on the 1-D parameters (biases): two parameter groups.
struct NoDecayOnBiases {
  using optimizer_concept = optimizer_tag;
  std::unique_ptr<torch::optim::Optimizer> build(std::vector<at::Tensor> params, const PretrainerOptions& o) const {
    std::vector<at::Tensor> decayed, kept;
    for (auto& p : params) (p.dim() > 1 ? decayed : kept).push_back(p);
    std::vector<torch::optim::OptimizerParamGroup> groups;
    groups.emplace_back(decayed, std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(o.lr).weight_decay(o.weight_decay)));
    groups.emplace_back(kept, std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(o.lr).weight_decay(0.0)));
    return std::make_unique<torch::optim::AdamW>(groups, torch::optim::AdamWOptions(o.lr));
  }
};

// An optimizer checkpoints cannot store.
struct AdagradPolicy {
  using optimizer_concept = optimizer_tag;
  std::unique_ptr<torch::optim::Optimizer> build(std::vector<at::Tensor> params, const PretrainerOptions& o) const {
    return std::make_unique<torch::optim::Adagrad>(std::move(params), torch::optim::AdagradOptions(o.lr));
  }
};

// A clip preparation of one's own: the top-left 16 x 16 corner. Copies (one per decode worker)
// share the count of clips prepared.
struct CountedCorner : transform_interface<CountedCorner> {
  std::shared_ptr<std::atomic<std::int64_t>> prepared = std::make_shared<std::atomic<std::int64_t>>(0);
  at::Tensor apply(const at::Tensor& x) const {
    ++*prepared;
    return x.narrow(-2, 0, 16).narrow(-1, 0, 16);
  }
};

// Options for runs without files, `steps` long.
PretrainerOptions in_memory(std::int64_t steps) {
  auto o = tiny_options({});
  o.out_dir.clear();
  o.checkpoint_every = 0;
  o.steps = steps;
  o.warmup_steps = 1;
  return o;
}

// Runs 20 steps uninterrupted, then 10 + (resume) 10 in a second folder; the losses must agree bit for bit.
template <class Sampler>
void check_exact_resume(const std::string& name, Sampler sampler) {
  const auto full_dir = longform::test::scratch("resume-full-" + name);
  const auto split_dir = longform::test::scratch("resume-split-" + name);

  Pretrainer full{long_video(), sampler, fresh_objective(), tiny_options(full_dir)};
  const auto whole = full.run();
  REQUIRE(whole.losses.size() == 20);

  std::vector<double> split;
  {
    Pretrainer first{long_video(), sampler, fresh_objective(), tiny_options(split_dir)};
    const auto a = first.run(10);  // a stop at step 10 of 20: checkpoint written, the process could end here
    REQUIRE(a.last_step == 10);
    split = a.losses;
  }
  REQUIRE(read_training_state(split_dir / "checkpoint.pt").step == 10);
  {
    // A differently initialised objective and a clobbered global generator: all of it must come from the checkpoint.
    at::manual_seed(999);
    auto options = tiny_options(split_dir);
    options.resume = true;
    options.seed = 555;  // ignored on resume: the checkpoint's generator states win
    Pretrainer second{long_video(), sampler, NextFrame({.seed = 42}), options};
    const auto b = second.run();
    REQUIRE(b.first_step == 10);
    REQUIRE(b.last_step == 20);
    split.insert(split.end(), b.losses.begin(), b.losses.end());
  }
  REQUIRE(split.size() == whole.losses.size());
  for (std::size_t i = 0; i < split.size(); ++i) {
    INFO("step " << i + 1);
    CHECK(split[i] == whole.losses[i]);  // exact, not approximate
  }
  // The metrics file of the split run reads like the uninterrupted one (steps 1..20, same losses).
  const auto full_metrics = read_jsonl(full_dir / "metrics.jsonl");
  const auto split_metrics = read_jsonl(split_dir / "metrics.jsonl");
  REQUIRE(split_metrics.size() == 20);
  for (std::size_t i = 0; i < 20; ++i) {
    CHECK(split_metrics[i]["step"] == static_cast<std::int64_t>(i + 1));
    CHECK(split_metrics[i]["loss"].get<double>() == full_metrics[i]["loss"].get<double>());
  }
  // Final weights agree exactly, too.
  const auto final_full = read_training_state(full_dir / "checkpoint.pt");
  const auto final_split = read_training_state(split_dir / "checkpoint.pt");
  CHECK(final_full.step == 20);
  CHECK(final_split.step == 20);
  CHECK(final_full.sampler == final_split.sampler);
}

}  // namespace

TEST_CASE("Pretrainer: CTAD picks the policies from the arguments", "[train]") {
  const auto dir = longform::test::scratch("ctad");
  Pretrainer trainer{long_video(), sequential(), fresh_objective(), tiny_options(dir)};
  STATIC_REQUIRE(std::is_same_v<decltype(trainer), Pretrainer<Sequential, NextFrame, SyntheticVideo>>);
  // The default source is a file list, the default optimizer the options' choice, the default
  // preparation the paper's.
  STATIC_REQUIRE(std::is_same_v<Pretrainer<Sequential, NextFrame>, Pretrainer<Sequential, NextFrame, VideoList>>);
  STATIC_REQUIRE(
      std::is_same_v<Pretrainer<Sequential, NextFrame>, Pretrainer<Sequential, NextFrame, VideoList, OptimizerFromOptions, PaperPreparation>>);
  Pretrainer with_policies{long_video(), sequential(), fresh_objective(), tiny_options(dir), SGD{}, CountedCorner{} | Standardize{}};
  STATIC_REQUIRE(
      std::is_same_v<decltype(with_policies), Pretrainer<Sequential, NextFrame, SyntheticVideo, SGD, Compose<CountedCorner, Standardize>>>);
}

TEST_CASE("Pretrainer: a run stopped at step 10 of 20 and resumed reproduces the losses bit for bit", "[train]") {
  SECTION("sequential sampler") { check_exact_resume("sequential", sequential()); }
  SECTION("replay buffer over a sequential sampler") { check_exact_resume("replay", replay()); }
  SECTION("de-duplicated two-tier replay over a sequential sampler") { check_exact_resume("storyboard", storyboard()); }
}

TEST_CASE("Pretrainer: resume with SGD continues the momentum buffers", "[train]") {
  const auto full_dir = longform::test::scratch("resume-sgd-full");
  const auto split_dir = longform::test::scratch("resume-sgd-split");
  auto options = [](const std::filesystem::path& dir) {
    auto o = tiny_options(dir);
    o.optimizer = OptimizerKind::sgd;
    o.lr = 0.05;
    o.grad_clip = 0.5;  // exercises clipping on both sides of the split
    o.steps = 12;
    return o;
  };
  Pretrainer full{long_video(), sequential(), fresh_objective(), options(full_dir)};
  const auto whole = full.run();
  std::vector<double> split;
  {
    Pretrainer first{long_video(), sequential(), fresh_objective(), options(split_dir)};
    split = first.run(7).losses;  // 7 is not a multiple of checkpoint_every: the stop itself checkpoints
  }
  // What a process killed after its checkpoint may leave: a line of a later step, a torn line.
  std::ofstream(split_dir / "metrics.jsonl", std::ios::app) << "{\"step\":8,\"loss\":0.5}\n{\"step\":3,\"lo";
  auto o = options(split_dir);
  o.resume = true;
  Pretrainer second{long_video(), sequential(), NextFrame({.seed = 5}), o};
  const auto rest = second.run().losses;
  split.insert(split.end(), rest.begin(), rest.end());
  REQUIRE(split == whole.losses);
  // Both were dropped on resume: every line parses, steps 1..12 once each.
  const auto lines = read_jsonl(split_dir / "metrics.jsonl");
  REQUIRE(lines.size() == 12);
  for (std::size_t i = 0; i < lines.size(); ++i) CHECK(lines[i]["step"] == static_cast<std::int64_t>(i + 1));
}

TEST_CASE("Pretrainer: metrics.jsonl has one line per step with every field", "[train]") {
  const auto dir = longform::test::scratch("metrics");
  auto o = tiny_options(dir);
  o.steps = 6;
  Pretrainer trainer{long_video(), sequential(), fresh_objective(), o};
  const auto report = trainer.run();
  const auto lines = read_jsonl(dir / "metrics.jsonl");
  REQUIRE(lines.size() == 6);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto& m = lines[i];
    for (const char* key : {"step", "loss", "lr", "grad_norm", "clips_per_s", "step_s", "data_wait_share", "decode_amplification", "elapsed_s"}) {
      INFO(key);
      CHECK(m.contains(key));
    }
    CHECK(m["step"] == static_cast<std::int64_t>(i + 1));
    CHECK(m["loss"].get<double>() == report.losses[i]);
    CHECK(m["lr"].get<double>() == WarmupCosine::of(o)(static_cast<std::int64_t>(i + 1)));
    CHECK(m["clips_per_s"].get<double>() > 0);
    CHECK(m["data_wait_share"].get<double>() >= 0);
    CHECK(m["data_wait_share"].get<double>() <= 1);
    // Stride 2: every other frame is decoded but unused, so about 2 frames decoded per frame used.
    CHECK(m["decode_amplification"].get<double>() >= 1.0);
    CHECK(m["decode_amplification"].get<double>() <= 2.5);
  }
  CHECK(report.clips_per_s > 0);
  CHECK(report.decode_amplification > 1.0);
}

TEST_CASE("Pretrainer: an injected NaN is reported with its step and leaves the last checkpoint intact", "[train]") {
  const auto dir = longform::test::scratch("nan");
  auto o = tiny_options(dir);  // checkpoints at 5, 10, ...
  Pretrainer trainer{long_video(), sequential(), fresh_objective({.poison_at = 7}), o};
  try {
    trainer.run();
    FAIL("no error for a NaN loss");
  } catch (const nonfinite_error& e) {
    CHECK(e.step() == 7);
    CHECK(e.quantity() == "loss");
    CHECK(std::isnan(e.value()));
    CHECK_THAT(e.what(), Catch::Contains("at step 7") && Catch::Contains("checkpoint.pt (step 5)"));
  }
  CHECK(trainer.step() == 6);  // step 7 was not applied
  CHECK(temporaries(dir).empty());
  // The checkpoint is still the one of step 5, bit for bit the weights a clean 5-step run reaches.
  const auto state = read_training_state(dir / "checkpoint.pt");
  CHECK(state.step == 5);
  const auto clean_dir = longform::test::scratch("nan-clean");
  auto clean_options = tiny_options(clean_dir);
  Pretrainer clean{long_video(), sequential(), fresh_objective(), clean_options};
  clean.run(5);
  NextFrame restored({.seed = 9});
  auto optimizer_options = torch::optim::AdamWOptions(1.0);
  torch::optim::AdamW optimizer(restored.parameters(), optimizer_options);
  load_training_checkpoint(dir / "checkpoint.pt", restored.module(), optimizer, c10::Device(c10::kCPU));
  const auto want = clean.objective().module().named_parameters();
  for (const auto& p : restored.module().named_parameters()) {
    INFO(p.key());
    CHECK(at::equal(p.value(), want[p.key()]));
    CHECK(p.value().isfinite().all().item<bool>());
  }
  // Metrics stop at the last good step.
  CHECK(read_jsonl(dir / "metrics.jsonl").size() == 6);
}

TEST_CASE("Pretrainer: a diverging run (real overflow and no injection) never checkpoints non-finite weights", "[train]") {
  const auto dir = longform::test::scratch("diverge");
  auto o = tiny_options(dir);
  o.optimizer = OptimizerKind::sgd;
  o.lr = 1e18;  // the first step throws the weights to ±1e18+; the next loss or weight check overflows
  o.warmup_steps = 0;
  o.momentum = 0;
  o.checkpoint_every = 1;
  Pretrainer trainer{long_video(), sequential(), fresh_objective({.noise = 0}), o};
  CHECK_THROWS_AS(trainer.run(), nonfinite_error);
  if (std::filesystem::exists(dir / "checkpoint.pt")) {
    // Whatever was written is finite: a resume from it is worth doing.
    NextFrame restored;
    torch::optim::SGD optimizer(restored.parameters(), torch::optim::SGDOptions(1.0));
    load_training_checkpoint(dir / "checkpoint.pt", restored.module(), optimizer, c10::Device(c10::kCPU));
    for (const auto& p : restored.module().parameters()) CHECK(p.isfinite().all().item<bool>());
  }
  CHECK(temporaries(dir).empty());
}

TEST_CASE("Pretrainer: the loss falls over 30 steps on a synthetic long video", "[train]") {
  const auto dir = longform::test::scratch("falls");
  PretrainerOptions o{.steps = 30, .batch = 4, .size = 32, .lr = 3e-3, .warmup_steps = 2, .out_dir = dir.string(), .progress = false};
  Pretrainer trainer{long_video(), sequential(), fresh_objective(), o};
  const auto report = trainer.run();
  REQUIRE(report.losses.size() == 30);
  double head = 0, tail = 0;
  for (int i = 0; i < 5; ++i) {
    head += report.losses[static_cast<std::size_t>(i)];
    tail += report.losses[report.losses.size() - 1 - static_cast<std::size_t>(i)];
  }
  INFO("first five " << head / 5 << ", last five " << tail / 5);
  CHECK(tail < 0.7 * head);
}

TEST_CASE("longform pretrain: MoCo paused at step 2 of 4 and resumed matches the uninterrupted run", "[train][cli]") {
  // The real objective end to end (queue, momentum encoder, shuffle-BN, augmentations) through the CLI.
  const auto full = longform::test::scratch("cli-full");
  const auto split = longform::test::scratch("cli-split");
  const std::string cli = std::string(LONGFORM_CLI) +
                          " pretrain --synthetic --method moco --sampler replay --arch x3d_xs --frames 4 --stride 2 --size 32"
                          " --batch 4 --steps 4 --queue-size 16 --capacity 8 --threads 1 --out ";
  const std::string tensorboard = " --tensorboard " + (split / "tb").string();
  REQUIRE(longform::test::run(cli + full.string()).status == 0);
  REQUIRE(longform::test::run(cli + split.string() + " --stop-at 2" + tensorboard).status == 0);
  REQUIRE(read_jsonl(split / "metrics.jsonl").size() == 2);
  const auto resumed = longform::test::run(cli + split.string() + " --resume" + tensorboard);
  INFO(resumed.output);
  REQUIRE(resumed.status == 0);
  const auto a = read_jsonl(full / "metrics.jsonl");
  const auto b = read_jsonl(split / "metrics.jsonl");
  REQUIRE(a.size() == 4);
  REQUIRE(b.size() == 4);
  for (std::size_t i = 0; i < 4; ++i) CHECK(a[i]["loss"].get<double>() == b[i]["loss"].get<double>());
  // --tensorboard: the two processes' event files hold the steps of metrics.jsonl.
  check_tensorboard(split / "tb", split / "metrics.jsonl");
}

TEST_CASE("Checkpoints are written atomically", "[train]") {
  const auto dir = longform::test::scratch("atomic");
  const auto path = dir / "checkpoint.pt";

  SECTION("a write that fails half-way leaves the previous file byte for byte, and no temporary") {
    write_atomically(path, [](const ByteSink& sink) { sink("previous", 8); });
    REQUIRE(bytes_of(path) == "previous");
    const std::string half(1 << 20, 'x');
    CHECK_THROWS_WITH(write_atomically(path,
                                       [&](const ByteSink& sink) {
                                         sink(half.data(), half.size());
                                         throw checkpoint_error(path, "disk full (simulated by the writer)");
                                       }),
                      Catch::Contains("disk full"));
    CHECK(bytes_of(path) == "previous");
    CHECK(temporaries(dir).empty());
  }

  SECTION("a real checkpoint is complete under its name after every step, and never torn") {
    auto o = tiny_options(dir);
    o.steps = 6;
    o.checkpoint_every = 1;
    Pretrainer trainer{long_video(), sequential(), fresh_objective(), o};
    for (std::int64_t s = 1; s <= 6; ++s) {
      trainer.run(s);
      CHECK(read_training_state(path).step == s);
      CHECK(temporaries(dir).empty());
    }
  }

  SECTION("an unwritable folder is a checkpoint_error naming the file, and the old checkpoint survives") {
    write_atomically(path, [](const ByteSink& sink) { sink("previous", 8); });
    std::filesystem::permissions(dir, std::filesystem::perms::owner_read | std::filesystem::perms::owner_exec);
    const bool enforced = ::access(dir.c_str(), W_OK) != 0;  // root ignores permissions
    if (enforced) {
      CHECK_THROWS_AS(write_atomically(path, [](const ByteSink& sink) { sink("new", 3); }), checkpoint_error);
    }
    std::filesystem::permissions(dir, std::filesystem::perms::owner_all);
    if (enforced) CHECK(bytes_of(path) == "previous");
  }

  SECTION("a file that is not a checkpoint is refused by name") {
    write_atomically(path, [](const ByteSink& sink) { sink("not a zip", 9); });
    CHECK_THROWS_WITH(read_training_state(path), Catch::Contains(path.string()));
    CHECK_THROWS_AS(read_training_state(dir / "missing.pt"), checkpoint_error);
  }
}

TEST_CASE("Pretrainer: a checkpoint of another model is refused by name", "[train]") {
  const auto dir = longform::test::scratch("mismatch");
  auto o = tiny_options(dir);
  o.steps = 2;
  o.warmup_steps = 0;
  {
    Pretrainer trainer{long_video(), sequential(), fresh_objective(), o};
    trainer.run();
  }
  o.resume = true;
  Pretrainer wider{long_video(), sequential(), NextFrame({.width = 16}), o};
  CHECK_THROWS_AS(wider.run(), checkpoint_error);
}

// No unit of test_train includes distributed/process_group.hpp: this program has no c10d group.
TEST_CASE("Pretrainer: a multi-process launch of a program without the c10d group is a config_error naming the include", "[train]") {
  struct Launch {  // torchrun's variables for rank 0 of 2, removed again at the end of the case
    Launch() {
      for (const auto& [name, value] : variables) setenv(name, value, 1);
    }
    ~Launch() {
      for (const auto& [name, value] : variables) unsetenv(name);
    }
    std::vector<std::pair<const char*, const char*>> variables{
        {"WORLD_SIZE", "2"}, {"RANK", "0"}, {"MASTER_ADDR", "127.0.0.1"}, {"MASTER_PORT", "29511"}};
  } launch;
  PretrainerOptions o{.steps = 1, .batch = 2, .size = 24, .progress = false, .dist_timeout_s = 5};
  Pretrainer refused{long_video(), sequential(), fresh_objective(), o};
  try {
    refused.run();
    FAIL("trained although WORLD_SIZE=2 and no c10d group is installed");
  } catch (const config_error& e) {
    CHECK_THAT(e.what(), Catch::Contains("multi-process training needs #include <longform/distributed/process_group.hpp> in one translation unit"));
  }
  // Told to stay alone, it trains in one process under the same variables.
  o.distributed = false;
  Pretrainer alone{long_video(), sequential(), fresh_objective(), o};
  CHECK(alone.run().last_step == 1);
  CHECK(alone.world_size() == 1);
}

TEST_CASE("PretrainerOptions: bad values are options_errors naming the member", "[train]") {
  auto bad = [](PretrainerOptions o, const std::string& member) {
    try {
      validate(o);
      FAIL("accepted a bad " << member);
    } catch (const options_error& e) {
      CHECK(e.option() == member);
      CHECK_THAT(e.what(), Catch::Contains("PretrainerOptions::" + member));
    }
  };
  bad({.steps = 0}, "steps");
  bad({.batch = -1}, "batch");
  bad({.lr = 0}, "lr");
  bad({.lr = NAN}, "lr");
  bad({.lr = 1e-3, .min_lr = 1e-2}, "min_lr");
  bad({.steps = 10, .warmup_steps = 11}, "warmup_steps");
  bad({.beta2 = 1.0}, "beta2");
  bad({.grad_clip = -1}, "grad_clip");
  bad({.update_every = 0}, "update_every");
  bad({.rms_alpha = 1.0}, "rms_alpha");
  bad({.orthogonal_beta = -0.1}, "orthogonal_beta");
  bad({.device = "tpu"}, "device");
  bad({.resume = true}, "resume");
  bad({.dist_timeout_s = 0}, "dist_timeout_s");
  bad({.dist_bucket_mib = INFINITY}, "dist_bucket_mib");
  CHECK_NOTHROW(validate(PretrainerOptions{}));
  // The constructor validates too.
  CHECK_THROWS_AS((Pretrainer{long_video(), sequential(), fresh_objective(), PretrainerOptions{.batch = 0}}), options_error);
  // Reflection: every member appears in the JSON, in order.
  const auto json = nlohmann::json::parse(to_json(PretrainerOptions{.optimizer = OptimizerKind::sgd, .device = "cuda:1"}));
  CHECK(json["optimizer"] == "sgd");
  CHECK(json["device"] == "cuda:1");
  CHECK(json["steps"] == 1000);
  CHECK(json.size() == 32);
  CHECK(json["decode_workers"] == 0);
  CHECK(json["dist_timeout_s"] == 300);
}

TEST_CASE("WarmupCosine: linear warmup to the peak then cosine towards min_lr", "[train]") {
  const WarmupCosine s{.peak = 1.0, .min_lr = 0.1, .warmup = 4, .steps = 14};
  CHECK(s(1) == Approx(0.25));
  CHECK(s(4) == Approx(1.0));
  CHECK(s(5) == Approx(1.0));               // first decay step at the peak
  CHECK(s(10) == Approx(0.1 + 0.9 * 0.5));  // half way
  CHECK(s(14) > 0.1);                       // the last step still learns
  CHECK(s(14) < s(13));
}

TEST_CASE("Pretrainer: observers hear the resume point, every step as metrics.jsonl has it, and the end of each run", "[train]") {
  const auto dir = longform::test::scratch("observers");
  auto o = tiny_options(dir);
  o.steps = 6;
  o.sync_every = 2;  // steps are reported in pairs, in order
  Pretrainer trainer{long_video(), sequential(), fresh_objective(), o};
  auto& early = trainer.observe(Recorder{});
  const auto a = trainer.run(3);
  auto& late = trainer.observe(Recorder{});  // added after a run: resumed at the step reached
  const auto b = trainer.run();
  CHECK(early.resumed == std::vector<std::int64_t>{0});
  CHECK(late.resumed == std::vector<std::int64_t>{3});
  CHECK(early.finished == 2);
  CHECK(late.finished == 1);
  REQUIRE(early.steps.size() == 6);
  REQUIRE(late.steps.size() == 3);
  std::vector<double> losses = a.losses;
  losses.insert(losses.end(), b.losses.begin(), b.losses.end());
  const auto lines = read_jsonl(dir / "metrics.jsonl");
  REQUIRE(lines.size() == 6);
  for (std::size_t i = 0; i < 6; ++i) {
    const StepRecord& r = early.steps[i];
    INFO("step " << i + 1);
    CHECK(r.step == static_cast<std::int64_t>(i + 1));
    CHECK(r.loss == losses[i]);
    CHECK(r.lr == WarmupCosine::of(o)(r.step));
    CHECK(lines[i]["step"] == r.step);
    CHECK(lines[i]["loss"].get<double>() == r.loss);
    CHECK(lines[i]["lr"].get<double>() == r.lr);
    CHECK(lines[i]["grad_norm"].get<double>() == r.grad_norm);
    CHECK(lines[i]["clips_per_s"].get<double>() == r.clips_per_s);
    CHECK(lines[i]["step_s"].get<double>() == r.step_s);
    CHECK(lines[i]["data_wait_share"].get<double>() == r.data_wait_share);
    CHECK(lines[i]["decode_amplification"].get<double>() == r.decode_amplification);
    CHECK(lines[i]["elapsed_s"].get<double>() == r.elapsed_s);
    CHECK(r.grad_norm > 0);
    if (i >= 3) CHECK(late.steps[i - 3].loss == r.loss);
  }
  // A failed run ends too: its observers hear on_finish, and nothing of the bad step.
  const auto nan_dir = longform::test::scratch("observers-nan");
  Pretrainer failing{long_video(), sequential(), fresh_objective({.poison_at = 2}), tiny_options(nan_dir)};
  auto& heard = failing.observe(Recorder{});
  CHECK_THROWS_AS(failing.run(), nonfinite_error);
  CHECK(heard.steps.size() == 1);
  CHECK(heard.finished == 1);
}

TEST_CASE("TensorBoard: TensorBoard's reader finds metrics.jsonl's scalars, also after a crash and a resume", "[train][tensorboard]") {
  const auto dir = longform::test::scratch("tensorboard");
  const auto events = dir / "tb";
  auto o = tiny_options(dir);  // a checkpoint every 5 steps
  o.steps = 10;
  {
    // Steps 1-6 reported, then a NaN at step 7: the checkpoint is step 5's.
    Pretrainer crashing{long_video(), sequential(), fresh_objective({.poison_at = 7}), o};
    crashing.observe(TensorBoard(events));
    CHECK_THROWS_AS(crashing.run(), nonfinite_error);
  }
  // Resumed after step 5: step 6 is trained (and reported) again, into a second event file.
  o.resume = true;
  Pretrainer resumed{long_video(), sequential(), NextFrame({.seed = 5}), o};
  const auto& board = resumed.observe(TensorBoard(events));
  CHECK(resumed.run().first_step == 5);
  CHECK(board.path().parent_path() == events);
  CHECK(board.path().filename().string().starts_with("events.out.tfevents."));
  REQUIRE(read_jsonl(dir / "metrics.jsonl").size() == 10);
  check_tensorboard(events, dir / "metrics.jsonl");
}

TEST_CASE("Pretrainer: optimizer policies: AdamW and SGD as types, the options' choice by default, one's own", "[train]") {
  STATIC_REQUIRE(OptimizerPolicy<AdamW>);
  STATIC_REQUIRE(OptimizerPolicy<SGD>);
  STATIC_REQUIRE(OptimizerPolicy<NoDecayOnBiases>);
  STATIC_REQUIRE_FALSE(OptimizerPolicy<torch::optim::AdamW>);  // LibTorch's class is what a policy builds
  auto sgd_options = in_memory(4);
  sgd_options.optimizer = OptimizerKind::sgd;
  sgd_options.lr = 0.05;
  auto sgd_type_options = sgd_options;
  sgd_type_options.optimizer = OptimizerKind::adamw;  // read by the default policy only

  Pretrainer by_options{long_video(), sequential(), fresh_objective(), sgd_options};
  Pretrainer by_type{long_video(), sequential(), fresh_objective(), sgd_type_options, SGD{}};
  CHECK(by_type.run().losses == by_options.run().losses);
  const auto* sgd = dynamic_cast<torch::optim::SGD*>(&by_type.optimizer());
  REQUIRE(sgd != nullptr);
  CHECK(static_cast<const torch::optim::SGDOptions&>(sgd->param_groups()[0].options()).momentum() == sgd_options.momentum);

  Pretrainer adamw_default{long_video(), sequential(), fresh_objective(), in_memory(4)};
  Pretrainer adamw_type{long_video(), sequential(), fresh_objective(), in_memory(4), AdamW{}};
  CHECK(adamw_type.run().losses == adamw_default.run().losses);
  CHECK(dynamic_cast<torch::optim::AdamW*>(&adamw_type.optimizer()) != nullptr);

  SECTION("one's own: two parameter groups, checkpointed and resumed exactly") {
    const auto full_dir = longform::test::scratch("optimizer-own-full");
    const auto split_dir = longform::test::scratch("optimizer-own-split");
    auto options = [](const std::filesystem::path& d) {
      auto o = tiny_options(d);
      o.steps = 6;
      o.weight_decay = 0.5;
      return o;
    };
    Pretrainer full{long_video(), sequential(), fresh_objective(), options(full_dir), NoDecayOnBiases{}};
    const auto whole = full.run().losses;
    const auto& groups = full.optimizer().param_groups();
    REQUIRE(groups.size() == 2);
    CHECK(static_cast<const torch::optim::AdamWOptions&>(groups[1].options()).weight_decay() == 0.0);
    std::vector<double> split;
    {
      Pretrainer first{long_video(), sequential(), fresh_objective(), options(split_dir), NoDecayOnBiases{}};
      split = first.run(3).losses;
    }
    auto o = options(split_dir);
    o.resume = true;
    Pretrainer second{long_video(), sequential(), NextFrame({.seed = 5}), o, NoDecayOnBiases{}};
    const auto rest = second.run().losses;
    split.insert(split.end(), rest.begin(), rest.end());
    CHECK(split == whole);
  }

  SECTION("an optimizer checkpoints cannot store is refused before the first step when out_dir is set") {
    const auto d = longform::test::scratch("optimizer-adagrad");
    Pretrainer refused{long_video(), sequential(), fresh_objective(), tiny_options(d), AdagradPolicy{}};
    CHECK_THROWS_WITH(refused.run(), Catch::Contains("checkpoints cannot store"));
    CHECK(refused.step() == 0);
    Pretrainer without_files{long_video(), sequential(), fresh_objective(), in_memory(2), AdagradPolicy{}};
    CHECK(without_files.run().losses.size() == 2);
  }
}

TEST_CASE("Pretrainer: the clip preparation is a policy: the paper's chain by default, any deterministic transform instead", "[train]") {
  const auto o = in_memory(3);
  Pretrainer paper{long_video(), sequential(), fresh_objective(), o};
  Pretrainer spelled{
      long_video(), sequential(), fresh_objective(), o, OptimizerFromOptions{}, ShortSideScale{.size = o.size} | CenterCrop(o.size) | Standardize{}};
  STATIC_REQUIRE(std::is_same_v<decltype(spelled), decltype(paper)>);
  const auto paper_losses = paper.run().losses;
  CHECK(spelled.run().losses == paper_losses);

  // One's own: the top-left corner, X3D's per-channel normalisation; run by the decode workers.
  auto o2 = o;
  o2.decode_workers = 2;
  CountedCorner corner;
  Pretrainer own{long_video(), sequential(), fresh_objective(), o2, OptimizerFromOptions{}, corner | Normalize{}};
  const auto losses = own.run().losses;
  REQUIRE(losses.size() == 3);
  CHECK(*corner.prepared >= 3 * o.batch);  // every clip trained on (and those read ahead)
  CHECK(losses != paper_losses);
}
