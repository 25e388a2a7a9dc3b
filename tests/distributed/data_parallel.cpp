// SPDX-License-Identifier: MIT
// Data-parallel pre-training on c10d (Gloo, 127.0.0.1): the launch contract, the process group,
// sharded sources, and real 2-process jobs. A job is this executable started twice with
// torchrun's variables set by hand, running the hidden worker test case below; the parent
// compares what the ranks wrote with a single-process run over the union of their batches.
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <ATen/ops/allclose.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/from_blob.h>

#include <longform/distributed/env.hpp>
#include <longform/distributed/process_group.hpp>
#include <longform/sampler.hpp>
#include <longform/source/sharded.hpp>
#include <longform/source/synthetic_video.hpp>
#include <longform/source/video_list.hpp>
#include <longform/train/checkpoint.hpp>
#include <longform/train/pretrainer.hpp>

#include "../support.hpp"
#include "../train/tiny_objective.hpp"

#include "../catch.hpp"

extern char** environ;

using namespace longform;
using longform::test::NextFrame;

namespace {

using Sequential = SequentialSampler<Frames<4>, Stride<2>>;

// Two synthetic long videos: in a 2-rank job each rank gets one.
SyntheticVideo two_videos() { return SyntheticVideo({.seed = 7, .videos = 2, .frames = 2000, .width = 48, .height = 40}); }
Sequential sequential() { return Sequential({.seed = 3, .epochs = 0}); }

// SGD keeps the comparison with the single-process run linear in the gradients' rounding.
PretrainerOptions job_options(const std::filesystem::path& dir, std::int64_t batch) {
  return {.steps = 6,
          .batch = batch,
          .size = 24,
          .optimizer = OptimizerKind::sgd,
          .lr = 0.05,
          .weight_decay = 1e-4,
          .checkpoint_every = 3,
          .out_dir = dir.string(),
          .prefetch = 2,
          .progress = false,
          .dist_timeout_s = 30};
}

// The tiny objective without input noise (so no per-rank randomness), logging every clip it trains on.
class Logged {
 public:
  using objective_concept = objective_tag;
  explicit Logged(const std::filesystem::path& log) : inner_(fresh()), log_(log) {}
  at::Tensor loss(const ClipBatch& batch) {
    for (const Clip& c : batch.clips) log_ << c.name << ' ' << c.frames.front() << '\n';
    log_.flush();
    return inner_.loss(batch);
  }
  std::vector<at::Tensor> parameters() { return inner_.parameters(); }
  void after_step() { inner_.after_step(); }
  torch::nn::Module& module() { return inner_.module(); }

