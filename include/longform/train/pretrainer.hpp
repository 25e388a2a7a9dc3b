// SPDX-License-Identifier: MIT
/// @file
/// `Pretrainer<Sampler, Objective, Source>`: online self-supervised pre-training over a clip stream.
///
///     longform::Pretrainer trainer{longform::VideoList(paths), longform::SequentialSampler<longform::Frames<16>,
///                                  longform::Stride<4>>{}, MoCo<X3DM>{...}, {.steps = 2000, .out_dir = "runs/a"}};
///     auto report = trainer.run();
///
/// One step: the next `ClipBatch` of
///     source | sample(sampler) | transform(ShortSideScale | CenterCrop | Standardize) | batch(B) | prefetch(N)
/// (decoded on a producer thread while the model trains) goes to the device; `objective.loss(batch)`
/// (under bf16 autocast on CUDA); backward; global-norm gradient clipping; the optimizer (AdamW or
/// SGD) steps at the `WarmupCosine` learning rate of the step; `objective.after_step()`.
///
/// What a run leaves in `out_dir`:
/// - `metrics.jsonl`: one line per step — step, loss, lr, grad_norm, clips_per_s, step_s,
///   data_wait_share (share of wall time since the first batch spent waiting for data),
///   decode_amplification (frames decoded per frame used), elapsed_s.
/// - `checkpoint.pt`: every `checkpoint_every` steps and when `run` returns, written atomically
///   (train/checkpoint.hpp): module, optimizer, step, sampler state, RNG states.
///
/// Exact resume. The sampler state saved is that of the *last batch trained on* (`ClipBatch::resume`),
/// not of the producer, which has read ahead; the schedule is a function of the step; the RNG states
/// of LibTorch's default generators and of the objective's own generator (when it exposes
/// `generator()`, see `ObjectiveWithGenerator`) are saved. So on CPU, resuming after step k
/// continues with the same batches and bit-identical losses as the uninterrupted run.
///
/// Bad videos. A video that fails to open or decode is skipped (logged on stderr, listed in
/// `PretrainReport::skipped`), and the run goes on with the others; see `ContextOptions::skip_bad_videos`.
///
/// Failure. A non-finite loss or gradient norm stops the run with a `nonfinite_error` naming the
/// step, before the optimizer steps: the weights, the checkpoint on disk and the metrics stay
/// those of the last good step. A checkpoint is never written from non-finite weights.
///
/// Customization: the three policies — any `ClipSampler`, `SslObjective` and `VideoSource`.
#pragma once

#include <chrono>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <ATen/Context.h>
#include <ATen/autocast_mode.h>
#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/stack.h>
#include <torch/nn/module.h>
#include <torch/optim/adamw.h>
#include <torch/optim/sgd.h>

#include <longform/core/clip.hpp>
#include <longform/core/error.hpp>
#include <longform/core/telemetry.hpp>
#include <longform/core/threads.hpp>
#include <longform/objective/concepts.hpp>
#include <longform/pipeline/batch.hpp>
#include <longform/pipeline/prefetch.hpp>
#include <longform/pipeline/sample.hpp>
#include <longform/pipeline/transform.hpp>
#include <longform/sampler/concepts.hpp>
#include <longform/source/concepts.hpp>
#include <longform/source/video_list.hpp>
#include <longform/train/checkpoint.hpp>
#include <longform/train/options.hpp>
#include <longform/train/progress.hpp>
#include <longform/train/schedule.hpp>
#include <longform/transform/center_crop.hpp>
#include <longform/transform/compose.hpp>
#include <longform/transform/resize.hpp>
#include <longform/transform/standardize.hpp>

namespace longform {

/// An objective that draws its randomness (augmentations, masks) from its own generator and shows
/// it, so checkpoints save and restore it: `at::Generator generator()` (a handle; copies share state).
template <class O>
concept ObjectiveWithGenerator = SslObjective<O> && requires(O& o) {
  { o.generator() } -> std::convertible_to<at::Generator>;
};

/// Training hit a non-finite number; nothing of step `step()` was applied.
class nonfinite_error : public error {
 public:
  nonfinite_error(std::int64_t step, std::string quantity, double value, const std::string& checkpoint)
      : error("Pretrainer: non-finite " + quantity + " (" + detail::show(value) + ") at step " + std::to_string(step) +
              "; the step was not applied and " + (checkpoint.empty() ? std::string("no checkpoint was written") : "the last checkpoint is " + checkpoint)),
        step_(step),
        quantity_(std::move(quantity)),
        value_(value) {}
  /// The step (1-based) whose loss, gradients or weights were not finite.
  [[nodiscard]] std::int64_t step() const noexcept { return step_; }
  /// "loss", "gradient norm" or "parameter 'NAME'".
  [[nodiscard]] const std::string& quantity() const noexcept { return quantity_; }
  [[nodiscard]] double value() const noexcept { return value_; }

