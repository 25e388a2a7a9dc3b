// SPDX-License-Identifier: MIT
// `longform`: the command-line front end. Each subcommand lives in its own TU (commands.hpp).
//
// Exit status (README, "Bad input"): 0 done; 1 an error, said in one line on stderr; 2 a bad command
// line; 3 done, but some inputs were skipped (each named on stderr and in the summary's "skipped").
#include <cstdio>
#include <exception>
#include <string>

#include <CLI/CLI.hpp>
#include <c10/util/Exception.h>

#include <longform/core/retain_memory.hpp>
#include <longform/io/ffmpeg_log.hpp>

#include "bad_input.hpp"
#include "commands.hpp"

namespace {

// One line: LibTorch's messages may span several (context), and its `what()` adds a C++ stack trace.
int fail(std::string message) {
  for (auto& c : message)
    if (c == '\n' || c == '\r') c = ' ';
  while (!message.empty() && message.back() == ' ') message.pop_back();
  std::fprintf(stderr, "longform: error: %s\n", message.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  longform::retain_freed_memory();  // each training step reuses the last one's host memory
  const char* exit_status =
      "Exit status: 0 done; 1 error (one line on stderr); 2 bad command line; 3 done, but some inputs\n"
      "were skipped (each named on stderr as 'longform: skipped PATH: REASON' and listed in the summary's \"skipped\").";
  CLI::App app{"longform: online self-supervised pre-training from long-form videos"};
  app.footer(exit_status);
  app.require_subcommand(1);
  app.fallthrough();  // --verbose also after the subcommand
  app.add_flag_callback(
      "--verbose", [] { longform::set_ffmpeg_log_level(longform::FfmpegLogLevel::warning); },
      "Show FFmpeg's warnings and errors (hidden by default: bad input is reported by longform itself)");
  add_info_command(app);
  add_framemd5_command(app);
  add_clips_command(app);
  add_model_command(app);
  add_pretrain_command(app);
  add_finetune_command(app);
  add_reproduce_command(app);
  add_export_command(app);
  for (auto* command : app.get_subcommands({})) command->footer(exit_status);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int status = app.exit(e);
    return status == 0 ? 0 : 2;
  } catch (const c10::Error& e) {
    return fail(e.what_without_backtrace());
  } catch (const std::exception& e) {
    // Every longform error names its input; a failed command is an exit code, never a signal.
    return fail(e.what());
  }
  return longform::cli::exit_status();
}
