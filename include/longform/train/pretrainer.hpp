// SPDX-License-Identifier: MIT
/// @file
/// `Pretrainer<Sampler, Objective, Source, Optimizer, Prepare>`: online self-supervised pre-training
/// over a clip stream.
///
///     longform::Pretrainer trainer{longform::VideoList(paths), longform::SequentialSampler<longform::Frames<16>,
///                                  longform::Stride<4>>{}, MoCo<X3DM>{...}, {.steps = 2000, .out_dir = "runs/a"}};
///     trainer.observe(longform::TensorBoard("runs/a/tb"));  // optional (train/tensorboard.hpp)
///     auto report = trainer.run();
///
/// One step: the next `ClipBatch` of
///     source | sample(sampler, {.workers = W}, prepare) | batch(B) | prefetch(N)
/// (decoded and prepared by W decode workers, batched on a producer thread, while the model trains); `objective.loss(batch)` (under bf16
/// autocast on CUDA); backward; global-norm gradient clipping; the optimizer steps at the
/// `WarmupCosine` learning rate of the step; `objective.after_step()`.
///
/// Update pace. With `update_every` k a step takes k batches: each one's loss, divided by k, is
/// back-propagated, so the step's gradient is their mean (the gradient of one batch of k·B clips
/// when the loss is a mean over clips), and clipped, checked and applied once. `steps` counts
/// optimizer steps, as do the schedule, `sync_every`, `checkpoint_every`, the metrics (the loss of
/// a step is the mean of its batches') and checkpoints, so a run reads steps·k batches and stops,
/// checkpoints and resumes only between steps. The optimizer policy's `on_batch`, when it has one,
/// hears every batch before its loss (train/optimizer.hpp).
///
/// On CUDA the sampler's `uint8` clips go up as they are (4× less than float): pinned memory,
/// copied `non_blocking` on the prefetcher's side stream, and prepared there on the GPU while the
/// previous batch trains (pipeline/prefetch.hpp). Inside a step nothing waits for the GPU: loss and
/// gradient norm stay on the device and are read back together every `sync_every` steps (one host
/// sync), which is when they are checked and reported to the observers.
///
/// What a run leaves in `out_dir`:
/// - `metrics.jsonl`: one line per step, the `StepRecord` (train/metrics_file.hpp).
/// - `checkpoint.pt`: every `checkpoint_every` steps and when `run` returns, written atomically
///   (train/run_checkpoint.hpp): module, optimizer, step, sampler state, RNG states.
/// The progress bar (when `progress`) and metrics.jsonl are the default observers; `observe` adds
/// others (train/observer.hpp).
///
/// Exact resume. The sampler state saved is that of the *last batch trained on* (`ClipBatch::resume`),
/// not of the producer, which has read ahead; the schedule is a function of the step; the
/// generators' states are saved. So on CPU, resuming after step k continues with the same batches
/// and bit-identical losses as the uninterrupted run.
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
/// c10d (Gloo on CPU, NCCL on `cuda:LOCAL_RANK`) when one translation unit of the program has
/// `#include <longform/distributed/process_group.hpp>` (or `<longform/distributed.hpp>`, or
/// `<longform/longform.hpp>`) and, with CMake, links `longform::distributed`. This header includes
/// no c10d: a program without that include compiles faster, and refuses such a launch with a
/// `config_error` saying what to include. In the job, each rank:
/// - reads only its shard of the source (`Sharded`: videos `rank, rank + N, …`), with `batch`
///   clips per rank and step (the global batch is N·batch);
/// - starts from rank 0's weights and buffers (`broadcast_state`), and averages gradients over
///   the ranks in buckets that start during backward (`GradientReducer`), so all ranks apply the
///   same update: that of one process over the union of the ranks' batches;
/// - reports the loss averaged over ranks; one small all-reduce per step also tells every rank when
///   any rank's sampler has run out, so all stop at the same step;
/// - hands objectives with `set_key_gather` (MoCo) an all-gather, so keys of every rank enter the
///   one queue; BatchNorm stays local to each rank (MoCo's shuffle-BN works within a rank);
/// - calls the observers (metrics, progress bar, yours) and writes checkpoints from rank 0 only;
///   the checkpoint holds every rank's sampler and generator states, so a resumed job of the same
///   size continues every stream; resuming needs `out_dir` on a file system every rank sees.
/// A rank that dies or hangs makes the others throw `distributed_error` within `dist_timeout_s`.
/// Not in a data-parallel job (refused): `update_every` > 1, orthogonal gradients.
///
/// Customization: the five policies — any `ClipSampler`, `SslObjective`, `VideoSource`,
/// `OptimizerPolicy` (train/optimizer.hpp) and clip preparation, a `DeterministicTransform`
/// (train/preparation.hpp) — and any number of `StepObserver`s.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <ATen/Context.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/stack.h>
#include <ATen/ops/tensor.h>
#include <ATen/ops/where.h>
#include <ATen/ops/zeros.h>
#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>

