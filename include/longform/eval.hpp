// SPDX-License-Identifier: MIT
/// @file
/// Downstream evaluation: fine-tuning, linear probe (its weight decay chosen on held-out videos)
/// and kNN on frozen features, multi-view testing, classification metrics, loading pre-trained
/// encoders, the motion share of features, confidence intervals over seeds.
#pragma once

#include <longform/eval/confidence.hpp>
#include <longform/eval/features.hpp>
#include <longform/eval/finetune.hpp>
#include <longform/eval/knn.hpp>
#include <longform/eval/linear_probe.hpp>
#include <longform/eval/metrics.hpp>
#include <longform/eval/motion_share.hpp>
#include <longform/eval/pretrained.hpp>
#include <longform/eval/views.hpp>
#include <longform/eval/weight_decay_selection.hpp>
