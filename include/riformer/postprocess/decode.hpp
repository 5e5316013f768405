#pragma once
// YOLOv5's Detect decode: raw 1x1-conv outputs -> rows [cx, cy, w, h, obj,
// cls...] in input pixels, what non_max_suppression consumes. The arithmetic is
// v7.0's float32 order (tests/reference/README.md), so a decode of the same raw
// values lands within a sigmoid rounding of PyTorch's. The sigmoid is
// vectorized because a 640x640 COCO head has 2 M values to squash; the scalar
// twin stays as the reference the tests hold the vector path to.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <span>

#include "riformer/core/arch.hpp"
#include "riformer/core/error.hpp"
#include "riformer/kernels/activation.hpp"

namespace riformer {

// One level's raw Detect conv output, channels-last: pixel (y, x) starts at
// data + (y * nx + x) * pixel_stride; its channel a * no + k is value k of
// anchor a (no = nc + 5), as the conv's output channels are ordered.
struct DetectLevel {
  const float* data = nullptr;
  int ny = 0, nx = 0;
  std::size_t pixel_stride = 0;  // floats between pixels, >= 3 * no
  float stride = 0;              // input pixels per cell: 8, 16, 32
  std::array<float, 6> anchors{};  // (w, h) of anchors 0..2, in input pixels
};

inline constexpr int kDetectAnchors = 3;

// Rows decode() writes: 3 per cell of every level.
[[nodiscard]] inline std::size_t decoded_rows(std::span<const DetectLevel> levels) {
  std::size_t rows = 0;
  for (const DetectLevel& l : levels)
    rows += static_cast<std::size_t>(kDetectAnchors) * static_cast<std::size_t>(std::max(l.ny, 0)) *
            static_cast<std::size_t>(std::max(l.nx, 0));
  return rows;
}

namespace decode_detail {

inline void check(std::span<const DetectLevel> levels, int nc, const void* out, const char* who) {
  require(nc >= 1, who, ": number of classes must be >= 1, got ", nc);
  require(out != nullptr || decoded_rows(levels) == 0, who, ": output pointer is null");
  const std::size_t channels = static_cast<std::size_t>(kDetectAnchors) * static_cast<std::size_t>(nc + 5);
  for (std::size_t i = 0; i < levels.size(); ++i) {
    const DetectLevel& l = levels[i];
    require(l.ny >= 1 && l.nx >= 1, who, ": level ", i, " has a ", l.ny, "x", l.nx, " grid; both sides must be >= 1");
    require(l.data != nullptr, who, ": level ", i, " has no data (null pointer)");
    require(l.pixel_stride >= channels, who, ": level ", i, " pixel stride ", l.pixel_stride,
            " is smaller than the ", channels, " channels of 3 anchors x (nc ", nc, " + 5)");
    require(std::isfinite(l.stride) && l.stride > 0, who, ": level ", i, " stride ", l.stride,
            " must be positive and finite");
    for (int k = 0; k < 6; ++k)
      require(std::isfinite(l.anchors[k]), who, ": level ", i, " anchor ", k / 2, " is not finite");
  }
}

// The four box values of one row from their sigmoids, in place: v7.0 computes
// grid - 0.5 first, then (2s + grid) * stride and (2s)^2 * anchor.
inline void finish_box(float* row, float gx, float gy, float stride, float anchor_w, float anchor_h) {
  row[0] = (row[0] * 2.0f + gx) * stride;
  row[1] = (row[1] * 2.0f + gy) * stride;
  const float w = row[2] * 2.0f, h = row[3] * 2.0f;
  row[2] = w * w * anchor_w;
  row[3] = h * h * anchor_h;
}

// Walks levels, anchors and grid rows in output order, calling
// line(level, anchor, gy, first, index): `first` is anchor a's values at
// column 0 of that grid row (column x at first + x * pixel_stride), gy its
// grid offset, index the output row of column 0.
template <class Line>
void for_each_line(std::span<const DetectLevel> levels, int nc, Line&& line) {
  const std::size_t no = static_cast<std::size_t>(nc) + 5;
  std::size_t index = 0;
  for (const DetectLevel& l : levels)
    for (int a = 0; a < kDetectAnchors; ++a)
      for (int y = 0; y < l.ny; ++y, index += static_cast<std::size_t>(l.nx))
        line(l, a, static_cast<float>(y) - 0.5f,
             l.data + static_cast<std::size_t>(y) * static_cast<std::size_t>(l.nx) * l.pixel_stride +
                 static_cast<std::size_t>(a) * no,
             index);
}

// Every row in output order: squash(src, dst, no) for its values, then its box.
template <class Squash>
void decode_rows(std::span<const DetectLevel> levels, int nc, float* pred, Squash squash) {
  const std::size_t no = static_cast<std::size_t>(nc) + 5;
  for_each_line(levels, nc, [&](const DetectLevel& l, int a, float gy, const float* pixel, std::size_t index) {
    float* row = pred + index * no;
    for (int x = 0; x < l.nx; ++x, row += no, pixel += l.pixel_stride) {
      squash(pixel, row, no);
      finish_box(row, static_cast<float>(x) - 0.5f, gy, l.stride, l.anchors[2 * a], l.anchors[2 * a + 1]);
    }
  });
}

}  // namespace decode_detail

// 1 / (1 + exp(-x)) on a vector, the formula of PyTorch's CPU sigmoid;
// within ~1e-7 relative of the exact value (the scalar one is kernels::sigmoid).
template <class Arch>
[[nodiscard]] inline xsimd::batch<float, Arch> sigmoid_vector(xsimd::batch<float, Arch> x) {
  using B = xsimd::batch<float, Arch>;
  if constexpr (kInexactDivide<Arch>) return exact_divide(B(1.0f), B(1.0f) + xsimd::exp(-x));
  else return B(1.0f) / (B(1.0f) + xsimd::exp(-x));
}

// Scalar decode: the plain statement of the formula.
inline void decode_reference(std::span<const DetectLevel> levels, int nc, float* pred) {
  decode_detail::check(levels, nc, pred, "decode");
  decode_detail::decode_rows(levels, nc, pred, [](const float* src, float* dst, std::size_t n) {
    for (std::size_t k = 0; k < n; ++k) dst[k] = kernels::sigmoid(src[k]);
  });
}

namespace decode_detail {

// dst[0, n) = sigmoid(src[0, n)), the way decode() squashes a row: vectors of
// sigmoid_vector, a row shorter than one vector through a padded copy. Each
// value's bits depend on that value alone, never on its neighbours.
template <class Arch>
inline void squash_row(const float* src, float* dst, std::size_t n) {
  if constexpr (!kIsSimd<Arch>) {
    for (std::size_t k = 0; k < n; ++k) dst[k] = kernels::sigmoid(src[k]);
  } else {
    using B = xsimd::batch<float, Arch>;
    constexpr std::size_t W = B::size;
    if (n < W) {  // a row shorter than a vector (nc < W - 5) goes through a padded copy
      alignas(64) float buf[W] = {};
      std::memcpy(buf, src, n * sizeof(float));
      sigmoid_vector<Arch>(B::load_aligned(buf)).store_aligned(buf);
      std::memcpy(dst, buf, n * sizeof(float));
      return;
    }
    std::size_t k = 0;
    for (; k + W <= n; k += W) sigmoid_vector<Arch>(B::load_unaligned(src + k)).store_unaligned(dst + k);
    // The ragged end as one more vector overlapping the previous one: the
    // overlap is recomputed to the same bits, and no scalar twin is mixed in.
    if (k < n) sigmoid_vector<Arch>(B::load_unaligned(src + n - W)).store_unaligned(dst + n - W);
  }
}

}  // namespace decode_detail

// pred: decoded_rows(levels) x (nc + 5) floats, rows in the order level,
// anchor, y, x (YOLOv5's cat of views), values [cx, cy, w, h, obj, cls...].
// pred must not overlap the levels' data.
template <class Arch = DefaultArch>
void decode(std::span<const DetectLevel> levels, int nc, float* pred) {
  if constexpr (!kIsSimd<Arch>) {
    decode_reference(levels, nc, pred);
  } else {
    decode_detail::check(levels, nc, pred, "decode");
    decode_detail::decode_rows(levels, nc, pred, decode_detail::squash_row<Arch>);
  }
}

// The rows of decode() whose objectness (after the sigmoid) is above
// obj_thres, and only those: each is decoded into `row` (nc + 5 floats) and
// passed to visit(row, index), index being its row in decode()'s output, in
// increasing order. The values are decode()'s to the bit. What NMS needs from
// a head whose cells mostly hold no object, without squashing every class
// score and without decode()'s rows x (nc + 5) buffer (8.6 MB for a 640x640
// COCO head).
template <class Arch = DefaultArch, class Visit>
void decode_confident_rows(std::span<const DetectLevel> levels, int nc, float obj_thres, float* row, Visit&& visit) {
  decode_detail::check(levels, nc, row, "decode_confident_rows");
  const std::size_t no = static_cast<std::size_t>(nc) + 5;
  constexpr std::size_t kBatch = 16;  // objectness values squashed at a time
  alignas(64) float logits[kBatch], obj[kBatch];
  decode_detail::for_each_line(levels, nc, [&](const DetectLevel& l, int a, float gy, const float* line, std::size_t index) {
    for (int x0 = 0; x0 < l.nx; x0 += static_cast<int>(kBatch)) {
      const int count = std::min(static_cast<int>(kBatch), l.nx - x0);
      for (int i = 0; i < count; ++i) logits[i] = line[static_cast<std::size_t>(x0 + i) * l.pixel_stride + 4];
      decode_detail::squash_row<Arch>(logits, obj, static_cast<std::size_t>(count));
      for (int i = 0; i < count; ++i) {
        if (!(obj[i] > obj_thres)) continue;
        const int x = x0 + i;
        decode_detail::squash_row<Arch>(line + static_cast<std::size_t>(x) * l.pixel_stride, row, no);
        decode_detail::finish_box(row, static_cast<float>(x) - 0.5f, gy, l.stride, l.anchors[2 * a], l.anchors[2 * a + 1]);
        visit(static_cast<const float*>(row), index + static_cast<std::size_t>(x));
      }
    }
  });
}

// The raw map of one level as PyTorch's Detect returns it before decoding,
// [3, ny, nx, nc + 5] (anchor, row, column, value), into out.
inline void raw_head(const DetectLevel& level, int nc, float* out) {
  decode_detail::check(std::span<const DetectLevel>(&level, 1), nc, out, "raw_head");
  const std::size_t no = static_cast<std::size_t>(nc) + 5;
  const std::size_t pixels = static_cast<std::size_t>(level.ny) * static_cast<std::size_t>(level.nx);
  for (int a = 0; a < kDetectAnchors; ++a)
    for (std::size_t p = 0; p < pixels; ++p, out += no)
      std::memcpy(out, level.data + p * level.pixel_stride + static_cast<std::size_t>(a) * no, no * sizeof(float));
}

}  // namespace riformer