#include <longform/backbone/memory_format.hpp>
#include <longform/core/clip.hpp>
#include <longform/core/error.hpp>
#include <longform/core/telemetry.hpp>
#include <longform/core/threads.hpp>
#include <longform/distributed/collective.hpp>
#include <longform/distributed/data_parallel.hpp>
#include <longform/distributed/env.hpp>
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
#include <longform/train/metrics_file.hpp>
#include <longform/train/observer.hpp>
#include <longform/train/optimizer.hpp>
#include <longform/train/options.hpp>
#include <longform/train/preparation.hpp>
#include <longform/train/run_checkpoint.hpp>
#include <longform/train/schedule.hpp>
#include <longform/transform/to_device.hpp>

namespace longform {

class VideoList;  // the default source (source/video_list.hpp, which needs FFmpeg): include it to use the default

/// What one call of `Pretrainer::run` did.
struct PretrainReport {
  std::int64_t first_step = 0;        ///< the step the call started after (0, or the resumed step)
  std::int64_t last_step = 0;         ///< the step it ended at
  std::vector<double> losses;         ///< loss of each step it ran, in order (the mean over ranks)
  double seconds = 0;                 ///< wall time from the first batch's arrival to the end
  double startup_seconds = 0;         ///< wait for the first batch (pipeline start, first decode)
  double data_wait_share = 0;         ///< share of `seconds` spent waiting for data
  double decode_amplification = 0;    ///< frames decoded per frame used (this rank)
  double clips_per_s = 0;             ///< clips trained on per second of `seconds`, by all ranks together
  bool exhausted = false;             ///< the sampler ran out of clips before the last step
  std::int64_t corrupt_packets = 0;   ///< packets the decoder rejected and skipped (the stream went on)
  std::vector<SkippedVideo> skipped;  ///< videos skipped because they failed to open or decode
  std::filesystem::path checkpoint;   ///< the last checkpoint written (empty: none)
};

/// The online pre-training loop (see the file comment).
/// @tparam Sampler any `ClipSampler` (sequential, random, multistream, replay, your own)
/// @tparam Objective any `SslObjective` (MoCo, VideoMAE, distillation, your own)
/// @tparam Source any `VideoSource` (default `VideoList`: files)
/// @tparam Optimizer any `OptimizerPolicy` (default: AdamW or SGD as `options.optimizer` says)
/// @tparam Prepare the clip preparation, any `DeterministicTransform` (default: the paper's, at `options.size`)
template <class Sampler, class Objective, class Source = VideoList, class Optimizer = OptimizerFromOptions, class Prepare = PaperPreparation>
class Pretrainer {
  // Each names, in words, what its type lacks (rather than a constraint trace).
  static_assert(detail::require_sampler<Sampler>() && detail::require_objective<Objective>() && detail::require_source<Source>() &&
                detail::require_optimizer<Optimizer>() && detail::require_preparation<Prepare>());

