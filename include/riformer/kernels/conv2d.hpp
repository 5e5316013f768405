#pragma once
// k x k convolution with stride and zero padding as a GEMM over unrolled
// patches (im2col): each task unrolls the patches of its own chunk of output
// pixels (one row of kernel*kernel*cin values per pixel) into its worker's
// scratch, where they stay in cache for the micro-kernels that consume them.
// On channels-last input the tiles away from the border skip the copy and
// read their patches in the image (see patches_in_place).
// One parallel region per convolution, no patch buffer in memory, and the
// GEMM's epilogue (bias, activation, residual, column sums) as is. Deep
// patches on few pixels run their depth in slices of whole kernel rows
// (conv2d_depth_slices), so that the weights are read by few chunks. A 1x1,
// stride-1, unpadded convolution over channels-last input is a plain GEMM.

#include <algorithm>
#include <cstddef>
#include <cstring>

#include "riformer/core/context.hpp"
#include "riformer/core/error.hpp"
#include "riformer/core/image_view.hpp"
#include "riformer/kernels/gemm.hpp"
#include "riformer/kernels/gemm_microkernel.hpp"

namespace riformer::kernels {

using riformer::ImageView;

struct ConvGeometry {
  int kernel = 1, stride = 1, pad = 0;

  [[nodiscard]] int out_height(int in_h) const { return (in_h + 2 * pad - kernel) / stride + 1; }
  [[nodiscard]] int out_width(int in_w) const { return (in_w + 2 * pad - kernel) / stride + 1; }
  [[nodiscard]] bool accepts(int in_h, int in_w) const { return in_h + 2 * pad >= kernel && in_w + 2 * pad >= kernel; }
  [[nodiscard]] bool is_pointwise() const { return kernel == 1 && stride == 1 && pad == 0; }
};

// Packs PyTorch conv weights [cout, cin, kernel, kernel] as the (kernel*kernel*cin) x cout
// matrix that multiplies im2col rows (row order: ky, kx, ci).
template <class Arch = DefaultArch>
[[nodiscard]] PackedMatrix pack_conv_weights(const float* w, const float* bias, int cout, int cin, int kernel) {
  const auto element = [&](int row, int co) {
    const int ci = row % cin, tap = row / cin, ky = tap / kernel, kx = tap % kernel;
    return w[((static_cast<std::size_t>(co) * cin + ci) * kernel + ky) * kernel + kx];
  };
  return pack_matrix_with<Arch>(kernel * kernel * cin, cout, element, bias);
}

// Unrolls the patches of output pixels [first, first + count) into rows of
// kernel*kernel*cin values (zeros where the patch hangs over the border); with
// a range of kernel rows [ky_begin, ky_end), only those rows of each patch:
// rows of (ky_end - ky_begin)*kernel*cin values, a slice of the depth.
inline void im2col(const ImageView& in, const ConvGeometry& g, int out_w, int first, int count, float* cols,
                   int ky_begin = 0, int ky_end = -1) {
  const int cin = in.channels, kk = g.kernel;
  if (ky_end < 0) ky_end = kk;
  const std::size_t row_len = static_cast<std::size_t>(ky_end - ky_begin) * kk * cin;
  // Channels-last and dense along x: the taps of one kernel row are one run of kernel*cin floats.
  const bool runs = in.channels_contiguous() && in.stride_x == cin;
  // Planes dense along x (a CHW image): the taps of one kernel row and channel are one run of kernel floats.
  const bool planar = !in.channels_contiguous() && in.stride_x == 1;
  for (int j = 0; j < count; ++j) {
    const int pixel = first + j, oy = pixel / out_w, ox = pixel % out_w;
    float* row = cols + j * row_len;
    const int x0 = ox * g.stride - g.pad;
    for (int ky = ky_begin; ky < ky_end; ++ky) {
      const int iy = oy * g.stride - g.pad + ky;
      float* dst = row + static_cast<std::size_t>(ky - ky_begin) * kk * cin;
      if (iy < 0 || iy >= in.height) {
        std::fill(dst, dst + static_cast<std::size_t>(kk) * cin, 0.0f);
        continue;
      }
      const float* line = in.data + iy * in.stride_y;
      const bool inside = x0 >= 0 && x0 + kk <= in.width;
      if (runs && inside) {
        std::memcpy(dst, line + x0 * in.stride_x, sizeof(float) * static_cast<std::size_t>(kk) * cin);
        continue;
      }
      if (planar && inside) {  // one run of `kernel` floats per channel, interleaved into dst
        for (int c = 0; c < cin; ++c) {
          const float* src = line + c * in.stride_c + x0;
          for (int kx = 0; kx < kk; ++kx) dst[kx * cin + c] = src[kx];
        }
        continue;
      }
      for (int kx = 0; kx < kk; ++kx, dst += cin) {
        const int ix = x0 + kx;
        if (ix < 0 || ix >= in.width) {
          std::fill(dst, dst + cin, 0.0f);
        } else if (in.channels_contiguous()) {
          std::memcpy(dst, line + ix * in.stride_x, sizeof(float) * static_cast<std::size_t>(cin));
        } else {
          const float* src = line + ix * in.stride_x;
          for (int c = 0; c < cin; ++c) dst[c] = src[c * in.stride_c];
        }
      }
    }
  }
}

// Where the patches of output pixels [first, first + count) start in a
// channels-last image dense along x, if a tile can read them in place: all in
// one output row, none over the border (the padding has no memory). Null
// otherwise: then they are unrolled by im2col.
inline const float* patches_in_place(const ImageView& in, const ConvGeometry& g, int out_w, int first, int count) {
  const int oy = first / out_w, ox = first % out_w;
  if (ox + count > out_w) return nullptr;
  const int iy = oy * g.stride - g.pad, ix = ox * g.stride - g.pad, last_ix = ix + (count - 1) * g.stride;
  if (iy < 0 || iy + g.kernel > in.height || ix < 0 || last_ix + g.kernel > in.width) return nullptr;
  return in.data + iy * in.stride_y + ix * in.stride_x;
}

inline constexpr int kConvChunkTiles = 8;  // MR-row tiles per chunk, at most

// Kernel rows per depth slice when a kernel's rows are cut into `slices`.
[[nodiscard]] constexpr int conv2d_slice_rows(int kernel, int slices) { return (kernel + slices - 1) / slices; }

// Output pixels per chunk of a conv with patch length k: the unit of work and
// of ColumnStats' partial sums; its patches fill at most the worker's scratch.
template <class Arch = DefaultArch>
[[nodiscard]] int conv2d_chunk_rows(int k) {
  constexpr int MR = GemmTiles<Arch>::MR;
  return std::clamp(static_cast<int>(Context::kScratchFloats / static_cast<std::size_t>(k)) / MR * MR, MR,
                    kConvChunkTiles * MR);
}

// Into how many slices of whole kernel rows a convolution of m output pixels
// and `cin` channels cuts its depth: one, unless its patches alone keep a
// chunk to half the pixels there are or less (up to a chunk's limit); then
// into as few as give a chunk of them all, as gemm_depth_slices does for a
// deep product on few rows. The last downsample (S12 at 640x640: 400 pixels,
// depth 9 x 320) was ten chunks of 42 pixels, each reading the layer's 5.9 MB
// of weights; in three slices of one kernel row it is four chunks of 112.
// (Xeon, 2026-12-01, 1 thread, interleaved rounds of `bench --layers`: M36's
// last downsample at 320x320, 4.9-5.0 ms -> 3.5; at 640x640 14.7 -> 13.0-13.4;
// S12's at 320x320 2.16-2.37 -> 1.97-2.04. Chunks of more than half the
// pixels gain too little for the slices' extra passes over C: M36's second
// downsample at 320x320, 400 pixels in chunks of 70, ran 2-10% slower in two
// slices, its weights warm.)
template <class Arch = DefaultArch>
[[nodiscard]] int conv2d_depth_slices(int m, const ConvGeometry& g, int cin) {
  constexpr int MR = GemmTiles<Arch>::MR;
  const int wanted = std::min((m + MR - 1) / MR * MR, kConvChunkTiles * MR);
  const int row_depth = g.kernel * cin;  // one kernel row of a patch
  if (2 * conv2d_chunk_rows<Arch>(g.kernel * row_depth) > wanted) return 1;
  int slices = 1;
  while (slices < g.kernel && conv2d_chunk_rows<Arch>(conv2d_slice_rows(g.kernel, slices) * row_depth) < wanted) ++slices;
  return slices;
}

namespace detail {

// One chunk's output pixels [first, first + rows) over panels [p_begin,
// p_end), the depth in `slices` slices of whole kernel rows (see
// conv2d_depth_slices): each slice unrolls only its kernel rows of the
// patches it does not read in place, and runs as slice_run says (as
// depth_sliced_tiles' slices do). Epilogues without an activation only, for
// the same reason.
template <class Arch>
void depth_sliced_conv_tiles(const ImageView& in, const ConvGeometry& g, int out_w, int first, int rows,
                             const PackedMatrix& w, int p_begin, int p_end, float* c, std::size_t ldc,
                             const GemmEpilogue& ep, double* part, bool few_chunks, int slices, float* patches) {
  constexpr int MR = GemmTiles<Arch>::MR;
  const bool in_place = in.channels_contiguous() && in.stride_x == in.channels;
  const int row_depth = g.kernel * in.channels, slice_rows = conv2d_slice_rows(g.kernel, slices);
  for (int s = 0; s < slices; ++s) {
    const int ky0 = s * slice_rows, ky1 = std::min(g.kernel, ky0 + slice_rows);
    const int k0 = ky0 * row_depth, depth = (ky1 - ky0) * row_depth;
    const float* starts[kConvChunkTiles];  // where each MR-pixel tile's slice starts in the image, or null
    for (int r0 = 0; r0 < rows; r0 += MR) {
      const int count = std::min(MR, rows - r0);
      const float* at = in_place ? patches_in_place(in, g, out_w, first + r0, count) : nullptr;
      starts[r0 / MR] = at ? at + static_cast<std::ptrdiff_t>(ky0) * in.stride_y : nullptr;
      if (!at) im2col(in, g, out_w, first + r0, count, patches + static_cast<std::size_t>(r0) * depth, ky0, ky1);
    }
    const SliceRun run = slice_run(ep, part, s, slices);
    const DepthSlice slice{k0, k0 + depth, run.last};
    if (in_place) {
      const DirectRows direct{starts, static_cast<std::size_t>(g.stride) * in.channels, ky1 - ky0, in.stride_y};
      tiles<Arch, Activation::none, false>(patches, static_cast<std::size_t>(depth), rows, w, p_begin, p_end, c, ldc,
                                           run.start, run.part, direct, few_chunks, slice);
    } else {
      tiles<Arch, Activation::none, false>(patches, static_cast<std::size_t>(depth), rows, w, p_begin, p_end, c, ldc,
                                           run.start, run.part, {}, few_chunks, slice);
    }
  }
}

template <class Arch, Activation Act, bool AddAfter>
void conv2d_chunks(const Context& ctx, const ImageView& in, const ConvGeometry& g, const PackedMatrix& w, float* out,
                   std::size_t ldc, const GemmEpilogue& ep) {
  const int out_w = g.out_width(in.width), pixels = g.out_height(in.height) * out_w;
  const int k = w.k, n = w.n, panels = w.panels();
  constexpr bool kSliceable = Act == Activation::none;  // (see depth_sliced_conv_tiles)
  const int slices = kSliceable ? conv2d_depth_slices<Arch>(pixels, g, in.channels) : 1;
  const std::size_t patch_depth = static_cast<std::size_t>(conv2d_slice_rows(g.kernel, slices)) * g.kernel * in.channels;
  const int chunk = conv2d_chunk_rows<Arch>(static_cast<int>(patch_depth));
  const int chunks = (pixels + chunk - 1) / chunk;
  const Split split = split_columns(chunks, panels, ctx.threads(), last_chunk_share(pixels, chunk, chunks));
  const bool stats = ep.stats.sum != nullptr;

  // Channels-last input dense along x: tiles away from the border read their
  // patches in place, kernel rows of kernel * channels values, and only the
  // others are unrolled (the stem's im2col copy was a quarter of its time).
  const bool in_place = in.channels_contiguous() && in.stride_x == in.channels;
  constexpr int MR = GemmTiles<Arch>::MR;

  ctx.parallel(chunks * split.column_groups, [&](int task, int worker) {
    const ChunkTask t = chunk_task(task, chunk, pixels, panels, split);
    float* patches = ctx.scratch(worker, t.rows * patch_depth);  // (t.rows, patch_depth), where not read in place
    double* part = task_partial_sums(ep.stats, t, n, w.panel_width);
    float* c = out + static_cast<std::size_t>(t.first) * ldc;
    if constexpr (kSliceable) {
      if (slices > 1) {
        depth_sliced_conv_tiles<Arch>(in, g, out_w, t.first, t.rows, w, t.p_begin, t.p_end, c, ldc, ep, part,
                                      chunks <= kSpreadFetchMaxChunks, slices, patches);
        return;
      }
    }
    if (!in_place) {
      im2col(in, g, out_w, t.first, t.rows, patches);
      tiles<Arch, Act, AddAfter>(patches, static_cast<std::size_t>(k), t.rows, w, t.p_begin, t.p_end, c, ldc, ep, part);
      return;
    }
    const float* starts[kConvChunkTiles];  // one per MR-row tile of the chunk
    for (int r0 = 0; r0 < t.rows; r0 += MR) {
      const int count = std::min(MR, t.rows - r0);
      starts[r0 / MR] = patches_in_place(in, g, out_w, t.first + r0, count);
      if (!starts[r0 / MR]) im2col(in, g, out_w, t.first + r0, count, patches + static_cast<std::size_t>(r0) * k);
    }
    const DirectRows direct{starts, static_cast<std::size_t>(g.stride) * in.channels, g.kernel, in.stride_y};
    tiles<Arch, Act, AddAfter>(patches, static_cast<std::size_t>(k), t.rows, w, t.p_begin, t.p_end, c, ldc, ep, part,
                               direct);
  });
  if (stats) reduce_column_stats(ep.stats, chunks, n);
}

}  // namespace detail

// Doubles of ColumnStats::scratch conv2d() needs (like gemm_stats_scratch_doubles).
template <class Arch = DefaultArch>
[[nodiscard]] std::size_t conv2d_stats_scratch_doubles(int out_pixels, int cout) {
  return gemm_stats_scratch_doubles<Arch>(out_pixels, cout);
}

// out (channels-last, pixel stride ldc) = epilogue(conv(in, w) + bias);
// `Kinds`: the epilogues this call site can ask for (see EpilogueKinds).
// `in` and `out` must not overlap (partial sums go to out while in is read).
template <class Arch = DefaultArch, EpilogueKinds Kinds = kAnyEpilogue>
void conv2d(const Context& ctx, const ImageView& in, const ConvGeometry& g, const PackedMatrix& w, float* out,
            std::size_t ldc, const GemmEpilogue& epilogue = {}) {
  require(g.accepts(in.height, in.width), "conv2d: a ", in.height, "x", in.width, " input is smaller than the ", g.kernel,
          "x", g.kernel, " kernel with padding ", g.pad);
  const int pixels = g.out_height(in.height) * g.out_width(in.width);
  if (g.is_pointwise() && in.channels_contiguous() && in.stride_y == static_cast<std::ptrdiff_t>(in.width) * in.stride_x) {
    gemm<Arch, Kinds>(ctx, pixels, in.data, static_cast<std::size_t>(in.stride_x), w, out, ldc, epilogue);
    return;
  }
  const std::size_t k = static_cast<std::size_t>(g.kernel) * g.kernel * in.channels;
  require(w.k == static_cast<int>(k), "conv2d: weights expect depth ", w.k, ", patches have ", k);
  require(static_cast<std::size_t>(GemmTiles<Arch>::MR) * k <= Context::kScratchFloats, "conv2d: patches of ", k,
          " values do not fit the worker scratch");
  require(!epilogue.stats.sum || (epilogue.stats.sum_sq && epilogue.stats.scratch), "conv2d: column stats need sum_sq and scratch");
  if constexpr (!kIsSimd<Arch>) {
    // No SIMD unit: unroll one pixel at a time and multiply with the scalar GEMM.
    detail::require_compiled_in<Kinds>(epilogue);
    float* patch = ctx.scratch(0, k);  // (k): one pixel's patch
    const reference::GemmOptions o{nullptr, nullptr, epilogue.act, epilogue.accumulate, epilogue.residual_scale,
                                   epilogue.residual_shift, epilogue.stats.sum, epilogue.stats.sum_sq};
    for (int p = 0; p < pixels; ++p) {
      im2col(in, g, g.out_width(in.width), p, 1, patch);
      reference::gemm(1, w.n, w.k, patch, k, w.weights.data(), w.bias.data(), out + static_cast<std::size_t>(p) * ldc, ldc, o);
    }
  } else {
    detail::with_epilogue<Kinds>(epilogue, [&]<Activation Act, bool AddAfter>() {
      detail::conv2d_chunks<Arch, Act, AddAfter>(ctx, in, g, w, out, ldc, epilogue);
    });
  }
}

}  // namespace riformer::kernels
