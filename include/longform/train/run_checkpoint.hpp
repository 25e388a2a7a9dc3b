// SPDX-License-Identifier: MIT
/// @file
/// `RunCheckpoint`: the checkpoint of a `Pretrainer` run, written every `checkpoint_every` steps and
/// when `run` returns, restored with `resume`. It holds the module and the optimizer
/// (train/checkpoint.hpp), the step, the sampler's resume point after the last batch trained on,
/// and the generators' states: LibTorch's default CPU and device generators and the objective's own
/// (`ObjectiveWithGenerator`). So on CPU a run resumed after step k continues with the same batches
/// and bit-identical losses as the uninterrupted run.
///
/// A checkpoint is never written from non-finite weights (`nonfinite_error`): the one on disk is
/// always worth resuming.
///
/// Data parallel: every rank calls `save` at the same step; rank 0 gathers every rank's sampler and
/// generator states (`TrainingState::ranks`) and writes, so a job of the same size resumes every
/// rank's own stream. `restore` refuses a checkpoint written by a job of another size.
///
/// Customization: an objective that draws from its own generator shows it (`ObjectiveWithGenerator`).
#pragma once

#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <ATen/Context.h>
#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/stack.h>
#include <torch/optim/optimizer.h>

#include <longform/core/clip.hpp>
#include <longform/core/error.hpp>
#include <longform/distributed/collective.hpp>
#include <longform/objective/concepts.hpp>
#include <longform/train/checkpoint.hpp>
#include <longform/train/options.hpp>

namespace longform {

/// Training hit a non-finite number; nothing of step `step()` was applied.
class nonfinite_error : public error {
 public:
  nonfinite_error(std::int64_t step, std::string quantity, double value, const std::string& checkpoint)
      : error("Pretrainer: non-finite " + quantity + " (" + detail::show(value) + ") at step " + std::to_string(step) +
              "; the step was not applied and " +
              (checkpoint.empty() ? std::string("no checkpoint was written") : "the last checkpoint is " + checkpoint)),
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

namespace detail {

// A rank's state as integers, so one all-gather collects every rank's.
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

}  // namespace detail

/// The checkpoint of one run (see the file comment); remembers the last one written or restored.
class RunCheckpoint {
 public:
  /// No checkpoint: `save` writes nothing, `restore` finds nothing (a Pretrainer without `out_dir`).
  RunCheckpoint() = default;
  /// The checkpoint at `path`.
  explicit RunCheckpoint(std::filesystem::path path) : path_(std::move(path)) {}

  [[nodiscard]] bool enabled() const noexcept { return !path_.empty(); }
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
  /// The last checkpoint written or restored (empty: none yet).
  [[nodiscard]] const std::filesystem::path& last() const noexcept { return last_; }
  /// Its step (-1: none).
  [[nodiscard]] std::int64_t last_step() const noexcept { return last_step_; }
  /// "PATH (step N)" of the last checkpoint, empty when none: what an error says is left.
  [[nodiscard]] std::string note() const { return last_.empty() ? "" : last_.string() + " (step " + std::to_string(last_step_) + ")"; }

  /// Loads the checkpoint, when there is one, into `objective` and `optimizer` (on `device`), and
  /// restores the generators; returns its state with this rank's sampler resume point.
  /// @throws checkpoint_error for a damaged or mismatched file, or one of a job of another size.
  template <SslObjective Objective>
  std::optional<TrainingState> restore(Objective& objective, torch::optim::Optimizer& optimizer, c10::Device device, const Collective* group) {
    if (!enabled() || !std::filesystem::exists(path_)) return std::nullopt;
    TrainingState st = load_training_checkpoint(path_, objective.module(), optimizer, device);
    if (group || !st.ranks.empty()) use_rank_state(st, group);
    if (st.cpu_rng.defined()) {
      at::Generator cpu = at::detail::getDefaultCPUGenerator();
      set_generator_state(cpu, st.cpu_rng);
    }
    if (st.device_rng.defined() && device.is_cuda()) {
      at::Generator gen = at::globalContext().defaultGenerator(device);
      set_generator_state(gen, st.device_rng);
    }
    if constexpr (ObjectiveWithGenerator<Objective>) {
      if (st.objective_rng.defined()) {
        at::Generator gen = objective.generator();
        set_generator_state(gen, st.objective_rng);
      }
    }
    last_ = path_;
    last_step_ = st.step;
    return st;
  }