 public:
  /// Takes the five policies and the options (validated here).
  /// @throws options_error for a bad option.
  Pretrainer(Source source, Sampler sampler, Objective objective, PretrainerOptions options, Optimizer optimizer, Prepare prepare)
      : source_(std::move(source)),
        sampler_(std::move(sampler)),
        objective_(std::move(objective)),
        options_(std::move(options)),
        optimizer_policy_(std::move(optimizer)),
        prepare_(std::move(prepare)) {
    validate(options_);
  }
  /// The default preparation (the paper's at `options.size`, or a default-built `Prepare`).
  Pretrainer(Source source, Sampler sampler, Objective objective, PretrainerOptions options, Optimizer optimizer)
    requires detail::default_preparation_available<Prepare>
      : Pretrainer(std::move(source), std::move(sampler), std::move(objective), options, std::move(optimizer),
                   detail::default_preparation<Prepare>(options)) {}
  /// The default optimizer and preparation.
  Pretrainer(Source source, Sampler sampler, Objective objective, PretrainerOptions options = {})
    requires std::default_initializable<Optimizer> && detail::default_preparation_available<Prepare>
      : Pretrainer(std::move(source), std::move(sampler), std::move(objective), options, Optimizer{}, detail::default_preparation<Prepare>(options)) {
  }
  /// A default-built sampler and objective: `Pretrainer<SequentialSampler<Stride<8>>, MoCo<X3DM>> t(videos, {.steps = 100})`.
  /// @throws options_error for a bad option.
  explicit Pretrainer(Source source, PretrainerOptions options = {})
    requires std::default_initializable<Sampler> && std::default_initializable<Objective> && std::default_initializable<Optimizer> &&
             detail::default_preparation_available<Prepare>
      : Pretrainer(std::move(source), Sampler(), Objective(), std::move(options)) {}
  Pretrainer(const Pretrainer&) = delete;
  Pretrainer& operator=(const Pretrainer&) = delete;

  /// Adds an observer of every step (train/observer.hpp), kept (moved or copied in) for the
  /// Pretrainer's lifetime; returns the kept one. Added after a `run`, it hears `on_resume` with the
  /// step reached. Called on rank 0 only.
  template <class O>
  std::remove_cvref_t<O>& observe(O&& observer) {
    static_assert(StepObserver<std::remove_cvref_t<O>>,
                  "longform: Pretrainer::observe takes a StepObserver: a movable type with `on_step(const longform::StepRecord&)` "
                  "(see longform/train/observer.hpp)");
    auto& kept = observers_.add(std::forward<O>(observer));
    if constexpr (requires { kept.on_resume(step_); }) {
      if (optimizer_ && rank() == 0) kept.on_resume(step_);
    }
    return kept;
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
    report.checkpoint = checkpoint_.last();
    if (step_ >= last) return report;
    try {
      train(last, report);
    } catch (...) {
      if (rank() == 0) observers_.finish();
      throw;
    }
    if (rank() == 0) observers_.finish();
    report.checkpoint = checkpoint_.last();
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
  /// The clip preparation.
  [[nodiscard]] const Prepare& preparation() const noexcept { return prepare_; }
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
  using clock = std::chrono::steady_clock;

  // Once: device, threads, optimizer, output folder, then either the checkpoint or the seed, then
  // the default observers.
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
      group_ = join_collective(*env, ProcessGroupOptions{.timeout = timeout, .device = device_});
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
    auto optimizer = optimizer_policy_.build(params_, options_);
    if (!optimizer) throw config_error("Pretrainer: the optimizer policy built no optimizer");
    checkpoint_ = RunCheckpoint(checkpoint_path());
    // Refused now rather than at the first checkpoint, after the steps it would have lost.
    if (checkpoint_.enabled() && !detail::ckpt::optimizer_type(*optimizer)) {
      throw config_error(
          "Pretrainer: the optimizer policy built an optimizer that checkpoints cannot store (they store AdamW, Adam, "
          "SGD and RMSprop); train without out_dir, or build one of those");
    }
    if (!options_.out_dir.empty()) std::filesystem::create_directories(options_.out_dir);
    std::optional<TrainingState> restored;
    if (options_.resume) restored = checkpoint_.restore(objective_, *optimizer, device_, group_.get());
    if (restored) {
      step_ = restored->step;
      if (!restored->sampler.kind.empty()) resume_ = restored->sampler;
    } else {
      at::manual_seed(options_.seed + static_cast<std::uint64_t>(rank()));  // ranks draw different dropout and noise
    }
    optimizer_ = std::move(optimizer);
    if (rank() == 0) {
      if (!options_.out_dir.empty()) observers_.add(MetricsFile(metrics_path()));
      if (options_.progress) observers_.add(ProgressObserver(options_.steps));
      observers_.resume(step_);
    }
    if (group_) join_ranks();
  }

