#pragma once
// Scalar twins of every optimized kernel: the plainest correct loops, no
// blocking, no SIMD, double accumulation where it matters. Tests compare each fast
// kernel with its twin on awkward sizes; targets without a SIMD unit run these.

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "riformer/kernels/activation.hpp"

namespace riformer::kernels::reference {

// What gemm() does around the dot products (kernels/gemm.hpp documents each).
struct GemmOptions {
  const float* prologue_scale = nullptr;  // a[i, p] * scale[p] + shift[p] instead of a[i, p]
  const float* prologue_shift = nullptr;
  Activation act = Activation::none;
  bool accumulate = false;                // + previous c[i, j] * residual_scale[j] + residual_shift[j]
  const float* residual_scale = nullptr;
  const float* residual_shift = nullptr;
  double* col_sum = nullptr;              // += sum_i of the written c[i, j]
  double* col_sum_sq = nullptr;           // += sum_i of its square
};

// c[i, j] (row stride ldc) = act(sum_p a'[i, p] * b[p, j] + bias[j]) [+ residual],
// a is M x K (row stride lda), b is K x N row-major.
inline void gemm(int m, int n, int k, const float* a, std::size_t lda, const float* b, const float* bias, float* c,
                 std::size_t ldc, const GemmOptions& o = {}) {
  for (int i = 0; i < m; ++i) {
    for (int j = 0; j < n; ++j) {
      double acc = bias ? bias[j] : 0.0;
      for (int p = 0; p < k; ++p) {
        const double av = o.prologue_scale ? static_cast<double>(a[i * lda + p]) * o.prologue_scale[p] + o.prologue_shift[p]
                                           : a[i * lda + p];
        acc += av * b[static_cast<std::size_t>(p) * n + j];
      }
      float v = activate(o.act, static_cast<float>(acc));
      float& out = c[i * ldc + j];
      if (o.accumulate)
        v += out * (o.residual_scale ? o.residual_scale[j] : 1.0f) + (o.residual_shift ? o.residual_shift[j] : 0.0f);
      out = v;
      if (o.col_sum) {
        o.col_sum[j] += v;
        o.col_sum_sq[j] += static_cast<double>(v) * v;
      }
    }
  }
}

// Direct 2-D convolution, input read through strides (so CHW and HWC both work),
// output NHWC (row stride ldc per pixel). w is [cout, cin, kernel, kernel] (PyTorch).
inline void conv2d(const float* in, int in_h, int in_w, int cin, std::ptrdiff_t sy, std::ptrdiff_t sx, std::ptrdiff_t sc,
                   const float* w, const float* bias, int cout, int kernel, int stride, int pad, Activation act,
                   float* out, std::size_t ldc) {
  const int out_h = (in_h + 2 * pad - kernel) / stride + 1;
  const int out_w = (in_w + 2 * pad - kernel) / stride + 1;
  for (int oy = 0; oy < out_h; ++oy)
    for (int ox = 0; ox < out_w; ++ox)
      for (int co = 0; co < cout; ++co) {
        double acc = bias ? bias[co] : 0.0;
        for (int ci = 0; ci < cin; ++ci)
          for (int ky = 0; ky < kernel; ++ky)
            for (int kx = 0; kx < kernel; ++kx) {
              const int iy = oy * stride - pad + ky, ix = ox * stride - pad + kx;
              if (iy < 0 || iy >= in_h || ix < 0 || ix >= in_w) continue;
              acc += static_cast<double>(in[iy * sy + ix * sx + ci * sc]) *
                     w[((static_cast<std::size_t>(co) * cin + ci) * kernel + ky) * kernel + kx];
            }
        out[(static_cast<std::size_t>(oy) * out_w + ox) * ldc + co] = activate(act, static_cast<float>(acc));
      }
}

// y[r, c] = x[r, c] * scale[c] + shift[c] over rows x channels; x dense, y with
// row stride y_stride (0: dense); y may alias x when both are dense.
inline void channel_affine(const float* x, float* y, std::size_t rows, int channels, const float* scale,
                           const float* shift, std::size_t y_stride = 0) {
  if (y_stride == 0) y_stride = static_cast<std::size_t>(channels);
  for (std::size_t r = 0; r < rows; ++r)
    for (int c = 0; c < channels; ++c) y[r * y_stride + c] = x[r * channels + c] * scale[c] + shift[c];
}

// Max over the kernel x kernel window centred on each pixel, window clipped at
// the borders (stride 1, -inf padding); channels-last with pixel strides.
inline void max_pool_same(const float* in, std::size_t in_stride, int h, int w, int c, int kernel, float* out,
                          std::size_t out_stride) {
  const int r = kernel / 2;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int ch = 0; ch < c; ++ch) {
        float m = -INFINITY;
        for (int dy = -r; dy <= r; ++dy)
          for (int dx = -r; dx <= r; ++dx) {
            const int yy = y + dy, xx = x + dx;
            if (yy >= 0 && yy < h && xx >= 0 && xx < w) m = std::fmax(m, in[(static_cast<std::size_t>(yy) * w + xx) * in_stride + ch]);
          }
        out[(static_cast<std::size_t>(y) * w + x) * out_stride + ch] = m;
      }
}

}  // namespace riformer::kernels::reference
