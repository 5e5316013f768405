#pragma once
// The GEMM behind every 1x1 convolution (and, through im2col, every k x k one):
//
//   C[i, 0:n] = epilogue( prologue(A[i, 0:k]) . B + bias ),  i in [0, m)
//
// A is the activation matrix, channels-last (one row per pixel, row stride lda);
// B is the layer's weight matrix (k x n), packed once at load into panels of NR
// columns; C is written with row stride ldc, so a layer can write straight into
// its slice of a concatenated buffer. The prologue is a per-column affine of A
// (a GroupNorm folded into the consumer); the epilogue (bias, activation,
// scaled residual, column sums) runs while the tile is still in registers, so
// none of these costs a pass over memory.
//
// Work is split into chunks of rows (and, when there are few, of panels); a
// chunk runs MR-row micro tiles over every panel of its range, reading A's rows
// in place (see gemm_microkernel.hpp for why they are not packed).

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <type_traits>

#include "riformer/core/aligned_buffer.hpp"
#include "riformer/core/arch.hpp"
#include "riformer/core/context.hpp"
#include "riformer/core/error.hpp"
#include "riformer/core/thread_pool.hpp"
#include "riformer/kernels/activation.hpp"
#include "riformer/kernels/gemm_microkernel.hpp"
#include "riformer/kernels/reference.hpp"

namespace riformer::kernels {

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

// Packs the k x n matrix whose element (row kk, column col) is b(kk, col), and
// bias (n values, or null for none). Layers pass their weights through an
// accessor (PyTorch's [n, k] order, a transposition, a folded scale) so that no
// intermediate copy of a large matrix is made at load.
template <class Arch = DefaultArch, class Element>
[[nodiscard]] PackedMatrix pack_matrix_with(int k, int n, Element b, const float* bias) {
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
        if (col < n) p.weights[(static_cast<std::size_t>(panel) * k + kk) * nr + j] = b(kk, col);
      }
  if (bias) std::copy(bias, bias + n, p.bias.data());
  return p;
}

// Packs b (k x n, row-major) and bias (n values, or null for none).
template <class Arch = DefaultArch>
[[nodiscard]] PackedMatrix pack_matrix(const float* b, const float* bias, int k, int n) {
  return pack_matrix_with<Arch>(k, n, [&](int kk, int col) { return b[static_cast<std::size_t>(kk) * n + col]; }, bias);
}

// The column count, at least n, from which on gemm() writes whole panels only
// (no ragged last panel): a layer whose output buffer it owns can pad its
// weights with zero columns to this and spare every tile the edge handling.
template <class Arch = DefaultArch>
[[nodiscard]] constexpr int gemm_padded_columns(int n) {
  constexpr int NR = GemmTiles<Arch>::NR;
  return (n + NR - 1) / NR * NR;
}

// A'[i, j] = A[i, j] * scale[j] + shift[j], applied as A is read; both
// null: A as it is. (k values each.)
struct GemmPrologue {
  const float* scale = nullptr;
  const float* shift = nullptr;
};

// Per-column sums of the values written, for a GroupNorm that follows: gemm
// adds sum_i C[i, j] to sum[j] and sum_i C[i, j]^2 to sum_sq[j]. The partial
// sums of each block of rows go to `scratch` and are added in row order, so
// the result does not depend on the thread count or schedule.
struct ColumnStats {
  double* sum = nullptr;
  double* sum_sq = nullptr;
  double* scratch = nullptr;  // gemm_stats_scratch_doubles(m, n) doubles
};

// What happens to a tile after the dot products:
//   out = act(acc + bias)                                     (accumulate = false)
//   out = act(acc + bias) + C * residual_scale + residual_shift  (accumulate = true;
//         scale and shift are per column, null meaning 1 and 0: a plain residual add)
// plus, with stats.sum set, the column sums of out.
struct GemmEpilogue {
  Activation act = Activation::none;
  bool accumulate = false;
  const float* residual_scale = nullptr;
  const float* residual_shift = nullptr;
  ColumnStats stats{};
};

