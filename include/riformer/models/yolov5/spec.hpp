#pragma once
// The YOLOv5 (v7.0) neck and head of the seed's yaml as data: width and depth
// multiples and anchors. Channel counts and repeats follow YOLOv5's
// parse_model: make_divisible(c * width, 8) and max(round(n * depth), 1).

#include <array>
#include <cmath>

namespace riformer {

struct YoloHeadSpec {
  double width_multiple = 0.25;
  double depth_multiple = 0.33;
  // (w, h) x 3 anchors per level, in pixels: P3/8, P4/16, P5/32.
  std::array<std::array<int, 6>, 3> anchors{{{10, 13, 16, 30, 33, 23}, {30, 61, 62, 45, 59, 119}, {116, 90, 156, 198, 373, 326}}};

  // Output channels of a layer the yaml gives `yaml_channels`.
  [[nodiscard]] constexpr int width(int yaml_channels) const {
    const double x = yaml_channels * width_multiple / 8.0;
    const int floor_x = static_cast<int>(x);
    return 8 * (floor_x + (x > floor_x ? 1 : 0));  // math.ceil(x / 8) * 8
  }
  // Repeats of a block the yaml repeats `yaml_repeats` times (Python's round: half to even).
  [[nodiscard]] constexpr int depth(int yaml_repeats) const {
    if (yaml_repeats <= 1) return yaml_repeats;
    const double x = yaml_repeats * depth_multiple;
    const int f = static_cast<int>(x);
    const double frac = x - f;
    const int rounded = frac > 0.5 ? f + 1 : frac < 0.5 ? f : (f % 2 == 0 ? f : f + 1);
    return rounded < 1 ? 1 : rounded;
  }
  constexpr bool operator==(const YoloHeadSpec&) const = default;
};

// The seed's head: YOLOv5s-sized (width 0.25, depth 0.33) on RIFormer.
inline constexpr YoloHeadSpec kYoloV5SeedHead{};

inline constexpr int kDetectLevels = 3;
inline constexpr int kAnchorsPerLevel = 3;
inline constexpr std::array<int, kDetectLevels> kDetectStrides{8, 16, 32};

}  // namespace riformer