 private:
  std::int64_t step_;
  std::string quantity_;
  double value_;
};

/// What one call of `Pretrainer::run` did.
struct PretrainReport {
  std::int64_t first_step = 0;          ///< the step the call started after (0, or the resumed step)
  std::int64_t last_step = 0;           ///< the step it ended at
  std::vector<double> losses;           ///< loss of each step it ran, in order
  double seconds = 0;                   ///< wall time from the first batch's arrival to the end
  double startup_seconds = 0;           ///< wait for the first batch (pipeline start, first decode)
  double data_wait_share = 0;           ///< share of `seconds` spent waiting for data
  double decode_amplification = 0;      ///< frames decoded per frame used
  double clips_per_s = 0;               ///< clips trained on per second of `seconds`
  bool exhausted = false;               ///< the sampler ran out of clips before the last step
  std::int64_t corrupt_packets = 0;     ///< packets the decoder rejected and skipped (the stream went on)
  std::vector<SkippedVideo> skipped;    ///< videos skipped because they failed to open or decode
  std::filesystem::path checkpoint;     ///< the last checkpoint written (empty: none)
};

namespace detail {
// bf16 autocast on CUDA for the scope (the forward); restores the previous setting.
class cuda_autocast {
 public:
  explicit cuda_autocast(bool on) : on_(on) {
    if (!on_) return;
    enabled_ = at::autocast::is_autocast_enabled(at::kCUDA);
    dtype_ = at::autocast::get_autocast_dtype(at::kCUDA);
    at::autocast::set_autocast_enabled(at::kCUDA, true);
    at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
    at::autocast::increment_nesting();
  }
  cuda_autocast(const cuda_autocast&) = delete;
  cuda_autocast& operator=(const cuda_autocast&) = delete;
  ~cuda_autocast() {
    if (!on_) return;
    // The cast cache holds bf16 copies of the weights; they are stale once the optimizer steps.
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    at::autocast::set_autocast_enabled(at::kCUDA, enabled_);
    at::autocast::set_autocast_dtype(at::kCUDA, dtype_);
  }

 private:
  bool on_;
  bool enabled_ = false;
  at::ScalarType dtype_ = at::kBFloat16;
};

inline std::int64_t json_step(const std::string& line) {
  const auto k = line.find("\"step\":");
  if (k == std::string::npos) return -1;
  return std::strtoll(line.c_str() + k + 7, nullptr, 10);
}
}  // namespace detail

/// The online pre-training loop (see the file comment).
/// @tparam Sampler any `ClipSampler` (sequential, random, multistream, replay, your own)
/// @tparam Objective any `SslObjective` (MoCo, VideoMAE, distillation, your own)
/// @tparam Source any `VideoSource` (default `VideoList`: files)
template <ClipSampler Sampler, SslObjective Objective, VideoSource Source = VideoList>
class Pretrainer {
 public:
  /// Takes the three policies and the options (validated here).
  /// @throws options_error for a bad option.
  Pretrainer(Source source, Sampler sampler, Objective objective, PretrainerOptions options = {})
      : source_(std::move(source)), sampler_(std::move(sampler)), objective_(std::move(objective)), options_(std::move(options)) {
    validate(options_);
  }
  Pretrainer(const Pretrainer&) = delete;
  Pretrainer& operator=(const Pretrainer&) = delete;
  ~Pretrainer() {
    if (metrics_) std::fclose(metrics_);
  }

