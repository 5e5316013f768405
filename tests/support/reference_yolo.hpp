#pragma once
// An independent, literal, scalar RIFormer-YOLOv5 detector written from
// MODEL.md section 2: NCHW, double accumulation, BatchNorm applied as
// (x - mean) / sqrt(var + 1e-3) * gamma + beta after each bias-free conv (not
// folded), explicit concatenations and upsamplings. Returns the raw Detect
// maps; it is what the folded, in-place-concatenating detector is checked against.

#include <array>
#include <cmath>
#include <string>
#include <vector>

#include "reference_riformer.hpp"
#include "riformer/io/param_source.hpp"
#include "riformer/models/riformer/spec.hpp"

namespace riformer::testing {

inline Planes ref_conv_bn_silu(const Planes& x, const ParamScope& p, int cout, int k, int stride) {
  const HostTensor w = p.get("conv.weight", {cout, x.c, k, k});
  const HostTensor zero{{cout}, std::vector<float>(static_cast<std::size_t>(cout), 0.0f)};
  Planes y = ref_conv(x, w, zero, k, stride, k / 2);
  const auto g = p.get("bn.weight", {cout}).data, b = p.get("bn.bias", {cout}).data;
  const auto mean = p.get("bn.running_mean", {cout}).data, var = p.get("bn.running_var", {cout}).data;
  const std::size_t plane = static_cast<std::size_t>(y.h) * y.w;
  for (int c = 0; c < cout; ++c)
    for (std::size_t q = 0; q < plane; ++q) {
      double& v = y.v[c * plane + q];
      v = (v - mean[c]) / std::sqrt(static_cast<double>(var[c]) + 1e-3) * g[c] + b[c];
      v = v / (1.0 + std::exp(-v));
    }
  return y;
}

inline Planes ref_concat(const Planes& a, const Planes& b) {
  Planes y{a.c + b.c, a.h, a.w, a.v};
  y.v.insert(y.v.end(), b.v.begin(), b.v.end());
  return y;
}

inline Planes ref_upsample2(const Planes& x) {
  Planes y{x.c, 2 * x.h, 2 * x.w, {}};
  y.v.resize(static_cast<std::size_t>(y.c) * y.h * y.w);
  for (int c = 0; c < y.c; ++c)
    for (int i = 0; i < y.h; ++i)
      for (int j = 0; j < y.w; ++j) y.at(c, i, j) = x.at(c, i / 2, j / 2);
  return y;
}

inline Planes ref_maxpool5(const Planes& x) {
  Planes y = x;
  for (int c = 0; c < x.c; ++c)
    for (int i = 0; i < x.h; ++i)
      for (int j = 0; j < x.w; ++j) {
        double m = -INFINITY;
        for (int di = -2; di <= 2; ++di)
          for (int dj = -2; dj <= 2; ++dj)
            if (i + di >= 0 && i + di < x.h && j + dj >= 0 && j + dj < x.w) m = std::max(m, x.at(c, i + di, j + dj));
        y.at(c, i, j) = m;
      }
  return y;
}

inline Planes ref_c3(const Planes& x, const ParamScope& p, int cout, int repeats) {
  const int c = cout / 2;
  Planes a = ref_conv_bn_silu(x, p.sub("cv1"), c, 1, 1);
  for (int i = 0; i < repeats; ++i) {
    const ParamScope m = p.sub("m." + std::to_string(i));
    a = ref_conv_bn_silu(ref_conv_bn_silu(a, m.sub("cv1"), c, 1, 1), m.sub("cv2"), c, 3, 1);  // shortcut=False
  }
  const Planes b = ref_conv_bn_silu(x, p.sub("cv2"), c, 1, 1);
  return ref_conv_bn_silu(ref_concat(a, b), p.sub("cv3"), cout, 1, 1);
}

inline Planes ref_sppf(const Planes& x, const ParamScope& p, int cout) {
  const Planes a = ref_conv_bn_silu(x, p.sub("cv1"), x.c / 2, 1, 1);
  const Planes y1 = ref_maxpool5(a), y2 = ref_maxpool5(y1), y3 = ref_maxpool5(y2);
  return ref_conv_bn_silu(ref_concat(ref_concat(ref_concat(a, y1), y2), y3), p.sub("cv2"), cout, 1, 1);
}

// Raw Detect maps [3 (nc + 5), h_l, w_l] of the seed's head (width 0.25, depth 0.33).
inline std::array<Planes, 3> reference_yolo(const ParamScope& root, const BackboneSpec& spec, int nc,
                                            const float* input_chw, int height, int width) {
  const std::vector<Planes> p = reference_riformer(root.sub("model.0"), spec, input_chw, height, width);
  const Planes &p3 = p[1], &p4 = p[2], &p5 = p[3];
  const Planes y5 = ref_sppf(p5, root.sub("model.1"), 256);
  const Planes y6 = ref_conv_bn_silu(y5, root.sub("model.2"), 128, 1, 1);
  const Planes y9 = ref_c3(ref_concat(ref_upsample2(y6), p4), root.sub("model.5"), 128, 1);
  const Planes y10 = ref_conv_bn_silu(y9, root.sub("model.6"), 64, 1, 1);
  const Planes y13 = ref_c3(ref_concat(ref_upsample2(y10), p3), root.sub("model.9"), 64, 1);
  const Planes y14 = ref_conv_bn_silu(y13, root.sub("model.10"), 64, 3, 2);
  const Planes y16 = ref_c3(ref_concat(y14, y10), root.sub("model.12"), 128, 1);
  const Planes y17 = ref_conv_bn_silu(y16, root.sub("model.13"), 128, 3, 2);
  const Planes y19 = ref_c3(ref_concat(y17, y5), root.sub("model.15"), 256, 1);
  std::array<Planes, 3> heads;
  const Planes* ins[3] = {&y13, &y16, &y19};
  const int out = 3 * (nc + 5);
  for (int l = 0; l < 3; ++l) {
    const ParamScope m = root.sub("model.16.m." + std::to_string(l));
    heads[l] = ref_conv(*ins[l], m.get("weight", {out, ins[l]->c, 1, 1}), m.get("bias", {out}), 1, 1, 0);
  }
  return heads;
}

}  // namespace riformer::testing
