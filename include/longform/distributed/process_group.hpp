// SPDX-License-Identifier: MIT
/// @file
/// `ProcessGroup`: the `Collective` (distributed/collective.hpp) on LibTorch's own c10d — a
/// `TCPStore` rendezvous at `MASTER_ADDR:MASTER_PORT`, then Gloo for CPU tensors or NCCL for CUDA
/// tensors. No transport of our own.
///
///     auto env = longform::DistributedEnv::from_environment();   // torchrun's variables
///     longform::ProcessGroup group(*env, {.timeout = std::chrono::seconds(60)});
///     group.all_reduce(t);                 // sum over ranks, in place
///     at::Tensor all = group.all_gather(k);  // [world·n, ...], rank order
///
/// Including this header in any one translation unit of a program is what gives the program's
/// `Pretrainer`s multi-process training: it installs `ProcessGroup` as the implementation
/// `join_collective` builds.
///
/// Failure. Every rendezvous and collective is bounded by `timeout`. When a peer dies, Gloo sees
/// its sockets close and fails at once; when a peer hangs, the wait ends after `timeout`. Either way
/// the call throws `distributed_error` naming this rank, the operation and LibTorch's reason, so
/// the surviving processes exit with a message instead of hanging.
///
/// Availability. LibTorch ships `ProcessGroupGloo.hpp` but not the Gloo headers it includes, and
/// `ProcessGroupNCCL.hpp` needs `nccl.h` and a CUDA build; cmake/longform-find-torch.cmake finds
/// them (Debian: `libgloo-dev`; the wheel's `nvidia/nccl`) and gives the CMake target
/// `longform::distributed` the `USE_C10D_GLOO` / `USE_C10D_NCCL` definitions LibTorch's headers
/// test. A build without one still compiles; asking for the missing backend throws `distributed_error`.
#pragma once

#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/empty_like.h>
#include <torch/csrc/distributed/c10d/Backend.hpp>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/csrc/distributed/c10d/Types.hpp>
#include <torch/csrc/distributed/c10d/Work.hpp>

#if defined(USE_C10D_GLOO) && __has_include(<gloo/algorithm.h>)
#define LONGFORM_HAS_GLOO 1
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#if defined(USE_C10D_NCCL) && __has_include(<nccl.h>)
#define LONGFORM_HAS_NCCL 1
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <longform/distributed/collective.hpp>
#include <longform/distributed/env.hpp>

namespace longform {

/// The ranks of one job on c10d (see the file comment). Not copyable; share it by pointer.
class ProcessGroup final : public Collective {
 public:
  /// Joins the job: every rank blocks here until all `env.world_size` have arrived.
  /// @throws distributed_error naming the rendezvous address when it times out or fails.
  explicit ProcessGroup(const DistributedEnv& env, ProcessGroupOptions options = {}) : rank_(env.rank), size_(env.world_size), options_(options) {
    const std::string where = "rendezvous at " + env.master_addr + ":" + std::to_string(env.master_port);
    try {
      c10d::TCPStoreOptions so;
      so.port = env.master_port;
      // torchrun's agent may already serve the store there; otherwise rank 0 serves it.
      so.isServer = env.rank == 0 && !env.agent_store;
      so.numWorkers = static_cast<std::size_t>(env.world_size);
      so.waitWorkers = !env.agent_store;
      so.timeout = options_.timeout;
      so.multiTenant = true;
      auto tcp = c10::make_intrusive<c10d::TCPStore>(env.master_addr, so);
      store_ = c10::make_intrusive<c10d::PrefixStore>("longform/", tcp);
      backend_ = make_backend(env);
      barrier();  // every rank's backend is connected before anyone uses it
    } catch (const distributed_error&) {
      throw;
    } catch (const std::exception& e) {
      throw distributed_error(rank_, size_, where, first_line(e.what()) + " (timeout " + std::to_string(options_.timeout.count()) + " ms)");
    }
  }

  [[nodiscard]] int rank() const noexcept override { return rank_; }
  [[nodiscard]] int size() const noexcept override { return size_; }
  [[nodiscard]] c10::Device device() const noexcept override { return options_.device; }
  [[nodiscard]] std::chrono::milliseconds timeout() const noexcept { return options_.timeout; }
  /// "gloo" or "nccl".
  [[nodiscard]] std::string backend() const { return backend_->getBackendName(); }

