#pragma once
// Packing of 1x1 convolutions (PyTorch weight [N, K, 1, 1] + bias [N]) for the
// GEMM, with an optional per-output-channel scale folded in at load (a layer
// scale, a BatchNorm gain): out = scale[n] * (W x + b)[n].

#include <vector>

#include "riformer/io/param_source.hpp"
#include "riformer/kernels/gemm.hpp"

namespace riformer::layers {

// w: [n, k, 1, 1] (or [n, k]); bias: n values or empty; out_scale: n values or empty.
[[nodiscard]] inline kernels::PackedMatrix pack_pointwise(const HostTensor& w, const std::vector<float>& bias, int n, int k,
                                                          const std::vector<float>& out_scale = {}) {
  std::vector<float> kn(static_cast<std::size_t>(k) * n), b(static_cast<std::size_t>(n), 0.0f);
  for (int j = 0; j < n; ++j) {
    const float s = out_scale.empty() ? 1.0f : out_scale[j];
    for (int i = 0; i < k; ++i) kn[static_cast<std::size_t>(i) * n + j] = w.data[static_cast<std::size_t>(j) * k + i] * s;
    if (!bias.empty()) b[j] = bias[j] * s;
  }
  return kernels::pack_matrix(kn.data(), b.data(), k, n);
}

}  // namespace riformer::layers
