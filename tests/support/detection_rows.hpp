#pragma once
// Comparing NMS results with PyTorch's. Scores agree to ~1e-7, so two rows
// whose scores tie to that precision may come out in the other order, or, at
// the max_det cut, the other one of the two may be kept: rows are matched as a
// set, and a row may go unmatched only when it ties with the last kept score.

#include <cmath>
#include <cstddef>
#include <vector>

#include <doctest/doctest.h>

namespace riformer::testing {

// got, want: K rows of [x1, y1, x2, y2, conf, class]. Returns how many rows of
// `want` found no partner (each such row is CHECKed to tie with the cut-off).
inline int unmatched_detection_rows(const std::vector<float>& got, const std::vector<float>& want, double box_tolerance = 1e-2,
                                    double conf_tolerance = 1e-5) {
  REQUIRE(got.size() == want.size());
  REQUIRE(want.size() % 6 == 0);
  const std::size_t rows = want.size() / 6;
  std::vector<bool> used(rows, false);
  int unmatched = 0;
  for (std::size_t i = 0; i < rows; ++i) {
    const float* w = &want[i * 6];
    bool found = false;
    for (std::size_t j = 0; j < rows && !found; ++j) {
      const float* g = &got[j * 6];
      found = !used[j] && g[5] == w[5] && std::abs(g[4] - w[4]) <= conf_tolerance;
      for (int k = 0; k < 4 && found; ++k) found = std::abs(g[k] - w[k]) <= box_tolerance;
      if (found) used[j] = true;
    }
    if (!found) {
      ++unmatched;
      CHECK(std::abs(w[4] - want[want.size() - 2]) <= conf_tolerance);
    }
  }
  return unmatched;
}

}  // namespace riformer::testing
