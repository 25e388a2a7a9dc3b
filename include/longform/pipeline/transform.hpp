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
    requires std::invocable<T&, ranges::range_value_t<Rng>>
  auto operator()(Rng&& rng, T t) const {
    using In = ranges::range_value_t<Rng>;
    using Out = std::remove_cvref_t<std::invoke_result_t<T&, In>>;
    auto pull = detail::puller(ranges::views::all(std::forward<Rng>(rng)));
    auto fn = std::make_shared<T>(std::move(t));
    return detail::generator_view<Out>([pull, fn]() mutable -> std::optional<Out> {
      auto x = pull();
      if (!x) return std::nullopt;
      return (*fn)(std::move(*x));
    });
  }
  template <class T>
  auto operator()(T t) const {
    return ranges::make_view_closure(ranges::bind_back(transform_fn{}, std::move(t)));
  }
};

/// `rng | views::transform(t)`: `t` applied to each element, once, in order.
inline constexpr transform_fn transform{};

}  // namespace longform::views
