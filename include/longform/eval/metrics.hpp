// SPDX-License-Identifier: MIT
/// @file
/// `ClassificationMetrics`: top-1, top-5, per-class accuracy and the confusion matrix of class
/// scores against labels.
///
///     auto m = longform::classification_metrics(scores, labels);  // scores [N, C], labels [N] in [0, C)
///     std::printf("top-1 %.2f %%\n", 100 * m.top1);
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <ATen/ops/topk.h>

#include <longform/core/error.hpp>

namespace longform {

/// Accuracy figures of one evaluation.
struct ClassificationMetrics {
  std::int64_t count = 0;                            ///< samples scored
  double top1 = 0;                                   ///< share with the true class ranked first
  double top5 = 0;                                   ///< ... among the first five (all, with fewer than 5 classes)
  double mean_class_accuracy = 0;                    ///< mean of `per_class` over classes with samples
  std::vector<double> per_class;                     ///< top-1 accuracy per true class (NaN without samples)
  std::vector<std::int64_t> class_count;             ///< samples per true class
  std::vector<std::vector<std::int64_t>> confusion;  ///< [true][predicted] counts
};

/// The metrics of `scores` `[N, C]` (any monotone scores: logits, probabilities, votes) against
/// `labels` `[N]` (integers in [0, C)). Ties rank the lower class first.
/// @throws config_error on mismatched shapes or a label out of range.
[[nodiscard]] inline ClassificationMetrics classification_metrics(const at::Tensor& scores, const at::Tensor& labels) {
  if (scores.dim() != 2 || labels.dim() != 1 || scores.size(0) != labels.size(0)) {
    throw config_error("classification_metrics: expected scores [N, C] and labels [N]");
  }
  const auto n = scores.size(0), c = scores.size(1);
  ClassificationMetrics m;
  m.count = n;
  m.per_class.assign(static_cast<std::size_t>(c), 0.0);
  m.class_count.assign(static_cast<std::size_t>(c), 0);
  m.confusion.assign(static_cast<std::size_t>(c), std::vector<std::int64_t>(static_cast<std::size_t>(c), 0));
  if (n == 0) return m;
  const auto k = std::min<std::int64_t>(5, c);
  const at::Tensor top = std::get<1>(at::topk(scores.to(at::kDouble).cpu(), k, 1, /*largest=*/true, /*sorted=*/true)).contiguous();
  const at::Tensor y = labels.to(at::kLong).cpu().contiguous();
  const auto* t = top.data_ptr<std::int64_t>();
  const auto* l = y.data_ptr<std::int64_t>();
  std::int64_t hit1 = 0, hit5 = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    if (l[i] < 0 || l[i] >= c)
      throw config_error("classification_metrics: label " + std::to_string(l[i]) + " outside [0, " + std::to_string(c) + ")");
    const auto truth = static_cast<std::size_t>(l[i]);
    m.class_count[truth] += 1;
    m.confusion[truth][static_cast<std::size_t>(t[i * k])] += 1;
    if (t[i * k] == l[i]) ++hit1;
    for (std::int64_t j = 0; j < k; ++j) hit5 += t[i * k + j] == l[i];
  }
  m.top1 = static_cast<double>(hit1) / static_cast<double>(n);
  m.top5 = static_cast<double>(hit5) / static_cast<double>(n);
  double sum = 0;
  int classes = 0;
  for (std::size_t j = 0; j < m.per_class.size(); ++j) {
    if (m.class_count[j] == 0) {
      m.per_class[j] = std::numeric_limits<double>::quiet_NaN();
      continue;
    }
    m.per_class[j] = static_cast<double>(m.confusion[j][j]) / static_cast<double>(m.class_count[j]);
    sum += m.per_class[j];
    ++classes;
  }
  m.mean_class_accuracy = classes > 0 ? sum / classes : 0.0;
  return m;
}

}  // namespace longform
