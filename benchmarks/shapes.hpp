#pragma once
// The GEMM shapes of RIFormer's MLPs (the bulk of the work): fc1 is
// (M = H*W pixels) x (K = C) x (N = 4C) and fc2 (M) x (4C) x (C), for every
// stage of the S and M widths at 224x224, 320x320 and 640x640 input.

#include <array>
#include <string>
#include <vector>

namespace riformer::bench {

struct GemmShape {
  int m, k, n;
  std::string name;  // e.g. "s-stage0-640-fc1"
};

inline std::vector<GemmShape> riformer_mlp_shapes() {
  std::vector<GemmShape> shapes;
  const std::array<std::array<int, 4>, 2> widths{{{64, 128, 320, 512}, {96, 192, 384, 768}}};
  const char* family[] = {"s", "m"};
  for (int f = 0; f < 2; ++f)
    for (int input : {224, 320, 640})
      for (int stage = 0; stage < 4; ++stage) {
        const int side = input / 4 >> stage, c = widths[f][stage];
        const std::string tag = std::string(family[f]) + "-stage" + std::to_string(stage) + "-" + std::to_string(input);
        shapes.push_back({side * side, c, 4 * c, tag + "-fc1"});
        shapes.push_back({side * side, 4 * c, c, tag + "-fc2"});
      }
  return shapes;
}

}  // namespace riformer::bench