  /// Trains up to step `stop_at` (0: to `options().steps`), continuing from where the last call or
  /// the checkpoint (with `resume`) ended, and writes a checkpoint at the end when `out_dir` is set.
  /// @throws nonfinite_error when a loss, gradient norm or weight is not finite (nothing applied).
  /// @throws checkpoint_error / options_error / the pipeline's errors (decode_error naming the video).
  PretrainReport run(std::int64_t stop_at = 0) {
    prepare();
    const std::int64_t last = stop_at > 0 ? std::min(stop_at, options_.steps) : options_.steps;
    PretrainReport report;
    report.first_step = report.last_step = step_;
    report.checkpoint = last_checkpoint_;
    if (step_ >= last) return report;

    using clock = std::chrono::steady_clock;
    auto telemetry = std::make_shared<Telemetry>();
    const bool pin = device_.is_cuda();
    ShortSideScale scale;
    scale.size = options_.size;
    SampleOptions sampling;
    sampling.context.telemetry = telemetry;
    sampling.resume = resume_;
    auto batches = source_ | views::sample(sampler_, std::move(sampling)) |
                   views::transform(scale | CenterCrop(options_.size) | Standardize{}) | views::batch(options_.batch, /*drop_last=*/true) |
                   views::transform([pin](ClipBatch b) {
                     // Page-locked on the producer thread, so the copy to the GPU overlaps compute.
                     if (pin) b.data = b.data.pin_memory();
                     return b;
                   }) |
                   views::prefetch(static_cast<std::size_t>(options_.prefetch), telemetry);

    const WarmupCosine schedule = WarmupCosine::of(options_);
    ProgressBar progress(options_.steps, step_, options_.progress);
    const auto started = clock::now();
    clock::time_point first{}, previous{};
    std::int64_t wait_at_first = 0;
    std::int64_t clips = 0;
    for (ClipBatch batch : batches) {  // by value: the view hands out copies (cheap tensor handles)
      const auto now = clock::now();
      if (report.losses.empty()) {
        first = previous = now;
        wait_at_first = telemetry->wait_ns.load();
        report.startup_seconds = std::chrono::duration<double>(now - started).count();
      }
      const std::int64_t step = step_ + 1;
      batch.data = batch.data.to(at::TensorOptions().device(device_), /*non_blocking=*/pin);
      const double lr = schedule(step);
      for (auto& group : optimizer_->param_groups()) group.options().set_lr(lr);
      optimizer_->zero_grad();

      at::Tensor loss;
      {
        detail::cuda_autocast autocast(device_.is_cuda() && options_.bf16);
        loss = objective_.loss(batch);
      }
      TORCH_CHECK(loss.defined() && loss.numel() == 1, "Pretrainer: the objective's loss must be a scalar, got ",
                  loss.defined() ? loss.sizes() : at::IntArrayRef{});
      const double loss_value = loss.detach().item<double>();
      if (!std::isfinite(loss_value)) throw nonfinite_error(step, "loss", loss_value, checkpoint_note());
      loss.backward();
      const double grad_norm = clip_gradients();
      if (!std::isfinite(grad_norm)) throw nonfinite_error(step, "gradient norm", grad_norm, checkpoint_note());
      optimizer_->step();
      objective_.after_step();

      step_ = step;
      resume_ = batch.resume;  // the consumed batch's state, not the producer's read-ahead
      report.losses.push_back(loss_value);
      const std::int64_t b = batch.data.size(0);
      clips += b;

      const auto done = clock::now();
      const double step_s = std::chrono::duration<double>(done - previous).count();
      previous = done;
      const double elapsed = std::chrono::duration<double>(done - first).count();
      const double wait = static_cast<double>(telemetry->wait_ns.load() - wait_at_first) * 1e-9;
      const double clips_per_s = step_s > 0 ? static_cast<double>(b) / step_s : 0.0;
      write_metrics(step, loss_value, lr, grad_norm, clips_per_s, step_s, elapsed > 0 ? wait / elapsed : 0.0,
                    telemetry->amplification(), elapsed);
      progress.update(step, loss_value, lr, clips_per_s);
      log_skipped(*telemetry, report.skipped);
      if (options_.checkpoint_every > 0 && step % options_.checkpoint_every == 0 && step < last) save_checkpoint();
      if (step_ >= last) break;
    }
    progress.finish();
    report.exhausted = step_ < last;
    report.last_step = step_;
    if (!report.losses.empty()) {
      report.seconds = std::chrono::duration<double>(clock::now() - first).count();
      report.data_wait_share = report.seconds > 0 ? static_cast<double>(telemetry->wait_ns.load() - wait_at_first) * 1e-9 / report.seconds : 0;
      report.clips_per_s = report.seconds > 0 ? static_cast<double>(clips) / report.seconds : 0;
    }
    report.decode_amplification = telemetry->amplification();
    report.corrupt_packets = telemetry->corrupt_packets.load();
    log_skipped(*telemetry, report.skipped);
    if (!options_.out_dir.empty() && last_checkpoint_step_ != step_) save_checkpoint();
    report.checkpoint = last_checkpoint_;
    return report;
  }

