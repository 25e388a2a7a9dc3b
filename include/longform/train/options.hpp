// SPDX-License-Identifier: MIT
/// @file
/// `PretrainerOptions`: everything a `Pretrainer` run is configured by, as one aggregate with
/// defaults, set with designated initializers and reflected (core/reflect.hpp), so the generic
/// `to_json` / `from_json` of core/json.hpp write it into checkpoints and read `--config` files.
///
///     longform::PretrainerOptions o{.steps = 2000, .batch = 16, .lr = 1.5e-4, .warmup_steps = 100,
///                                   .device = "cuda", .checkpoint_every = 500, .out_dir = "runs/a"};
///     longform::validate(o);  // throws options_error naming the member
///
/// Customization: none; this header only holds data and its checks.
#pragma once

#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>

#include <longform/core/error.hpp>
#include <longform/core/json.hpp>
#include <longform/core/reflect.hpp>

namespace longform {

/// The optimizer a `Pretrainer` steps.
enum class OptimizerKind {
  adamw,    ///< `torch::optim::AdamW` (decoupled weight decay), the default of every method here
  sgd,      ///< `torch::optim::SGD` with momentum (MoCo's original recipe)
  rmsprop,  ///< `torch::optim::RMSprop` without momentum (Carreira et al., CVPR 2024: momentum hurts on a correlated stream)
};

LONGFORM_REFLECT_ENUM(OptimizerKind, adamw, sgd, rmsprop)

/// How a `Pretrainer` trains. Steps are optimizer steps, counted from 1; each consumes
/// `update_every` batches.
struct PretrainerOptions {
  std::int64_t steps = 1000;      ///< optimizer steps of the whole run (the schedule's length); the run reads steps × update_every batches
  std::int64_t batch = 8;         ///< clips per batch
  std::int64_t update_every = 1;  ///< batches per optimizer step, their gradients averaged (fewer updates on a correlated stream)
  std::int64_t size = 112;        ///< clips are resized to size × size before standardization
  OptimizerKind optimizer = OptimizerKind::adamw;
  double lr = 1.5e-4;             ///< peak learning rate, reached at the end of warmup
  double min_lr = 0.0;            ///< learning rate at the end of the cosine decay
  std::int64_t warmup_steps = 0;  ///< linear warmup from lr/warmup_steps to lr, then cosine to min_lr
  double weight_decay = 0.05;     ///< AdamW: decoupled; SGD, RMSProp: L2
  double beta1 = 0.9;             ///< AdamW β1
  double beta2 = 0.999;           ///< AdamW β2 (VideoMAE uses 0.95)
  double momentum = 0.9;          ///< SGD momentum
  double rms_alpha = 0.99;        ///< RMSProp: decay of the squared-gradient average
  bool orthogonal = false;        ///< step on the gradient's part orthogonal to its moving average (train/orthogonal.hpp)
  double orthogonal_beta = 0.9;   ///< `orthogonal`: decay of the gradient's moving average
  double grad_clip = 0.0;         ///< max global L2 norm of the gradients; 0 = no clipping
  bool bf16 = true;               ///< autocast the loss's forward to bfloat16 on CUDA (ignored on CPU)
  bool channels_last =
      false;  ///< 5-D weights in channels-last-3d (backbone/memory_format.hpp): X3D trains 1.3-1.4x faster on CPU, 7-9x slower on an H200
  bool cudnn_benchmark = false;       ///< CUDA: cuDNN times its algorithms for each new input shape and keeps the fastest (clips have one shape)
  std::int64_t sync_every = 1;        ///< read loss and gradient norm back (one host sync) every N steps: checks and metrics happen then
  std::string device = "cpu";         ///< "cpu", "cuda", "cuda:1"
  std::uint64_t seed = 0;             ///< seeds LibTorch's default generators at the start of a fresh run
  std::int64_t checkpoint_every = 0;  ///< write a checkpoint every N steps (and always after the last); 0 = last only
  std::string out_dir;                ///< checkpoint.pt and metrics.jsonl go here; empty = no files
  bool resume = false;                ///< continue from out_dir/checkpoint.pt when it exists
  std::int64_t prefetch = 2;          ///< batches prepared ahead on the producer thread
  std::int64_t threads = 0;           ///< cores to use (`ThreadBudget::plan`); 0 = leave LibTorch's setting alone
  std::int64_t decode_workers =
      0;                    ///< decode threads (`SampleOptions::workers`); 0 = the `ThreadBudget`'s (one per core of `threads`, else of the machine)
  bool progress = true;     ///< draw a progress bar with ETA when stderr is a terminal
  bool distributed = true;  ///< join the job described by torchrun's variables when WORLD_SIZE > 1 (distributed/env.hpp)
  double dist_timeout_s = 300;  ///< distributed: bound on the rendezvous and on every collective (a dead or hung peer)
  double dist_bucket_mib = 8;   ///< distributed: gradients are all-reduced in buckets of about this size
};

/// A `PretrainerOptions` member has a bad value; `option()` names it.
class options_error : public config_error {
 public:
  options_error(std::string option, const std::string& message)
      : config_error("PretrainerOptions::" + option + ": " + message), option_(std::move(option)) {}
  /// The member's name, e.g. "lr".
  [[nodiscard]] const std::string& option() const noexcept { return option_; }

