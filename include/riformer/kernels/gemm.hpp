#pragma once
// The GEMM behind every 1x1 convolution (and, through im2col, every k x k one):
//
//   C[i, 0:n] = epilogue( A[i, 0:k] . B + bias ),  i in [0, m)
//
// A is the activation matrix, channels-last (one row per pixel, row stride lda);
// B is the layer's weight matrix (k x n), packed once at load into panels of NR
// columns; C is written with row stride ldc, so a layer can write straight into
// its slice of a concatenated buffer. The epilogue (bias, activation, residual
// add) runs while the tile is still in registers.
//
// Blocking (BLIS-style, rows of C along pixels, vectors along channels):
//   for each block of MC rows and KC depth: pack A into MR-row tiles (scratch, L2)
//     for each panel of NR columns (KC x NR of B stays in L1)
//       for each MR-row tile: MR x NR register micro-kernel.

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <utility>

#include "riformer/core/aligned_buffer.hpp"
#include "riformer/core/arch.hpp"
#include "riformer/core/context.hpp"
#include "riformer/core/error.hpp"
#include "riformer/kernels/activation.hpp"
#include "riformer/kernels/reference.hpp"

namespace riformer::kernels {

// Tile sizes for an architecture. NR is two vectors wide; MR fills the remaining
// registers with accumulators (AVX-512: 14 x 32 uses 28 of 32 zmm; AVX2: 6 x 16).
template <class Arch>
struct GemmTiles {
  static constexpr int kLanes = vector_floats<Arch>();
  static constexpr int kVectorsPerRow = 2;
  static constexpr int NR = kLanes * kVectorsPerRow;
  static constexpr int MR = kIsSimd<Arch> ? (vector_registers<Arch>() - kVectorsPerRow - 1) / kVectorsPerRow : 1;
  static constexpr int KC = 256;                     // KC x NR floats of B: 32 KiB on AVX-512 (L1)
  static constexpr int MC = MR * 16;                 // MC x KC floats of packed A: <= 224 KiB (L2)
  static_assert(static_cast<std::size_t>(MC) * KC <= Context::kScratchFloats, "packed A block must fit the scratch");
};

// A k x n weight matrix with its bias, packed for gemm(): panel p holds columns
// [p*NR, p*NR + NR) as k rows of NR floats; columns past n are zero, so the
// micro-kernel never needs a column tail.
struct PackedMatrix {
  int k = 0;
  int n = 0;
  int panel_width = 0;
  AlignedBuffer weights;  // panels() * k * panel_width
  AlignedBuffer bias;     // panels() * panel_width, zero padded

