#pragma once
// Two pointwise layers in one pass over the rows:
//
//   out[i, :] = epilogue( act1(prologue(x[i, :]) . W1 + b1) . W2 + b2 )
//
// Rows go in tiles small enough that a tile's hidden activations (tile x
// hidden floats) stay in the worker's L2 cache between the two products,
// instead of being written to and read back from memory. That pays where the
// hidden layer is wide next to the work per value and the weights themselves
// stay cached: the first stages of a MetaFormer MLP. The epilogue is gemm()'s,
// so `out` may be `x` itself for a residual (same row stride).

#include <algorithm>
#include <cstddef>

#include "riformer/core/address_sanitizer.hpp"
#include "riformer/core/context.hpp"
#include "riformer/core/error.hpp"
#include "riformer/kernels/gemm.hpp"
#include "riformer/kernels/gemm_microkernel.hpp"

namespace riformer::kernels {

// Floats of a worker's scratch a tile may use (its normalized input and its
// hidden activations), leaving room in L2 for the weights.
inline constexpr std::size_t kFusedMlpTileFloats = 96 * 1024;

// Rows per tile for input width k and hidden width h.
template <class Arch = DefaultArch>
[[nodiscard]] int fused_mlp_tile_rows(int k, int h) {
  constexpr int MR = GemmTiles<Arch>::MR;
  return std::max(MR, static_cast<int>(kFusedMlpTileFloats / (unaliased_stride(static_cast<std::size_t>(k)) +
                                                               unaliased_stride(static_cast<std::size_t>(h)))) / MR * MR);
}

// Whether fusing pays: both weight matrices stay in L2 next to the tile, so
// each tile reuses them from cache.
[[nodiscard]] constexpr bool fused_mlp_worthwhile(int k, int h, int n) {
  return (static_cast<std::size_t>(k) * h + static_cast<std::size_t>(h) * n) * sizeof(float) <= kCachedWeightBytes;
}

// Doubles of ColumnStats::scratch fused_mlp() needs for m rows.
template <class Arch = DefaultArch>
[[nodiscard]] std::size_t fused_mlp_stats_scratch_doubles(int m, int k, int h, int n) {
  const int tile = fused_mlp_tile_rows<Arch>(k, h);
  return static_cast<std::size_t>((m + tile - 1) / tile) * 2 * static_cast<std::size_t>(n);
}

namespace detail {

template <class Arch, Activation Act1, Activation Act2, bool AddAfter>
void fused_mlp_tiles(const Context& ctx, int m, const float* x, std::size_t ldx, const GemmPrologue& pro,
                     const PackedMatrix& w1, const PackedMatrix& w2, float* out, std::size_t ldo, const GemmEpilogue& ep) {
  const int k = w1.k, h = w1.n, n = w2.n;
  const int tile = fused_mlp_tile_rows<Arch>(k, h);
  const int tile_count = (m + tile - 1) / tile;
  const bool stats = ep.stats.sum != nullptr;
  const GemmEpilogue hidden_epilogue{Act1};

  ctx.parallel(tile_count, [&](int task, int worker) {
    const int i0 = task * tile, rows = std::min(tile, m - i0);
    const std::size_t ldh = unaliased_stride(static_cast<std::size_t>(h)), ldn = unaliased_stride(static_cast<std::size_t>(k));
    const std::size_t hidden_floats = static_cast<std::size_t>(tile) * ldh;
    // With a prologue the normalized rows follow the hidden tile, after a gap
    // that ASan reports any access to (none in other builds), as between a
    // workspace's buffers.
    const std::size_t normalized_at = hidden_floats + kRedzoneFloats;
    float* hidden = ctx.scratch(worker, pro.scale ? normalized_at + rows * ldn : hidden_floats);  // (tile, h), row stride ldh
    float* normalized = hidden + normalized_at;  // (rows, k), row stride ldn, with a prologue
    if (pro.scale) poison_floats(hidden + hidden_floats, kRedzoneFloats);
    const float* in = x + static_cast<std::size_t>(i0) * ldx;
    std::size_t ld = ldx;
    if (pro.scale) {
      affine_rows<Arch>(in, ldx, rows, k, pro.scale, pro.shift, ldn, normalized);
      in = normalized;
      ld = ldn;
    }
    // hidden = act1(x' . W1 + b1), then out = epilogue(hidden . W2 + b2), all in cache.
    tiles<Arch, Act1, false>(in, ld, rows, w1, 0, w1.panels(), hidden, ldh, hidden_epilogue, nullptr);
    // One row chunk per task, all panels: the partial sums are the task's own.
    double* part = task_partial_sums(ep.stats, ChunkTask{task, i0, rows, 0, w2.panels()}, n, w2.panel_width);
    tiles<Arch, Act2, AddAfter>(hidden, ldh, rows, w2, 0, w2.panels(), out + static_cast<std::size_t>(i0) * ldo, ldo, ep, part);
  });
  if (stats) reduce_column_stats(ep.stats, tile_count, n);
}

}  // namespace detail

// See the top of this file. `out` may equal `x` (then ldo must equal ldx);
// otherwise they must not overlap. Without SIMD it runs the two products
// through gemm() with `hidden_fallback` (m x w1.n floats) in between.
// `Hidden`, `Kinds`: the activations of the hidden layer and the epilogues of
// the output this call site can ask for (see EpilogueKinds).
template <class Arch = DefaultArch, ActivationSet Hidden = ActivationSet{}, EpilogueKinds Kinds = kAnyEpilogue>
void fused_mlp(const Context& ctx, int m, const float* x, std::size_t ldx, const GemmPrologue& prologue,
               const PackedMatrix& w1, Activation act1, const PackedMatrix& w2, float* out, std::size_t ldo,
               const GemmEpilogue& epilogue, float* hidden_fallback = nullptr) {
  if (m <= 0) return;
  require(w2.k == w1.n, "fused_mlp: W1 gives ", w1.n, " values per row, W2 takes ", w2.k);
  require(out != x || ldo == ldx, "fused_mlp: in place needs the same row stride");
  require((prologue.scale == nullptr) == (prologue.shift == nullptr), "fused_mlp: the prologue needs both scale and shift");
  if constexpr (!kIsSimd<Arch>) {
    require(hidden_fallback != nullptr, "fused_mlp: the scalar fallback needs a hidden buffer");
    detail::require_compiled_in<EpilogueKinds{Hidden, false}>({act1});
    detail::require_compiled_in<Kinds>(epilogue);
    gemm<Arch>(ctx, m, x, ldx, w1, hidden_fallback, static_cast<std::size_t>(w1.n), {act1}, prologue);
    gemm<Arch>(ctx, m, hidden_fallback, static_cast<std::size_t>(w1.n), w2, out, ldo, epilogue);
  } else {
    require(static_cast<std::size_t>(fused_mlp_tile_rows<Arch>(w1.k, w1.n)) *
                        (unaliased_stride(static_cast<std::size_t>(w1.k)) + unaliased_stride(static_cast<std::size_t>(w1.n))) +
                    kRedzoneFloats <=
                Context::kScratchFloats,
            "fused_mlp: a ", w1.k, " -> ", w1.n, " layer is too wide for the tile scratch; use gemm()");
    with_activation<Hidden>(act1, [&]<Activation Act1>() {
      detail::with_epilogue<Kinds>(epilogue, [&]<Activation Act2, bool AddAfter>() {
        detail::fused_mlp_tiles<Arch, Act1, Act2, AddAfter>(ctx, m, x, ldx, prologue, w1, w2, out, ldo, epilogue);
      });
    });
  }
}

}  // namespace riformer::kernels