// The epilogues a call site can ask for, fixed when it compiles (template
// argument `Kinds` of gemm, conv2d and fused_mlp): its activations, and
// whether a residual may be added after one (accumulate with an activation).
// Each of those compiles its own micro-kernels; a layer that names its kind
// keeps the others out of the binary. A residual without an activation is
// the accumulators' starting value and needs no kernels of its own. Any
// epilogue by default.
struct EpilogueKinds {
  ActivationSet activations{};
  bool add_after_activation = true;
};
inline constexpr EpilogueKinds kAnyEpilogue{};
inline constexpr EpilogueKinds kLinearEpilogue{kOnlyNone, false};  // bias, residual, stats; no activation
inline constexpr EpilogueKinds kGeluEpilogue{kOnlyGelu, false};
inline constexpr EpilogueKinds kSiluEpilogue{kOnlySilu, false};

// Weights up to this size stay in L2 (half of a 1 MiB one) from one row chunk
// to the next; larger ones come from L3 or memory for every chunk.
inline constexpr std::size_t kCachedWeightBytes = 512 * 1024;
// A GEMM of at most this many row chunks reads its weights (when they are
// fetched ahead at all) mostly from memory: each chunk reads them once, and
// the first read of a layer's weights comes from memory. Every tile of a chunk
// then fetches its share of the next panel (tiles()). With more chunks the
// weights stay in L3 after the first, and one tile per panel fetching from
// there was as fast or faster (Xeon, 2026-12-01: spread out, S12's stage 2 at
// 640x640 was 3-4% slower and M36's 2-4%; 15 chunks each).
inline constexpr int kSpreadFetchMaxChunks = 4;
// A micro tile's rows of A up to this size stay in L1 (half of a 32 KiB one)
// while the tile runs over the panels of B.
inline constexpr std::size_t kL1TileBytes = 16 * 1024;

// A row chunk's floats of A (what stays in L2 while its panels go by), and
// its most tiles.
inline constexpr std::size_t kChunkFloats = 96 * 1024;
inline constexpr int kMaxChunkTiles = 8;

// Rows per chunk of work: also the unit of ColumnStats' partial sums, so it
// depends on the shape only, never on the thread count. A chunk's rows of A
// (k floats each) are reused by every panel, so they should stay in L2
// (about 384 KiB of it, leaving room for a panel of B): deep layers get short
// chunks. With a prologue the transformed rows live in the worker's scratch.
template <class Arch = DefaultArch>
[[nodiscard]] int gemm_chunk_rows(int k, bool prologue) {
  constexpr int MR = GemmTiles<Arch>::MR;
  const std::size_t budget = prologue ? std::min(kChunkFloats, Context::kScratchFloats) : kChunkFloats;
  return std::clamp(static_cast<int>(budget / static_cast<std::size_t>(k)) / MR * MR, MR, kMaxChunkTiles * MR);
}

// Depth steps per slice when a depth of k is cut into `slices`.
[[nodiscard]] constexpr int gemm_slice_depth(int k, int slices) { return (k + slices - 1) / slices; }

// Into how many slices a product of m rows cuts its depth k: one, unless the
// depth alone keeps a row chunk shorter than the rows there are (up to a
// chunk's limit); then into slices short enough for such a chunk (rows in
// scratch: as gemm_chunk_rows' `prologue`, the rows being copied there). A chunk
// runs its slices one after the other over all its panels, the partial sums
// going through C (in L2), so that a deep product on few rows reads its
// weights once instead of once per short chunk: 100 x 3072 x 768 (M36's last
// stage at 320x320) was four chunks of 28 rows, each reading 9.4 MB of
// weights; now it is one chunk in four slices. (Xeon, 2026-12-01, 1 thread,
// interleaved rounds of `bench --layers`: that stage 32.0-34.8 ms against
// 37.8-40.9, at 640x640 127.7-132.7 against 141.8-143.5; S12's last stage
// 3-7% faster; the other stages, whose fc2 is sliced in two, unchanged.)
template <class Arch = DefaultArch>
[[nodiscard]] int gemm_depth_slices(int m, int k, bool in_scratch) {
  constexpr int MR = GemmTiles<Arch>::MR;
  const int wanted = std::min((m + MR - 1) / MR * MR, kMaxChunkTiles * MR);
  int slices = 1;
  auto rows = [&](int s) { return gemm_chunk_rows<Arch>(gemm_slice_depth(k, s) + kUnaliasedPadFloats, in_scratch); };
  while (slices < k && rows(slices) < wanted) ++slices;
  return slices;
}

