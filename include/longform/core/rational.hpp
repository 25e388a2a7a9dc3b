// SPDX-License-Identifier: MIT
/// @file
/// `Rational`: an exact ratio such as a frame rate (30000/1001) or a time base.
#pragma once

#include <cstdint>

#include <longform/core/reflect.hpp>

namespace longform {

/// An exact ratio `num / den`; frame rates and time bases stay exact until converted.
struct Rational {
  std::int64_t num = 0;
  std::int64_t den = 1;

  /// The ratio as a double (0 when `den == 0`).
  [[nodiscard]] constexpr double value() const noexcept { return den == 0 ? 0.0 : static_cast<double>(num) / static_cast<double>(den); }
  friend constexpr bool operator==(const Rational&, const Rational&) = default;
};

}  // namespace longform

LONGFORM_REFLECT(longform::Rational, num, den);
