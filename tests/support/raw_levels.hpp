#pragma once
// Random Detect-head outputs for the decode and NMS tests: three levels with
// the anchors and strides of MODEL.md, channels-last, optionally with padding
// channels after the 3 * (nc + 5) real ones (the network may write into a
// wider buffer). The padding holds NaN, so a decoder that reads it shows it.

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "riformer/postprocess/decode.hpp"
#include "test_util.hpp"

namespace riformer::testing {

inline constexpr std::array<std::array<float, 6>, 3> kAnchors{{{10, 13, 16, 30, 33, 23},
                                                               {30, 61, 62, 45, 59, 119},
                                                               {116, 90, 156, 198, 373, 326}}};

struct RawLevel {
  std::vector<float> data;
  DetectLevel level;  // level.data points into `data` once levels_of() has run
};

// Level l (stride 8 << l) of ny x nx cells, values uniform in [lo, hi).
inline RawLevel random_level(int l, int ny, int nx, int nc, std::size_t padding, std::uint32_t seed, float lo = -8.0f,
                             float hi = 8.0f) {
  const std::size_t stride = 3 * static_cast<std::size_t>(nc + 5) + padding;
  RawLevel r;
  r.data = random_vector(static_cast<std::size_t>(ny * nx) * stride, seed, lo, hi);
  for (std::size_t p = 0; p < static_cast<std::size_t>(ny * nx); ++p)
    for (std::size_t k = stride - padding; k < stride; ++k) r.data[p * stride + k] = std::nanf("");
  r.level = DetectLevel{nullptr, ny, nx, stride, static_cast<float>(8 << l), kAnchors[static_cast<std::size_t>(l)]};
  return r;
}

// The levels of `raw`, pointing at its data (keep `raw` alive and unmoved while they are used).
inline std::vector<DetectLevel> levels_of(std::vector<RawLevel>& raw) {
  std::vector<DetectLevel> levels;
  for (RawLevel& r : raw) {
    r.level.data = r.data.data();
    levels.push_back(r.level);
  }
  return levels;
}

}  // namespace riformer::testing
