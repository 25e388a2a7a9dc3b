// SPDX-License-Identifier: MIT
/// @file
/// Model size and cost: parameter count and multiply-adds of one forward pass.
///
/// Convention: 1 MAC = one multiply plus one add, counted for convolutions, linear layers, matrix
/// products and attention (`q kᵀ` and `attn v`), nothing else (no norms, activations, pooling or
/// softmax). That is what fvcore, SlowFast's MODEL_ZOO and the X3D paper call "FLOPs", and half of
/// what `torch.utils.flop_counter.FlopCounterMode` reports (it counts 2 FLOPs per multiply-add).
/// X3D-M at 16x224² gives 4.73 G, as in SlowFast's table.
///
/// The count runs the model once on a zero input and observes every ATen call through a
/// thread-local `RecordFunction` callback, so it works for any module, LibTorch's own layers
/// included. Only the outermost counted call is counted (`aten::linear` is not counted again as
/// the `aten::addmm` it dispatches to).
#pragma once

#include <ATen/core/Tensor.h>
#include <ATen/ops/zeros.h>
#include <ATen/record_function.h>
#include <c10/core/InferenceMode.h>
#include <torch/nn/module.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

namespace longform {

/// Number of scalar parameters (trainable or not; buffers such as BatchNorm statistics excluded).
inline std::int64_t count_parameters(const torch::nn::Module& module) {
  std::int64_t n = 0;
  for (const auto& p : module.parameters()) n += p.numel();
  return n;
}

namespace detail {

struct mac_counter_state {
  std::int64_t macs = 0;
  int depth = 0;                // nesting depth inside counted ops
  std::int64_t per_output = 0;  // MACs per output element of the outermost counted op
  std::int64_t fixed = -1;      // or its whole count, when the inputs alone determine it
};
inline thread_local mac_counter_state* mac_counter = nullptr;

inline bool counted_op(std::string_view name) {
  for (std::string_view n : {"aten::conv1d", "aten::conv2d", "aten::conv3d", "aten::convolution", "aten::linear", "aten::addmm", "aten::mm",
                             "aten::bmm", "aten::matmul", "aten::scaled_dot_product_attention"})
    if (name == n) return true;
  return false;
}

// Reads the op's inputs when it starts: RecordFunction does not keep them alive until it ends.
inline void mac_prepare(std::string_view name, c10::ArrayRef<c10::IValue> in, mac_counter_state& s) {
  auto tensor = [&](std::size_t i) { return i < in.size() && in[i].isTensor() ? in[i].toTensor() : at::Tensor(); };
  s.per_output = 0;
  s.fixed = -1;
  if (name == "aten::scaled_dot_product_attention") {
    const auto q = tensor(0), k = tensor(1), v = tensor(2);
    const auto length = q.size(-2), source = k.size(-2);
    const auto batch = q.numel() / (length * q.size(-1));
    s.fixed = batch * length * source * (q.size(-1) + v.size(-1));  // q kᵀ, then attn v
  } else if (name == "aten::linear" || name == "aten::addmm") {
    s.per_output = tensor(1).size(-1);  // linear: weight [out, in]; addmm: mat1 [n, in]
  } else if (name == "aten::mm" || name == "aten::bmm" || name == "aten::matmul") {
    s.per_output = tensor(0).size(-1);
  } else {  // convolutions: each output is Cin/groups x kernel volume multiply-adds
    const auto w = tensor(1);
    s.per_output = w.numel() / w.size(0);
  }
}

inline std::unique_ptr<at::ObserverContext> mac_enter(const at::RecordFunction& fn) {
  if (!mac_counter || !counted_op(fn.name())) return nullptr;
  if (mac_counter->depth++ == 0) mac_prepare(fn.name(), fn.inputs(), *mac_counter);
  return nullptr;
}

inline void mac_exit(const at::RecordFunction& fn, at::ObserverContext*) {
  if (!mac_counter || !counted_op(fn.name())) return;
  if (--mac_counter->depth > 0) return;  // inside another counted op: counted there
  if (mac_counter->fixed >= 0) {
    mac_counter->macs += mac_counter->fixed;
    return;
  }
  const auto outputs = fn.outputs();
  if (!outputs.empty() && outputs[0].isTensor()) mac_counter->macs += outputs[0].toTensor().numel() * mac_counter->per_output;
}

}  // namespace detail

/// Multiply-adds of `forward(input)` (see the file comment for the convention), run under
/// inference mode on this thread.
inline std::int64_t count_macs(const std::function<void(const at::Tensor&)>& forward, const at::Tensor& input) {
  detail::mac_counter_state state;
  detail::mac_counter = &state;
  auto handle = at::addThreadLocalCallback(at::RecordFunctionCallback(&detail::mac_enter, &detail::mac_exit).needsInputs(true).needsOutputs(true));
  try {
    c10::InferenceMode guard;
    forward(input);
  } catch (...) {
    at::removeCallback(handle);
    detail::mac_counter = nullptr;
    throw;
  }
  at::removeCallback(handle);
  detail::mac_counter = nullptr;
  return state.macs;
}

/// Multiply-adds of `module->forward` on one zero clip of `[1, 3, frames, size, size]`.
template <class Module>
std::int64_t count_macs(Module& module, std::int64_t frames, std::int64_t size) {
  return count_macs([&](const at::Tensor& x) { module->forward(x); }, at::zeros({1, 3, frames, size, size}));
}

}  // namespace longform
