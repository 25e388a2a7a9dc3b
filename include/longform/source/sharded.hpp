// SPDX-License-Identifier: MIT
/// @file
/// `Sharded<Source>`: rank `r` of `w`'s share of any `VideoSource` — videos `r, r + w, r + 2w, …`
/// — so the processes of a data-parallel job never decode the same video, and together they
/// cover all of them. The wrapped source's readers come through unchanged (seeking, skipping).
///
///     longform::Sharded mine(longform::VideoList::from_path("videos/"), rank, world);
///
/// Customization: none; wrap any `VideoSource`.
#pragma once

#include <cstddef>
#include <string>
#include <utility>

#include <longform/core/error.hpp>
#include <longform/source/concepts.hpp>

namespace longform {

namespace detail {
// Videos of shard `rank` of `world` over `n`. @throws config_error (naming `who`) when the shard is invalid or empty.
inline std::size_t shard_size(const std::string& who, std::size_t rank, std::size_t world, std::size_t n) {
  if (world == 0 || rank >= world) throw config_error(who + ": rank " + std::to_string(rank) + " outside world of " + std::to_string(world));
  if (rank >= n) {
    throw config_error(who + ": rank " + std::to_string(rank) + " of " + std::to_string(world) + " gets no video (the source has " +
                       std::to_string(n) + "; a job needs at least one video per rank)");
  }
  return (n - rank + world - 1) / world;
}
}  // namespace detail

/// Videos `rank + i·world` of `Source` as a `VideoSource` (see the file comment).
template <VideoSource Source>
class Sharded {
 public:
  using source_concept = source_tag;

  /// @throws config_error if `rank` is outside `[0, world)` or the shard would be empty.
  Sharded(Source source, std::size_t rank, std::size_t world)
      : source_(std::move(source)), rank_(rank), world_(world), size_(detail::shard_size("Sharded", rank, world, source_.size())) {}

  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] std::string name(std::size_t i) const { return source_.name(index(i)); }
  [[nodiscard]] reader_t<Source> open(std::size_t i) const { return source_.open(index(i)); }
  /// The index in the wrapped source of this shard's video `i`.
  [[nodiscard]] std::size_t index(std::size_t i) const noexcept { return rank_ + i * world_; }
  [[nodiscard]] const Source& base() const noexcept { return source_; }
  /// Read forward only when the wrapped source is (`Stream`).
  [[nodiscard]] bool forward_only() const {
    if constexpr (requires { source_.forward_only(); })
      return source_.forward_only();
    else
      return false;
  }

 private:
  Source source_;
  std::size_t rank_, world_, size_;
};

}  // namespace longform
