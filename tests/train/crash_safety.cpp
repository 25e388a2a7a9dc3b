// SPDX-License-Identifier: MIT
// Crash safety of `longform pretrain`, as separate processes: SIGKILL at random moments (also in the
// middle of a checkpoint write) never leaves an unloadable checkpoint, and the run resumed after
// 50 kills reproduces the uninterrupted run's losses; a full disk (a file-size limit) fails the save
// with a clear error and keeps the last good checkpoint.
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include <longform/train/checkpoint.hpp>

#include "../support.hpp"

#include "../catch.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

// On tmpfs when there is one: the test is about a process dying (the page cache survives it), and
// fsync there costs nothing, so 50 runs take seconds each, not minutes.
fs::path fast_scratch(const std::string& name) {
  const fs::path base = fs::is_directory("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
  const auto dir = base / ("longform-test-" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// A tiny MoCo run on the built-in synthetic videos, checkpointing after every step; long enough
// that 50 interrupted tries never finish it, however fast the machine.
std::vector<std::string> pretrain(const fs::path& out, std::vector<std::string> extra = {}) {
  std::vector<std::string> args{
      LONGFORM_CLI, "pretrain", "--synthetic", "--method",     "moco", "--arch",    "x3d_xs", "--frames", "2",    "--stride",           "2", "--size",
      "32",         "--batch",  "2",           "--queue-size", "8",    "--threads", "1",      "--steps",  "1000", "--checkpoint-every", "1", "--out",
      out.string()};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

// Starts `args` with stdout and stderr appended to `log`, optionally under a file-size limit.
pid_t spawn(const std::vector<std::string>& args, const fs::path& log, std::optional<rlim_t> file_size_limit = {}) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {  // only async-signal-safe calls until exec
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    if (file_size_limit) {
      const rlimit limit{*file_size_limit, *file_size_limit};
      ::setrlimit(RLIMIT_FSIZE, &limit);
      ::signal(SIGXFSZ, SIG_IGN);  // then write() fails with EFBIG, as on a full disk, instead of killing
    }
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

int wait_for(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return status;
}

std::string text_of(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

std::vector<double> losses(const fs::path& metrics) {
  std::vector<double> out;
  std::ifstream in(metrics);
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line);
    REQUIRE(j["step"].get<std::size_t>() == out.size() + 1);  // every step once, in order
    out.push_back(j["loss"].get<double>());
  }
  return out;
}

std::vector<fs::path> temporaries(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().filename().string().starts_with("checkpoint.pt.tmp.")) out.push_back(e.path());
  }
  return out;
}

}  // namespace

// Hidden from the default run (a few minutes); CTest runs it as crash_safety.kill_pretrain.
TEST_CASE("longform pretrain killed 50 times at random moments always leaves a loadable checkpoint and resumes exactly", "[.kill]") {
  const auto dir = fast_scratch("kill");
  const auto ckpt = dir / "checkpoint.pt";
  const auto log = dir / "log.txt";
  std::mt19937 rng(20261127);
  int killed = 0, during_write = 0;
  std::int64_t step = 0;
  for (int attempt = 0; attempt < 50; ++attempt) {
    const pid_t pid = spawn(pretrain(dir, {"--resume"}), log);
    const auto tmp = dir / ("checkpoint.pt.tmp." + std::to_string(pid));
    // Every other try waits for the process to start writing a checkpoint; the others pick a moment.
    const bool at_write = attempt % 2 == 1;
    const auto start = std::chrono::steady_clock::now();
    const auto moment = std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 5000)(rng));
    int status = 0;
    bool exited = false;
    while (!(exited = ::waitpid(pid, &status, WNOHANG) == pid)) {
      const auto waited = std::chrono::steady_clock::now() - start;
      if (at_write ? fs::exists(tmp) || waited > 120s : waited >= moment) break;
      std::this_thread::sleep_for(100us);
    }
    if (exited) FAIL("the run ended before it was killed: " << text_of(log));
    if (at_write) std::this_thread::sleep_for(std::chrono::microseconds(std::uniform_int_distribution<int>(0, 30000)(rng)));
    ::kill(pid, SIGKILL);
    status = wait_for(pid);
    REQUIRE(WIFSIGNALED(status));
    REQUIRE(WTERMSIG(status) == SIGKILL);
    ++killed;
    during_write += fs::exists(tmp);  // its temporary is still there: killed between create and rename
    if (fs::exists(ckpt)) {
      const auto state = longform::read_training_state(ckpt);  // the whole archive, every tensor
      CHECK(state.step >= step);                               // never an older one
      step = state.step;
    }
  }
  CHECK(killed == 50);
  WARN(during_write << " of " << killed << " kills hit a checkpoint write; the run got to step " << step);
  CHECK(during_write >= 20);

  // Resumed to a few steps past the last checkpoint: the losses of every step equal those of a run
  // that was never interrupted, and the killed writers' temporaries are gone.
  const auto stop = std::to_string(step + 2);
  REQUIRE(WEXITSTATUS(wait_for(spawn(pretrain(dir, {"--resume", "--stop-at", stop}), log))) == 0);
  const auto whole = fast_scratch("kill-reference");
  REQUIRE(WEXITSTATUS(wait_for(spawn(pretrain(whole, {"--stop-at", stop}), whole / "log.txt"))) == 0);
  const auto resumed = losses(dir / "metrics.jsonl");
  const auto reference = losses(whole / "metrics.jsonl");
  REQUIRE(reference.size() == static_cast<std::size_t>(step + 2));
  CHECK(resumed == reference);
  CHECK(temporaries(dir).empty());
  fs::remove_all(dir);
  fs::remove_all(whole);
}

