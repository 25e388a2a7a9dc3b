// SPDX-License-Identifier: MIT
// `longform finetune` as a function, for the commands that evaluate as one of their steps (reproduce, the demo).
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include <longform/core/reflect.hpp>
#include <longform/data/synthetic_actions.hpp>

namespace longform::cli {

/// Everything `longform finetune` is told. The members a config sets by name are reflected (below).
struct FinetuneArgs {
  std::string dataset = "ucf101", root, lists, train_list, test_list;
  int split = 1;
  std::string weights, arch = "x3d_m", protocol = "linear", out;
  std::string save;           // finetune: write the fine-tuned encoder's state dict here
  std::string tensorboard;    // also write the training loss and top-1 as TensorBoard event files here
  bool motion_share = false;  // also measure the evaluated encoder's motion share (eval/motion_share.hpp)
  std::int64_t frames = 16, stride = 4, size = 112, clips = 5, crops = 1;
  std::int64_t epochs = 0, batch = 8;  // epochs 0: the protocol's default
  double lr = 0, weight_decay = -1;    // 0 / -1: the protocol's default
  std::int64_t k = 20;
  double temperature = 0.07;
  bool flip = false;
  std::string device = "cpu";
  std::uint64_t seed = 0;             // the encoder's random init, the classifier, the clip positions: not the data
  SyntheticActionsOptions synthetic;  // --dataset synthetic: the data set (its own seed; the same for every --seed)
  int threads = 0;
  bool progress = true;
};

/// Evaluates one encoder (the `finetune` command without its parsing); returns the results
/// (also written to `out` when set).
nlohmann::json run_finetune(const FinetuneArgs& a);

/// The built-in synthetic action data set of `options` under `root` (default: a folder of the
/// user's cache named by the options), generated on first use.
std::string synthetic_actions_root(const std::string& root, const SyntheticActionsOptions& options);

}  // namespace longform::cli

// What a grid's "eval" object sets (reproduce.cpp); the encoder, seed and output are each cell's own.
LONGFORM_REFLECT(longform::cli::FinetuneArgs, dataset, root, lists, train_list, test_list, split, protocol, frames, stride, size, clips, crops,
                 epochs, batch, lr, weight_decay, k, temperature, flip, motion_share, threads, device, synthetic);
