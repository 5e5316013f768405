#pragma once
// Max pooling with stride 1 and "same" padding (SPPF's 5x5 pools), channels
// last. Padding never wins a max (PyTorch pads max pools with -inf), so the
// window is simply clipped at the borders; and a max over a square window is a
// max over rows of maxes over columns, so it runs as two 1-D passes.

#include <algorithm>
#include <cstddef>

#include "riformer/core/arch.hpp"
#include "riformer/core/context.hpp"

namespace riformer::kernels {

namespace detail {

// dst[i] = max(dst[i], src[i]) for i < n.
template <class Arch>
inline void max_into(float* dst, const float* src, int n) {
  int i = 0;
  if constexpr (kIsSimd<Arch>) {
    using B = xsimd::batch<float, Arch>;
    for (; i + static_cast<int>(B::size) <= n; i += B::size)
      xsimd::max(B::load_unaligned(dst + i), B::load_unaligned(src + i)).store_unaligned(dst + i);
  }
  for (; i < n; ++i) dst[i] = std::max(dst[i], src[i]);
}

}  // namespace detail

// Scratch floats max_pool_same() needs: one dense h x w x c map.
[[nodiscard]] inline std::size_t max_pool_scratch_floats(int h, int w, int c) {
  return static_cast<std::size_t>(h) * w * c;
}

// out(y, x, :) = max of in over the kernel x kernel window centred on (y, x),
// clipped at the borders. in and out are h x w pixels of c values with pixel
// strides in_stride and out_stride; they must not overlap.
template <class Arch = DefaultArch>
void max_pool_same(const Context& ctx, const float* in, std::size_t in_stride, int h, int w, int c, int kernel,
                   float* out, std::size_t out_stride, float* scratch) {
  const int r = kernel / 2;
  const std::size_t cs = static_cast<std::size_t>(c);
  // Rows: scratch(y, x) = max over x' in [x - r, x + r] of in(y, x').
  ctx.parallel(std::min(h, 4 * ctx.threads()), [&](int task, int) {
    const int tasks = std::min(h, 4 * ctx.threads());
    for (int y = h * task / tasks; y < h * (task + 1) / tasks; ++y)
      for (int x = 0; x < w; ++x) {
        float* dst = scratch + (static_cast<std::size_t>(y) * w + x) * cs;
        const int x0 = std::max(0, x - r), x1 = std::min(w - 1, x + r);
        std::copy_n(in + (static_cast<std::size_t>(y) * w + x0) * in_stride, cs, dst);
        for (int xx = x0 + 1; xx <= x1; ++xx)
          detail::max_into<Arch>(dst, in + (static_cast<std::size_t>(y) * w + xx) * in_stride, c);
      }
  });
  // Columns: out(y, x) = max over y' in [y - r, y + r] of scratch(y', x).
  ctx.parallel(std::min(h, 4 * ctx.threads()), [&](int task, int) {
    const int tasks = std::min(h, 4 * ctx.threads());
    for (int y = h * task / tasks; y < h * (task + 1) / tasks; ++y) {
      const int y0 = std::max(0, y - r), y1 = std::min(h - 1, y + r);
      for (int x = 0; x < w; ++x) {
        float* dst = out + (static_cast<std::size_t>(y) * w + x) * out_stride;
        std::copy_n(scratch + (static_cast<std::size_t>(y0) * w + x) * cs, cs, dst);
        for (int yy = y0 + 1; yy <= y1; ++yy)
          detail::max_into<Arch>(dst, scratch + (static_cast<std::size_t>(yy) * w + x) * cs, c);
      }
    }
  });
}

namespace detail {

// dst0..dst3[i] = src[i] for i < n: each vector of src loaded once and stored
// four times (four std::copy_n calls read it four times and cost a call each;
// the 2x upsample ran at 0.68-0.86 of a memcpy of its bytes that way).
template <class Arch>
RIFORMER_ALWAYS_INLINE inline void copy_to_four(const float* src, std::size_t n, float* dst0, float* dst1, float* dst2,
                                                float* dst3) {
  std::size_t i = 0;
  if constexpr (kIsSimd<Arch>) {
    using B = xsimd::batch<float, Arch>;
    for (; i + B::size <= n; i += B::size) {
      const B v = B::load_unaligned(src + i);
      v.store_unaligned(dst0 + i);
      v.store_unaligned(dst1 + i);
      v.store_unaligned(dst2 + i);
      v.store_unaligned(dst3 + i);
    }
  }
  for (; i < n; ++i) dst0[i] = dst1[i] = dst2[i] = dst3[i] = src[i];
}

}  // namespace detail

// out(2y + i, 2x + j, :) = in(y, x, :) for i, j in {0, 1}: nearest-neighbour 2x
// upsampling, h x w -> 2h x 2w pixels of c values, with pixel strides (so the
// result can land in its slice of a concatenation).
template <class Arch = DefaultArch>
void upsample_nearest_2x(const Context& ctx, const float* in, std::size_t in_stride, int h, int w, int c, float* out,
                         std::size_t out_stride) {
  const std::size_t cs = static_cast<std::size_t>(c);
  const std::size_t out_row = 2 * static_cast<std::size_t>(w) * out_stride;  // floats from one output row to the next
  const int tasks = std::min(h, 4 * ctx.threads());
  ctx.parallel(tasks, [&](int task, int) {
    for (int y = h * task / tasks; y < h * (task + 1) / tasks; ++y)
      for (int x = 0; x < w; ++x) {
        const float* src = in + (static_cast<std::size_t>(y) * w + x) * in_stride;              // (c)
        float* top = out + 2 * static_cast<std::size_t>(y) * out_row + 2 * x * out_stride;  // (2, c) at 2y, 2x
        detail::copy_to_four<Arch>(src, cs, top, top + out_stride, top + out_row, top + out_row + out_stride);
      }
  });
}

}  // namespace riformer::kernels
