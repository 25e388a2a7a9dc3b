// SPDX-License-Identifier: MIT
/// @file
/// `views::transform(t)`: applies a transform to every element (clip or batch) of a pipeline.
/// Unlike `ranges::views::transform`, the transform may be stateful (its random generator advances),
/// and it is called exactly once per element, in order.
#pragma once

#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

#include <range/v3/functional/bind_back.hpp>
#include <range/v3/range/concepts.hpp>
#include <range/v3/range/traits.hpp>
#include <range/v3/view/all.hpp>
#include <range/v3/view/view.hpp>

#include <longform/pipeline/detail/generator.hpp>

namespace longform::views {

struct transform_fn {
  template <ranges::viewable_range Rng, class T>
  auto operator()(Rng&& rng, T t) const {
    using In = ranges::range_value_t<Rng>;
    static_assert(std::invocable<T&, In>,
                  "longform::views::transform: the transform cannot be called on this pipeline's elements: a range of "
                  "clips needs `Clip operator()(Clip)` (a ClipTransform), a range after views::batch needs "
                  "`ClipBatch operator()(ClipBatch)` (see longform/transform/concepts.hpp)");
    if constexpr (!std::invocable<T&, In>) {
      return detail::generator_view<In>();  // the static_assert above has said why; no error cascade
    } else {
      using Out = std::remove_cvref_t<std::invoke_result_t<T&, In>>;
      auto pull = detail::puller(ranges::views::all(std::forward<Rng>(rng)));
      auto fn = std::make_shared<T>(std::move(t));
      return detail::generator_view<Out>([pull, fn]() mutable -> std::optional<Out> {
        auto x = pull();
        if (!x) return std::nullopt;
        return (*fn)(std::move(*x));
      });
    }
  }
  template <class T>
  auto operator()(T t) const {
    return ranges::make_view_closure(ranges::bind_back(transform_fn{}, std::move(t)));
  }
};

/// `rng | views::transform(t)`: `t` applied to each element, once, in order.
inline constexpr transform_fn transform{};

}  // namespace longform::views
