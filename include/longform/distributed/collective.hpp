// SPDX-License-Identifier: MIT
/// @file
/// `Collective`: the processes of a data-parallel job and the few collectives training needs, as
/// an interface on ATen tensors. The `Pretrainer`, its checkpoints and the gradient averaging
/// (distributed/data_parallel.hpp) use only this, so a program that trains in one process never
/// parses c10d, Gloo or NCCL headers.
///
///     group.all_reduce(t);                   // sum over ranks, in place
///     at::Tensor all = group.all_gather(k);  // [world·n, ...], rank order
///
/// The implementation is LibTorch's c10d, in distributed/process_group.hpp (`ProcessGroup`).
/// Including that header in any one translation unit of a program makes `join_collective`, and so
/// every `Pretrainer` of the program, build c10d groups; without it a multi-process launch is
/// refused with a `config_error` saying so.
///
/// Customization: derive from `Collective` and implement its pure virtual functions.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/full.h>
#include <ATen/ops/zeros.h>

#include <longform/core/error.hpp>
#include <longform/core/reflect.hpp>
#include <longform/distributed/env.hpp>

namespace longform {

/// A rendezvous or collective failed (a peer exited or hung, the store was unreachable, the
/// backend is not built in); `what()` names this rank, the operation and the cause.
class distributed_error : public error {
 public:
  distributed_error(int rank, int world_size, std::string operation, const std::string& cause)
      : error("distributed rank " + std::to_string(rank) + " of " + std::to_string(world_size) + ": " + operation + " failed: " + cause),
        rank_(rank),
        operation_(std::move(operation)) {}
  [[nodiscard]] int rank() const noexcept { return rank_; }
  /// What was being done, e.g. "all_reduce", "rendezvous at 127.0.0.1:29500".
  [[nodiscard]] const std::string& operation() const noexcept { return operation_; }

 private:
  int rank_;
  std::string operation_;
};

/// How a process group connects.
struct ProcessGroupOptions {
  /// Bound on the rendezvous (all ranks present) and on every collective.
  std::chrono::milliseconds timeout = std::chrono::minutes(5);
  /// Where the tensors live: Gloo serves CPU, NCCL serves CUDA.
  c10::Device device = c10::kCPU;
};

/// The ranks of one job (see the file comment). Every rank must call each collective, in the same
/// order; each throws `distributed_error` when a peer failed or the timeout passed.
class Collective {
 public:
  /// A collective in flight.
  class Work {
   public:
    virtual ~Work() = default;
    /// Returns when it is done. @throws distributed_error when it failed.
    virtual void wait() = 0;
  };

  Collective() = default;
  Collective(const Collective&) = delete;
  Collective& operator=(const Collective&) = delete;
  virtual ~Collective() = default;

  [[nodiscard]] virtual int rank() const noexcept = 0;
  [[nodiscard]] virtual int size() const noexcept = 0;
  /// Where the tensors of its collectives live.
  [[nodiscard]] virtual c10::Device device() const noexcept = 0;

  /// Starts summing `t` over all ranks, in place.
  [[nodiscard]] virtual std::unique_ptr<Work> all_reduce_async(const at::Tensor& t) = 0;
  /// Overwrites `t` on every rank with rank `root`'s `t`.
  virtual void broadcast(const at::Tensor& t, int root = 0) = 0;
  /// Every rank's `t` (same shape on all ranks), concatenated along dim 0 in rank order.
  [[nodiscard]] virtual at::Tensor all_gather(const at::Tensor& t) = 0;

  /// Sums `t` over all ranks, in place.
  void all_reduce(const at::Tensor& t) { all_reduce_async(t)->wait(); }

  /// Every rank's `values` (the lengths may differ), in rank order.
  [[nodiscard]] std::vector<std::vector<std::int64_t>> all_gather(const std::vector<std::int64_t>& values) {
    const auto on = at::TensorOptions().dtype(at::kLong).device(device());
    const at::Tensor lengths = all_gather(at::full({1}, static_cast<std::int64_t>(values.size()), on)).cpu();
    const auto longest = lengths.max().item<std::int64_t>();
    at::Tensor mine = at::zeros({longest}, at::kLong);
    std::copy(values.begin(), values.end(), mine.data_ptr<std::int64_t>());
    const at::Tensor all = all_gather(mine.to(device())).cpu().contiguous();
    std::vector<std::vector<std::int64_t>> out(static_cast<std::size_t>(size()));
    for (int r = 0; r < size(); ++r) {
      const std::int64_t* row = all.data_ptr<std::int64_t>() + r * longest;
      out[static_cast<std::size_t>(r)].assign(row, row + lengths[r].item<std::int64_t>());
    }
    return out;
  }

  /// Returns when every rank has called it.
  void barrier() { all_reduce(at::zeros({1}, at::TensorOptions().device(device()))); }
};

/// Builds the group of a job: every rank blocks until all `env.world_size` have joined.
using CollectiveFactory = std::shared_ptr<Collective> (*)(const DistributedEnv& env, const ProcessGroupOptions& options);

namespace detail {

// Installed by distributed/process_group.hpp when a translation unit includes it. Constant
// initialization: it is null before any dynamic initializer (the installing one included) runs.
inline constinit CollectiveFactory collective_factory = nullptr;

}  // namespace detail

/// Joins the job `env` describes with the installed implementation (see the file comment).
/// @throws config_error when no translation unit of the program includes distributed/process_group.hpp.
/// @throws distributed_error when the rendezvous fails.
[[nodiscard]] inline std::shared_ptr<Collective> join_collective(const DistributedEnv& env, const ProcessGroupOptions& options) {
  if (detail::collective_factory == nullptr) {
    throw config_error("distributed launch: WORLD_SIZE=" + std::to_string(env.world_size) +
                       " asks for a multi-process job, but multi-process training needs #include "
                       "<longform/distributed/process_group.hpp> in one translation unit (and, with CMake, the target "
                       "longform::distributed); to train in one process, unset WORLD_SIZE or set PretrainerOptions::distributed = false");
  }
  return detail::collective_factory(env, options);
}

}  // namespace longform

LONGFORM_REFLECT(longform::ProcessGroupOptions, timeout, device);
