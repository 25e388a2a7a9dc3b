// SPDX-License-Identifier: MIT
/// @file
/// Data parallelism over a `Collective` (distributed/collective.hpp; c10d's is `ProcessGroup`,
/// distributed/process_group.hpp): every rank holds the whole model, trains on its own
/// batch, and the ranks average their gradients before each optimizer step, so the weights stay
/// identical everywhere — the same update as one process on the union of the batches (for a loss
/// that is a mean over equally many samples per rank).
///
///     longform::broadcast_state(module, group);            // once: rank 0's weights and buffers everywhere
///     longform::GradientReducer reducer(params, group, {.bucket_mib = 8});
///     loss.backward();                                      // buckets start all-reducing during backward
///     reducer.synchronize();                                // waits; p.grad() is now the average over ranks
///
/// Overlap. `GradientReducer` hooks every parameter's gradient. The parameters are packed, in
/// reverse order (roughly the order backward produces their gradients), into buckets of about
/// `bucket_mib`; when the last gradient of a bucket arrives, its all-reduce starts while backward
/// goes on with earlier layers. Buckets start strictly in index order, so every rank issues the
/// same collectives in the same order whatever order its gradients came in. A parameter that got
/// no gradient in a step counts as a zero gradient on that rank (so it stays in step everywhere).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/zeros.h>
#include <torch/nn/module.h>

#include <longform/core/reflect.hpp>
#include <longform/distributed/collective.hpp>

namespace longform {

/// Copies rank 0's parameters and buffers of `module` into every rank's (one broadcast per dtype).
inline void broadcast_state(torch::nn::Module& module, Collective& group) {
  at::NoGradGuard no_grad;
  std::map<at::ScalarType, std::vector<at::Tensor>> by_type;
  for (const auto& p : module.parameters()) by_type[p.scalar_type()].push_back(p);
  for (const auto& b : module.buffers()) by_type[b.scalar_type()].push_back(b);
  for (auto& [type, tensors] : by_type) {
    std::vector<at::Tensor> flat;
    flat.reserve(tensors.size());
    for (const auto& t : tensors) flat.push_back(t.detach().reshape({-1}));
    at::Tensor packed = at::cat(flat);
    group.broadcast(packed, 0);
    std::int64_t offset = 0;
    for (auto& t : tensors) {
      t.detach().copy_(packed.narrow(0, offset, t.numel()).view(t.sizes()));
      offset += t.numel();
    }
  }
}

/// How `GradientReducer` packs gradients.
struct ReducerOptions {
  double bucket_mib = 8;  ///< target bucket size; smaller starts the first all-reduce earlier in backward
};

/// Averages the gradients of `params` over the ranks of a group (see the file comment).
class GradientReducer {
 public:
  /// Registers a gradient hook on every parameter. `params` must be the same list, in the same
  /// order, on every rank (they are, for one model built by the same code).
  GradientReducer(std::vector<at::Tensor> params, std::shared_ptr<Collective> group, ReducerOptions options = {})
      : params_(std::move(params)), group_(std::move(group)), slot_(params_.size()) {
    const auto cap = static_cast<std::int64_t>(options.bucket_mib * 1024 * 1024);
    for (std::size_t k = params_.size(); k-- > 0;) {
      const at::Tensor& p = params_[k];
      Bucket* last = buckets_.empty() ? nullptr : &buckets_.back();
      if (!last || last->bytes >= cap || last->type != p.scalar_type() || last->device != p.device()) {
        buckets_.push_back(Bucket{.type = p.scalar_type(), .device = p.device()});
        last = &buckets_.back();
      }
      slot_[k] = {buckets_.size() - 1, last->numel, last->members.size()};
      last->members.push_back(k);
      last->numel += p.numel();
      last->bytes += p.numel() * static_cast<std::int64_t>(p.element_size());
    }
    for (auto& b : buckets_) {
      b.flat = at::zeros({b.numel}, at::TensorOptions().dtype(b.type).device(b.device));
      b.got.assign(b.members.size(), false);
      b.pending = b.members.size();
    }
    hooks_.reserve(params_.size());
    for (std::size_t k = 0; k < params_.size(); ++k) {
      hooks_.push_back(params_[k].register_hook([this, k](const at::Tensor& grad) { arrived(k, grad); }));
    }
  }
  GradientReducer(const GradientReducer&) = delete;  // the hooks point at this object
  GradientReducer& operator=(const GradientReducer&) = delete;
  ~GradientReducer() {
    for (std::size_t k = 0; k < params_.size(); ++k) params_[k].remove_hook(hooks_[k]);
  }