 private:
  static NextFrame fresh() {
    at::manual_seed(1234);
    return NextFrame({.noise = 0});
  }
  NextFrame inner_;
  std::ofstream log_;
};

// Parameters as raw float32 bytes, in order (bitwise comparison across processes).
void dump(const std::filesystem::path& path, torch::nn::Module& module) {
  std::ofstream out(path, std::ios::binary);
  for (const auto& p : module.parameters()) {
    const at::Tensor t = p.detach().to(at::kFloat).contiguous();
    out.write(static_cast<const char*>(t.data_ptr()), static_cast<std::streamsize>(t.numel() * sizeof(float)));
  }
}

at::Tensor undump(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  REQUIRE(!bytes.empty());
  return at::from_blob(bytes.data(), {static_cast<std::int64_t>(bytes.size() / sizeof(float))}, at::kFloat).clone();
}

std::vector<std::string> lines(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::vector<double> metric_losses(const std::filesystem::path& dir) {
  std::vector<double> out;
  for (const auto& line : lines(dir / "metrics.jsonl")) out.push_back(nlohmann::json::parse(line)["loss"].get<double>());
  return out;
}

// A TCP port nobody listens on right now.
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// Starts `argv` with the current environment plus `extra`, stdout and stderr to `log`.
pid_t spawn(const std::vector<std::string>& argv, const std::map<std::string, std::string>& extra, const std::filesystem::path& log) {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    const std::string kv = *e;
    if (!extra.contains(kv.substr(0, kv.find('=')))) env.push_back(kv);
  }
  for (const auto& [k, v] : extra) env.push_back(k + "=" + v);
  std::vector<char*> args, envp;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  posix_spawn_file_actions_addopen(&files, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&files, STDOUT_FILENO, STDERR_FILENO);
  pid_t pid = 0;
  const int rc = ::posix_spawn(&pid, args[0], &files, nullptr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&files);
  REQUIRE(rc == 0);
  return pid;
}

// The exit status of `pid`; a process still running after `limit` is killed and reported as -1
// (a hang guard, far above any healthy run: the tests assert outcomes, not speed).
int wait_exit(pid_t pid, std::chrono::seconds limit = std::chrono::seconds(240)) {
  const auto until = std::chrono::steady_clock::now() + limit;
  int status = 0;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > until) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string self() { return std::filesystem::read_symlink("/proc/self/exe").string(); }

std::map<std::string, std::string> rank_env(int rank, int world, int port) {
  return {{"RANK", std::to_string(rank)},
          {"LOCAL_RANK", std::to_string(rank)},
          {"WORLD_SIZE", std::to_string(world)},
          {"MASTER_ADDR", "127.0.0.1"},
          {"MASTER_PORT", std::to_string(port)}};
}

// Starts a 2-rank job of the worker test case in `dir`; returns the two pids.
std::vector<pid_t> start_job(const std::filesystem::path& dir, std::map<std::string, std::string> settings) {
  const int port = free_port();
  std::vector<pid_t> pids;
  for (int r = 0; r < 2; ++r) {
    auto env = rank_env(r, 2, port);
    env.insert(settings.begin(), settings.end());
    env["LONGFORM_TEST_DIR"] = dir.string();
    pids.push_back(spawn({self(), "data-parallel worker"}, env, dir / ("log.rank" + std::to_string(r))));
  }
  return pids;
}

void run_job(const std::filesystem::path& dir, const std::map<std::string, std::string>& settings = {}) {
  const auto pids = start_job(dir, settings);
  for (int r = 0; r < 2; ++r) {
    const int status = wait_exit(pids[static_cast<std::size_t>(r)]);
    INFO("rank " << r << " log:\n" << test::run("cat " + (dir / ("log.rank" + std::to_string(r))).string()).output);
    REQUIRE(status == 0);
  }
}

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v ? v : fallback;
}

}  // namespace

// One rank of a job started by the tests below (hidden: runs only when named).
TEST_CASE("data-parallel worker", "[.worker]") {
  const std::filesystem::path dir = env_or("LONGFORM_TEST_DIR", "");
  REQUIRE(!dir.empty());
  const int rank = std::stoi(env_or("RANK", "0"));
  auto options = job_options(dir, 2);
  options.steps = std::stoll(env_or("LONGFORM_TEST_STEPS", "6"));
  options.resume = env_or("LONGFORM_TEST_RESUME", "0") == "1";
  options.dist_timeout_s = std::stod(env_or("LONGFORM_TEST_TIMEOUT", "30"));
  const auto stop_at = std::stoll(env_or("LONGFORM_TEST_STOP_AT", "0"));
  Pretrainer trainer{two_videos(), sequential(), Logged(dir / ("videos.rank" + std::to_string(rank))), options};
  trainer.run(stop_at);
  REQUIRE(trainer.world_size() == 2);
  REQUIRE(trainer.rank() == rank);
  dump(dir / ("params.rank" + std::to_string(rank)), trainer.objective().module());
}

