#pragma once
// Packing of 1x1 convolutions (PyTorch weight [N, K, 1, 1] + bias [N]) for the
// GEMM, with an optional per-output-channel scale folded in at load (a layer
// scale, a BatchNorm gain): out = scale[n] * (W x + b)[n].

#include <algorithm>
#include <vector>

#include "riformer/io/param_source.hpp"
#include "riformer/kernels/gemm.hpp"

namespace riformer::layers {

// w: [n, k, 1, 1] (or [n, k]); bias: n values or empty; out_scale: n values or
// empty. With padded_n > n the matrix gets padded_n - n zero columns (outputs
// that are computed as 0 and ignored).
[[nodiscard]] inline kernels::PackedMatrix pack_pointwise(const HostTensor& w, const std::vector<float>& bias, int n, int k,
                                                          const std::vector<float>& out_scale = {}, int padded_n = 0) {
  const int cols = std::max(n, padded_n);
  const auto scale = [&](int col) { return out_scale.empty() ? 1.0f : out_scale[col]; };
  std::vector<float> b(static_cast<std::size_t>(cols), 0.0f);
  for (int j = 0; j < n && !bias.empty(); ++j) b[j] = bias[j] * scale(j);
  const auto element = [&](int kk, int col) {
    return col < n ? w.data[static_cast<std::size_t>(col) * k + kk] * scale(col) : 0.0f;
  };
  return kernels::pack_matrix_with(k, cols, element, b.data());
}

}  // namespace riformer::layers
