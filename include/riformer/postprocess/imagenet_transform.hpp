#pragma once
// The test-time preprocessing of mmpretrain's ImageNet classifiers (MODEL.md
// section 5), bit for bit: the configs of the published RIFormer checkpoints run
//
//   ResizeEdge(scale=248, edge='short', backend='pillow', interpolation='bicubic')
//   CenterCrop(crop_size=224)
//   ClsDataPreprocessor: (v - mean) / std in float32, RGB, NCHW
//
// and the resize is Pillow's Image.resize(..., BICUBIC) (libImaging/Resample.c,
// the 8-bit path): a separable, antialiased convolution whose filter widens with
// the downscale factor, with fixed-point coefficients and a rounding to 8 bits
// after each pass. An approximate bicubic would move most pixels by one level
// and every logit with them; matching Pillow's integer arithmetic exactly gives
// the network the very input it gets in PyTorch. Fixtures from Pillow 9.4:
// tests/reference/make_imagenet_transform_golden.py.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "riformer/core/error.hpp"
#include "riformer/io/image.hpp"

namespace riformer {

// mmpretrain's ImageNet test pipeline; the defaults are the RIFormer configs'.
struct ImagenetTransform {
  int resize_short = 248;                                // ResizeEdge scale: the short edge after resizing
  int crop = 224;                                        // CenterCrop: the network input is crop x crop
  std::array<float, 3> mean{123.675f, 116.28f, 103.53f};  // RGB, on 0-255 values
  std::array<float, 3> std{58.395f, 57.12f, 57.375f};
};

namespace imagenet_detail {

// Pillow's PRECISION_BITS: 8 bits for the result, 2 for the overflow of
// filters with negative lobes, in a 32-bit int.
inline constexpr int precision_bits = 32 - 8 - 2;
// Sides beyond this are refused (as letterbox does): it keeps every product far from overflow.
inline constexpr int max_side = 1 << 16;

// A product rounded to double on its own: Pillow is built for baseline x86-64
// (no FMA), while GCC and Clang may fuse a * b + c into one FMA under -march=native,
// which would move a coefficient by an ulp and, rarely, a pixel by a level.
[[nodiscard]] inline double product(double a, double b) {
  volatile double v = a * b;
  return v;
}

// Pillow's bicubic_filter (a = -0.5), with its roundings.
[[nodiscard]] inline double bicubic(double x) {
  if (x < 0.0) x = -x;
  if (x < 1.0) return product((product(1.5, x) - 2.5) * x, x) + 1.0;      // ((a + 2) x - (a + 3)) x x + 1
  if (x < 2.0) return (product(product(x - 5.0, x) + 8.0, x) - 4.0) * -0.5;  // (((x - 5) x + 8) x - 4) a
  return 0.0;
}

// The fixed-point taps of some outputs of one axis: output i (of the `count` asked
// for) reads `size[i]` inputs from `start[i]` with weights k[i * ksize ...].
struct Taps {
  int ksize = 0;
  std::vector<int> start, size;
  std::vector<std::int32_t> k;  // [count, ksize]
  std::vector<double> w;        // one output's filter values before normalizing: [ksize]
};

// Pillow's precompute_coeffs + normalize_coeffs_8bpc for the outputs [first, first + count)
// of an in_size -> out_size axis (box = the whole axis). Each output's taps depend on
// its index alone, so a window of the outputs gets exactly the taps of the full resize.
inline void bicubic_taps(int in_size, int out_size, int first, int count, Taps& t) {
  // (double)(in1 - in0) / outSize with Pillow's float box (0, in_size).
  const double scale = static_cast<double>(static_cast<float>(in_size)) / out_size;
  const double filterscale = scale < 1.0 ? 1.0 : scale;
  const double support = 2.0 * filterscale;  // the bicubic filter's support, widened when downscaling
  t.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  t.start.resize(static_cast<std::size_t>(count));
  t.size.resize(static_cast<std::size_t>(count));
  t.k.assign(static_cast<std::size_t>(count) * static_cast<std::size_t>(t.ksize), 0);
  const double ss = 1.0 / filterscale;
  std::vector<double>& w = t.w;  // (kept in the scratch: a stream of pictures allocates nothing)
  w.resize(static_cast<std::size_t>(t.ksize));
  for (int i = 0; i < count; ++i) {
    const int xx = first + i;
    const double center = product(xx + 0.5, scale);
    int xmin = static_cast<int>(center - support + 0.5);  // truncation toward zero, as in C
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double ww = 0.0;
    for (int x = 0; x < xmax; ++x) {
      w[static_cast<std::size_t>(x)] = bicubic(product(x + xmin - center + 0.5, ss));
      ww += w[static_cast<std::size_t>(x)];
    }
    std::int32_t* k = t.k.data() + static_cast<std::size_t>(i) * static_cast<std::size_t>(t.ksize);
    constexpr double one = static_cast<double>(1 << precision_bits);
    for (int x = 0; x < xmax; ++x) {
      double v = w[static_cast<std::size_t>(x)];
      if (ww != 0.0) v /= ww;
      k[x] = static_cast<std::int32_t>(v < 0 ? -0.5 + v * one : 0.5 + v * one);  // truncation toward zero
    }
    t.start[static_cast<std::size_t>(i)] = xmin;
    t.size[static_cast<std::size_t>(i)] = xmax;
  }
}

// Pillow's clip8: the accumulator's integer part, clamped to a byte.
[[nodiscard]] inline std::uint8_t clip8(std::int32_t v) {
  return static_cast<std::uint8_t>(std::clamp(v >> precision_bits, 0, 255));
}

}  // namespace imagenet_detail

// Working memory of the resize, kept between calls: a stream of pictures of one
// size is preprocessed without allocating after the first.
struct PilResizeScratch {
  imagenet_detail::Taps horizontal, vertical;
  std::vector<std::uint8_t> rows;  // the horizontal pass: [source rows used, window width, 3]
  std::vector<std::int32_t> sums;  // one output row of the vertical pass: [window width * 3]
  std::vector<std::uint8_t> crop;  // imagenet_preprocess's crop: [crop, crop, 3]
};

namespace imagenet_detail {

// Writes the window [x0, x0 + w) x [y0, y0 + h) of `src` resized to out_w x out_h
// (Pillow BICUBIC) to `dst`, h rows of w RGB pixels ([h, w, 3]). Pillow's
// ImagingResampleInner: horizontal pass over the source rows the vertical pass
// reads, rounded to bytes, then the vertical pass; an axis whose size does not
// change is not resampled. Every pixel is the one the full resize gives.
inline void resize_window(const Image& src, int out_w, int out_h, int x0, int y0, int w, int h, std::uint8_t* dst,
                          PilResizeScratch& s) {
  const bool need_horizontal = out_w != src.width;
  const bool need_vertical = out_h != src.height;
  const std::size_t src_row = static_cast<std::size_t>(src.width) * 3;
  const std::size_t n = static_cast<std::size_t>(w) * 3;  // bytes of one window row

  int row_first = y0, row_count = h;  // source rows the vertical pass reads
  if (need_vertical) {
    bicubic_taps(src.height, out_h, y0, h, s.vertical);
    row_first = s.vertical.start.front();
    row_count = s.vertical.start.back() + s.vertical.size.back() - row_first;  // both bounds only grow
  }

  // Horizontal pass: rows [row_first, row_first + row_count) of the source, window columns.
  s.rows.resize(static_cast<std::size_t>(row_count) * n);
  if (need_horizontal) {
    bicubic_taps(src.width, out_w, x0, w, s.horizontal);
    const Taps& t = s.horizontal;
    for (int r = 0; r < row_count; ++r) {
      const std::uint8_t* in = src.rgb.data() + static_cast<std::size_t>(row_first + r) * src_row;
      std::uint8_t* out = s.rows.data() + static_cast<std::size_t>(r) * n;
      for (int x = 0; x < w; ++x) {
        const std::int32_t* k = t.k.data() + static_cast<std::size_t>(x) * static_cast<std::size_t>(t.ksize);
        const std::uint8_t* p = in + static_cast<std::size_t>(t.start[static_cast<std::size_t>(x)]) * 3;
        const int taps = t.size[static_cast<std::size_t>(x)];
        std::int32_t s0 = 1 << (precision_bits - 1), s1 = s0, s2 = s0;
        for (int j = 0; j < taps; ++j) {
          s0 += p[3 * j + 0] * k[j];
          s1 += p[3 * j + 1] * k[j];
          s2 += p[3 * j + 2] * k[j];
        }
        out[3 * x + 0] = clip8(s0);
        out[3 * x + 1] = clip8(s1);
        out[3 * x + 2] = clip8(s2);
      }
    }
  } else {
    for (int r = 0; r < row_count; ++r)
      std::copy_n(src.rgb.data() + static_cast<std::size_t>(row_first + r) * src_row + static_cast<std::size_t>(x0) * 3,
                  n, s.rows.data() + static_cast<std::size_t>(r) * n);
  }

  if (!need_vertical) {
    std::copy_n(s.rows.data(), static_cast<std::size_t>(h) * n, dst);
    return;
  }
  // Vertical pass: every output row sums its taps' rows of the horizontal pass.
  const Taps& t = s.vertical;
  s.sums.resize(n);
  for (int y = 0; y < h; ++y) {
    std::fill(s.sums.begin(), s.sums.end(), std::int32_t{1} << (precision_bits - 1));
    const std::int32_t* k = t.k.data() + static_cast<std::size_t>(y) * static_cast<std::size_t>(t.ksize);
    const int first = t.start[static_cast<std::size_t>(y)] - row_first;
    const int taps = t.size[static_cast<std::size_t>(y)];
    for (int j = 0; j < taps; ++j) {
      const std::uint8_t* row = s.rows.data() + static_cast<std::size_t>(first + j) * n;
      const std::int32_t kj = k[j];
      std::int32_t* acc = s.sums.data();
      for (std::size_t i = 0; i < n; ++i) acc[i] += row[i] * kj;
    }
    std::uint8_t* out = dst + static_cast<std::size_t>(y) * n;
    for (std::size_t i = 0; i < n; ++i) out[i] = clip8(s.sums[i]);
  }
}

inline void check_transform(const ImagenetTransform& t) {
  require(t.resize_short > 0 && t.resize_short <= max_side, "imagenet_preprocess: resize_short ", t.resize_short,
          " is not in 1..", max_side);
  require(t.crop > 0 && t.crop <= t.resize_short, "imagenet_preprocess: crop ", t.crop, " is not in 1..",
          t.resize_short, " (resize_short): the center crop must fit in the resized picture");
  for (int c = 0; c < 3; ++c) {
    require(std::isfinite(t.mean[c]), "imagenet_preprocess: mean[", c, "] = ", t.mean[c], " is not finite");
    require(std::isfinite(t.std[c]) && t.std[c] != 0.0f, "imagenet_preprocess: std[", c, "] = ", t.std[c],
            " must be finite and non-zero");
  }
}

// CenterCrop's offset max(0, int(round((size - crop) / 2.))): Python's round, half to even
// ((331 - 224) / 2 = 53.5 -> 54, (333 - 224) / 2 = 54.5 -> 54).
[[nodiscard]] inline int center_crop_offset(int size, int crop) {
  const int d = size - crop;
  if (d <= 0) return 0;
  int half = d / 2;
  if (d % 2 != 0 && half % 2 != 0) ++half;  // .5 rounds to the even neighbour
  return half;
}

}  // namespace imagenet_detail

// Pillow's Image.resize((width, height), Image.BICUBIC) of an 8-bit RGB picture,
// exactly (downscaling and upscaling; the same size is a copy, as in Pillow).
// Throws riformer::Error for an empty or inconsistent image or a size outside 1..65536.
[[nodiscard]] inline Image resize_bicubic_pil(const Image& src, int width, int height) {
  using namespace imagenet_detail;
  image_detail::check_image(src, "resize_bicubic_pil source");
  require(width > 0 && height > 0 && width <= max_side && height <= max_side, "resize_bicubic_pil: output size ",
          width, "x", height, " is not in 1..", max_side, " per side");
  Image out;
  out.width = width;
  out.height = height;
  out.rgb.resize(static_cast<std::size_t>(width) * static_cast<std::size_t>(height) * 3);
  PilResizeScratch scratch;
  resize_window(src, width, height, 0, 0, width, height, out.rgb.data(), scratch);
  return out;
}

// mmpretrain ResizeEdge(edge='short')'s output size {width, height} for a
// width x height picture: the short edge becomes short_edge and the other
// int(short_edge * long / short), Python's float division truncated; a square
// (or wider than tall) picture takes the height branch. Throws if a size is not
// positive or the result does not fit an int.
[[nodiscard]] inline std::array<int, 2> resize_edge_size(int width, int height, int short_edge) {
  require(width > 0 && height > 0, "resize_edge_size: image size ", width, "x", height, " is not positive");
  require(short_edge > 0 && short_edge <= imagenet_detail::max_side, "resize_edge_size: short edge ", short_edge,
          " is not in 1..", imagenet_detail::max_side);
  // int(scale * h / w): the integer product (below 2^47, exact in a double), one correctly
  // rounded division, truncation. A quotient that is not an integer is at least 1/w from one,
  // far more than its rounding error, so it never rounds up to the next integer.
  auto other = [&](int num, int den) {
    const double q = static_cast<double>(std::int64_t{short_edge} * num) / static_cast<double>(den);
    require(q < static_cast<double>(std::numeric_limits<int>::max()), "resize_edge_size: ", width, "x", height,
            " with short edge ", short_edge, " gives a side of ", q, " pixels, too large");
    return static_cast<int>(q);
  };
  if (width < height) return {short_edge, other(height, width)};
  return {other(width, height), short_edge};
}

// mmpretrain's ImageNet test pipeline for one RGB picture: resize the short edge
// to t.resize_short (Pillow bicubic), center-crop t.crop x t.crop, and normalize
// (v - mean[c]) / std[c] in float32. `out_chw` receives planar RGB, [3, crop, crop]
// (the [1, 3, crop, crop] tensor PyTorch gets, as ImageView::chw reads it). Only the
// cropped window of the resized picture is computed, pixel for pixel as Pillow
// computes it, so a very long picture costs no huge intermediate. Throws for an
// empty image, a crop larger than resize_short, non-positive sizes, and a non-finite
// mean or a non-finite or zero std.
inline void imagenet_preprocess(const Image& image, float* out_chw, const ImagenetTransform& t,
                                PilResizeScratch& scratch) {
  using namespace imagenet_detail;
  image_detail::check_image(image, "imagenet_preprocess");
  check_transform(t);
  const auto [rw, rh] = resize_edge_size(image.width, image.height, t.resize_short);
  const int crop = t.crop;  // fits: the resized picture is at least resize_short on both sides
  const int x1 = center_crop_offset(rw, crop), y1 = center_crop_offset(rh, crop);
  scratch.crop.resize(static_cast<std::size_t>(crop) * static_cast<std::size_t>(crop) * 3);
  resize_window(image, rw, rh, x1, y1, crop, crop, scratch.crop.data(), scratch);

  // (float32(v) - mean) / std for the 256 byte values of each channel: the two float32
  // operations of the reference, tabulated.
  std::array<std::array<float, 256>, 3> table;
  for (int c = 0; c < 3; ++c)
    for (int v = 0; v < 256; ++v) table[c][v] = (static_cast<float>(v) - t.mean[c]) / t.std[c];
  const std::size_t plane = static_cast<std::size_t>(crop) * static_cast<std::size_t>(crop);
  const std::uint8_t* p = scratch.crop.data();
  for (std::size_t i = 0; i < plane; ++i) {
    out_chw[i] = table[0][p[3 * i]];
    out_chw[plane + i] = table[1][p[3 * i + 1]];
    out_chw[2 * plane + i] = table[2][p[3 * i + 2]];
  }
}

inline void imagenet_preprocess(const Image& image, float* out_chw, const ImagenetTransform& t = {}) {
  PilResizeScratch scratch;
  imagenet_preprocess(image, out_chw, t, scratch);
}

// The same in a new vector of 3 * crop * crop floats, [3, crop, crop].
[[nodiscard]] inline std::vector<float> imagenet_preprocess(const Image& image, const ImagenetTransform& t = {}) {
  imagenet_detail::check_transform(t);
  std::vector<float> out(3 * static_cast<std::size_t>(t.crop) * static_cast<std::size_t>(t.crop));
  imagenet_preprocess(image, out.data(), t);
  return out;
}

}  // namespace riformer
