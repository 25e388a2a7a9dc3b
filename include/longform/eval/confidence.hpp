// SPDX-License-Identifier: MIT
/// @file
/// Confidence intervals for results over seeds, and the standard error of one accuracy.
///
/// Why: an evaluation on a few hundred test videos moves by points from seed to seed, so a
/// difference between two methods means something only next to its noise. A result over seeds is
/// reported as mean ± half-width of its 95 % interval (Student's t, since there are few seeds), and
/// a method is compared with its baseline *paired*: the difference per seed (same seed, same
/// probe, same test videos), whose interval is narrower than that of either mean because the
/// seed's luck cancels.
///
///     auto moco = longform::mean_interval({0.31, 0.29, 0.35});
///     auto gain = longform::paired_difference({0.31, 0.29, 0.35}, {0.22, 0.25, 0.24});
///     if (gain.low() > 0) ...  // better, at 95 %
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <boost/math/distributions/students_t.hpp>

#include <longform/core/error.hpp>

namespace longform {

/// A mean and its two-sided confidence interval, `mean ± half_width`.
struct Interval {
  double mean = 0;
  double half_width = 0;  ///< 0 for a single value (no spread is known)
  double sd = 0;          ///< sample standard deviation (n − 1)
  std::size_t n = 0;      ///< values
  double level = 0.95;

  [[nodiscard]] double low() const noexcept { return mean - half_width; }
  [[nodiscard]] double high() const noexcept { return mean + half_width; }
  /// The interval lies entirely above (+1) or below (−1) zero, or contains it (0: "no difference").
  [[nodiscard]] int sign() const noexcept { return n < 2 ? 0 : low() > 0 ? 1 : high() < 0 ? -1 : 0; }
};

/// Mean of `values` with its `level` interval from Student's t with n − 1 degrees of freedom.
/// One value gives half-width 0 and `sign()` 0.
/// @throws config_error for no values, a non-finite one, or a level outside (0, 1).
[[nodiscard]] inline Interval mean_interval(const std::vector<double>& values, double level = 0.95) {
  if (values.empty()) throw config_error("mean_interval: no values");
  if (!(level > 0 && level < 1)) throw config_error("mean_interval: level must be in (0, 1), was " + std::to_string(level));
  Interval r{.n = values.size(), .level = level};
  for (const double v : values) {
    if (!std::isfinite(v)) throw config_error("mean_interval: a value is not finite");
    r.mean += v;
  }
  r.mean /= static_cast<double>(r.n);
  if (r.n < 2) return r;
  double ss = 0;
  for (const double v : values) ss += (v - r.mean) * (v - r.mean);
  r.sd = std::sqrt(ss / static_cast<double>(r.n - 1));
  const boost::math::students_t t(static_cast<double>(r.n - 1));
  r.half_width = boost::math::quantile(t, 0.5 + level / 2) * r.sd / std::sqrt(static_cast<double>(r.n));
  return r;
}

/// The interval of the per-pair differences `a[i] − b[i]` (same seed, same probe, same test set).
/// @throws config_error when the two have different lengths (or as `mean_interval`).
[[nodiscard]] inline Interval paired_difference(const std::vector<double>& a, const std::vector<double>& b, double level = 0.95) {
  if (a.size() != b.size()) {
    throw config_error("paired_difference: " + std::to_string(a.size()) + " values against " + std::to_string(b.size()) +
                       "; pairs need the same seeds");
  }
  std::vector<double> d(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) d[i] = a[i] - b[i];
  return mean_interval(d, level);
}

/// Standard error of an accuracy `p` measured on `n` independent test samples: √(p(1−p)/n).
/// @throws config_error for p outside [0, 1] or n < 1.
[[nodiscard]] inline double accuracy_standard_error(double p, std::int64_t n) {
  if (!(p >= 0 && p <= 1) || n < 1) throw config_error("accuracy_standard_error: needs p in [0, 1] and n >= 1");
  return std::sqrt(p * (1 - p) / static_cast<double>(n));
}

}  // namespace longform