// Doubles of ColumnStats::scratch a gemm of m rows and n columns needs (an upper bound for any depth).
template <class Arch = DefaultArch>
[[nodiscard]] std::size_t gemm_stats_scratch_doubles(int m, int n) {
  const int rows_per_chunk = GemmTiles<Arch>::MR;  // the smallest chunk any depth uses
  const std::size_t chunks = static_cast<std::size_t>((m + rows_per_chunk - 1) / rows_per_chunk);
  return chunks * 2 * static_cast<std::size_t>(n);
}

namespace detail {

// Adds the per-chunk partial column sums (chunk b at scratch + 2 n b) into stats, in chunk order.
inline void reduce_column_stats(const ColumnStats& stats, int chunks, int n) {
  for (int b = 0; b < chunks; ++b) {
    const double* part = stats.scratch + static_cast<std::size_t>(b) * 2 * n;
    for (int j = 0; j < n; ++j) {
      stats.sum[j] += part[j];
      stats.sum_sq[j] += part[n + j];
    }
  }
}

// The tile epilogue of panel p of b, with the chunk's partial sums `part` (or null).
inline TileFinish panel_finish(const PackedMatrix& b, int p, const GemmEpilogue& ep, double* part) {
  const int col0 = p * b.panel_width;
  return {b.bias.data() + col0, ep.residual_scale ? ep.residual_scale + col0 : nullptr,
          ep.residual_shift ? ep.residual_shift + col0 : nullptr, part ? part + col0 : nullptr,
          part ? part + b.n + col0 : nullptr};
}

// Tiles whose rows are read in place from a channels-last image (see
// micro_tile's Segmented) instead of from `a`: none, for a plain GEMM.
struct NoDirectRows {
  static constexpr bool kAny = false;
};
// For a convolution: tile i of the chunk (rows [i MR, i MR + MR)) starts at
// tile_start[i] in the image, or, where null, is read from `a` (im2col'd).
struct DirectRows {
  static constexpr bool kAny = true;
  const float* const* tile_start;
  std::size_t lda;              // floats between consecutive patches: stride * channels
  int segments;                 // kernel rows per patch
  std::ptrdiff_t segment_step;  // floats between image rows
};

// Depth steps [begin, end) of b, for a product whose depth is split (see
// gemm_depth_slices; `a` then points at step begin): a slice before the last
// writes its plain sums (no bias), which the next one starts from.
struct DepthSlice {
  int begin = 0, end = -1;  // end < 0: the whole depth
  bool add_bias = true;
};

// MR-row tiles of rows [0, rows) of a over panels [p_begin, p_end) of b, into
// c, in one of two orders (below): rows outer where B stays in L2 and a tile's
// rows fit in L1, panels outer otherwise. Weights too large to stay in L2 are
// fetched ahead: a tile of each panel but the last (the second; in the first
// panel, the last) brings the next panel into L2, or, in a GEMM of at most
// kSpreadFetchMaxChunks row chunks, every tile a share of it (below). With
// their weights out of cache, GEMMs of 49 and 100 rows (the last stage at
// 224x224 and 320x320) ran 9-17% faster, 400 rows 2%. Smaller weights are in
// L2 already.
template <class Arch, Activation Act, bool AddAfter, class Direct = NoDirectRows>
inline void tiles(const float* a, std::size_t lda, int rows, const PackedMatrix& b, int p_begin, int p_end, float* c,
                  std::size_t ldc, const GemmEpilogue& ep, double* part, const Direct& direct = {},
                  bool few_chunks = false, DepthSlice slice = {}) {
  constexpr int MR = GemmTiles<Arch>::MR, NR = GemmTiles<Arch>::NR;
  const TileStart start = ep.accumulate && !AddAfter ? TileStart::residual : TileStart::zero;
  constexpr int kHalf = (MR + 1) / 2;
  const bool fetch_panels = static_cast<std::size_t>(b.k) * b.panels() * NR * sizeof(float) > kCachedWeightBytes;
  const int last_tile = (rows - 1) / MR * MR;
  const int depth = slice.end < 0 ? b.k : slice.end - slice.begin;
  auto panel = [&](int p) { return b.panel(p) + static_cast<std::size_t>(slice.begin) * NR; };
  alignas(kBufferAlignment) static constexpr float kNoBias[NR] = {};
  // Tile t of panel p; `next`, if set, is brought into L2 while it computes
  // (fetch_lines > 0: only that many lines of it, spread over the depth).
  auto one_tile = [&](int p, int t, const float* next, int fetch_lines = 0) RIFORMER_ALWAYS_INLINE {
    TileFinish finish = panel_finish(b, p, ep, part);
    if (!slice.add_bias) finish.bias = kNoBias;
    const int cols = std::min(NR, b.n - p * NR);
    const float* at = a + static_cast<std::size_t>(t) * lda;
    float* ct = c + static_cast<std::size_t>(t) * ldc + p * NR;
    const int left = rows - t;
    auto tile = [&](auto fetch, auto in_place) RIFORMER_ALWAYS_INLINE {
      constexpr bool kFetch = decltype(fetch)::value, kInPlace = decltype(in_place)::value;
      const float* src = at;
      std::size_t ld = lda;
      int segments = 1;
      std::ptrdiff_t step = 0;
      if constexpr (Direct::kAny) {  // (nested: Clang checks `direct`'s members in a discarded branch otherwise)
        if constexpr (kInPlace) {
          src = direct.tile_start[t / MR];
          ld = direct.lda;
          segments = direct.segments;
          step = direct.segment_step;
        }
      }
      if (left <= kHalf)  // a short last tile: half the height, half the wasted work
        micro_tile<Arch, Act, AddAfter, kHalf, kFetch, kInPlace>(depth, src, ld, left, panel(p), ct, ldc, cols, start,
                                                                 finish, next, segments, step, fetch_lines);
      else
        micro_tile<Arch, Act, AddAfter, MR, kFetch, kInPlace>(depth, src, ld, std::min(MR, left), panel(p), ct, ldc,
                                                              cols, start, finish, next, segments, step, fetch_lines);
    };
    auto from_source = [&](auto fetch) RIFORMER_ALWAYS_INLINE {
      if constexpr (Direct::kAny) {
        if (direct.tile_start[t / MR]) return tile(fetch, std::true_type{});
      }
      tile(fetch, std::false_type{});
    };
    if (next)
      from_source(std::true_type{});
    else
      from_source(std::false_type{});
  };
  // The next tile's rows of A, for the tile before it to bring into L2: A
  // comes from memory or L3 the first time a chunk reads it, and 14 rows read
  // side by side, one float at a time, are more streams than the hardware
  // prefetchers follow. (Zen 4, 1 thread: 25600 x 256 x 64 from 75 to 98
  // GFLOP/s, 6400 x 384 x 96 from 93 to 107.)
  auto rows_after = [&](int t) -> const float* {
    if constexpr (Direct::kAny) {  // a tile read from the image fetches nothing: its rows overlap the last tile's
      if (t != last_tile && direct.tile_start[t / MR + 1]) return nullptr;
    }
    return t == last_tile ? nullptr : a + static_cast<std::size_t>(t + MR) * lda;
  };
  if (!fetch_panels && static_cast<std::size_t>(MR) * depth * sizeof(float) <= kL1TileBytes) {
    // Rows outer: a tile's rows stay in L1 while it runs over every panel of
    // B (in L2), and C is written row after row instead of one NR-wide strip
    // of the whole chunk per panel, which the write-allocate traffic of a C
    // larger than the caches follows better (Zen 4, 1 thread, 3 rounds:
    // 25600 x 64 x 256 from 77-80 to 87-89 GFLOP/s; 25600 x 96 x 384 from
    // 84-91 to 96-97).
    for (int t = 0; t < rows; t += MR)
      for (int p = p_begin; p < p_end; ++p) one_tile(p, t, p + 1 == p_end ? rows_after(t) : nullptr);
    return;
  }
  // Panels outer: each panel of B is read once per chunk and reused by all
  // its tiles while the chunk's rows of A stay in L2.
  // Weights mostly from memory (few_chunks): from the second panel on, tile j
  // of the chunk's T fetches the j-th T-th of the next panel, spread over its
  // depth, instead of one tile fetching all of it two lines a step. One
  // core's few outstanding misses do not carry that burst from memory, and
  // the next panel's first tiles waited for it. (Xeon, 2026-12-01, 1 thread,
  // interleaved rounds of `bench --layers`: M36 at 320x320, stage 3 (100 rows,
  // 9.4 MB per product) 38.0-39.1 ms against 43.5-44.0; at 640x640 131.7-132.1
  // against 135.6-136.1; S12 at 640x640 18.6-19.4 against 19.3-20.6.)
  const int tile_count = (rows + MR - 1) / MR;
  const bool spread_fetches = few_chunks && fetch_panels && tile_count > 1;
  constexpr std::size_t kLineFloats = kCacheLineBytes / sizeof(float);
  const int panel_lines = static_cast<int>(static_cast<std::size_t>(depth) * NR / kLineFloats);
  const int share_lines = (panel_lines + tile_count - 1) / tile_count;  // each tile's share
  for (int p = p_begin; p < p_end; ++p) {
    if (spread_fetches && p != p_begin && p + 1 != p_end) {
      for (int t = 0, j = 0; t < rows; t += MR, ++j) {
        const int first = std::min(panel_lines, j * share_lines);
        one_tile(p, t, panel(p + 1) + static_cast<std::size_t>(first) * kLineFloats,
                 std::max(1, std::min(share_lines, panel_lines - first)));  // (at least 1: spread, not a full panel)
      }
      continue;
    }
    const int fetching_tile = !fetch_panels || p + 1 == p_end ? -1 : p == p_begin ? last_tile : rows > MR ? MR : 0;
    for (int t = 0; t < rows; t += MR)
      one_tile(p, t, t == fetching_tile ? panel(p + 1) : p == p_begin ? rows_after(t) : nullptr);
  }
}

// How a gemm of `chunks` chunks and `panels` panels is split into tasks: with
// few chunks (small images, deep stages) the panels are split too, and so they
// are when the tasks would not share out evenly: 7 chunks on 2 threads keep
// one thread idle for an eighth of the time (14 half-width tasks do not), and
// so do 4 chunks whose last one is short (M = 100 in chunks of 28 rows: one
// thread gets 56 rows, the other 44). `last_chunk_share` is the last chunk's
// rows over a full chunk's. Rows are never split further: the chunks fix the
// order of the column sums.
struct Split {
  int column_groups, panels_per_group;
};
inline Split split_columns(int chunks, int panels, int threads, double last_chunk_share = 1.0) {
  auto split = [&](int groups) {
    const int per_group = (panels + groups - 1) / groups;
    return Split{(panels + per_group - 1) / per_group, per_group};
  };
  // The share of thread time left idle, as the pool schedules the tasks (in
  // chunk_task's order), each costing its rows times its panels.
  auto idle = [&](Split s) {
    return ThreadPool::idle_share(chunks * s.column_groups, threads, [&](int task) {
      const int c = task % chunks, g = task / chunks;
      return (c == chunks - 1 ? last_chunk_share : 1.0) * std::min(s.panels_per_group, panels - g * s.panels_per_group);
    });
  };
  int groups = chunks < 2 * threads ? std::min(panels, (2 * threads + chunks - 1) / chunks) : 1;
  Split best = split(groups);
  for (int g = groups + 1; g <= std::min(panels, 4 * groups) && idle(best) > 0.03; ++g)
    if (idle(split(g)) < idle(best)) best = split(g);
  return best;
}

// The rows of the last of `chunks` chunks of `chunk` rows covering m rows, over `chunk`.
[[nodiscard]] inline double last_chunk_share(int m, int chunk, int chunks) {
  return static_cast<double>(m - (chunks - 1) * chunk) / chunk;
}

// What one task of a split product covers: chunk `index`, i.e. rows
// [first, first + rows), over panels [p_begin, p_end). Tasks run through the
// chunks of the first column group, then of the next: the pool gives each
// thread a contiguous range of tasks, so split rows-first a thread owns a
// block of rows, and split by columns a share of every chunk (chunks of
// uneven rows would not share out).
struct ChunkTask {
  int index, first, rows, p_begin, p_end;
};
inline ChunkTask chunk_task(int task, int chunk, int m, int panels, const Split& split) {
  const int chunks = (m + chunk - 1) / chunk;
  const int index = task % chunks, first = index * chunk;
  const int p_begin = task / chunks * split.panels_per_group;
  return {index, first, std::min(chunk, m - first), p_begin, std::min(panels, p_begin + split.panels_per_group)};
}

// The task's chunk's block of partial column sums (sums at [0, n), squares at
// [n, 2n)) with the columns of the task's panels zeroed; null without stats.
inline double* task_partial_sums(const ColumnStats& stats, const ChunkTask& t, int n, int panel_width) {
  if (!stats.sum) return nullptr;
  double* part = stats.scratch + static_cast<std::size_t>(t.index) * 2 * n;
  for (int j = t.p_begin * panel_width; j < std::min(n, t.p_end * panel_width); ++j) part[j] = part[n + j] = 0.0;
  return part;
}

// Calls f.template operator()<Act, AddAfter>() for the epilogue's activation.
// Without an activation the residual is the accumulators' starting value; with
// one it must be added after the activation. Only `Kinds` are compiled.
template <EpilogueKinds Kinds, class F>
void with_epilogue(const GemmEpilogue& ep, F&& f) {
  with_activation<Kinds.activations>(ep.act, [&]<Activation Act>() {
    if (Act == Activation::none || !ep.accumulate) return f.template operator()<Act, false>();
    if constexpr (Kinds.add_after_activation) return f.template operator()<Act, true>();
    fail("kernel call: a residual added after the ", activation_name(Act),
         " activation was not compiled in for this call site");
  });
}

// Refuses an epilogue outside `Kinds` as with_epilogue does, for the scalar
// paths, which have nothing to dispatch: a call behaves the same on every target.
template <EpilogueKinds Kinds>
void require_compiled_in(const GemmEpilogue& ep) {
  with_epilogue<Kinds>(ep, []<Activation, bool>() {});
}

// How slice s of `slices` of a depth-sliced product (no activation) runs:
// the first starts as the epilogue asks (from zero or from the residual in
// C), the others from the sums the one before left in C (as they are); only
// the last adds the bias and the column sums (into `part`).
struct SliceRun {
  GemmEpilogue start;
  double* part;
  bool last;
};
inline SliceRun slice_run(const GemmEpilogue& ep, double* part, int s, int slices) {
  const bool last = s + 1 == slices;
  return {s == 0 ? GemmEpilogue{Activation::none, ep.accumulate, ep.residual_scale, ep.residual_shift}
                 : GemmEpilogue{Activation::none, true},
          last ? part : nullptr, last};
}

// One chunk's rows [0, rows) of a over panels [p_begin, p_end), the depth in
// `slices` slices of slice_depth steps (see gemm_depth_slices), each run as
// slice_run says. Rows whose stride aliases in L1 are copied to
// `scratch` a slice at a time. Epilogues without an activation only: the
// products it was measured on are the MLPs' second layers, and an
// activation's GEMM would then run its slices through two paths of tiles.
template <class Arch>
void depth_sliced_tiles(const float* a, std::size_t lda, int rows, const PackedMatrix& b, int p_begin, int p_end,
                        float* c, std::size_t ldc, const GemmEpilogue& ep, double* part, bool few_chunks, int slices,
                        int slice_depth, float* scratch) {
  for (int s = 0; s < slices; ++s) {
    const int k0 = s * slice_depth, k1 = std::min(b.k, k0 + slice_depth);
    const float* slice_a = a + k0;  // (rows, k1 - k0), row stride ld
    std::size_t ld = lda;
    if (rows_alias_in_l1(lda)) {
      ld = unaliased_stride(static_cast<std::size_t>(k1 - k0));
      copy_rows(slice_a, lda, rows, k1 - k0, ld, scratch);
      slice_a = scratch;
    }
    const SliceRun run = slice_run(ep, part, s, slices);
    tiles<Arch, Activation::none, false>(slice_a, ld, rows, b, p_begin, p_end, c, ldc, run.start, run.part, {}, few_chunks,
                                         {k0, k1, run.last});
  }
}

template <class Arch, Activation Act, bool AddAfter>
void gemm_chunks(const Context& ctx, int m, const float* a, std::size_t lda, const PackedMatrix& b, float* c,
                 std::size_t ldc, const GemmPrologue& pro, const GemmEpilogue& ep) {
  const int k = b.k, n = b.n, panels = b.panels();
  const bool prologue = pro.scale != nullptr;
  require(!prologue || static_cast<std::size_t>(GemmTiles<Arch>::MR) * k <= Context::kScratchFloats, "gemm: depth ", k,
          " too large for the prologue scratch");
  constexpr bool kSliceable = Act == Activation::none;  // (see depth_sliced_tiles)
  const bool in_scratch = prologue || rows_alias_in_l1(lda);  // (copied to an unaliased stride, or normalized)
  const int slices = !kSliceable || prologue ? 1 : gemm_depth_slices<Arch>(m, k, in_scratch);
  const int slice_depth = gemm_slice_depth(k, slices);
  const int chunk = gemm_chunk_rows<Arch>(slice_depth + kUnaliasedPadFloats, in_scratch);
  const int chunks = (m + chunk - 1) / chunk;
  const Split split = split_columns(chunks, panels, ctx.threads(), last_chunk_share(m, chunk, chunks));
  const bool stats = ep.stats.sum != nullptr;
  const bool few_chunks = chunks <= kSpreadFetchMaxChunks;

  ctx.parallel(chunks * split.column_groups, [&](int task, int worker) {
    const ChunkTask t = chunk_task(task, chunk, m, panels, split);
    const float* rows_a = a + static_cast<std::size_t>(t.first) * lda;
    float* rows_c = c + static_cast<std::size_t>(t.first) * ldc;
    double* part = task_partial_sums(ep.stats, t, n, b.panel_width);
    if constexpr (kSliceable) {
      if (slices > 1) {
        // (rows, slice) at the slice's unaliased stride, which for a shorter last slice may be the longer one
        const std::size_t copied = rows_alias_in_l1(lda) ? t.rows * (slice_depth + kUnaliasedPadFloats) : 0;
        depth_sliced_tiles<Arch>(rows_a, lda, t.rows, b, t.p_begin, t.p_end, rows_c, ldc, ep, part, few_chunks,
                                 slices, slice_depth, ctx.scratch(worker, copied));
        return;
      }
    }
    std::size_t ld = lda;
    const std::size_t unaliased = unaliased_stride(static_cast<std::size_t>(k));
    if (prologue) {  // this chunk's rows, normalized, in the worker's scratch: (rows, k), row stride ld
      ld = unaliased;
      float* normalized = ctx.scratch(worker, t.rows * ld);
      affine_rows<Arch>(rows_a, lda, t.rows, k, pro.scale, pro.shift, ld, normalized);
      rows_a = normalized;
    } else if (rows_alias_in_l1(lda) && split.panels_per_group > 1 &&
               t.rows * unaliased <= Context::kScratchFloats) {  // copied to a stride that does not alias (if it fits)
      ld = unaliased;
      float* copy = ctx.scratch(worker, t.rows * ld);
      copy_rows(rows_a, lda, t.rows, k, ld, copy);
      rows_a = copy;
    }
    tiles<Arch, Act, AddAfter>(rows_a, ld, t.rows, b, t.p_begin, t.p_end, rows_c, ldc, ep, part, {}, few_chunks);
  });
  if (stats) reduce_column_stats(ep.stats, chunks, n);
}

}  // namespace detail

