// SPDX-License-Identifier: MIT
/// @file
/// `Pretrainer<Sampler, Objective, Source>`: online self-supervised pre-training over a clip stream.
///
///     longform::Pretrainer trainer{longform::VideoList(paths), longform::SequentialSampler<longform::Frames<16>,
///                                  longform::Stride<4>>{}, MoCo<X3DM>{...}, {.steps = 2000, .out_dir = "runs/a"}};
///     auto report = trainer.run();
///
/// One step: the next `ClipBatch` of
///     source | sample(sampler, {.workers = W}, ShortSideScale | CenterCrop | Standardize) | batch(B) | prefetch(N)
/// (decoded and prepared by W decode workers, batched on a producer thread, while the model trains); `objective.loss(batch)` (under bf16
/// autocast on CUDA); backward; global-norm gradient clipping; the optimizer (AdamW or SGD) steps
/// at the `WarmupCosine` learning rate of the step; `objective.after_step()`.
///
/// On CUDA the sampler's `uint8` clips go up as they are (4× less than float): pinned memory,
/// copied `non_blocking` on the prefetcher's side stream, and resized, cropped and standardized
/// there on the GPU while the previous batch trains (pipeline/prefetch.hpp). Inside a step nothing
/// waits for the GPU: loss and gradient norm stay on the device and are read back together every
/// `sync_every` steps (one host sync), which is when they are checked and logged.
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
/// those of the last good step. A checkpoint is never written from non-finite weights. (With
/// `sync_every` N > 1 the values are read only every N steps: the error still names the first bad
/// step, but the steps up to the read were applied; the checkpoint on disk is still a good one.)
///
/// Data parallelism. Launched as N processes with torchrun's variables (`WORLD_SIZE` > 1, see
/// distributed/env.hpp; `options.distributed` turns it off), a Pretrainer joins the job through
/// c10d (distributed/process_group.hpp: Gloo on CPU, NCCL on `cuda:LOCAL_RANK`), and:
/// - reads only its shard of the source (`Sharded`: videos `rank, rank + N, …`), with `batch`
///   clips per rank and step (the global batch is N·batch);
/// - starts from rank 0's weights and buffers (`broadcast_state`), and averages gradients over
///   the ranks in buckets that start during backward (`GradientReducer`), so all ranks apply the
///   same update: that of one process over the union of the ranks' batches;
/// - logs the loss averaged over ranks; one small all-reduce per step also tells every rank when
///   any rank's sampler has run out, so all stop at the same step;
/// - hands objectives with `set_key_gather` (MoCo) an all-gather, so keys of every rank enter the
///   one queue; BatchNorm stays local to each rank (MoCo's shuffle-BN works within a rank);
/// - writes metrics, the progress bar and checkpoints from rank 0 only; the checkpoint holds every
///   rank's sampler and generator states (`TrainingState::ranks`), so a resumed job of the same
///   size continues every stream; resuming needs `out_dir` on a file system every rank sees.
/// A rank that dies or hangs makes the others throw `distributed_error` within `dist_timeout_s`.
///
/// Customization: the three policies — any `ClipSampler`, `SslObjective` and `VideoSource`.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <ATen/Context.h>
#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/stack.h>
#include <ATen/ops/tensor.h>
#include <ATen/ops/where.h>
#include <ATen/ops/zeros.h>
#include <torch/nn/module.h>
#include <torch/optim/adamw.h>
#include <torch/optim/sgd.h>