TEST_CASE("DistributedEnv: torchrun's variables, and typed errors naming a bad one", "[distributed]") {
  using Env = std::map<std::string, std::string>;
  auto read = [](const Env& vars) {
    return DistributedEnv::from([&](const char* name) -> const char* {
      const auto it = vars.find(name);
      return it == vars.end() ? nullptr : it->second.c_str();
    });
  };
  const Env good{{"WORLD_SIZE", "4"}, {"RANK", "3"}, {"LOCAL_RANK", "1"}, {"MASTER_ADDR", "node0"}, {"MASTER_PORT", "29400"}};
  const auto env = read(good);
  REQUIRE(env.has_value());
  CHECK(env->world_size == 4);
  CHECK(env->rank == 3);
  CHECK(env->local_rank == 1);
  CHECK(env->master_addr == "node0");
  CHECK(env->master_port == 29400);
  CHECK_FALSE(env->agent_store);

  CHECK_FALSE(read({}).has_value());  // no WORLD_SIZE: a plain single-process run
  Env agent = good;
  agent["TORCHELASTIC_USE_AGENT_STORE"] = "True";
  CHECK(read(agent)->agent_store);
  Env no_local = good;
  no_local.erase("LOCAL_RANK");
  CHECK(read(no_local)->local_rank == 3);  // a hand launch on one machine may leave it out

  auto fails_on = [&](Env vars, const std::string& variable, const std::string& text) {
    INFO(variable << ": " << text);
    try {
      (void)read(vars);
      FAIL("no env_error");
    } catch (const env_error& e) {
      CHECK(e.variable() == variable);
      CHECK_THAT(e.what(), Catch::Contains(variable) && Catch::Contains(text));
    }
  };
  auto with = [&](const std::string& k, const std::optional<std::string>& v) {
    Env e = good;
    if (v)
      e[k] = *v;
    else
      e.erase(k);
    return e;
  };
  fails_on(with("RANK", std::nullopt), "RANK", "is not set");
  fails_on(with("RANK", "4"), "RANK", "must be in [0, 3]");
  fails_on(with("RANK", "two"), "RANK", "not an integer");
  fails_on(with("WORLD_SIZE", "0"), "WORLD_SIZE", "must be in");
  fails_on(with("WORLD_SIZE", "2x"), "WORLD_SIZE", "not an integer");
  fails_on(with("MASTER_ADDR", std::nullopt), "MASTER_ADDR", "is not set");
  fails_on(with("MASTER_ADDR", ""), "MASTER_ADDR", "is empty");
  fails_on(with("MASTER_PORT", std::nullopt), "MASTER_PORT", "is not set");
  fails_on(with("MASTER_PORT", "70000"), "MASTER_PORT", "must be in [1, 65535]");
  fails_on(with("LOCAL_RANK", "-1"), "LOCAL_RANK", "must be in");
}

TEST_CASE("Sharded: ranks get disjoint videos that together are all of them", "[distributed]") {
  const SyntheticVideo five({.seed = 1, .videos = 5, .frames = 8, .width = 16, .height = 16});
  std::multiset<std::string> seen;
  for (std::size_t r = 0; r < 2; ++r) {
    const Sharded shard(five, r, 2);
    CHECK(shard.size() == (r == 0 ? 3u : 2u));
    for (std::size_t i = 0; i < shard.size(); ++i) {
      CHECK(shard.name(i) == five.name(r + 2 * i));
      CHECK(shard.open(i).info().path == five.open(r + 2 * i).info().path);
      seen.insert(shard.name(i));
    }
  }
  CHECK(seen.size() == 5);
  CHECK(std::set<std::string>(seen.begin(), seen.end()).size() == 5);
  CHECK_THROWS_WITH((Sharded(five, 5, 6)), Catch::Contains("rank 5 of 6 gets no video") && Catch::Contains("source has 5"));
  CHECK_THROWS_AS((Sharded(five, 2, 2)), config_error);
  // VideoList::shard gives the same split and the same errors.
  const VideoList list({"a.mp4", "b.mp4", "c.mp4"});
  CHECK(list.shard(1, 2).paths() == std::vector<std::string>{"b.mp4"});
  CHECK_THROWS_WITH(list.shard(3, 4), Catch::Contains("VideoList::shard: rank 3 of 4 gets no video"));
}

TEST_CASE("ProcessGroup: one rank, joined as the installed Collective, and a rendezvous nobody serves fails with the address", "[distributed]") {
  const int port = free_port();
  {
    ProcessGroup alone(DistributedEnv{.rank = 0, .world_size = 1, .master_port = static_cast<std::uint16_t>(port)},
                       {.timeout = std::chrono::seconds(10)});
    CHECK(alone.backend() == "gloo");
    at::Tensor t = at::arange(4, at::kFloat);
    alone.all_reduce(t);
    CHECK(at::equal(t, at::arange(4, at::kFloat)));
    CHECK(at::equal(alone.all_gather(t), t));
    const auto gathered = alone.all_gather(std::vector<std::int64_t>{5, -1, 7});
    REQUIRE(gathered.size() == 1);
    CHECK(gathered[0] == std::vector<std::int64_t>{5, -1, 7});
  }
  // Including process_group.hpp installed c10d as what a Pretrainer joins.
  {
    const auto joined = join_collective(DistributedEnv{.rank = 0, .world_size = 1, .master_port = static_cast<std::uint16_t>(free_port())},
                                        {.timeout = std::chrono::seconds(10)});
    CHECK(dynamic_cast<const ProcessGroup*>(joined.get()) != nullptr);
    CHECK(joined->size() == 1);
  }
  // Rank 1 of 2 with no rank 0 anywhere: a distributed_error naming the rendezvous, after the timeout.
  try {
    ProcessGroup lonely(DistributedEnv{.rank = 1, .world_size = 2, .master_port = static_cast<std::uint16_t>(free_port())},
                        {.timeout = std::chrono::seconds(2)});
    FAIL("the rendezvous succeeded without rank 0");
  } catch (const distributed_error& e) {
    CHECK(e.rank() == 1);
    CHECK_THAT(e.what(), Catch::Contains("rank 1 of 2") && Catch::Contains("rendezvous at 127.0.0.1:"));
  }
}

