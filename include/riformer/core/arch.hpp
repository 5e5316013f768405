#pragma once
// The instruction set is chosen once, here, from what the compiler is told
// (-march=native by default), and passed down to every kernel as a tag type.
// Kernels overload or specialize on the tag; nothing below this header asks the
// compiler which ISA it targets.

#include <type_traits>

#include <xsimd/xsimd.hpp>

namespace riformer {

// Forces inlining where a call would be a disaster: the micro-kernel's
// unrolled loop bodies, whose accumulators must stay in registers. Without it
// GCC keeps them inline in a small translation unit and, past its inlining
// budget in a large one, calls them out of line with the accumulators in
// memory (measured: 2.7x slower). Usable on functions and lambdas.
#if defined(__GNUC__)
#define RIFORMER_ALWAYS_INLINE __attribute__((always_inline))
#else
#define RIFORMER_ALWAYS_INLINE
#endif

// The best xsimd architecture enabled by the compiler flags.
using DefaultArch = xsimd::default_arch;

// True when the target has a SIMD unit xsimd knows (SSE2+, AVX, AVX-512, NEON).
// Without one, kernels fall back to their scalar twins.
template <class Arch>
inline constexpr bool kIsSimd = !std::is_same_v<Arch, xsimd::unavailable>;

// Architectural vector registers: what a register-blocked micro-kernel may fill.
template <class Arch>
constexpr int vector_registers() {
  if constexpr (std::is_base_of_v<xsimd::avx512f, Arch>) return 32;
  else return 16;  // SSE/AVX/AVX2 on x86-64, NEON has 32 but 16 is a safe tile
}

// Floats in one vector register (1 for the scalar fallback).
template <class Arch>
constexpr int vector_floats() {
  if constexpr (kIsSimd<Arch>) return static_cast<int>(xsimd::batch<float, Arch>::size);
  else return 1;
}

// Whether xsimd's `/` on floats is not correctly rounded: xsimd 8.1.0 divides
// on 64-bit ARM by a reciprocal estimate and two Newton steps, up to 2 ulp off
// (40% of random quotients), which moved NMS's IoU across its threshold. There
// kernels divide with exact_divide(); elsewhere (x86: divps) they keep `/`,
// written as `if constexpr` at each division rather than in a wrapper, which
// changed GCC's register and inlining choices on x86 (one function more).
template <class Arch>
inline constexpr bool kInexactDivide = std::is_base_of_v<xsimd::neon64, Arch>;

// a / b lane by lane, correctly rounded like the scalar twins' division: A64's
// vector divide (fdiv), which GCC emits for `/` on the NEON register type.
template <class Arch>
[[nodiscard]] RIFORMER_ALWAYS_INLINE inline xsimd::batch<float, Arch> exact_divide(xsimd::batch<float, Arch> a,
                                                                                   xsimd::batch<float, Arch> b) {
  static_assert(kInexactDivide<Arch>, "exact_divide: xsimd's `/` is exact on this architecture");
  using Register = typename xsimd::batch<float, Arch>::register_type;
  return static_cast<Register>(a) / static_cast<Register>(b);
}

// a * b + c lane by lane, as one FMA instruction where the target has one.
// Kernels call this, never xsimd::fma: xsimd 8.1.0 has no AVX-512 fma, and its
// fallback, a * b + c, is a multiply and an add that only a compiler
// contracting across statements fuses. GCC mostly does (-ffp-contract=fast by
// default); Clang 14 never does. Its build of the S12 detector took 1.46x
// GCC's time with xsimd::fma, 1.1x with this, and as long as GCC's once
// GemmTiles also gave Clang a shorter tile (benchmarks/RESULTS.md, "Clang").
template <class Arch>
[[nodiscard]] RIFORMER_ALWAYS_INLINE inline xsimd::batch<float, Arch> fmadd(xsimd::batch<float, Arch> a,
                                                                            xsimd::batch<float, Arch> b,
                                                                            xsimd::batch<float, Arch> c) {
  if constexpr (std::is_base_of_v<xsimd::avx512f, Arch>) return _mm512_fmadd_ps(a, b, c);
  else return xsimd::fma(a, b, c);
}

// Alignment of every buffer the library allocates: a cache line, and enough for
// aligned loads of the widest vector.
inline constexpr std::size_t kBufferAlignment = 64;
// Bytes per cache line on every CPU targeted (the unit prefetches ask for).
inline constexpr std::size_t kCacheLineBytes = 64;

[[nodiscard]] inline const char* arch_name() {
  if constexpr (kIsSimd<DefaultArch>) return DefaultArch::name();
  else return "scalar";
}

}  // namespace riformer
