#pragma once
// A classifier's answer: the k most likely classes with their softmax
// probabilities, as mmpretrain reports `pred_score` and `pred_label`.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <span>
#include <vector>

#include "riformer/core/error.hpp"

namespace riformer {

struct ClassScore {
  int cls = 0;         // class index (row of head.fc.weight)
  float logit = 0;     // the network's output
  float probability = 0;  // softmax over every class
};

// The k highest logits, best first (ties: the lower class index first, as
// torch.topk on CPU gives them), with softmax probabilities computed in double.
// Refuses non-finite logits: they can only come from a broken checkpoint.
[[nodiscard]] inline std::vector<ClassScore> top_k(std::span<const float> logits, int k) {
  require(!logits.empty(), "top_k: no logits");
  require(k >= 1, "top_k: k must be at least 1, got ", k);
  double best = -INFINITY;
  for (std::size_t i = 0; i < logits.size(); ++i) {
    require(std::isfinite(logits[i]), "top_k: logit ", i, " is ", logits[i], " (not finite)");
    best = std::max(best, static_cast<double>(logits[i]));
  }
  double total = 0;  // sum of exp(logit - best): the largest term is 1, so no overflow
  for (float v : logits) total += std::exp(static_cast<double>(v) - best);
  std::vector<int> order(logits.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
  const std::size_t n = std::min(order.size(), static_cast<std::size_t>(k));
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(n), order.end(),
                    [&](int a, int b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); });
  std::vector<ClassScore> out(n);
  for (std::size_t i = 0; i < n; ++i) {
    const int c = order[i];
    out[i] = {c, logits[c], static_cast<float>(std::exp(static_cast<double>(logits[c]) - best) / total)};
  }
  return out;
}

}  // namespace riformer
