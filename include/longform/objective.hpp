// SPDX-License-Identifier: MIT
/// @file
/// The objective family: the `SslObjective` concept and the built-in objectives.
///
/// Available objectives (one per header):
///   - `MoCo<Encoder>` (`objective/moco.hpp`): momentum contrast with a queue; X3D by default.
///   - `Distill<Teacher, Student>` (`objective/distill.hpp`): a frozen teacher's soft outputs.
///   - `VideoMAE<Encoder>` (`objective/videomae.hpp`): masked tube reconstruction; video ViT.
/// Write your own by modelling `SslObjective` (examples/custom_objective.cpp).
#pragma once

#include <longform/objective/any_objective.hpp>
#include <longform/objective/concepts.hpp>
#include <longform/objective/distill.hpp>
#include <longform/objective/moco.hpp>
#include <longform/objective/videomae.hpp>
