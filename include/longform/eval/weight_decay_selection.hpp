// SPDX-License-Identifier: MIT
/// @file
/// `select_weight_decay`: the linear probe's weight decay, chosen on held-out training samples.
///
/// Why: a fixed decay judges encoders unevenly. Features that tell every training video from every
/// other (what instance discrimination such as MoCo is trained for) let a lightly decayed probe
/// memorise the training set; it then generalises worse than on features that cannot be memorised,
/// so a better encoder can score below a random one. Choosing the decay per encoder on held-out
/// videos (`holdout_videos`) is the usual remedy in linear evaluation.
///
///     auto choice = longform::select_weight_decay(x, y, classes, held_out, {.epochs = 100});
///     longform::LinearProbe probe({.epochs = 100, .weight_decay = choice.weight_decay});
#pragma once

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>

#include <longform/core/error.hpp>
#include <longform/eval/linear_probe.hpp>

namespace longform {

/// Decays `select_weight_decay` tries by default, for `LinearProbe`'s AdamW at its default peak
/// learning rate 1e-2: from none to strong enough to stop memorisation (below 1 / lr = 100, where
/// every step would erase the weights).
inline const std::vector<double>& default_weight_decays() {
  static const std::vector<double> decays{1e-4, 1e-2, 1e-1, 1, 3, 10, 30};
  return decays;
}

/// What `select_weight_decay` found.
struct WeightDecayChoice {
  double weight_decay = 0;           ///< the one to use
  std::vector<double> candidates;    ///< those tried, in order
  std::vector<double> holdout_top1;  ///< each one's top-1 on the held-out samples
};

/// Fits a probe with each of `candidates` on the samples of `features` (`[N, D]`) / `labels`
/// (`[N]`) not marked in `held_out` (`[N]` bool) and returns the one with the best top-1 on the
/// marked ones; on a tie, the larger decay (the simpler classifier). `options` sets everything else.
/// @throws config_error on mismatched shapes, or when either part would be empty.
[[nodiscard]] inline WeightDecayChoice select_weight_decay(const at::Tensor& features, const at::Tensor& labels, std::int64_t num_classes,
                                                           const at::Tensor& held_out, const LinearProbeOptions& options = {},
                                                           const std::vector<double>& candidates = default_weight_decays()) {
  if (features.dim() != 2 || held_out.dim() != 1 || held_out.size(0) != features.size(0) || candidates.empty()) {
    throw config_error("select_weight_decay: expected features [N, D], held_out [N] and at least one candidate");
  }
  const at::Tensor mask = held_out.to(at::kBool).cpu();
  const at::Tensor train = mask.logical_not().nonzero().flatten(), validate = mask.nonzero().flatten();
  if (train.numel() == 0 || validate.numel() == 0) {
    throw config_error("select_weight_decay: the held-out and the training parts must both be non-empty");
  }
  const at::Tensor x = features.cpu(), y = labels.cpu();
  const at::Tensor x_fit = x.index_select(0, train), y_fit = y.index_select(0, train);
  const at::Tensor x_val = x.index_select(0, validate), y_val = y.index_select(0, validate);
  WeightDecayChoice choice{.candidates = candidates};
  double best = -1;
  for (const double decay : candidates) {
    LinearProbeOptions o = options;
    o.weight_decay = decay;
    LinearProbe probe(o);
    probe.fit(x_fit, y_fit, num_classes);
    const double top1 = probe.logits(x_val).argmax(1).eq(y_val).to(at::kDouble).mean().item<double>();
    choice.holdout_top1.push_back(top1);
    if (top1 > best || (top1 == best && decay > choice.weight_decay)) {
      best = top1;
      choice.weight_decay = decay;
    }
  }
  return choice;
}

}  // namespace longform
