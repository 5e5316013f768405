#pragma once
// Global average pooling of a channels-last map, mmpretrain's
// GlobalAveragePooling neck: one value per channel, the mean over H x W.

#include <cstddef>

#include "riformer/core/error.hpp"
#include "riformer/core/feature_map.hpp"

namespace riformer::layers {

// out[c] = mean over the map's pixels of channel c, for c in [0, map.channels).
// The sums run in double: a large map adds many values of either sign, and the
// result is then as close to PyTorch's as a float allows whatever the order.
inline void global_average_pool(const FeatureMap& map, float* out) {
  require(map.data != nullptr && map.height > 0 && map.width > 0, "global_average_pool: empty feature map");
  const std::size_t pixels = static_cast<std::size_t>(map.height) * map.width, stride = map.stride();
  for (int c = 0; c < map.channels; ++c) {
    double sum = 0;
    for (std::size_t p = 0; p < pixels; ++p) sum += map.data[p * stride + c];
    out[c] = static_cast<float>(sum / static_cast<double>(pixels));
  }
}

}  // namespace riformer::layers
