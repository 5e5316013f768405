#pragma once
// Element-wise activations, scalar and vector forms. GELU is the exact erf form
// that PyTorch's nn.GELU() computes by default (not the tanh approximation).

#include <cmath>

#include "riformer/core/arch.hpp"
#include "riformer/core/error.hpp"

namespace riformer::kernels {

enum class Activation { none, gelu, silu };

[[nodiscard]] inline float gelu(float x) { return 0.5f * x * (1.0f + std::erf(x * 0.70710678118654752440f)); }
[[nodiscard]] inline float silu(float x) { return x / (1.0f + std::exp(-x)); }
[[nodiscard]] inline float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

[[nodiscard]] constexpr const char* activation_name(Activation act) {
  return act == Activation::none ? "none" : act == Activation::gelu ? "GELU" : act == Activation::silu ? "SiLU" : "unknown";
}

// The activations a kernel call can be asked for, fixed when it compiles.
// Kernels compile one inner loop per activation (a GEMM micro-kernel is 6-19
// KB with AVX-512, several per activation); a caller that names the one it
// uses keeps the others out of the binary. All three by default.
struct ActivationSet {
  bool none = true, gelu = true, silu = true;
};
inline constexpr ActivationSet kOnlyNone{true, false, false};
inline constexpr ActivationSet kOnlyGelu{false, true, false};
inline constexpr ActivationSet kOnlySilu{false, false, true};

// Calls f.template operator()<Act>() with `act` as a template argument: kernels
// compile one inner loop per activation in `Allowed` and pick it once per call.
// An activation outside `Allowed` is an error, never a silent substitute.
template <ActivationSet Allowed = ActivationSet{}, class F>
void with_activation(Activation act, F&& f) {
  if constexpr (Allowed.gelu)
    if (act == Activation::gelu) return f.template operator()<Activation::gelu>();
  if constexpr (Allowed.silu)
    if (act == Activation::silu) return f.template operator()<Activation::silu>();
  if constexpr (Allowed.none)
    if (act == Activation::none) return f.template operator()<Activation::none>();
  fail("kernel call: activation ", activation_name(act), " was not compiled in for this call site");
}

template <Activation Act>
[[nodiscard]] inline float activate(float x) {
  if constexpr (Act == Activation::gelu) return gelu(x);
  else if constexpr (Act == Activation::silu) return silu(x);
  else return x;
}

// The same with the activation chosen at run time (the scalar twins use this).
[[nodiscard]] inline float activate(Activation act, float x) {
  return act == Activation::gelu ? gelu(x) : act == Activation::silu ? silu(x) : x;
}

// GELU(x) = x * Phi(x), Phi the standard normal CDF: Phi(x) = 1/2 + erf(x /
// sqrt 2) / 2. erf is a rational function, erf(u) = u P(u^2) / Q(u^2) on
// [-4, 4] (outside, erf is +-1 in float), with the minimax coefficients Eigen and
// TensorFlow use for float. No exp, no branch, one division: about 2.5x cheaper
// than a Cephes-style erf. This is erf(x / sqrt 2) / 2 = x P'(x^2) / Q'(x^2),
// P' and Q' being P and Q with the 1/sqrt 2 and the 1/2 folded into their
// coefficients, and x clamped to 4 sqrt 2 by one vrangeps where AVX-512DQ has
// it: 13 multiplies and FMAs instead of 15, one clamp instruction instead of
// two. GELU runs once per 64 to 512 multiply-adds of the GEMM whose epilogue
// it is, on the same two FMA pipes; removing the three made the S12 detector
// 0.6% faster on a Zen 5 (benchmarks/RESULTS.md).
// Its error, as erf, measured by tests/kernels/activation_test.cpp against
// double precision over [-20, 20]: < 4e-7 relative (documented in the README).
template <class Arch>
[[nodiscard]] RIFORMER_ALWAYS_INLINE inline xsimd::batch<float, Arch> half_erf_of_x_over_sqrt2(
    xsimd::batch<float, Arch> x) {
  using B = xsimd::batch<float, Arch>;
  const B limit(5.6568542494923802f);  // 4 sqrt 2
  B t;
#if defined(__AVX512DQ__)
  // sign(x) * min(|x|, limit): range, absolute minimum (imm bits 1:0 = 10), sign of src1, x (bits 3:2 = 00).
  if constexpr (std::is_base_of_v<xsimd::avx512dq, Arch>) t = _mm512_range_ps(x, limit, 0b0010);
  else
#endif
    t = xsimd::max(xsimd::min(x, limit), -limit);
  const B t2 = t * t;
  B p = fmadd(t2, B(-1.5059950602501886e-12f), B(3.0611994126502023e-10f));
  p = fmadd(t2, p, B(-4.6426510392538757e-8f));
  p = fmadd(t2, p, B(-2.5157561709912709e-6f));
  p = fmadd(t2, p, B(-6.4964607351586761e-5f));
  p = fmadd(t2, p, B(-5.2230439007782144e-4f));
  p = fmadd(t2, p, B(-5.6908071575950119e-3f));
  p = p * t;
  B q = fmadd(t2, B(-9.1037949040622496e-7f), B(-2.6671756909863124e-5f));
  q = fmadd(t2, q, B(-4.2070674359550751e-4f));
  q = fmadd(t2, q, B(-3.6866645836023402e-3f));
  q = fmadd(t2, q, B(-1.4264739051418901e-2f));
  if constexpr (kInexactDivide<Arch>) return exact_divide(p, q);
  else return p / q;
}

template <class Arch>
[[nodiscard]] RIFORMER_ALWAYS_INLINE inline xsimd::batch<float, Arch> gelu(xsimd::batch<float, Arch> x) {
  using B = xsimd::batch<float, Arch>;
  return x * (B(0.5f) + half_erf_of_x_over_sqrt2(x));
}

// e^x on a vector: x = n ln2 + r with |r| <= ln2 / 2 (ln2 split in two parts so
// r is exact), e^r by its degree-6 Taylor polynomial (truncation < 1.2e-7),
// times 2^n built in the exponent bits. Inputs are clamped to [-87.3, 88.7],
// where e^x stays a normal float. Measured error: < 3e-7 relative (tests).
// Inlined and branch-free, unlike the library exp it replaces in SiLU.
template <class Arch>
[[nodiscard]] RIFORMER_ALWAYS_INLINE inline xsimd::batch<float, Arch> exp(xsimd::batch<float, Arch> x) {
  using B = xsimd::batch<float, Arch>;
  x = xsimd::max(xsimd::min(x, B(88.7f)), B(-87.3f));
  const B n = xsimd::nearbyint(x * B(1.44269504088896341f));
  B r = fmadd(n, B(-0.693359375f), x);  // ln2, high part: n * it is exact
  r = fmadd(n, B(2.12194440e-4f), r);   // ln2, low part
  B p = fmadd(r, B(1.0f / 720), B(1.0f / 120));
  p = fmadd(p, r, B(1.0f / 24));
  p = fmadd(p, r, B(1.0f / 6));
  p = fmadd(p, r, B(0.5f));
  p = fmadd(p, r, B(1.0f));
  p = fmadd(p, r, B(1.0f));
  const auto two_n = (xsimd::to_int(n) + 127) << 23;  // 2^n as float bits
  return p * xsimd::bitwise_cast<B>(two_n);
}

template <class Arch>
[[nodiscard]] RIFORMER_ALWAYS_INLINE inline xsimd::batch<float, Arch> silu(xsimd::batch<float, Arch> x) {
  using B = xsimd::batch<float, Arch>;
  if constexpr (kInexactDivide<Arch>) return exact_divide(x, B(1.0f) + exp(-x));
  else return x / (B(1.0f) + exp(-x));
}

template <Activation Act, class Arch>
[[nodiscard]] RIFORMER_ALWAYS_INLINE inline xsimd::batch<float, Arch> activate(xsimd::batch<float, Arch> x) {
  if constexpr (Act == Activation::gelu) return gelu(x);
  else if constexpr (Act == Activation::silu) return silu(x);
  else return x;
}

}  // namespace riformer::kernels