  /// Buckets of gradients, in the order they are all-reduced.
  [[nodiscard]] std::size_t buckets() const noexcept { return buckets_.size(); }

  /// After `backward()`: starts the buckets still waiting (filling gradients that did not come
  /// with zeros), waits for all, and sets every parameter's `grad()` to the average over ranks.
  /// @throws distributed_error when a peer failed or the timeout passed.
  void synchronize() {
    at::NoGradGuard no_grad;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (auto& b : buckets_) {
        if (b.pending == 0) continue;
        for (std::size_t m = 0; m < b.members.size(); ++m) {
          if (!b.got[m]) slice(b.members[m]).zero_();
        }
        b.pending = 0;
      }
      launch_ready();
    }
    const double world = static_cast<double>(group_->size());
    for (auto& b : buckets_) {
      b.work->wait();
      b.work.reset();
      b.flat.div_(world);
      for (std::size_t k : b.members) {
        at::Tensor& g = params_[k].mutable_grad();
        const at::Tensor avg = slice(k).view(params_[k].sizes());
        if (g.defined())
          g.copy_(avg);
        else
          g = avg.clone();
      }
      b.got.assign(b.members.size(), false);
      b.pending = b.members.size();
    }
    next_ = 0;
  }

 private:
  struct Bucket {
    at::ScalarType type;
    c10::Device device;
    std::vector<std::size_t> members;  // parameter indices, in bucket order
    std::int64_t numel = 0, bytes = 0;
    at::Tensor flat;
    std::vector<bool> got;
    std::size_t pending = 0;
    std::unique_ptr<Collective::Work> work;
  };

  struct Slot {
    std::size_t bucket;
    std::int64_t offset;
    std::size_t member;  // position in the bucket's `members`
  };

  at::Tensor slice(std::size_t k) { return buckets_[slot_[k].bucket].flat.narrow(0, slot_[k].offset, params_[k].numel()); }

  // The hook: runs on the autograd thread with the parameter's whole gradient of this backward
  // (the engine sums a leaf's incoming gradients before its hooks run).
  void arrived(std::size_t k, const at::Tensor& grad) {
    std::lock_guard<std::mutex> lock(mutex_);
    Bucket& b = buckets_[slot_[k].bucket];
    const std::size_t m = slot_[k].member;
    TORCH_CHECK(!b.got[m], "longform::GradientReducer: parameter ", k,
                " got a second gradient before synchronize(); call synchronize() after every backward");
    at::NoGradGuard no_grad;
    slice(k).copy_(grad.reshape({-1}));
    b.got[m] = true;
    if (--b.pending == 0) launch_ready();
  }

  // Starts every complete bucket whose predecessors have started (index order on every rank).
  void launch_ready() {
    while (next_ < buckets_.size() && buckets_[next_].pending == 0) {
      buckets_[next_].work = group_->all_reduce_async(buckets_[next_].flat);
      ++next_;
    }
  }

  std::vector<at::Tensor> params_;
  std::shared_ptr<Collective> group_;
  std::vector<Slot> slot_;  // where each parameter's gradient goes
  std::vector<unsigned> hooks_;
  std::vector<Bucket> buckets_;
  std::size_t next_ = 0;
  std::mutex mutex_;
};

}  // namespace longform

LONGFORM_REFLECT(longform::ReducerOptions, bucket_mib);
