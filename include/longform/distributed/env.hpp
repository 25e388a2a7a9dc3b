// SPDX-License-Identifier: MIT
/// @file
/// `DistributedEnv`: where this process sits in a multi-process job, read from the environment
/// contract of `torchrun` (and of `torch.distributed`'s `env://`), so a program launched by
/// `torchrun --nproc_per_node=N`, by SLURM through a wrapper, or by hand joins the same job:
///
/// | variable      | meaning                                          | needed                  |
/// |---------------|--------------------------------------------------|-------------------------|
/// | `WORLD_SIZE`  | processes in the job                             | unset: not distributed  |
/// | `RANK`        | this process, `0 .. WORLD_SIZE-1`                | yes                     |
/// | `LOCAL_RANK`  | this process on its machine (picks `cuda:N`)     | no (default: `RANK`)    |
/// | `MASTER_ADDR` | host of rank 0, where the rendezvous store runs  | yes                     |
/// | `MASTER_PORT` | its TCP port                                     | yes                     |
///
/// `TORCHELASTIC_USE_AGENT_STORE=True` (set by `torchrun`) says the launcher already serves the
/// store at `MASTER_ADDR:MASTER_PORT`, so rank 0 must join it as a client instead of serving it.
///
///     if (auto env = longform::DistributedEnv::from_environment()) use(env->rank, env->world_size);
#pragma once

#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <longform/core/error.hpp>

namespace longform {

/// An environment variable of the launch contract is missing or malformed; `variable()` names it.
class env_error : public config_error {
 public:
  env_error(std::string variable, const std::string& message)
      : config_error("distributed launch: environment variable " + variable + " " + message), variable_(std::move(variable)) {}
  [[nodiscard]] const std::string& variable() const noexcept { return variable_; }

 private:
  std::string variable_;
};

/// This process's place in the job (see the file comment).
struct DistributedEnv {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  std::string master_addr = "127.0.0.1";
  std::uint16_t master_port = 29500;
  bool agent_store = false;  ///< the launcher serves the store (`TORCHELASTIC_USE_AGENT_STORE=True`)

  /// Reads the variables through `get` (default: `std::getenv`); `std::nullopt` when
  /// `WORLD_SIZE` is unset, i.e. a plain single-process run.
  /// @throws env_error naming the variable that is missing or malformed.
  template <class Get>
  [[nodiscard]] static std::optional<DistributedEnv> from(Get&& get) {
    const char* world = get("WORLD_SIZE");
    if (world == nullptr) return std::nullopt;
    DistributedEnv env;
    env.world_size = integer("WORLD_SIZE", world, 1, 1 << 20);
    env.rank = integer("RANK", required(get, "RANK"), 0, env.world_size - 1);
    const char* local = get("LOCAL_RANK");
    env.local_rank = local ? integer("LOCAL_RANK", local, 0, env.world_size - 1) : env.rank;
    env.master_addr = required(get, "MASTER_ADDR");
    if (env.master_addr.empty()) throw env_error("MASTER_ADDR", "is empty (expected the host name or address of rank 0)");
    env.master_port = static_cast<std::uint16_t>(integer("MASTER_PORT", required(get, "MASTER_PORT"), 1, 65535));
    const char* agent = get("TORCHELASTIC_USE_AGENT_STORE");
    env.agent_store = agent != nullptr && std::string_view(agent) == "True";
    return env;
  }

  /// `from(std::getenv)`.
  [[nodiscard]] static std::optional<DistributedEnv> from_environment() {
    return from([](const char* name) { return std::getenv(name); });
  }

 private:
  template <class Get>
  static const char* required(Get& get, const char* name) {
    const char* v = get(name);
    if (v == nullptr) throw env_error(name, "is not set (WORLD_SIZE is, so this is a distributed launch)");
    return v;
  }
  static int integer(const char* name, std::string_view text, long lo, long hi) {
    long v = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size()) throw env_error(name, "is not an integer (was '" + std::string(text) + "')");
    if (v < lo || v > hi) {
      throw env_error(name, "must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "] (was " + std::string(text) + ")");
    }
    return static_cast<int>(v);
  }
};

}  // namespace longform