TEST_CASE("a full disk fails the checkpoint save with a clear error and keeps the last good checkpoint", "[train][crash]") {
  const auto dir = longform::test::scratch("full-disk");
  const auto ckpt = dir / "checkpoint.pt";
  const auto log = dir / "log.txt";
  REQUIRE(WEXITSTATUS(wait_for(spawn(pretrain(dir, {"--stop-at", "1"}), log))) == 0);
  const std::string good = text_of(ckpt);
  REQUIRE(longform::read_training_state(ckpt).step == 1);
  // The next save needs far more than 8 MiB: the "disk" fills up in the middle of the archive.
  // Regression: the process aborted (std::terminate in LibTorch's archive writer) instead.
  const int status = wait_for(spawn(pretrain(dir, {"--resume", "--stop-at", "2"}), log, 8 << 20));
  const std::string output = text_of(log);
  INFO(output);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 1);
  CHECK_THAT(output, Catch::Contains(ckpt.string()) && Catch::Contains("File too large"));
  CHECK(text_of(ckpt) == good);
  CHECK(longform::read_training_state(ckpt).step == 1);
  CHECK(temporaries(dir).empty());
}

TEST_CASE("stale checkpoint temporaries of killed writers are removed by the next save, a live writer's are not", "[train][crash]") {
  // Regression: every killed save left its NAME.tmp.PID (a partial checkpoint) behind for good.
  const auto dir = longform::test::scratch("stale-temporaries");
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  wait_for(child);  // its PID now names no process
  const auto dead = dir / ("checkpoint.pt.tmp." + std::to_string(child));
  const auto live = dir / ("checkpoint.pt.tmp." + std::to_string(::getppid()));
  const auto other = dir / "other.pt.tmp.1";
  for (const auto& p : {dead, live, other}) std::ofstream(p) << "partial";
  longform::write_atomically(dir / "checkpoint.pt", [](const longform::ByteSink& sink) { sink("new", 3); });
  CHECK_FALSE(fs::exists(dead));
  CHECK(fs::exists(live));
  CHECK(fs::exists(other));
  CHECK(text_of(dir / "checkpoint.pt") == "new");
}
