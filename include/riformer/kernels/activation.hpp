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

// The error function on a vector, as a rational function of x: erf(x) =
// x P(x^2) / Q(x^2) on [-4, 4] (outside, erf is +-1 in float). The coefficients
// are the minimax fit Eigen and TensorFlow use for float. No exp, no branch,
// one division: about 2.5x cheaper than a Cephes-style erf, which matters in
// RIFormer's first stage where GELU runs once per 128 multiply-adds. Its
// error, measured by tests/kernels/activation_test.cpp against double
// precision over [-20, 20]: < 4e-7 relative (documented in the README).
template <class Arch>
[[nodiscard]] RIFORMER_ALWAYS_INLINE inline xsimd::batch<float, Arch> erf(xsimd::batch<float, Arch> a) {
  using B = xsimd::batch<float, Arch>;
  const B x = xsimd::max(xsimd::min(a, B(4.0f)), B(-4.0f));
  const B x2 = x * x;
  B p = fmadd(x2, B(-2.72614225801306e-10f), B(2.77068142495902e-08f));
  p = fmadd(x2, p, B(-2.10102402082508e-06f));
  p = fmadd(x2, p, B(-5.69250639462346e-05f));
  p = fmadd(x2, p, B(-7.34990630326855e-04f));
  p = fmadd(x2, p, B(-2.95459980854025e-03f));
  p = fmadd(x2, p, B(-1.60960333262415e-02f));
  p = p * x;
  B q = fmadd(x2, B(-1.45660718464996e-05f), B(-2.13374055278905e-04f));
  q = fmadd(x2, q, B(-1.68282697438203e-03f));
  q = fmadd(x2, q, B(-7.37332916720468e-03f));
  q = fmadd(x2, q, B(-1.42647390514189e-02f));
  if constexpr (kInexactDivide<Arch>) return exact_divide(p, q);
  else return p / q;
}

template <class Arch>
[[nodiscard]] RIFORMER_ALWAYS_INLINE inline xsimd::batch<float, Arch> gelu(xsimd::batch<float, Arch> x) {
  using B = xsimd::batch<float, Arch>;
  return B(0.5f) * x * (B(1.0f) + erf(x * B(0.70710678118654752440f)));
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