  [[nodiscard]] int panels() const { return panel_width ? (n + panel_width - 1) / panel_width : 0; }
  [[nodiscard]] const float* panel(int p) const {
    return weights.data() + static_cast<std::size_t>(p) * k * panel_width;
  }
};

// Packs b (k x n, row-major) and bias (n values, or null for none).
template <class Arch = DefaultArch>
[[nodiscard]] PackedMatrix pack_matrix(const float* b, const float* bias, int k, int n) {
  require(k > 0 && n > 0, "pack_matrix: empty matrix (k=", k, ", n=", n, ")");
  PackedMatrix p;
  p.k = k;
  p.n = n;
  // Without SIMD there is one panel as wide as the matrix: plain k x n row-major,
  // which is what the scalar fallback reads.
  p.panel_width = kIsSimd<Arch> ? GemmTiles<Arch>::NR : n;
  const int nr = p.panel_width;
  p.weights.resize(static_cast<std::size_t>(p.panels()) * k * nr);
  p.bias.resize(static_cast<std::size_t>(p.panels()) * nr);
  for (int panel = 0; panel < p.panels(); ++panel)
    for (int kk = 0; kk < k; ++kk)
      for (int j = 0; j < nr; ++j) {
        const int col = panel * nr + j;
        if (col < n) p.weights[(static_cast<std::size_t>(panel) * k + kk) * nr + j] = b[static_cast<std::size_t>(kk) * n + col];
      }
  if (bias) std::copy(bias, bias + n, p.bias.data());
  return p;
}

// What happens to a tile after the dot products: out = act(acc + bias), then
// plus the previous contents of C when `accumulate` (a residual connection).
struct GemmEpilogue {
  Activation act = Activation::none;
  bool accumulate = false;
};

namespace detail {

template <int N, class F, int... I>
inline void unroll_impl(F&& f, std::integer_sequence<int, I...>) {
  (f(std::integral_constant<int, I>{}), ...);
}
// Calls f(integral_constant<int, i>) for i in [0, N), fully unrolled.
template <int N, class F>
inline void unroll(F&& f) {
  unroll_impl<N>(std::forward<F>(f), std::make_integer_sequence<int, N>{});
}

// Packs rows [0, rows) x depth [0, kc) of a into MR-row tiles, depth-major within
// a tile (tile t, depth p, row r at ((t * kc) + p) * MR + r); rows past `rows` are 0.
template <int MR>
inline void pack_a(const float* a, std::size_t lda, int rows, int kc, float* out) {
  for (int t = 0; t < rows; t += MR) {
    const int valid = std::min(MR, rows - t);
    float* tile = out + static_cast<std::size_t>(t) * kc;
    for (int r = 0; r < valid; ++r) {
      const float* src = a + static_cast<std::size_t>(t + r) * lda;
      for (int p = 0; p < kc; ++p) tile[p * MR + r] = src[p];
    }
    for (int r = valid; r < MR; ++r)
      for (int p = 0; p < kc; ++p) tile[p * MR + r] = 0.0f;
  }
}

// One MR x NR tile of C over depth kc. `load_c`: start from C's contents (a
// previous depth block, or the residual); `finish`: apply bias, activation and
// (AddAfter) the residual read from C, else store the raw partial sums.
template <class Arch, Activation Act, bool AddAfter>
inline void micro_tile(int kc, const float* ap, const float* bp, float* c, std::size_t ldc, int rows, int cols,
                       const float* bias, bool load_c, bool finish) {
  using B = xsimd::batch<float, Arch>;
  using T = GemmTiles<Arch>;
  constexpr int MR = T::MR, NR = T::NR, L = T::kLanes;
  const bool full = cols == NR;

  // Partial column tiles go through a small aligned buffer (only the last panel).
  alignas(kBufferAlignment) float edge[MR * NR];
  float* dst = c;
  std::size_t ld = ldc;
  if (!full) {
    for (int r = 0; r < rows; ++r) {
      std::memcpy(edge + r * NR, c + r * ldc, sizeof(float) * static_cast<std::size_t>(cols));
      std::fill(edge + r * NR + cols, edge + (r + 1) * NR, 0.0f);
    }
    dst = edge;
    ld = NR;
  }

  B acc[MR][2];
  if (load_c) {
    unroll<MR>([&](auto r) {
      if (r < rows) {
        acc[r][0] = B::load_unaligned(dst + r * ld);
        acc[r][1] = B::load_unaligned(dst + r * ld + L);
      } else {
        acc[r][0] = acc[r][1] = B(0.0f);
      }
    });
  } else {
    unroll<MR>([&](auto r) { acc[r][0] = acc[r][1] = B(0.0f); });
  }

  for (int p = 0; p < kc; ++p) {
    const B b0 = B::load_aligned(bp);
    const B b1 = B::load_aligned(bp + L);
    unroll<MR>([&](auto r) {
      const B av(ap[r]);
      acc[r][0] = xsimd::fma(av, b0, acc[r][0]);
      acc[r][1] = xsimd::fma(av, b1, acc[r][1]);
    });
    ap += MR;
    bp += NR;
  }

  if (finish) {
    const B bias0 = B::load_aligned(bias), bias1 = B::load_aligned(bias + L);
    unroll<MR>([&](auto r) {
      if (r < rows) {
        B v0 = activate<Act>(acc[r][0] + bias0);
        B v1 = activate<Act>(acc[r][1] + bias1);
        if constexpr (AddAfter) {
          v0 += B::load_unaligned(dst + r * ld);
          v1 += B::load_unaligned(dst + r * ld + L);
        }
        v0.store_unaligned(dst + r * ld);
        v1.store_unaligned(dst + r * ld + L);
      }
    });
  } else {
    unroll<MR>([&](auto r) {
      if (r < rows) {
        acc[r][0].store_unaligned(dst + r * ld);
        acc[r][1].store_unaligned(dst + r * ld + L);
      }
    });
  }

  if (!full)
    for (int r = 0; r < rows; ++r) std::memcpy(c + r * ldc, edge + r * NR, sizeof(float) * static_cast<std::size_t>(cols));
}

template <class Arch, Activation Act, bool AddAfter>
void gemm_blocked(const Context& ctx, int m, const float* a, std::size_t lda, const PackedMatrix& b, float* c,
                  std::size_t ldc, bool residual_in_c) {
  using T = GemmTiles<Arch>;
  constexpr int MR = T::MR, NR = T::NR, MC = T::MC;
  const int k = b.k, n = b.n, panels = b.panels();
  // An activation before the residual add needs the whole depth in registers.
  const int kc_max = AddAfter ? k : T::KC;
  const int mc = (AddAfter ? std::max(MR, static_cast<int>(Context::kScratchFloats / k) / MR * MR) : MC);
  require(static_cast<std::size_t>(MR) * k <= Context::kScratchFloats,
          "gemm: depth ", k, " too large for the packing scratch");

  const int row_blocks = (m + mc - 1) / mc;
  // With few row blocks (small images, deep stages) split the columns too.
  int col_groups = 1;
  if (row_blocks < 2 * ctx.threads()) col_groups = std::min(panels, (2 * ctx.threads() + row_blocks - 1) / row_blocks);
  const int panels_per_group = (panels + col_groups - 1) / col_groups;
  col_groups = (panels + panels_per_group - 1) / panels_per_group;

  ctx.parallel(row_blocks * col_groups, [&](int task, int worker) {
    const int i0 = (task / col_groups) * mc;
    const int rows = std::min(mc, m - i0);
    const int p_begin = (task % col_groups) * panels_per_group;
    const int p_end = std::min(panels, p_begin + panels_per_group);
    float* packed = ctx.scratch(worker);
    for (int k0 = 0; k0 < k; k0 += kc_max) {
      const int kc = std::min(kc_max, k - k0);
      const bool first = k0 == 0, last = k0 + kc == k;
      pack_a<MR>(a + static_cast<std::size_t>(i0) * lda + k0, lda, rows, kc, packed);
      for (int p = p_begin; p < p_end; ++p) {
        const int cols = std::min(NR, n - p * NR);
        const float* bp = b.panel(p) + static_cast<std::size_t>(k0) * NR;
        for (int t = 0; t < rows; t += MR) {
          micro_tile<Arch, Act, AddAfter>(kc, packed + static_cast<std::size_t>(t) * kc, bp,
                                          c + static_cast<std::size_t>(i0 + t) * ldc + p * NR, ldc,
                                          std::min(MR, rows - t), cols, b.bias.data() + p * NR,
                                          /*load_c=*/!first || residual_in_c, /*finish=*/last);
        }
      }
    }
  });
}

}  // namespace detail

// C = epilogue(A . B + bias); see the top of this file. `a` and `c` must not overlap.
template <class Arch = DefaultArch>
void gemm(const Context& ctx, int m, const float* a, std::size_t lda, const PackedMatrix& b, float* c,
          std::size_t ldc, GemmEpilogue epilogue = {}) {
  if (m <= 0) return;
  if constexpr (!kIsSimd<Arch>) {
    // No SIMD unit: panels are one column wide, i.e. b is stored k x n row-major.
    reference::gemm(m, b.n, b.k, a, lda, b.weights.data(), b.bias.data(), epilogue.act, epilogue.accumulate, c, ldc);
  } else {
    require(b.panel_width == GemmTiles<Arch>::NR, "gemm: matrix packed for another architecture");
    using detail::gemm_blocked;
    // Without an activation the residual is the accumulator's starting value;
    // with one it must be added after the activation.
    const bool acc = epilogue.accumulate;
    switch (epilogue.act) {
      case Activation::none:
        return gemm_blocked<Arch, Activation::none, false>(ctx, m, a, lda, b, c, ldc, acc);
      case Activation::gelu:
        return acc ? gemm_blocked<Arch, Activation::gelu, true>(ctx, m, a, lda, b, c, ldc, false)
                   : gemm_blocked<Arch, Activation::gelu, false>(ctx, m, a, lda, b, c, ldc, false);
      case Activation::silu:
        return acc ? gemm_blocked<Arch, Activation::silu, true>(ctx, m, a, lda, b, c, ldc, false)
                   : gemm_blocked<Arch, Activation::silu, false>(ctx, m, a, lda, b, c, ldc, false);
    }
  }
}

}  // namespace riformer::kernels
