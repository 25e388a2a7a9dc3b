// SPDX-License-Identifier: MIT
// `longform pretrain` as a function, for the commands that pre-train as one of their steps (reproduce).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <longform/core/reflect.hpp>
#include <longform/train/options.hpp>

#include "samplers.hpp"

namespace longform::cli {

/// Everything `longform pretrain` is told. The members a config sets by name are reflected (below).
struct PretrainArgs {
  std::string method = "moco", sampler = "sequential", arch;
  std::string videos, ava, ava_root, config, init, teacher;
  bool synthetic = false;
  bool overwrite = false;    // replace an earlier run in out_dir (refused otherwise, unless resuming)
  std::int64_t stop_at = 0;  // pause after this step (checkpointed); --resume continues the same run
  std::int64_t frames = 16, stride = 4;
  std::int64_t streams = 4, capacity = 32, queue_size = 4096;
  ReplayArgs replay;  // storyboard sizes, --dedup-gap
  double segment_seconds = 10, mask_ratio = 0.9;
  double flip_p = 0.5;                    // moco: horizontal flip probability of each view
  std::string distill_target = "logits";  // distill: match the teacher's logits, or its pooled features
  longform::PretrainerOptions options{.out_dir = "pretrain-out"};
  std::string decode_device = "cpu";                // --decode-device: cpu, cuda, cuda:N (NVDEC; CPU if unavailable)
  std::string tensorboard;                          // --tensorboard: also write the step metrics as TensorBoard event files here
  std::map<std::string, const CLI::Option*> flags;  // PretrainerOptions member -> its flag (overrides --config)
  int rank = 0;                                     // in a torchrun job (distributed/env.hpp)
};

/// The --method names, in --help's order.
std::vector<std::string> method_names();

/// Runs one pre-training (the `pretrain` command without its parsing); returns its summary line.
nlohmann::json run_pretrain(PretrainArgs a);

}  // namespace longform::cli

// What a grid's "pretrain" object sets beside the PretrainerOptions members (reproduce.cpp); the
// method, sampler, stride, seed and folder are each cell's own.
LONGFORM_REFLECT(longform::cli::ReplayArgs, short_term, long_term, fresh, dedup_gap);
LONGFORM_REFLECT(longform::cli::PretrainArgs, synthetic, videos, ava, ava_root, init, teacher, frames, streams, capacity, replay, queue_size,
                 segment_seconds, mask_ratio, flip_p, distill_target);
