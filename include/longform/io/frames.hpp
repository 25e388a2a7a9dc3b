// SPDX-License-Identifier: MIT
/// @file
/// `frames(reader)`: the frames of a video as a lazy, single-pass range-v3 input range.
///
/// Memory stays bounded however long the video: the range holds one decoded frame at a time.
/// It composes with range-v3 views (`frames(r) | ranges::views::stride(4) | ranges::views::take(16)`).
/// Being single-pass, iterating it twice continues where the first iteration stopped.
#pragma once

#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

#include <range/v3/view/facade.hpp>

#include <longform/core/frame.hpp>
#include <longform/source/concepts.hpp>

namespace longform {

/// The range returned by `frames()`. Holds the reader by pointer (lvalue) or owns it (rvalue).
template <FrameReader Reader>
class frame_view : public ranges::view_facade<frame_view<Reader>, ranges::unknown> {
  friend ranges::range_access;

  struct state {
    Reader* reader = nullptr;
    std::shared_ptr<Reader> owned;
    std::optional<Frame> current;
    bool started = false;
    void prime() {
      if (!started) {
        started = true;
        current = reader->next();
      }
    }
  };
  // Shared so that copies of the view (range-v3 views are copyable) read the same stream.
  std::shared_ptr<state> state_;

  struct cursor {
    state* s = nullptr;
    [[nodiscard]] Frame read() const {
      s->prime();
      return *s->current;
    }
    void next() {
      s->prime();
      s->current = s->reader->next();
    }
    [[nodiscard]] bool equal(ranges::default_sentinel_t) const {
      s->prime();
      return !s->current;
    }
  };
  cursor begin_cursor() const { return {state_.get()}; }

 public:
  frame_view() = default;
  explicit frame_view(Reader& reader) : state_(std::make_shared<state>()) { state_->reader = &reader; }
  explicit frame_view(Reader&& reader) : state_(std::make_shared<state>()) {
    state_->owned = std::make_shared<Reader>(std::move(reader));
    state_->reader = state_->owned.get();
  }
};

/// The frames of `reader`, lazily decoded. An lvalue reader must outlive the range; an rvalue
/// reader is moved into it.
template <class Reader>
  requires FrameReader<std::remove_cvref_t<Reader>>
auto frames(Reader&& reader) {
  return frame_view<std::remove_cvref_t<Reader>>(std::forward<Reader>(reader));
}

}  // namespace longform