 private:
  std::string option_;
};

namespace detail {
template <class T>
std::string show(T v) {
  if constexpr (std::is_floating_point_v<T>) {
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof buf, v);  // shortest text that reads back to v
    return std::string(buf, r.ptr);
  } else {
    return std::to_string(v);
  }
}
}  // namespace detail

/// Checks every member. @throws options_error naming the first bad member and its value.
inline void validate(const PretrainerOptions& o) {
  auto positive = [](const char* name, std::int64_t v) {
    if (v <= 0) throw options_error(name, "must be positive (was " + std::to_string(v) + ")");
  };
  auto non_negative = [](const char* name, auto v) {
    if (!(v >= 0) || !std::isfinite(static_cast<double>(v))) throw options_error(name, "must be finite and >= 0 (was " + detail::show(v) + ")");
  };
  positive("steps", o.steps);
  positive("batch", o.batch);
  positive("update_every", o.update_every);
  positive("size", o.size);
  positive("prefetch", o.prefetch);
  non_negative("decode_workers", o.decode_workers);
  positive("sync_every", o.sync_every);
  if (!(o.lr > 0) || !std::isfinite(o.lr)) throw options_error("lr", "must be finite and positive (was " + detail::show(o.lr) + ")");
  non_negative("min_lr", o.min_lr);
  if (o.min_lr > o.lr) throw options_error("min_lr", "must not exceed lr (was " + detail::show(o.min_lr) + " > " + detail::show(o.lr) + ")");
  non_negative("warmup_steps", o.warmup_steps);
  if (o.warmup_steps > o.steps) {
    throw options_error("warmup_steps", "must not exceed steps (was " + std::to_string(o.warmup_steps) + " > " + std::to_string(o.steps) + ")");
  }
  non_negative("weight_decay", o.weight_decay);
  if (!(o.beta1 >= 0 && o.beta1 < 1)) throw options_error("beta1", "must be in [0, 1) (was " + detail::show(o.beta1) + ")");
  if (!(o.beta2 >= 0 && o.beta2 < 1)) throw options_error("beta2", "must be in [0, 1) (was " + detail::show(o.beta2) + ")");
  if (!(o.momentum >= 0 && o.momentum < 1)) throw options_error("momentum", "must be in [0, 1) (was " + detail::show(o.momentum) + ")");
  if (!(o.rms_alpha >= 0 && o.rms_alpha < 1)) throw options_error("rms_alpha", "must be in [0, 1) (was " + detail::show(o.rms_alpha) + ")");
  if (!(o.orthogonal_beta >= 0 && o.orthogonal_beta < 1)) {
    throw options_error("orthogonal_beta", "must be in [0, 1) (was " + detail::show(o.orthogonal_beta) + ")");
  }
  non_negative("grad_clip", o.grad_clip);
  non_negative("checkpoint_every", o.checkpoint_every);
  non_negative("threads", o.threads);
  if (!(o.dist_timeout_s > 0) || !std::isfinite(o.dist_timeout_s)) {
    throw options_error("dist_timeout_s", "must be finite and positive (was " + detail::show(o.dist_timeout_s) + ")");
  }
  if (!(o.dist_bucket_mib > 0) || !std::isfinite(o.dist_bucket_mib)) {
    throw options_error("dist_bucket_mib", "must be finite and positive (was " + detail::show(o.dist_bucket_mib) + ")");
  }
  if (o.device != "cpu" && o.device != "cuda" && !o.device.starts_with("cuda:")) {
    throw options_error("device", "must be cpu, cuda or cuda:N (was '" + o.device + "')");
  }
  if (o.resume && o.out_dir.empty()) throw options_error("resume", "needs out_dir (the checkpoint's folder)");
}

}  // namespace longform

// The member list is the one place to extend when an option is added: JSON, checkpoints, the
// CLI's --config and `longform reproduce`'s grid follow it.
LONGFORM_REFLECT(longform::PretrainerOptions, steps, batch, update_every, size, optimizer, lr, min_lr, warmup_steps, weight_decay, beta1, beta2,
                 momentum, rms_alpha, orthogonal, orthogonal_beta, grad_clip, bf16, channels_last, cudnn_benchmark, sync_every, device, seed,
                 checkpoint_every, out_dir, resume, prefetch, threads, decode_workers, progress, distributed, dist_timeout_s, dist_bucket_mib);
