// SPDX-License-Identifier: MIT
/// @file
/// `generator_view<T>`: a single-pass range-v3 view over a pull function `std::optional<T>()`, and
/// `puller`, the pull function of any input range. The pipeline stages are built from these two.
// IWYU pragma: private, include <longform/pipeline.hpp>
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <utility>

#include <range/v3/range/access.hpp>
#include <range/v3/range/concepts.hpp>
#include <range/v3/view/facade.hpp>

namespace longform::detail {

/// A single-pass view of the values `pull()` returns until `std::nullopt`. Copies share the
/// stream; the pull function (and what it owns) lives as long as the last copy.
template <class T>
class generator_view : public ranges::view_facade<generator_view<T>, ranges::unknown> {
  friend ranges::range_access;
  struct state {
    std::function<std::optional<T>()> pull;
    std::optional<T> current;
    bool primed = false;
    void prime() {
      if (!primed) {
        primed = true;
        current = pull();
      }
    }
  };
  std::shared_ptr<state> state_;

  struct cursor {
    state* s = nullptr;
    // By value: elements are cheap handles (tensors, small vectors), and a copy stays valid after `next`.
    [[nodiscard]] T read() const {
      s->prime();
      return *s->current;
    }
    void next() {
      s->prime();
      s->current = s->pull();
    }
    [[nodiscard]] bool equal(ranges::default_sentinel_t) const {
      s->prime();
      return !s->current;
    }
  };
  cursor begin_cursor() const { return {state_.get()}; }

 public:
  generator_view() = default;
  explicit generator_view(std::function<std::optional<T>()> pull) : state_(std::make_shared<state>()) { state_->pull = std::move(pull); }
};

/// Pulls the elements of an input range one by one (the range is moved in and owned).
template <class Rng>
class puller {
 public:
  explicit puller(Rng rng) : s_(std::make_shared<state>(std::move(rng))) {}
  // Advances lazily, just before reading: taking element k never computes element k+1 (which
  // could be expensive, or throw before element k is delivered).
  auto operator()() -> std::optional<ranges::range_value_t<Rng>> {
    if (!s_->it) {
      s_->it.emplace(ranges::begin(s_->rng));
    } else {
      ++*s_->it;
    }
    if (*s_->it == ranges::end(s_->rng)) return std::nullopt;
    return std::optional<ranges::range_value_t<Rng>>(**s_->it);
  }

 private:
  struct state {
    explicit state(Rng r) : rng(std::move(r)) {}
    Rng rng;
    std::optional<ranges::iterator_t<Rng>> it;
  };
  std::shared_ptr<state> s_;  // std::function needs a copyable callable
};

}  // namespace longform::detail