  [[nodiscard]] std::unique_ptr<Work> all_reduce_async(const at::Tensor& t) override {
    std::vector<at::Tensor> ts{t};
    c10d::AllreduceOptions o;
    o.reduceOp = c10d::ReduceOp::SUM;
    o.timeout = options_.timeout;
    return std::make_unique<Pending>(guard("all_reduce", [&] { return backend_->allreduce(ts, o); }), this, "all_reduce");
  }

  void broadcast(const at::Tensor& t, int root = 0) override {
    std::vector<at::Tensor> ts{t};
    c10d::BroadcastOptions o;
    o.rootRank = root;
    o.timeout = options_.timeout;
    Pending(guard("broadcast", [&] { return backend_->broadcast(ts, o); }), this, "broadcast").wait();
  }

  using Collective::all_gather;
  [[nodiscard]] at::Tensor all_gather(const at::Tensor& t) override {
    std::vector<at::Tensor> in{t.contiguous()};
    std::vector<std::vector<at::Tensor>> out(1);
    for (int r = 0; r < size_; ++r) out[0].push_back(at::empty_like(in[0]));
    c10d::AllgatherOptions o;
    o.timeout = options_.timeout;
    Pending(guard("all_gather", [&] { return backend_->allgather(out, in, o); }), this, "all_gather").wait();
    return at::cat(out[0], 0);
  }

 private:
  // A c10d collective in flight; `wait()` rethrows its failure as `distributed_error`.
  class Pending final : public Work {
   public:
    Pending(c10::intrusive_ptr<c10d::Work> work, const ProcessGroup* group, std::string operation)
        : work_(std::move(work)), group_(group), operation_(std::move(operation)) {}
    void wait() override {
      group_->guard(operation_, [&] { work_->wait(); });
    }

   private:
    c10::intrusive_ptr<c10d::Work> work_;
    const ProcessGroup* group_;
    std::string operation_;
  };

  // Runs `f`, turning LibTorch's and Gloo's exceptions into distributed_error.
  template <class F>
  std::invoke_result_t<F&> guard(const std::string& operation, F&& f) const {
    try {
      return f();
    } catch (const std::exception& e) {
      throw distributed_error(rank_, size_, operation,
                              first_line(e.what()) + " (another rank exited or hung; timeout " + std::to_string(options_.timeout.count()) + " ms)");
    }
  }

  static std::string first_line(const std::string& what) { return what.substr(0, what.find('\n')); }

  c10::intrusive_ptr<c10d::Backend> make_backend([[maybe_unused]] const DistributedEnv& env) {
    if (options_.device.is_cuda()) {
#ifdef LONGFORM_HAS_NCCL
      auto o = c10d::ProcessGroupNCCL::Options::create();
      o->timeout = options_.timeout;
      return c10::make_intrusive<c10d::ProcessGroupNCCL>(store_, rank_, size_, o);
#else
      throw distributed_error(rank_, size_, "creating the NCCL backend",
                              "this program was compiled without NCCL (LibTorch without CUDA, nccl.h not found at configure time, or "
                              "USE_C10D_NCCL unset: link the CMake target longform::distributed)");
#endif
    }
#ifdef LONGFORM_HAS_GLOO
    auto o = c10d::ProcessGroupGloo::Options::create(options_.timeout);
    // GLOO_SOCKET_IFNAME picks the interface, as in torch.distributed; a job on one machine
    // (a loopback MASTER_ADDR) stays on loopback; otherwise Gloo binds the host name's address.
    if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME")) {
      o->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
    } else if (env.master_addr == "localhost" || env.master_addr.starts_with("127.")) {
      o->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(env.master_addr));
    } else {
      o->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    }
    return c10::make_intrusive<c10d::ProcessGroupGloo>(store_, rank_, size_, o);
#else
    throw distributed_error(rank_, size_, "creating the Gloo backend",
                            "this program was compiled without Gloo (USE_C10D_GLOO unset or <gloo/algorithm.h> not found: link the CMake "
                            "target longform::distributed, which finds Gloo's headers; Debian: libgloo-dev)");
#endif
  }

  int rank_, size_;
  ProcessGroupOptions options_;
  c10::intrusive_ptr<c10d::Store> store_;
  c10::intrusive_ptr<c10d::Backend> backend_;
};

namespace detail {

inline std::shared_ptr<Collective> make_process_group(const DistributedEnv& env, const ProcessGroupOptions& options) {
  return std::make_shared<ProcessGroup>(env, options);
}

// Installs c10d as what `join_collective` builds, before `main`, in every program that includes
// this header. An inline variable: one object and one initialization however many units include it.
inline const bool process_group_installed = (collective_factory = &make_process_group, true);

}  // namespace detail

}  // namespace longform
