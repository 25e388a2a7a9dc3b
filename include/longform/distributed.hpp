// SPDX-License-Identifier: MIT
/// @file
/// The distributed family: multi-process data-parallel training on LibTorch's c10d. Including it
/// (or distributed/process_group.hpp) in one translation unit gives every `Pretrainer` of the
/// program multi-process training; with CMake, link `longform::distributed` (the Gloo and NCCL
/// headers and definitions c10d needs).
///
///   - `DistributedEnv` (`distributed/env.hpp`): torchrun's variables.
///   - `Collective` (`distributed/collective.hpp`): the collectives training needs, without c10d.
///   - `ProcessGroup` (`distributed/process_group.hpp`): the `Collective` on c10d, Gloo or NCCL.
///   - `broadcast_state`, `GradientReducer` (`distributed/data_parallel.hpp`): gradient averaging.
#pragma once

#include <longform/distributed/collective.hpp>
#include <longform/distributed/data_parallel.hpp>
#include <longform/distributed/env.hpp>
#include <longform/distributed/process_group.hpp>