  /// Optimizer steps done (restored ones included).
  [[nodiscard]] std::int64_t step() const noexcept { return step_; }
  [[nodiscard]] const PretrainerOptions& options() const noexcept { return options_; }
  [[nodiscard]] Objective& objective() noexcept { return objective_; }
  [[nodiscard]] const Sampler& sampler() const noexcept { return sampler_; }
  /// The sampler state after the last batch trained on (empty before the first step).
  [[nodiscard]] const std::optional<SamplerState>& resume_state() const noexcept { return resume_; }
  /// The optimizer (built on the first `run`). @throws config_error before.
  [[nodiscard]] torch::optim::Optimizer& optimizer() {
    if (!optimizer_) throw config_error("Pretrainer::optimizer: not built before the first run()");
    return *optimizer_;
  }
  /// `out_dir/checkpoint.pt` (empty path without `out_dir`).
  [[nodiscard]] std::filesystem::path checkpoint_path() const {
    return options_.out_dir.empty() ? std::filesystem::path() : std::filesystem::path(options_.out_dir) / "checkpoint.pt";
  }
  /// `out_dir/metrics.jsonl` (empty path without `out_dir`).
  [[nodiscard]] std::filesystem::path metrics_path() const {
    return options_.out_dir.empty() ? std::filesystem::path() : std::filesystem::path(options_.out_dir) / "metrics.jsonl";
  }

 private:
  // Once: device, threads, optimizer, output folder, then either the checkpoint or the seed.
  void prepare() {
    if (optimizer_) return;
    device_ = c10::Device(options_.device);
    if (device_.is_cuda() && !at::hasCUDA()) {
      throw options_error("device", "'" + options_.device + "' requested, but this LibTorch sees no CUDA device");
    }
    if (options_.threads > 0) ThreadBudget::plan(static_cast<int>(options_.threads), 1).apply();
    objective_.module().to(device_);
    // Training mode (BatchNorm batch statistics, dropout); objectives with frozen parts (a teacher)
    // override `train` to keep those in eval mode.
    objective_.module().train(true);
    params_ = objective_.parameters();
    if (params_.empty()) throw config_error("Pretrainer: the objective has no trainable parameters");
    if (options_.optimizer == OptimizerKind::sgd) {
      optimizer_ = std::make_unique<torch::optim::SGD>(
          params_, torch::optim::SGDOptions(options_.lr).momentum(options_.momentum).weight_decay(options_.weight_decay));
    } else {
      optimizer_ = std::make_unique<torch::optim::AdamW>(
          params_, torch::optim::AdamWOptions(options_.lr)
                       .betas(std::make_tuple(options_.beta1, options_.beta2))
                       .weight_decay(options_.weight_decay));
    }
    const auto ckpt = checkpoint_path();
    if (!options_.out_dir.empty()) std::filesystem::create_directories(options_.out_dir);
    if (options_.resume && std::filesystem::exists(ckpt)) {
      const TrainingState st = load_training_checkpoint(ckpt, objective_.module(), *optimizer_, device_);
      step_ = st.step;
      if (!st.sampler.kind.empty()) resume_ = st.sampler;
      if (st.cpu_rng.defined()) {
        at::Generator cpu = at::detail::getDefaultCPUGenerator();
        set_generator_state(cpu, st.cpu_rng);
      }
      if (st.device_rng.defined() && device_.is_cuda()) {
        at::Generator gen = at::globalContext().defaultGenerator(device_);
        set_generator_state(gen, st.device_rng);
      }
      if constexpr (ObjectiveWithGenerator<Objective>) {
        if (st.objective_rng.defined()) {
          at::Generator gen = objective_.generator();
          set_generator_state(gen, st.objective_rng);
        }
      }
      last_checkpoint_ = ckpt;
      last_checkpoint_step_ = step_;
      open_metrics(/*keep_until=*/step_);
    } else {
      at::manual_seed(options_.seed);
      open_metrics(/*keep_until=*/-1);
    }
  }

  // Global L2 norm of the gradients (one device sync); scales them down to `grad_clip` when above it.
  double clip_gradients() {
    std::vector<at::Tensor> norms;
    norms.reserve(params_.size());
    for (const auto& p : params_) {
      if (p.grad().defined()) norms.push_back(p.grad().detach().to(at::kFloat).norm());
    }
    if (norms.empty()) return 0.0;
    const at::Tensor total = at::stack(norms).norm();
    const double norm = total.item<double>();
    if (options_.grad_clip > 0 && std::isfinite(norm) && norm > options_.grad_clip) {
      const double scale = options_.grad_clip / (norm + 1e-6);
      for (auto& p : params_) {
        if (p.grad().defined()) p.grad().detach().mul_(scale);
      }
    }
    return norm;
  }

  // Appends the videos skipped since the last call to `skipped`, saying so on stderr.
  static void log_skipped(const Telemetry& telemetry, std::vector<SkippedVideo>& skipped) {
    if (static_cast<std::size_t>(telemetry.videos_skipped.load()) == skipped.size()) return;
    for (auto& s : telemetry.skipped(skipped.size())) {
      std::fprintf(stderr, "longform: skipped %s: %s\n", s.video.c_str(), s.error.c_str());
      skipped.push_back(std::move(s));
    }
  }