// C = epilogue(prologue(A) . B + bias); see the top of this file. `a` and `c` must not overlap.
// Any `c` and `ldc` work; rows that start on a 64-byte boundary (as the
// library's own buffers do) are fastest: a store that straddles two cache
// lines cost GEMMs that write much and compute little 10-20%.
// `Kinds`: the epilogues this call site can ask for (see EpilogueKinds).
template <class Arch = DefaultArch, EpilogueKinds Kinds = kAnyEpilogue>
void gemm(const Context& ctx, int m, const float* a, std::size_t lda, const PackedMatrix& b, float* c, std::size_t ldc,
          const GemmEpilogue& epilogue = {}, const GemmPrologue& prologue = {}) {
  if (m <= 0) return;
  require(!epilogue.stats.sum || (epilogue.stats.sum_sq && epilogue.stats.scratch), "gemm: column stats need sum_sq and scratch");
  require((prologue.scale == nullptr) == (prologue.shift == nullptr), "gemm: the prologue needs both scale and shift");
  if constexpr (!kIsSimd<Arch>) {
    // No SIMD unit: panels are one column wide, i.e. b is stored k x n row-major.
    detail::require_compiled_in<Kinds>(epilogue);
    reference::GemmOptions o{prologue.scale, prologue.shift, epilogue.act, epilogue.accumulate, epilogue.residual_scale,
                             epilogue.residual_shift, epilogue.stats.sum, epilogue.stats.sum_sq};
    reference::gemm(m, b.n, b.k, a, lda, b.weights.data(), b.bias.data(), c, ldc, o);
  } else {
    require(b.panel_width == GemmTiles<Arch>::NR, "gemm: matrix packed for another architecture");
    detail::with_epilogue<Kinds>(epilogue, [&]<Activation Act, bool AddAfter>() {
      detail::gemm_chunks<Arch, Act, AddAfter>(ctx, m, a, lda, b, c, ldc, prologue, epilogue);
    });
  }
}

}  // namespace riformer::kernels
