// SPDX-License-Identifier: MIT
/// @file
/// Labelled action data sets: UCF101 and HMDB51 official splits, folder and CSV lists, clips and
/// test views, the built-in synthetic action set.
#pragma once

#include <longform/data/action_clips.hpp>
#include <longform/data/action_split.hpp>
#include <longform/data/folder.hpp>
#include <longform/data/hmdb51.hpp>
#include <longform/data/holdout.hpp>
#include <longform/data/synthetic_actions.hpp>
#include <longform/data/ucf101.hpp>