  std::string checkpoint_note() const {
    if (last_checkpoint_.empty()) return "";
    return last_checkpoint_.string() + " (step " + std::to_string(last_checkpoint_step_) + ")";
  }

  // Refuses non-finite weights (so a checkpoint is always a state worth resuming), then writes atomically.
  void save_checkpoint() {
    std::vector<std::pair<std::string, at::Tensor>> tensors;
    for (const auto& p : objective_.module().named_parameters()) tensors.emplace_back(p.key(), p.value());
    for (const auto& b : objective_.module().named_buffers()) {
      if (at::isFloatingType(b.value().scalar_type())) tensors.emplace_back(b.key(), b.value());
    }
    if (!tensors.empty()) {
      std::vector<at::Tensor> finite;
      finite.reserve(tensors.size());
      for (const auto& [name, t] : tensors) finite.push_back(t.detach().isfinite().all());
      if (!at::stack(finite).all().item<bool>()) {
        for (const auto& [name, t] : tensors) {
          if (!t.detach().isfinite().all().item().toBool()) throw nonfinite_error(step_, "parameter '" + name + "'", NAN, checkpoint_note());
        }
      }
    }
    TrainingState st;
    st.step = step_;
    if (resume_) st.sampler = *resume_;
    st.cpu_rng = generator_state(at::detail::getDefaultCPUGenerator());
    if (device_.is_cuda()) st.device_rng = generator_state(at::globalContext().defaultGenerator(device_));
    if constexpr (ObjectiveWithGenerator<Objective>) st.objective_rng = generator_state(objective_.generator());
    st.options = to_json(options_);
    save_training_checkpoint(checkpoint_path(), objective_.module(), *optimizer_, st);
    last_checkpoint_ = checkpoint_path();
    last_checkpoint_step_ = step_;
  }

  // Opens metrics.jsonl for appending; on resume, drops lines of steps after the checkpoint (a run
  // that crashed after its last checkpoint logged steps that will now be run again). The kept lines
  // are rewritten atomically: a run killed right here must not lose the history.
  void open_metrics(std::int64_t keep_until) {
    if (options_.out_dir.empty()) return;
    const auto path = metrics_path();
    std::string kept;
    if (keep_until >= 0) {
      std::ifstream in(path);
      for (std::string line; std::getline(in, line);) {
        const auto s = detail::json_step(line);
        if (s >= 0 && s <= keep_until) kept += line + '\n';
      }
    }
    write_atomically(path, [&](const ByteSink& sink) { sink(kept.data(), kept.size()); });
    metrics_ = std::fopen(path.c_str(), "a");
    if (!metrics_) throw config_error(path.string() + ": cannot open for writing");
  }

  void write_metrics(std::int64_t step, double loss, double lr, double grad_norm, double clips_per_s, double step_s, double wait_share,
                     double amplification, double elapsed) {
    if (!metrics_) return;
    std::string line = "{\"step\":" + std::to_string(step);
    auto field = [&](const char* name, double v) {
      line += ",\"";
      line += name;
      line += "\":";
      detail::json_value(line, v);
    };
    field("loss", loss);
    field("lr", lr);
    field("grad_norm", grad_norm);
    field("clips_per_s", clips_per_s);
    field("step_s", step_s);
    field("data_wait_share", wait_share);
    field("decode_amplification", amplification);
    field("elapsed_s", elapsed);
    line += "}\n";
    std::fputs(line.c_str(), metrics_);
    std::fflush(metrics_);  // so `tail -f` and a crash both see every finished step
  }

  Source source_;
  [[no_unique_address]] Sampler sampler_;
  Objective objective_;
  PretrainerOptions options_;
  c10::Device device_{c10::kCPU};
  std::vector<at::Tensor> params_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  std::int64_t step_ = 0;
  std::optional<SamplerState> resume_;
  std::filesystem::path last_checkpoint_;
  std::int64_t last_checkpoint_step_ = -1;
  std::FILE* metrics_ = nullptr;
};

/// CTAD: `Pretrainer{source, sampler, objective, options}`.
template <VideoSource Src, ClipSampler S, SslObjective O>
Pretrainer(Src, S, O, PretrainerOptions) -> Pretrainer<S, O, Src>;
template <VideoSource Src, ClipSampler S, SslObjective O>
Pretrainer(Src, S, O) -> Pretrainer<S, O, Src>;

}  // namespace longform
