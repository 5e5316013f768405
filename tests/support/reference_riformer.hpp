#pragma once
// An independent, literal, scalar RIFormer written from MODEL.md section 1:
// NCHW, double accumulation, the training-form block exactly as mmpretrain
// writes it (norm1, affine token mixer minus its input, layer scales as
// separate products), or the deploy form when the source holds norm_reparam.
// Shares no code with the library's layers or kernels: it is what the folded,
// packed, fused forward pass is checked against.

#include <cmath>
#include <string>
#include <vector>

#include "riformer/io/param_source.hpp"
#include "riformer/models/riformer/spec.hpp"

namespace riformer::testing {

struct Planes {
  int c = 0, h = 0, w = 0;
  std::vector<double> v;  // c * h * w, NCHW
  double& at(int ch, int y, int x) { return v[(static_cast<std::size_t>(ch) * h + y) * w + x]; }
  double at(int ch, int y, int x) const { return v[(static_cast<std::size_t>(ch) * h + y) * w + x]; }
};

inline Planes ref_conv(const Planes& in, const HostTensor& weight, const HostTensor& bias, int k, int stride, int pad) {
  const int cout = static_cast<int>(weight.shape[0]);
  Planes out{cout, (in.h + 2 * pad - k) / stride + 1, (in.w + 2 * pad - k) / stride + 1, {}};
  out.v.assign(static_cast<std::size_t>(out.c) * out.h * out.w, 0.0);
  for (int co = 0; co < cout; ++co)
    for (int oy = 0; oy < out.h; ++oy)
      for (int ox = 0; ox < out.w; ++ox) {
        double acc = bias.data[co];
        for (int ci = 0; ci < in.c; ++ci)
          for (int ky = 0; ky < k; ++ky)
            for (int kx = 0; kx < k; ++kx) {
              const int iy = oy * stride - pad + ky, ix = ox * stride - pad + kx;
              if (iy >= 0 && iy < in.h && ix >= 0 && ix < in.w)
                acc += in.at(ci, iy, ix) * weight.data[((static_cast<std::size_t>(co) * in.c + ci) * k + ky) * k + kx];
            }
        out.at(co, oy, ox) = acc;
      }
  return out;
}

inline Planes ref_group_norm(const Planes& x, const std::vector<float>& weight, const std::vector<float>& bias) {
  double mean = 0, var = 0;
  for (double v : x.v) mean += v;
  mean /= static_cast<double>(x.v.size());
  for (double v : x.v) var += (v - mean) * (v - mean);
  var /= static_cast<double>(x.v.size());
  const double rstd = 1.0 / std::sqrt(var + 1e-5);
  Planes y = x;
  const std::size_t plane = static_cast<std::size_t>(x.h) * x.w;
  for (int c = 0; c < x.c; ++c)
    for (std::size_t p = 0; p < plane; ++p) y.v[c * plane + p] = (x.v[c * plane + p] - mean) * rstd * weight[c] + bias[c];
  return y;
}

inline double ref_gelu(double x) { return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))); }

inline void ref_block(Planes& x, const ParamScope& p, int hidden) {
  const int c = x.c;
  const std::size_t plane = static_cast<std::size_t>(x.h) * x.w;
  const auto ls1 = p.get("layer_scale_1", {c}).data, ls2 = p.get("layer_scale_2", {c}).data;
  Planes mixed;
  if (p.contains("norm_reparam.weight")) {
    mixed = ref_group_norm(x, p.get("norm_reparam.weight", {c}).data, p.get("norm_reparam.bias", {c}).data);
  } else {
    // token_mixer(norm1(x)) = affine(n) - n
    const Planes n = ref_group_norm(x, p.get("norm1.weight", {c}).data, p.get("norm1.bias", {c}).data);
    const auto aw = p.get("token_mixer.affine.weight", {c, 1, 1, 1}).data;
    const auto ab = p.get("token_mixer.affine.bias", {c}).data;
    mixed = n;
    for (int ch = 0; ch < c; ++ch)
      for (std::size_t q = 0; q < plane; ++q) {
        const double v = n.v[ch * plane + q];
        mixed.v[ch * plane + q] = (aw[ch] * v + ab[ch]) - v;
      }
  }
  for (int ch = 0; ch < c; ++ch)
    for (std::size_t q = 0; q < plane; ++q) x.v[ch * plane + q] += ls1[ch] * mixed.v[ch * plane + q];

  const Planes n2 = ref_group_norm(x, p.get("norm2.weight", {c}).data, p.get("norm2.bias", {c}).data);
  const Planes h = ref_conv(n2, p.get("mlp.fc1.weight", {hidden, c, 1, 1}), p.get("mlp.fc1.bias", {hidden}), 1, 1, 0);
  Planes g = h;
  for (double& v : g.v) v = ref_gelu(v);
  const Planes m = ref_conv(g, p.get("mlp.fc2.weight", {c, hidden, 1, 1}), p.get("mlp.fc2.bias", {c}), 1, 1, 0);
  for (int ch = 0; ch < c; ++ch)
    for (std::size_t q = 0; q < plane; ++q) x.v[ch * plane + q] += ls2[ch] * m.v[ch * plane + q];
}

// The returned stage outputs, NCHW, for a [3, H, W] input.
inline std::vector<Planes> reference_riformer(const ParamScope& p, const BackboneSpec& spec, const float* input_chw,
                                              int height, int width) {
  Planes x{3, height, width, std::vector<double>(input_chw, input_chw + 3 * height * width)};
  x = ref_conv(x, p.get("patch_embed.proj.weight", {spec.dims[0], 3, 7, 7}), p.get("patch_embed.proj.bias", {spec.dims[0]}),
               7, 4, 2);
  std::vector<Planes> outs;
  for (int s = 0; s < 4; ++s) {
    for (int j = 0; j < spec.depths[s]; ++j)
      ref_block(x, p.sub("network." + std::to_string(2 * s) + "." + std::to_string(j)), spec.hidden(s));
    if (spec.outputs[s]) {
      const ParamScope n = p.sub("norm" + std::to_string(2 * s));
      outs.push_back(ref_group_norm(x, n.get("weight", {spec.dims[s]}).data, n.get("bias", {spec.dims[s]}).data));
    }
    if (s < 3) {
      const ParamScope d = p.sub("network." + std::to_string(2 * s + 1) + ".proj");
      x = ref_conv(x, d.get("weight", {spec.dims[s + 1], spec.dims[s], 3, 3}), d.get("bias", {spec.dims[s + 1]}), 3, 2, 1);
    }
  }
  return outs;
}

}  // namespace riformer::testing