#include <longform/backbone/memory_format.hpp>
#include <longform/core/clip.hpp>
#include <longform/core/error.hpp>
#include <longform/core/progress.hpp>
#include <longform/core/telemetry.hpp>
#include <longform/core/threads.hpp>
#include <longform/distributed/data_parallel.hpp>
#include <longform/distributed/env.hpp>
#include <longform/distributed/process_group.hpp>
#include <longform/objective/concepts.hpp>
#include <longform/pipeline/batch.hpp>
#include <longform/pipeline/prefetch.hpp>
#include <longform/pipeline/sample.hpp>
#include <longform/pipeline/transform.hpp>
#include <longform/sampler/concepts.hpp>
#include <longform/source/concepts.hpp>
#include <longform/source/sharded.hpp>
#include <longform/train/autocast.hpp>
#include <longform/train/checkpoint.hpp>
#include <longform/train/options.hpp>
#include <longform/train/schedule.hpp>
#include <longform/transform/center_crop.hpp>
#include <longform/transform/compose.hpp>
#include <longform/transform/resize.hpp>
#include <longform/transform/standardize.hpp>
#include <longform/transform/to_device.hpp>

namespace longform {

class VideoList;  // the default source (source/video_list.hpp, which needs FFmpeg): include it to use the default

/// An objective that draws its randomness (augmentations, masks) from its own generator and shows
/// it, so checkpoints save and restore it: `at::Generator generator()` (a handle; copies share state).
template <class O>
concept ObjectiveWithGenerator = SslObjective<O> && requires(O& o) {
  { o.generator() } -> std::convertible_to<at::Generator>;
};

/// An objective that shares samples across the ranks of a data-parallel job: `set_key_gather(f)`
/// with `f(t)` = every rank's `t` concatenated along dim 0 (MoCo's queue keys).
template <class O>
concept ObjectiveWithKeyGather = SslObjective<O> && requires(O& o, std::function<at::Tensor(const at::Tensor&)> f) {
  o.set_key_gather(std::move(f));
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
  std::vector<double> losses;           ///< loss of each step it ran, in order (the mean over ranks)
  double seconds = 0;                   ///< wall time from the first batch's arrival to the end
  double startup_seconds = 0;           ///< wait for the first batch (pipeline start, first decode)
  double data_wait_share = 0;           ///< share of `seconds` spent waiting for data
  double decode_amplification = 0;      ///< frames decoded per frame used (this rank)
  double clips_per_s = 0;               ///< clips trained on per second of `seconds`, by all ranks together
  bool exhausted = false;               ///< the sampler ran out of clips before the last step
  std::int64_t corrupt_packets = 0;     ///< packets the decoder rejected and skipped (the stream went on)
  std::vector<SkippedVideo> skipped;    ///< videos skipped because they failed to open or decode
  std::filesystem::path checkpoint;     ///< the last checkpoint written (empty: none)
};

namespace detail {

// A rank's state as integers, so one all-gather collects every rank's (`save_checkpoint`).
inline std::vector<std::int64_t> pack(const RankState& st) {
  std::vector<std::int64_t> v{static_cast<std::int64_t>(st.sampler.kind.size())};
  v.insert(v.end(), st.sampler.kind.begin(), st.sampler.kind.end());
  v.push_back(static_cast<std::int64_t>(st.sampler.values.size()));
  v.insert(v.end(), st.sampler.values.begin(), st.sampler.values.end());
  for (const at::Tensor* t : {&st.cpu_rng, &st.objective_rng}) {
    if (!t->defined()) {
      v.push_back(-1);
      continue;
    }
    const at::Tensor bytes = t->contiguous();
    v.push_back(bytes.numel());
    v.insert(v.end(), bytes.data_ptr<std::uint8_t>(), bytes.data_ptr<std::uint8_t>() + bytes.numel());
  }
  return v;
}

inline RankState unpack(const std::vector<std::int64_t>& v) {
  std::size_t i = 0;
  auto take = [&](std::int64_t n) {
    const auto b = v.begin() + static_cast<std::ptrdiff_t>(i);
    i += static_cast<std::size_t>(n);
    return std::pair(b, b + n);
  };
  RankState st;
  auto [kb, ke] = take(v[i++]);
  for (auto it = kb; it != ke; ++it) st.sampler.kind.push_back(static_cast<char>(*it));
  auto [vb, ve] = take(v[i++]);
  st.sampler.values.assign(vb, ve);
  for (at::Tensor* t : {&st.cpu_rng, &st.objective_rng}) {
    const std::int64_t n = v[i++];
    if (n < 0) continue;
    *t = at::empty({n}, at::kByte);
    auto [b, e] = take(n);
    std::copy(b, e, t->data_ptr<std::uint8_t>());
  }
  return st;
}

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
template <class Sampler, class Objective, class Source = VideoList>
class Pretrainer {
  // Each names, in words, what its type lacks (rather than a constraint trace).
  static_assert(detail::require_sampler<Sampler>() && detail::require_objective<Objective>() && detail::require_source<Source>());

