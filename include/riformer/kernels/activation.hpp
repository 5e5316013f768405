#pragma once
// Element-wise activations, scalar and vector forms. GELU is the exact erf form
// that PyTorch's nn.GELU() computes by default (not the tanh approximation).

#include <cmath>

#include "riformer/core/arch.hpp"

namespace riformer::kernels {

enum class Activation { none, gelu, silu };

[[nodiscard]] inline float gelu(float x) { return 0.5f * x * (1.0f + std::erf(x * 0.70710678118654752440f)); }
[[nodiscard]] inline float silu(float x) { return x / (1.0f + std::exp(-x)); }
[[nodiscard]] inline float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

template <Activation Act>
[[nodiscard]] inline float activate(float x) {
  if constexpr (Act == Activation::gelu) return gelu(x);
  else if constexpr (Act == Activation::silu) return silu(x);
  else return x;
}

// The error function on a vector; GELU's accuracy is this function's.
template <class Arch>
[[nodiscard]] RIFORMER_ALWAYS_INLINE inline xsimd::batch<float, Arch> erf(xsimd::batch<float, Arch> x) {
  return xsimd::erf(x);
}

template <class Arch>
[[nodiscard]] RIFORMER_ALWAYS_INLINE inline xsimd::batch<float, Arch> gelu(xsimd::batch<float, Arch> x) {
  using B = xsimd::batch<float, Arch>;
  return B(0.5f) * x * (B(1.0f) + erf(x * B(0.70710678118654752440f)));
}

template <class Arch>
[[nodiscard]] RIFORMER_ALWAYS_INLINE inline xsimd::batch<float, Arch> silu(xsimd::batch<float, Arch> x) {
  using B = xsimd::batch<float, Arch>;
  return x / (B(1.0f) + xsimd::exp(-x));
}

template <Activation Act, class Arch>
[[nodiscard]] RIFORMER_ALWAYS_INLINE inline xsimd::batch<float, Arch> activate(xsimd::batch<float, Arch> x) {
  if constexpr (Act == Activation::gelu) return gelu(x);
  else if constexpr (Act == Activation::silu) return silu(x);
  else return x;
}

}  // namespace riformer::kernels