  /// Refuses non-finite weights, then writes the checkpoint of `step` atomically (nothing without a
  /// path). `sampler`: the resume point after the last batch trained on.
  /// @throws nonfinite_error naming a non-finite parameter or buffer; checkpoint_error when writing fails.
  template <SslObjective Objective>
  void save(Objective& objective, const torch::optim::Optimizer& optimizer, std::int64_t step, const std::optional<SamplerState>& sampler,
            const PretrainerOptions& options, c10::Device device, Collective* group) {
    if (!enabled()) return;
    refuse_nonfinite(objective.module(), step);
    TrainingState st;
    st.step = step;
    RankState own;
    if (sampler) own.sampler = *sampler;
    own.cpu_rng = generator_state(at::detail::getDefaultCPUGenerator());
    if constexpr (ObjectiveWithGenerator<Objective>) own.objective_rng = generator_state(objective.generator());
    if (group) {
      for (const auto& values : group->all_gather(detail::pack(own))) st.ranks.push_back(detail::unpack(values));
    }
    st.sampler = own.sampler;
    st.cpu_rng = own.cpu_rng;
    st.objective_rng = own.objective_rng;
    if (device.is_cuda()) st.device_rng = generator_state(at::globalContext().defaultGenerator(device));
    st.options = to_json(options);
    if (!group || group->rank() == 0) save_training_checkpoint(path_, objective.module(), optimizer, st);
    last_ = path_;
    last_step_ = step;
  }

 private:
  // On resume, this rank continues its own stream: its entry of `st.ranks` replaces rank 0's.
  void use_rank_state(TrainingState& st, const Collective* group) const {
    const auto world = static_cast<std::size_t>(group ? group->size() : 1);
    const std::size_t wrote = st.ranks.empty() ? 1 : st.ranks.size();
    if (wrote != world) {
      throw checkpoint_error(path_, "written by a job of " + std::to_string(wrote) + " process(es), resumed by " + std::to_string(world) +
                                        ": every rank's stream continues only with the same number of processes");
    }
    if (st.ranks.empty()) return;
    RankState& mine = st.ranks[static_cast<std::size_t>(group ? group->rank() : 0)];
    st.sampler = mine.sampler;
    st.cpu_rng = mine.cpu_rng;
    st.objective_rng = mine.objective_rng;
  }

  // Weights and floating buffers must all be finite (one check on the device, names only on failure).
  void refuse_nonfinite(const torch::nn::Module& module, std::int64_t step) const {
    std::vector<std::pair<std::string, at::Tensor>> tensors;
    for (const auto& p : module.named_parameters()) tensors.emplace_back(p.key(), p.value());
    for (const auto& b : module.named_buffers()) {
      if (at::isFloatingType(b.value().scalar_type())) tensors.emplace_back(b.key(), b.value());
    }
    if (tensors.empty()) return;
    std::vector<at::Tensor> finite;
    finite.reserve(tensors.size());
    for (const auto& [name, t] : tensors) finite.push_back(t.detach().isfinite().all());
    if (at::stack(finite).all().item<bool>()) return;
    for (const auto& [name, t] : tensors) {
      if (!t.detach().isfinite().all().item().toBool()) throw nonfinite_error(step, "parameter '" + name + "'", NAN, note());
    }
  }

  std::filesystem::path path_;
  std::filesystem::path last_;
  std::int64_t last_step_ = -1;
};

}  // namespace longform