TEST_CASE("Data parallel: 2 ranks keep identical weights, equal to one process over the union of their batches", "[distributed]") {
  const auto dir = test::scratch("dp-job");
  run_job(dir);

  // Identical on both ranks, bit for bit.
  const at::Tensor rank0 = undump(dir / "params.rank0"), rank1 = undump(dir / "params.rank1");
  CHECK(at::equal(rank0, rank1));

  // The ranks read disjoint videos, together both of them, in their own sequential streams.
  std::set<std::string> videos[2];
  for (int r = 0; r < 2; ++r) {
    const auto clips = lines(dir / ("videos.rank" + std::to_string(r)));
    CHECK(clips.size() == 12);  // 6 steps of 2 clips
    for (const auto& c : clips) videos[r].insert(c.substr(0, c.find(' ')));
    CHECK(videos[r].size() == 1);
  }
  CHECK(*videos[0].begin() != *videos[1].begin());

  // One process, batch 4: MultiStream's two streams over the two videos give each step the same
  // 4 clips as the two ranks together (2 + 2); the mean loss over them has the averaged gradient.
  const auto single_dir = test::scratch("dp-single");
  auto options = job_options(single_dir, 4);
  options.distributed = false;
  Pretrainer single{two_videos(), MultiStream<Streams<2>, Sequential>(sequential()), Logged(single_dir / "videos"), options};
  const auto report = single.run();
  dump(single_dir / "params", single.objective().module());
  const at::Tensor reference = undump(single_dir / "params");
  REQUIRE(reference.sizes() == rank0.sizes());
  CHECK(at::allclose(rank0, reference, /*rtol=*/1e-4, /*atol=*/1e-6));
  Logged initial(single_dir / "unused");
  dump(single_dir / "initial", initial.module());
  CHECK_FALSE(at::allclose(rank0, undump(single_dir / "initial"), 1e-3, 1e-4));  // and they did train
  const auto losses = metric_losses(dir);                                        // rank 0 logs the mean over ranks
  REQUIRE(losses.size() == report.losses.size());
  for (std::size_t i = 0; i < losses.size(); ++i) CHECK(losses[i] == Approx(report.losses[i]).epsilon(1e-5));

  // Rank 0's checkpoint holds both ranks' sampler states.
  const auto state = read_training_state(dir / "checkpoint.pt");
  CHECK(state.step == 6);
  REQUIRE(state.ranks.size() == 2);
  CHECK(state.ranks[0].sampler.kind == "sequential");
  CHECK(state.ranks[1].sampler.kind == "sequential");
  CHECK(state.ranks[0].cpu_rng.defined());
}

TEST_CASE("Data parallel: a 2-rank job resumed from its checkpoint continues both streams exactly", "[distributed]") {
  const auto full = test::scratch("dp-full");
  run_job(full);
  const auto split = test::scratch("dp-split");
  run_job(split, {{"LONGFORM_TEST_STOP_AT", "3"}});
  CHECK(read_training_state(split / "checkpoint.pt").step == 3);
  run_job(split, {{"LONGFORM_TEST_RESUME", "1"}});
  CHECK(read_training_state(split / "checkpoint.pt").step == 6);

  for (int r = 0; r < 2; ++r) {
    const std::string rank = std::to_string(r);
    INFO("rank " << r);
    // The same clips in the same order: the second process of each rank went on where the first stopped.
    CHECK(lines(split / ("videos.rank" + rank)).size() == 6);  // steps 4..6 (the log restarts with the process)
    const auto whole = lines(full / ("videos.rank" + rank));
    CHECK(lines(split / ("videos.rank" + rank)) == std::vector<std::string>(whole.begin() + 6, whole.end()));
    CHECK(at::equal(undump(split / ("params.rank" + rank)), undump(full / ("params.rank" + rank))));
  }
  CHECK(metric_losses(split) == metric_losses(full));

  // One process cannot continue two streams: refused, naming the checkpoint and both sizes.
  auto options = job_options(split, 2);
  options.steps = 8;
  options.resume = true;
  options.distributed = false;
  Pretrainer alone{two_videos(), sequential(), Logged(split / "videos.alone"), options};
  CHECK_THROWS_WITH(alone.run(), Catch::Contains("checkpoint.pt") && Catch::Contains("written by a job of 2 process(es), resumed by 1"));
}

