#pragma once
// The register-blocked heart of every GEMM in the library: an MR x NR
// micro-kernel that reads MR rows of the activation matrix where they are
// (row-major, any row stride) and a packed NR-column panel of weights, runs
// the whole depth in registers, and finishes with its epilogue (bias,
// activation, scaled residual, per-column sums for the next GroupNorm).
//
// Why rows are read in place rather than packed into MR-interleaved tiles (as
// BLIS does): packing is a transposition with strided stores, and on the
// machines measured (AVX-512, 48 KiB L1, 1 MiB L2) it cost more than it
// saved: in-place rows ran 5-100% faster on every RIFormer shape, most on the
// narrow ones (N = 32 ... 128) where a packed block is reused by few panels.
// Used by gemm(), fused_mlp() and conv2d(); not a public API.

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <utility>

#include "riformer/core/arch.hpp"
#include "riformer/core/context.hpp"
#include "riformer/kernels/activation.hpp"
#include "riformer/kernels/channel_affine.hpp"

namespace riformer::kernels {

// Tile sizes for an architecture. NR is two vectors wide; MR fills the remaining
// registers with accumulators (AVX-512: 14 x 32 uses 28 of 32 zmm; AVX2: 6 x 16),
// except with Clang on AVX-512, which gets 10 rows: Clang 14 loads the next
// rows' broadcasts early and, with 14 rows, spills accumulators in the depth
// loop (BM_MicroTile 84-95% of the FMA peak; the S12 detector 1.1x GCC's
// time). With 10 rows: 94-100%, and the detector as fast as GCC's build (12
// rows: 92-100%, the detector 2% slower than with 10). Zen 4, 2026-12-01.
// Clang 16 with 14 rows keeps the row pointers on the stack and reloads them
// every step; its detector was 2-8% slower than with 10 rows (Xeon, 2026-12-01).
template <class Arch>
struct GemmTiles {
  static constexpr int kLanes = vector_floats<Arch>();
  static constexpr int kVectorsPerRow = 2;
  static constexpr int NR = kLanes * kVectorsPerRow;
  static constexpr int kRowsRegistersHold = (vector_registers<Arch>() - kVectorsPerRow - 1) / kVectorsPerRow;
#if defined(__clang__)
  static constexpr int MR = !kIsSimd<Arch> ? 1 : std::min(kRowsRegistersHold, 10);
#else
  static constexpr int MR = !kIsSimd<Arch> ? 1 : kRowsRegistersHold;
#endif
};

// Whether MR rows lda floats apart fall into the same L1 cache set: with a row
// stride of (nearly) a multiple of 4 KiB, all of a tile's rows compete for one
// set of a 12-way L1 and evict each other every few steps of the depth loop
// (measured: 40% of the speed lost at 2048 and 3072 floats).
[[nodiscard]] constexpr bool rows_alias_in_l1(std::size_t lda) {
  const std::size_t offset = lda % 1024;  // floats past a multiple of 4 KiB
  return offset < 16 || offset > 1024 - 16;
}

// A row stride for a buffer of rows of n floats that avoids that aliasing:
// n, or n + kUnaliasedPadFloats.
inline constexpr std::size_t kUnaliasedPadFloats = 16;
[[nodiscard]] constexpr std::size_t unaliased_stride(std::size_t n) {
  return rows_alias_in_l1(n) ? n + kUnaliasedPadFloats : n;
}

namespace detail {

template <int N, class F, int... I>
RIFORMER_ALWAYS_INLINE inline void unroll_impl(F&& f, std::integer_sequence<int, I...>) {
  (f(std::integral_constant<int, I>{}), ...);
}
// Calls f(integral_constant<int, i>) for i in [0, N), fully unrolled and
// inlined (f should be an RIFORMER_ALWAYS_INLINE lambda).
template <int N, class F>
RIFORMER_ALWAYS_INLINE inline void unroll(F&& f) {
  unroll_impl<N>(std::forward<F>(f), std::make_integer_sequence<int, N>{});
}

// out[r, :] = a[r, :] for rows x k values, into row stride ldo.
inline void copy_rows(const float* a, std::size_t lda, int rows, int k, std::size_t ldo, float* out) {
  for (int r = 0; r < rows; ++r)
    std::memcpy(out + static_cast<std::size_t>(r) * ldo, a + static_cast<std::size_t>(r) * lda,
                sizeof(float) * static_cast<std::size_t>(k));
}

// How a micro tile's accumulators start.
enum class TileStart {
  zero,      // a plain dot product
  residual,  // C holds a residual: start from C * res_scale + res_shift
};

// What a micro tile does when its depth is complete; pointers are already
// offset to the tile's first column (NR entries where the panel is full,
// `cols` where it is the ragged last one).
struct TileFinish {
  const float* bias = nullptr;       // NR floats, zero padded (the packed bias)
  const float* res_scale = nullptr;  // residual per-column scale, or null (1)
  const float* res_shift = nullptr;  // residual per-column shift, or null (0)
  double* col_sum = nullptr;         // if set: += sum over the tile's rows of the final values
  double* col_sum_sq = nullptr;      //         += sum of their squares
};

// One MR x NR tile of C = epilogue(A . B + bias) over the whole depth k. A's
// rows [0, rows) start at a, lda floats apart; rows past `rows` are computed
// from the last valid row and not stored. With AddAfter, the residual
// C * res_scale + res_shift is added after the activation; otherwise (start ==
// residual) it is the accumulators' starting value. MR defaults to the full
// tile height; a short last tile of a matrix uses a half-height one.
// With FetchNext, the tile also asks for the k x NR floats at next_panel (NR
// per step of the depth, two cache lines with AVX-512, one with AVX2, where
// both prefetches land in the same line) to be brought into L2 while it
// computes: the next panel of weights too large for the caches, which are
// read from memory once per row chunk, or the next tile's rows of A (MR rows
// of up to NR / MR * k floats). Without this the next tile waits for them. (A
// template parameter, so that tiles that fetch nothing run the plain loop.)
// Segmented: the depth is `segments` runs of k / segments values, and each
// row's run s starts segment_step floats after its run s - 1: a convolution
// reading its patches straight from a channels-last image, one kernel row
// per run (rows lda = stride * channels apart, overlapping), with no im2col
// copy. The weights are packed in the same (ky, kx, ci) order either way.
// fetch_lines > 0 (with FetchNext): instead of NR floats of next_panel per
// step, the tile asks for fetch_lines cache lines from next_panel on, spread
// evenly over its first run of the depth, a few lines every 16 steps: its
// share of a panel that all the chunk's tiles fetch together (see tiles()).
template <class Arch, Activation Act, bool AddAfter, int MR = GemmTiles<Arch>::MR, bool FetchNext = false,
          bool Segmented = false>
inline void micro_tile(int k, const float* a, std::size_t lda, int rows, const float* bp, float* c, std::size_t ldc,
                       int cols, TileStart start, const TileFinish& f, const float* next_panel = nullptr,
                       int segments = 1, std::ptrdiff_t segment_step = 0, int fetch_lines = 0) {
  using B = xsimd::batch<float, Arch>;
  using T = GemmTiles<Arch>;
  constexpr int NR = T::NR, L = T::kLanes;
  const bool full = cols == NR;

  // A ragged last panel goes through small padded copies of C and of the residual coefficients.
  alignas(kBufferAlignment) float edge[MR * NR];
  alignas(kBufferAlignment) float edge_scale[NR], edge_shift[NR];
  float* dst = c;
  std::size_t ld = ldc;
  const float* res_scale = f.res_scale;
  const float* res_shift = f.res_shift;
  if (!full) {
    for (int r = 0; r < rows; ++r) {
      std::memcpy(edge + r * NR, c + r * ldc, sizeof(float) * static_cast<std::size_t>(cols));
      std::fill(edge + r * NR + cols, edge + (r + 1) * NR, 0.0f);
    }
    dst = edge;
    ld = NR;
    if (res_scale) {
      std::fill(std::copy_n(res_scale, cols, edge_scale), edge_scale + NR, 1.0f);
      res_scale = edge_scale;
    }
    if (res_shift) {
      std::fill(std::copy_n(res_shift, cols, edge_shift), edge_shift + NR, 0.0f);
      res_shift = edge_shift;
    }
  }
  // The residual C * scale + shift of row r, columns [half L, half L + L). The
  // coefficients are reloaded at each use (from L1): kept in registers across
  // the depth loop they would push accumulators out of the register file.
  auto residual = [&](int r, int half) RIFORMER_ALWAYS_INLINE {
    const B v = B::load_unaligned(dst + r * ld + half * L);
    const B scale = res_scale ? B::load_unaligned(res_scale + half * L) : B(1.0f);
    const B shift = res_shift ? B::load_unaligned(res_shift + half * L) : B(0.0f);
    return fmadd(v, scale, shift);
  };

  // A tile that only stores to C asks for its lines early, for writing: they
  // arrive while the depth loop runs, instead of stalling the stores at the
  // end. GEMMs with many rows and a short depth, whose output leaves the
  // caches, gained most (Zen 4, 1 thread: 6400 x 64 x 256 from 69-77% of the
  // peak to 83-87%). With AVX-512, whose tile asks for 28 lines, row r's
  // lines are asked for at depth step r rather than all at once, which keeps
  // the core's miss buffers free for the loads of A and B: a further 2-5% on
  // most such shapes. (At step 2r, as first written, GCC 12 spilled
  // accumulators in the loop that asks; one row a step runs without spills and
  // was 1-7% faster on each of the 7 shapes tried: 784 to 25600 rows, depth
  // 64 to 320.)
  // AVX2's tile asks for 6, and spread out they came too late (the S12
  // detector 2-3% slower). (One tile ahead did not help.)
  constexpr bool kSpreadPrefetches = MR * NR * sizeof(float) / 64 > 12;
  auto prefetch_c_row = [&](int r) RIFORMER_ALWAYS_INLINE {
    __builtin_prefetch(dst + r * ld, 1, 3);
    __builtin_prefetch(dst + r * ld + NR - 1, 1, 3);
  };
  // Rows whose lines are asked for in the depth loop; the others, at once.
  const int run = Segmented ? k / segments : k;  // depth steps before the rows jump (a conv's kernel row)
  const int spread_rows = kSpreadPrefetches && start == TileStart::zero ? std::min(run, rows) : 0;
  if (start == TileStart::zero)
    for (int r = spread_rows; r < rows; ++r) prefetch_c_row(r);
  const float* row[MR];
  B acc[MR][2];
  unroll<MR>([&](auto r) RIFORMER_ALWAYS_INLINE {
    row[r] = a + static_cast<std::size_t>(r < rows ? static_cast<int>(r) : rows - 1) * lda;
    if (start == TileStart::residual && r < rows) {
      acc[r][0] = residual(r, 0);
      acc[r][1] = residual(r, 1);
    } else {
      acc[r][0] = acc[r][1] = B(0.0f);
    }
  });

  // One step of the depth: value p of every row times the panel's next NR
  // weights. Rows go in pairs (two broadcasts live at once) and the loops below
  // end on the panel pointer, not on a count. Both keep GCC 12 from parking one
  // of the 14 row pointers in the one vector register the AVX-512 tile leaves
  // free and moving it back every step (most likely on a pipe the FMAs
  // need): that cost the tile 3% of its speed on Zen 4 (operands in L1, depth
  // 320 to 1024: 97% of the FMA peak against 100%). benchmarks/hot_loops.py
  // lists a binary's micro-kernel loops and any such moves in them.
  const bool spread_fetch = FetchNext && fetch_lines > 0;
  auto depth_step = [&](int p) RIFORMER_ALWAYS_INLINE {
    if constexpr (FetchNext) {
      if (!spread_fetch) {
        __builtin_prefetch(next_panel, 0, 2);
        __builtin_prefetch(next_panel + L, 0, 2);
        next_panel += NR;
      }
    }
    const B b0 = B::load_aligned(bp);
    const B b1 = B::load_aligned(bp + L);
    auto multiply_add = [&](int r, const B& av) RIFORMER_ALWAYS_INLINE {
      acc[r][0] = fmadd(av, b0, acc[r][0]);
      acc[r][1] = fmadd(av, b1, acc[r][1]);
    };
    unroll<MR / 2>([&](auto h) RIFORMER_ALWAYS_INLINE {
      const B av0(row[2 * h][p]), av1(row[2 * h + 1][p]);
      multiply_add(2 * h, av0);
      multiply_add(2 * h + 1, av1);
    });
    if constexpr (MR % 2 == 1) multiply_add(MR - 1, B(row[MR - 1][p]));
    bp += NR;
  };
  // Steps [from, to) of the depth.
  auto depth_steps = [&](int from, int to) RIFORMER_ALWAYS_INLINE {
    for (const float* const end = bp + static_cast<std::ptrdiff_t>(to - from) * NR; bp != end; ++from) depth_step(from);
  };
  // The first run asks for C's lines as it goes; a segmented depth runs on
  // from where each row's next kernel row starts.
  int p = 0;
  for (; p < spread_rows; ++p) {
    prefetch_c_row(p);
    depth_step(p);
  }
  if (spread_fetch) {  // a share of the next panel, a few lines every kGroup steps
    constexpr int kGroup = 16;
    const int groups = std::max(1, (run - p + kGroup - 1) / kGroup);
    const int per_group = (fetch_lines + groups - 1) / groups;
    while (fetch_lines > 0 && p < run) {
      for (int i = 0; i < per_group && fetch_lines > 0; ++i, --fetch_lines) {
        __builtin_prefetch(next_panel, 0, 2);
        next_panel += kCacheLineBytes / sizeof(float);
      }
      const int stop = std::min(run, p + kGroup);
      depth_steps(p, stop);
      p = stop;
    }
  }
  depth_steps(p, run);
  if constexpr (Segmented) {
    for (int s = 1; s < segments; ++s) {
      unroll<MR>([&](auto r) RIFORMER_ALWAYS_INLINE { row[r] += segment_step; });
      depth_steps(0, run);
    }
  }

  const B bias0 = B::load_aligned(f.bias), bias1 = B::load_aligned(f.bias + L);
  B sum0(0.0f), sum1(0.0f), sq0(0.0f), sq1(0.0f);
  unroll<MR>([&](auto r) RIFORMER_ALWAYS_INLINE {
    if (r < rows) {
      B v0 = activate<Act>(acc[r][0] + bias0);
      B v1 = activate<Act>(acc[r][1] + bias1);
      if constexpr (AddAfter) {
        v0 += residual(r, 0);
        v1 += residual(r, 1);
      }
      v0.store_unaligned(dst + r * ld);
      v1.store_unaligned(dst + r * ld + L);
      if (f.col_sum) {
        sum0 += v0;
        sum1 += v1;
        sq0 = fmadd(v0, v0, sq0);
        sq1 = fmadd(v1, v1, sq1);
      }
    }
  });
  if (f.col_sum) {
    alignas(kBufferAlignment) float s[NR], q[NR];
    sum0.store_aligned(s);
    sum1.store_aligned(s + L);
    sq0.store_aligned(q);
    sq1.store_aligned(q + L);
    for (int j = 0; j < cols; ++j) {
      f.col_sum[j] += s[j];
      f.col_sum_sq[j] += q[j];
    }
  }

  if (!full)
    for (int r = 0; r < rows; ++r) std::memcpy(c + r * ldc, edge + r * NR, sizeof(float) * static_cast<std::size_t>(cols));
}

}  // namespace detail
}  // namespace riformer::kernels