 public:
  /// Takes the three policies and the options (validated here).
  /// @throws options_error for a bad option.
  Pretrainer(Source source, Sampler sampler, Objective objective, PretrainerOptions options = {})
      : source_(std::move(source)), sampler_(std::move(sampler)), objective_(std::move(objective)), options_(std::move(options)) {
    validate(options_);
  }
  /// A default-built sampler and objective: `Pretrainer<SequentialSampler<Stride<8>>, MoCo<X3DM>> t(videos, {.steps = 100})`.
  /// @throws options_error for a bad option.
  explicit Pretrainer(Source source, PretrainerOptions options = {})
    requires std::default_initializable<Sampler> && std::default_initializable<Objective>
      : Pretrainer(std::move(source), Sampler(), Objective(), std::move(options)) {}
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
    const int world = world_size();
    auto telemetry = std::make_shared<Telemetry>();
    ToDevice upload;  // CUDA: the uint8 clip, pinned, non_blocking (on the prefetcher's side stream)
    upload.device = device_;
    ShortSideScale scale;
    scale.size = options_.size;
    SampleOptions sampling;
    sampling.context.telemetry = telemetry;
    sampling.resume = resume_;
    sampling.workers = static_cast<int>(options_.decode_workers > 0 ? options_.decode_workers
                                                                   : ThreadBudget::plan(static_cast<int>(options_.threads)).workers);
    Sharded<Source> shard(source_, static_cast<std::size_t>(rank()), static_cast<std::size_t>(world));
    const auto prepare = scale | CenterCrop(options_.size) | Standardize{};
    auto batch_ahead = views::batch(options_.batch, /*drop_last=*/true) |
                       views::prefetch(static_cast<std::size_t>(options_.prefetch), telemetry, device_);
    // CPU: the decode workers prepare the clips they decode. CUDA: the uint8 clips go up and are
    // prepared on the GPU.
    auto batches = device_.is_cuda() ? shard | views::sample(sampler_, std::move(sampling)) | views::transform(upload | prepare) | batch_ahead
                                     : shard | views::sample(sampler_, std::move(sampling), prepare) | batch_ahead;

