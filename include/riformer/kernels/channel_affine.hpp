#pragma once
// The per-channel affine that applies a GroupNorm once its moments are known
// (they come from the channel sums the producing GEMM gathered): PyTorch
// applies GroupNorm the same way, y = x * (w * rstd) + (b - w * rstd * mean).

#include <algorithm>
#include <cstddef>

#include "riformer/core/arch.hpp"
#include "riformer/core/context.hpp"

namespace riformer::kernels {

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
    for (std::size_t r = r0; r < r1; ++r) {
      const float* xr = x + r * c;
      float* yr = y + r * y_stride;
      std::size_t i = 0;
      if constexpr (kIsSimd<Arch>) {
        using B = xsimd::batch<float, Arch>;
        for (; i + B::size <= c; i += B::size)
          xsimd::fma(B::load_unaligned(xr + i), B::load_unaligned(scale + i), B::load_unaligned(shift + i))
              .store_unaligned(yr + i);
      }
      for (; i < c; ++i) yr[i] = xr[i] * scale[i] + shift[i];
    }
  });
}

}  // namespace riformer::kernels
