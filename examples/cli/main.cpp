// SPDX-License-Identifier: MIT
// `longform`: the command-line front end. Each subcommand lives in its own TU (commands.hpp).
#include <cstdio>
#include <exception>

#include <CLI/CLI.hpp>

#include <longform/core/retain_memory.hpp>

#include "commands.hpp"

int main(int argc, char** argv) {
  longform::retain_freed_memory();  // each training step reuses the last one's host memory
  CLI::App app{"longform: online self-supervised pre-training from long-form videos"};
  app.require_subcommand(1);
  add_info_command(app);
  add_framemd5_command(app);
  add_clips_command(app);
  add_model_command(app);
  add_pretrain_command(app);
  add_finetune_command(app);
  add_reproduce_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    // Every longform error names its input; a failed command is an exit code, never a signal.
    std::fprintf(stderr, "longform: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