    const WarmupCosine schedule = WarmupCosine::of(options_);
    ProgressBar progress(options_.steps, step_, options_.progress && rank() == 0);
    const auto started = clock::now();
    clock::time_point first{}, previous{};
    std::int64_t wait_at_first = 0;
    std::int64_t clips = 0;
    bool peer_ran_out = false;
    // Steps whose loss and gradient norm are still on the device; read back together (one sync),
    // checked, and logged by `drain`.
    struct Unread {
      std::int64_t step, clips;
      double lr;
      at::Tensor loss, grad_norm;
    };
    std::vector<Unread> unread;
    auto drain = [&] {
      if (unread.empty()) return;
      std::vector<at::Tensor> values;
      for (const auto& u : unread) {
        values.push_back(u.loss.to(at::kDouble));
        values.push_back(u.grad_norm.to(at::kDouble));
      }
      const at::Tensor host = at::stack(values).cpu();
      const double* v = host.const_data_ptr<double>();
      const auto done = clock::now();
      const double window_s = std::chrono::duration<double>(done - previous).count();
      previous = done;
      std::int64_t window_clips = 0;
      for (const auto& u : unread) window_clips += u.clips;
      const double step_s = window_s / static_cast<double>(unread.size());
      const double clips_per_s = window_s > 0 ? static_cast<double>(window_clips) / window_s : 0.0;
      const double elapsed = std::chrono::duration<double>(done - first).count();
      const double wait = static_cast<double>(telemetry->wait_ns.load() - wait_at_first) * 1e-9;
      for (std::size_t i = 0; i < unread.size(); ++i) {
        const auto& u = unread[i];
        const double loss_value = v[2 * i], grad_norm = v[2 * i + 1];
        if (!std::isfinite(loss_value)) throw nonfinite_error(u.step, "loss", loss_value, checkpoint_note());
        if (!std::isfinite(grad_norm)) throw nonfinite_error(u.step, "gradient norm", grad_norm, checkpoint_note());
        report.losses.push_back(loss_value);
        write_metrics(u.step, loss_value, u.lr, grad_norm, clips_per_s, step_s, elapsed > 0 ? wait / elapsed : 0.0,
                      telemetry->amplification(), elapsed);
        progress.update(u.step, loss_value, u.lr, clips_per_s);
      }
      unread.clear();
    };
    for (ClipBatch batch : batches) {  // by value: the view hands out copies (cheap tensor handles)
      const auto now = clock::now();
      if (step_ == report.first_step) {
        first = previous = now;
        wait_at_first = telemetry->wait_ns.load();
        report.startup_seconds = std::chrono::duration<double>(now - started).count();
      }
      const std::int64_t step = step_ + 1;
      const double lr = schedule(step);
      for (auto& group : optimizer_->param_groups()) group.options().set_lr(lr);
      optimizer_->zero_grad();

      at::Tensor loss;
      {
        Bf16Autocast autocast(device_.is_cuda() && options_.bf16);
        loss = objective_.loss(batch);
      }
      TORCH_CHECK(loss.defined() && loss.numel() == 1, "Pretrainer: the objective's loss must be a scalar, got ",
                  loss.defined() ? loss.sizes() : at::IntArrayRef{});
      at::Tensor logged_loss = loss.detach().reshape({});
      if (group_) {
        // {loss, 1} summed over the ranks: the mean loss, and whether every rank had a batch for this
        // step. Read on the host every step (a data-parallel job syncs here): a rank that ran out of
        // clips must stop every rank at the same step.
        const at::Tensor both = at::stack({logged_loss.to(at::kDouble), at::ones({}, logged_loss.options().dtype(at::kDouble))});
        group_->all_reduce(both);
        if (both[1].item<double>() < world) {
          peer_ran_out = true;
          break;
        }
        logged_loss = both[0] / world;
      }
      loss.backward();
      if (reducer_) reducer_->synchronize();
      const std::int64_t b = batch.data.size(0) * world;
      unread.push_back({step, b, lr, logged_loss, clip_gradients()});
      // Checked before the optimizer steps: with sync_every = 1 nothing of a bad step is applied.
      if (static_cast<std::int64_t>(unread.size()) >= options_.sync_every) drain();
      optimizer_->step();
      objective_.after_step();

      step_ = step;
      resume_ = batch.resume;  // the consumed batch's state, not the producer's read-ahead
      clips += b;
      const bool checkpoint = options_.checkpoint_every > 0 && step % options_.checkpoint_every == 0 && step < last;
      if (checkpoint || step_ >= last) drain();
      log_skipped(*telemetry, report.skipped);
      if (checkpoint) save_checkpoint();
      if (step_ >= last) break;
    }
    drain();  // the sampler ran out with steps unread
    progress.finish();
    // This rank ran out of clips: tell the others, which wait in the step's all-reduce.
    if (group_ && step_ < last && !peer_ran_out) group_->all_reduce(at::zeros({2}, at::TensorOptions().dtype(at::kDouble).device(device_)));
    report.exhausted = step_ < last;
    report.last_step = step_;
    if (step_ > report.first_step) {
      report.seconds = std::chrono::duration<double>(clock::now() - first).count();
      report.data_wait_share = report.seconds > 0 ? static_cast<double>(telemetry->wait_ns.load() - wait_at_first) * 1e-9 / report.seconds : 0;
      report.clips_per_s = report.seconds > 0 ? static_cast<double>(clips) / report.seconds : 0;
    }
    report.decode_amplification = telemetry->amplification();
    report.corrupt_packets = telemetry->corrupt_packets.load();
    log_skipped(*telemetry, report.skipped);
    if (!options_.out_dir.empty() && last_checkpoint_step_ != step_) save_checkpoint();
    report.checkpoint = last_checkpoint_;
    // Nobody returns (and, on rank 0, takes the rendezvous store down) before the checkpoint is written.
    if (group_) group_->barrier();
    return report;
  }

