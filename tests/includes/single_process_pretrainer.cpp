// SPDX-License-Identifier: MIT
// A program that trains in one process includes the Pretrainer and nothing else; no_c10d.cmake
// preprocesses this unit and fails if c10d, Gloo or NCCL comes with it.
#include <longform/train/pretrainer.hpp>