TEST_CASE("longform pretrain under torchrun and under a hand launch: one job whose MoCo queue takes both ranks' keys", "[distributed][cli]") {
  const std::vector<std::string> args{"pretrain", "--synthetic", "--method",     "moco", "--sampler", "sequential", "--arch",         "x3d_xs",
                                      "--frames", "4",           "--stride",     "2",    "--size",    "32",         "--batch",        "2",
                                      "--steps",  "3",           "--queue-size", "64",   "--threads", "1",          "--dist-timeout", "60",
                                      "--out"};
  std::filesystem::path dir;
  SECTION("torchrun --standalone --nproc_per_node=2 --no-python") {
    dir = test::scratch("dp-torchrun");
    std::string command = std::string(LONGFORM_PYTHON) + " -m torch.distributed.run --standalone --nproc_per_node=2 --no-python " + LONGFORM_CLI;
    for (const auto& a : args) command += " " + a;
    const auto r = test::run(command + " " + dir.string());
    INFO(r.output);
    REQUIRE(r.status == 0);
    const auto summary = r.output.find("\"steps_run\":3");
    REQUIRE(summary != std::string::npos);
    CHECK(r.output.find("\"steps_run\":3", summary + 1) == std::string::npos);  // one summary, from rank 0
  }
  SECTION("two processes with the variables set by hand") {
    dir = test::scratch("dp-hand");
    auto argv = args;
    argv.insert(argv.begin(), LONGFORM_CLI);
    argv.push_back(dir.string());
    const int port = free_port();
    std::vector<pid_t> pids;
    for (int r = 0; r < 2; ++r) pids.push_back(spawn(argv, rank_env(r, 2, port), dir / ("log.rank" + std::to_string(r))));
    for (int r = 0; r < 2; ++r) {
      const int status = wait_exit(pids[static_cast<std::size_t>(r)]);
      INFO(test::run("cat " + (dir / ("log.rank" + std::to_string(r))).string()).output);
      REQUIRE(status == 0);
    }
  }
  const auto state = read_training_state(dir / "checkpoint.pt");
  CHECK(state.step == 3);
  CHECK(state.ranks.size() == 2);
  // 3 steps x 2 ranks x 2 keys: the queue advanced by both ranks' keys (one process would be at 6).
  const StateDict model = read_training_model(dir / "checkpoint.pt");
  REQUIRE(model.contains("queue_ptr"));
  CHECK(model["queue_ptr"].item<std::int64_t>() == 12);
}

TEST_CASE("Data parallel: when one rank is killed the other exits with a distributed_error, no hang", "[distributed]") {
  for (const int signal : {SIGKILL, SIGSTOP}) {
    INFO((signal == SIGKILL ? "killed" : "stopped (hung)") << " peer");
    const auto dir = test::scratch(signal == SIGKILL ? "dp-kill" : "dp-hang");
    const auto pids = start_job(dir, {{"LONGFORM_TEST_STEPS", "100000"}, {"LONGFORM_TEST_TIMEOUT", "5"}});
    // Wait until rank 1 trains, then take it away mid-run.
    for (int i = 0; i < 2400 && lines(dir / "videos.rank1").size() < 6; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    REQUIRE(lines(dir / "videos.rank1").size() >= 6);
    ::kill(pids[1], signal);
    const int status = wait_exit(pids[0]);
    if (signal == SIGSTOP) ::kill(pids[1], SIGKILL);
    wait_exit(pids[1]);
    const std::string log = test::run("cat " + (dir / "log.rank0").string()).output;
    INFO(log);
    CHECK(status != -1);  // it exited by itself
    CHECK(status != 0);
    CHECK_THAT(log, Catch::Contains("distributed rank 0 of 2:") && Catch::Contains("failed"));
  }
}