  /// This process's rank in a data-parallel job (0 when alone); known after the first `run`.
  [[nodiscard]] int rank() const noexcept { return group_ ? group_->rank() : 0; }
  /// Processes in the job (1 when alone); known after the first `run`.
  [[nodiscard]] int world_size() const noexcept { return group_ ? group_->size() : 1; }

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
    std::optional<DistributedEnv> env;
    if (options_.distributed) env = DistributedEnv::from_environment();
    if (env && env->world_size < 2) env.reset();
    device_ = c10::Device(options_.device);
    if (device_.is_cuda() && !at::hasCUDA()) {
      throw options_error("device", "'" + options_.device + "' requested, but this LibTorch sees no CUDA device");
    }
    if (env && device_.is_cuda() && !device_.has_index()) device_ = c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(env->local_rank));
    if (env) {
      const auto timeout = std::chrono::milliseconds(static_cast<std::int64_t>(options_.dist_timeout_s * 1000));
      group_ = std::make_shared<ProcessGroup>(*env, ProcessGroupOptions{.timeout = timeout, .device = device_});
    }
    if (device_.is_cuda()) at::globalContext().setBenchmarkCuDNN(options_.cudnn_benchmark);
    if (options_.threads > 0) ThreadBudget::plan(static_cast<int>(options_.threads), 1).apply();
    objective_.module().to(device_);
    if (options_.channels_last) to_memory_format(objective_.module(), at::MemoryFormat::ChannelsLast3d);
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
      TrainingState st = load_training_checkpoint(ckpt, objective_.module(), *optimizer_, device_);
      step_ = st.step;
      if (group_ || !st.ranks.empty()) use_rank_state(st, ckpt);
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
      if (rank() == 0) open_metrics(/*keep_until=*/step_);
    } else {
      at::manual_seed(options_.seed + static_cast<std::uint64_t>(rank()));  // ranks draw different dropout and noise
      if (rank() == 0) open_metrics(/*keep_until=*/-1);
    }
    if (group_) join_ranks(ckpt);
  }

  // Data parallelism, once every rank has its objective, optimizer and (maybe) checkpoint:
  // one step everywhere, rank 0's weights everywhere, gradient averaging, shared MoCo keys.
  void join_ranks(const std::filesystem::path& ckpt) {
    const at::Tensor steps = group_->all_gather(at::tensor({step_}, at::kLong).to(device_)).cpu();
    for (int r = 0; r < group_->size(); ++r) {
      if (steps[r].item<std::int64_t>() != step_) {
        throw checkpoint_error(ckpt, "rank " + std::to_string(r) + " starts at step " + std::to_string(steps[r].item<std::int64_t>()) +
                                         " but rank " + std::to_string(rank()) + " at step " + std::to_string(step_) +
                                         ": resuming needs out_dir on a file system every rank sees");
      }
    }
    broadcast_state(objective_.module(), *group_);
    reducer_ = std::make_unique<GradientReducer>(params_, group_, ReducerOptions{.bucket_mib = options_.dist_bucket_mib});
    if constexpr (ObjectiveWithKeyGather<Objective>) {
      objective_.set_key_gather([group = group_](const at::Tensor& keys) { return group->all_gather(keys); });
    }
  }

  // On resume, this rank continues its own stream: its entry of `st.ranks` replaces rank 0's.
  void use_rank_state(TrainingState& st, const std::filesystem::path& ckpt) const {
    const auto world = static_cast<std::size_t>(world_size());
    const std::size_t wrote = st.ranks.empty() ? 1 : st.ranks.size();
    if (wrote != world) {
      throw checkpoint_error(ckpt, "written by a job of " + std::to_string(wrote) + " process(es), resumed by " + std::to_string(world) +
                                       ": every rank's stream continues only with the same number of processes");
    }
    if (st.ranks.empty()) return;
    RankState& mine = st.ranks[static_cast<std::size_t>(rank())];
    st.sampler = mine.sampler;
    st.cpu_rng = mine.cpu_rng;
    st.objective_rng = mine.objective_rng;
  }

  // This rank's sampler and generator states.
  RankState own_rank_state() {
    RankState st;
    if (resume_) st.sampler = *resume_;
    st.cpu_rng = generator_state(at::detail::getDefaultCPUGenerator());
    if constexpr (ObjectiveWithGenerator<Objective>) st.objective_rng = generator_state(objective_.generator());
    return st;
  }

  // Global L2 norm of the gradients, left on the device (no sync); scales them down to `grad_clip`
  // when above it (a non-finite norm scales nothing: the step is refused when the norm is read).
  at::Tensor clip_gradients() {
    std::vector<at::Tensor> grads, norms;
    for (const auto& p : params_) {
      if (p.grad().defined()) grads.push_back(p.grad().detach());
    }
    if (grads.empty()) return at::zeros({}, at::TensorOptions(at::kDouble).device(device_));
    norms.reserve(grads.size());
    for (const auto& g : grads) norms.push_back(g.to(at::kFloat).norm());
    const at::Tensor total = at::stack(norms).norm();
    if (options_.grad_clip > 0) {
      const at::Tensor norm = total.to(at::kDouble);
      const at::Tensor scale = at::where(norm.gt(options_.grad_clip), norm.add(1e-6).reciprocal().mul(options_.grad_clip), 1.0);
      for (auto& g : grads) g.mul_(scale);
    }
    return total;
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

  // Refuses non-finite weights (so a checkpoint is always a state worth resuming), then writes
  // atomically. Data parallel: every rank calls it at the same step (weights are identical, so all
  // refuse alike); rank 0 gathers every rank's state and writes.
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
    RankState own = own_rank_state();
    if (group_) {
      for (const auto& values : group_->all_gather(detail::pack(own))) st.ranks.push_back(detail::unpack(values));
    }
    st.sampler = own.sampler;
    st.cpu_rng = own.cpu_rng;
    st.objective_rng = own.objective_rng;
    if (device_.is_cuda()) st.device_rng = generator_state(at::globalContext().defaultGenerator(device_));
    st.options = to_json(options_);
    if (rank() == 0) save_training_checkpoint(checkpoint_path(), objective_.module(), *optimizer_, st);
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
  std::shared_ptr<ProcessGroup> group_;       // data parallel only
  std::unique_ptr<GradientReducer> reducer_;  // data parallel only
};

/// CTAD: `Pretrainer{source, sampler, objective, options}`.
template <VideoSource Src, ClipSampler S, SslObjective O>
Pretrainer(Src, S, O, PretrainerOptions) -> Pretrainer<S, O, Src>;
template <VideoSource Src, ClipSampler S, SslObjective O>
Pretrainer(Src, S, O) -> Pretrainer<S, O, Src>;

}  // namespace longform
