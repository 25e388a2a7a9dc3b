// SPDX-License-Identifier: MIT
/// @file
/// `views::batch(B)`: stacks B consecutive clips into a `ClipBatch` (`[B, C, T, H, W]`). The last
/// batch is smaller unless `drop_last`. Clips must agree in shape, dtype and device.
#pragma once

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>
#include <ATen/ops/stack.h>

#include <range/v3/functional/bind_back.hpp>
#include <range/v3/view/all.hpp>
#include <range/v3/view/view.hpp>

#include <longform/core/clip.hpp>
#include <longform/core/error.hpp>
#include <longform/pipeline/detail/generator.hpp>

namespace longform::views {

struct batch_fn {
  template <ranges::viewable_range Rng>
    requires std::same_as<ranges::range_value_t<Rng>, Clip>
  auto operator()(Rng&& rng, std::int64_t size, bool drop_last = false) const {
    if (size <= 0) throw config_error("views::batch: batch size must be positive (was " + std::to_string(size) + ")");
    auto pull = detail::puller(ranges::views::all(std::forward<Rng>(rng)));
    return detail::generator_view<ClipBatch>([pull, size, drop_last]() mutable -> std::optional<ClipBatch> {
      ClipBatch b;
      std::vector<at::Tensor> data;
      while (static_cast<std::int64_t>(b.clips.size()) < size) {
        auto clip = pull();
        if (!clip) break;
        TORCH_CHECK(clip->data.defined(), "views::batch: clip of ", clip->name, " has no data (sampled with decoding off?)");
        TORCH_CHECK(data.empty() || clip->data.sizes() == data.front().sizes(), "views::batch: clip of ", clip->name, " has shape ",
                    clip->data.sizes(), ", the batch so far ", data.front().sizes(), " (add a Resize/CenterCrop transform)");
        data.push_back(std::move(clip->data));
        b.resume = clip->resume;
        clip->data = at::Tensor();
        b.clips.push_back(std::move(*clip));
      }
      if (b.clips.empty() || (drop_last && static_cast<std::int64_t>(b.clips.size()) < size)) return std::nullopt;
      b.data = at::stack(data);
      return b;
    });
  }
  auto operator()(std::int64_t size, bool drop_last = false) const {
    return ranges::make_view_closure(ranges::bind_back(batch_fn{}, size, drop_last));
  }
};

/// `clips | views::batch(B)`: `ClipBatch`es of B clips.
inline constexpr batch_fn batch{};

}  // namespace longform::views
