// SPDX-License-Identifier: MIT
/// @file
/// `load_pretrained`: an encoder's weights from either end of the workflow —
/// - a training checkpoint of `longform pretrain` / `Pretrainer` (train/checkpoint.hpp): the
///   trained encoder of its objective, found by name (MoCo `encoder_q`, distillation `student`,
///   VideoMAE `encoder`);
/// - a backbone state dict (`torch.save`, backbone/weights.hpp), e.g. `X3D_M.pyth` or a file written
///   by `save_state_dict`, loaded strictly.
///
///     longform::X3DOptions o = longform::x3d_m();
///     o.output = longform::X3DOutput::features;  // the encoder as pre-training built it
///     longform::X3D encoder(o);
///     std::string what = longform::load_pretrained(*encoder, "run/checkpoint.pt");  // "checkpoint:encoder_q"
#pragma once

#include <filesystem>
#include <string>

#include <torch/nn/module.h>

#include <longform/backbone/weights.hpp>
#include <longform/core/error.hpp>
#include <longform/train/checkpoint.hpp>

namespace longform {

/// Submodules of a training checkpoint that hold the encoder to evaluate, tried in this order.
inline constexpr const char* pretrained_encoder_names[] = {"encoder_q", "student", "encoder"};

/// Loads `module`'s weights from `path` (see the file comment); returns what was loaded
/// ("checkpoint:encoder_q", ..., or "state_dict").
/// @throws checkpoint_error / state_dict_error / config_error naming `path`.
inline std::string load_pretrained(torch::nn::Module& module, const std::filesystem::path& path) {
  if (!std::filesystem::is_regular_file(path)) throw config_error(path.string() + ": no such weights file");
  if (!is_training_checkpoint(path)) {
    load_checkpoint(module, path);
    return "state_dict";
  }
  std::string tried;
  for (const char* name : pretrained_encoder_names) {
    try {
      load_training_submodule(path, name, module);
      return std::string("checkpoint:") + name;
    } catch (const checkpoint_error& e) {
      tried += std::string(tried.empty() ? "" : "; ") + e.what();
    }
  }
  throw checkpoint_error(path, "no encoder in this training checkpoint fits the model (" + tried + ")");
}

}  // namespace longform
