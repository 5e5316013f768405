#pragma once
// The per-channel affine that applies a GroupNorm once its moments are known
// (they come from the channel sums the producing GEMM gathered): PyTorch
// applies GroupNorm the same way, y = x * (w * rstd) + (b - w * rstd * mean).

#include <algorithm>
#include <cstddef>

#include "riformer/core/arch.hpp"
#include "riformer/core/context.hpp"

namespace riformer::kernels {

// out[r, j] = a[r, j] * scale[j] + shift[j] for rows x k values, rows lda
// floats apart in a and ldo in out; out may be a when the strides match. Also
// the GroupNorm a GEMM applies to its rows as it reads them (its prologue).
template <class Arch = DefaultArch>
RIFORMER_ALWAYS_INLINE inline void affine_rows(const float* a, std::size_t lda, std::size_t rows, int k,
                                               const float* scale, const float* shift, std::size_t ldo, float* out) {
  for (std::size_t r = 0; r < rows; ++r) {
    const float* src = a + r * lda;
    float* dst = out + r * ldo;
    int j = 0;
    if constexpr (kIsSimd<Arch>) {
      using B = xsimd::batch<float, Arch>;
      for (; j + static_cast<int>(B::size) <= k; j += B::size)
        fmadd(B::load_unaligned(src + j), B::load_unaligned(scale + j), B::load_unaligned(shift + j))
            .store_unaligned(dst + j);
    }
    for (; j < k; ++j) dst[j] = src[j] * scale[j] + shift[j];
  }
}

// y[r, c] = x[r, c] * scale[c] + shift[c] over rows x channels; x is dense (row
// stride = channels), y has row stride y_stride (0: dense), so the result can
// land in its slice of a concatenation. y may alias x when both are dense.
template <class Arch = DefaultArch>
void channel_affine(const Context& ctx, const float* x, float* y, std::size_t rows, int channels, const float* scale,
                    const float* shift, std::size_t y_stride = 0) {
  const std::size_t c = static_cast<std::size_t>(channels);
  if (y_stride == 0) y_stride = c;
  const int tasks = static_cast<int>(std::clamp<std::size_t>(rows * c / 16384, 1, 4 * ctx.threads()));
  ctx.parallel(tasks, [&](int task, int) {
    const std::size_t r0 = rows * task / tasks, r1 = rows * (task + 1) / tasks;
    // The loop gets its pointers and sizes as arguments, not through this
    // lambda's references: a vector store may alias any memory (xsimd's are
    // may_alias), so values read through a reference were read again after
    // every store. Where the compiler did not inline it with the sizes known,
    // the pass ran at 42-48 GB/s; now 60, a copy of the same bytes 62-66
    // (Zen 4, kernels_bench, 1 thread).
    affine_rows<Arch>(x + r0 * c, c, r1 - r0, channels, scale, shift, y_stride, y + r0 * y_stride);
  });
}

}  // namespace riformer::kernels