  // Data parallelism, once every rank has its objective, optimizer and (maybe) checkpoint:
  // one step everywhere, rank 0's weights everywhere, gradient averaging, shared MoCo keys.
  void join_ranks() {
    const at::Tensor steps = group_->all_gather(at::tensor({step_}, at::kLong).to(device_)).cpu();
    for (int r = 0; r < group_->size(); ++r) {
      if (steps[r].item<std::int64_t>() != step_) {
        throw checkpoint_error(checkpoint_.path(), "rank " + std::to_string(r) + " starts at step " + std::to_string(steps[r].item<std::int64_t>()) +
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

  // The steps after `step_` up to `last`, reported to the observers; fills `report`.
  void train(std::int64_t last, PretrainReport& report) {
    const int world = world_size();
    // The reducer averages each backward's gradients on its own, and each rank sees its own video boundaries.
    if (group_ && options_.update_every > 1)
      throw options_error("update_every", "must be 1 in a data-parallel job (use a larger batch or more ranks)");
    if (group_ && dynamic_cast<const OrthogonalGradients*>(optimizer_.get())) {
      throw config_error("Pretrainer: orthogonal gradients in a data-parallel job: each rank would reset the averages at its own videos' boundaries");
    }
    auto telemetry = std::make_shared<Telemetry>();
    ToDevice upload;  // CUDA: the uint8 clip, pinned, non_blocking (on the prefetcher's side stream)
    upload.device = device_;
    SampleOptions sampling;
    sampling.context.telemetry = telemetry;
    sampling.resume = resume_;
    sampling.workers =
        static_cast<int>(options_.decode_workers > 0 ? options_.decode_workers : ThreadBudget::plan(static_cast<int>(options_.threads)).workers);
    Sharded<Source> shard(source_, static_cast<std::size_t>(rank()), static_cast<std::size_t>(world));
    auto batch_ahead =
        views::batch(options_.batch, /*drop_last=*/true) | views::prefetch(static_cast<std::size_t>(options_.prefetch), telemetry, device_);
    // CPU: the decode workers prepare the clips they decode. CUDA: the uint8 clips go up and are
    // prepared on the GPU.
    auto batches = device_.is_cuda() ? shard | views::sample(sampler_, std::move(sampling)) | views::transform(upload | prepare_) | batch_ahead
                                     : shard | views::sample(sampler_, std::move(sampling), prepare_) | batch_ahead;

    const WarmupCosine schedule = WarmupCosine::of(options_);
    const auto started = clock::now();
    clock::time_point first{}, previous{};
    std::int64_t wait_at_first = 0;
    std::int64_t clips = 0;
    bool peer_ran_out = false;
    // Steps whose loss and gradient norm are still on the device; read back together (one sync),
    // checked, and reported by `drain`.
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
      const double elapsed = std::chrono::duration<double>(done - first).count();
      const double wait = static_cast<double>(telemetry->wait_ns.load() - wait_at_first) * 1e-9;
      for (std::size_t i = 0; i < unread.size(); ++i) {
        const auto& u = unread[i];
        const double loss_value = v[2 * i], grad_norm = v[2 * i + 1];
        if (!std::isfinite(loss_value)) throw nonfinite_error(u.step, "loss", loss_value, checkpoint_.note());
        if (!std::isfinite(grad_norm)) throw nonfinite_error(u.step, "gradient norm", grad_norm, checkpoint_.note());
        report.losses.push_back(loss_value);
        if (rank() != 0) continue;
        observers_.step({.step = u.step,
                         .loss = loss_value,
                         .lr = u.lr,
                         .grad_norm = grad_norm,
                         .clips_per_s = window_s > 0 ? static_cast<double>(window_clips) / window_s : 0.0,
                         .step_s = window_s / static_cast<double>(unread.size()),
                         .data_wait_share = elapsed > 0 ? wait / elapsed : 0.0,
                         .decode_amplification = telemetry->amplification(),
                         .elapsed_s = elapsed});
      }
      unread.clear();
    };
    // A step accumulates `update_every` batches: their gradients add up to the mean over them, their
    // losses to `step_loss`. The Pretrainer stops, checkpoints and resumes only between steps.
    const std::int64_t pace = options_.update_every;
    std::int64_t accumulated = 0, step_clips = 0;
    at::Tensor step_loss;
    for (ClipBatch batch : batches) {  // by value: the view hands out copies (cheap tensor handles)
      const auto now = clock::now();
      if (step_ == report.first_step && accumulated == 0) {
        first = previous = now;
        wait_at_first = telemetry->wait_ns.load();
        report.startup_seconds = std::chrono::duration<double>(now - started).count();
      }
      const std::int64_t step = step_ + 1;
      if (accumulated == 0) optimizer_->zero_grad();
      if constexpr (requires { optimizer_policy_.on_batch(batch, *optimizer_); }) optimizer_policy_.on_batch(batch, *optimizer_);

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
      loss.div(static_cast<double>(pace)).backward();
      step_loss = accumulated == 0 ? logged_loss : step_loss + logged_loss;
      step_clips += batch.data.size(0) * world;
      if (++accumulated < pace) continue;
      accumulated = 0;
      if (reducer_) reducer_->synchronize();
      const double lr = schedule(step);
      for (auto& group : optimizer_->param_groups()) group.options().set_lr(lr);
      unread.push_back({step, step_clips, lr, step_loss / static_cast<double>(pace), clip_gradients()});
      // Checked before the optimizer steps: with sync_every = 1 nothing of a bad step is applied.
      if (static_cast<std::int64_t>(unread.size()) >= options_.sync_every) drain();
      optimizer_->step();
      objective_.after_step();

      step_ = step;
      resume_ = batch.resume;  // the consumed batch's state, not the producer's read-ahead
      clips += step_clips;
      step_clips = 0;
      const bool checkpoint = options_.checkpoint_every > 0 && step % options_.checkpoint_every == 0 && step < last;
      if (checkpoint || step_ >= last) drain();
      log_skipped(*telemetry, report.skipped);
      if (checkpoint) save_checkpoint();
      if (step_ >= last) break;
    }
    drain();  // the sampler ran out with steps unread
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
    if (checkpoint_.last_step() != step_) save_checkpoint();
  }

  void save_checkpoint() { checkpoint_.save(objective_, *optimizer_, step_, resume_, options_, device_, group_.get()); }

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

  Source source_;
  [[no_unique_address]] Sampler sampler_;
  Objective objective_;
  PretrainerOptions options_;
  [[no_unique_address]] Optimizer optimizer_policy_;
  Prepare prepare_;
  Observers observers_;
  c10::Device device_{c10::kCPU};
  std::vector<at::Tensor> params_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  std::int64_t step_ = 0;
  std::optional<SamplerState> resume_;
  RunCheckpoint checkpoint_;
  std::shared_ptr<Collective> group_;         // data parallel only
  std::unique_ptr<GradientReducer> reducer_;  // data parallel only
};

/// CTAD: `Pretrainer{source, sampler, objective, options[, optimizer[, prepare]]}`.
template <VideoSource Src, ClipSampler S, SslObjective O>
Pretrainer(Src, S, O, PretrainerOptions) -> Pretrainer<S, O, Src>;
template <VideoSource Src, ClipSampler S, SslObjective O>
Pretrainer(Src, S, O) -> Pretrainer<S, O, Src>;
template <VideoSource Src, ClipSampler S, SslObjective O, OptimizerPolicy Opt>
Pretrainer(Src, S, O, PretrainerOptions, Opt) -> Pretrainer<S, O, Src, Opt>;
template <VideoSource Src, ClipSampler S, SslObjective O, OptimizerPolicy Opt, DeterministicTransform P>
Pretrainer(Src, S, O, PretrainerOptions, Opt, P) -> Pretrainer<S, O, Src, Opt, P>;

}  // namespace longform
