#pragma once
// The two halves of a GroupNorm with one group: the moments of a whole feature
// map, and the per-channel affine that applies them (also used for folded
// token mixers and layer scales). PyTorch applies GroupNorm the same way:
// y = x * (w * rstd) + (b - w * rstd * mean).

#include <algorithm>
#include <array>
#include <cstddef>

#include "riformer/core/arch.hpp"
#include "riformer/core/context.hpp"
#include "riformer/kernels/reference.hpp"

namespace riformer::kernels {

using reference::Moments;

namespace detail {

// Float vector partial sums over short chunks, gathered in double: accurate to
// ~1e-7 relative for millions of values, and vectorized.
template <class Arch, class Term>
double chunked_sum(const float* x, std::size_t n, Term term) {
  constexpr std::size_t kChunk = 1024;
  double total = 0;
  for (std::size_t begin = 0; begin < n; begin += kChunk) {
    const std::size_t end = std::min(n, begin + kChunk);
    std::size_t i = begin;
    float tail = 0;
    if constexpr (kIsSimd<Arch>) {
      using B = xsimd::batch<float, Arch>;
      B acc(0.0f);
      for (; i + B::size <= end; i += B::size) acc += term(B::load_unaligned(x + i));
      tail = xsimd::hadd(acc);
    }
    for (; i < end; ++i) tail += term(x[i]);
    total += tail;
  }
  return total;
}

}  // namespace detail

// Mean and (biased) variance of n values, two passes for accuracy when the
// mean is large next to the spread (the residual stream of deep stages).
template <class Arch = DefaultArch>
[[nodiscard]] Moments moments(const Context& ctx, const float* x, std::size_t n) {
  constexpr int kMaxTasks = 64;
  const int tasks = static_cast<int>(std::clamp<std::size_t>(n / 16384, 1, std::min(kMaxTasks, 4 * ctx.threads())));
  std::array<double, kMaxTasks> partial{};
  auto slice = [&](int task) { return std::pair{n * task / tasks, n * (task + 1) / tasks}; };

  ctx.parallel(tasks, [&](int task, int) {
    auto [b, e] = slice(task);
    partial[task] = detail::chunked_sum<Arch>(x + b, e - b, [](auto v) { return v; });
  });
  double sum = 0;
  for (int t = 0; t < tasks; ++t) sum += partial[t];
  const double mean = sum / static_cast<double>(n);

  const float mean_f = static_cast<float>(mean);
  ctx.parallel(tasks, [&](int task, int) {
    auto [b, e] = slice(task);
    partial[task] = detail::chunked_sum<Arch>(x + b, e - b, [&](auto v) {
      const auto d = v - decltype(v)(mean_f);
      return d * d;
    });
  });
  double sq = 0;
  for (int t = 0; t < tasks; ++t) sq += partial[t];
  // The float mean's rounding shifts the squares by (mean - mean_f)^2.
  const double shift = mean - static_cast<double>(mean_f);
  return {mean, std::max(0.0, sq / static_cast<double>(n) - shift * shift)};
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
