// SPDX-License-Identifier: MIT
// The `longform` command's subcommands: each TU adds one to the app.
#pragma once

#include <CLI/CLI.hpp>

void add_info_command(CLI::App& app);
void add_framemd5_command(CLI::App& app);
void add_model_command(CLI::App& app);
void add_clips_command(CLI::App& app);
void add_pretrain_command(CLI::App& app);
void add_finetune_command(CLI::App& app);
void add_reproduce_command(CLI::App& app);
void add_export_command(CLI::App& app);
