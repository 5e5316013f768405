#pragma once
// YOLOv5's letterbox (utils/augmentations.py) and its inverse, scale_boxes
// (utils/general.py), bit for bit as the reference tests/reference/yolo_ref.py
// computes them: the network sees a picture scaled to fit the input size
// without distortion and padded with grey 114, and detections found on it
// are mapped back to the original picture. The resize is OpenCV's uint8
// INTER_LINEAR fixed-point arithmetic (what cv2.resize does in YOLOv5), so
// the network input, and therefore the detections, match YOLOv5's exactly
// rather than approximately. Every float64/float32 step follows the
// reference's order; see MODEL.md section 3 and tests/reference/README.md.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "riformer/core/error.hpp"
#include "riformer/io/image.hpp"
#include "riformer/postprocess/detection.hpp"

namespace riformer {

// Where a source picture lands inside the letterboxed network input.
struct LetterboxGeometry {
  int source_width = 0, source_height = 0;
  int target_width = 0, target_height = 0;  // the letterboxed picture (the network input)
  // scale_boxes' gain min(target_h / source_h, target_w / source_w) as float32: the
  // resize ratio of YOLOv5's letterbox (with minimal_rectangle it is recomputed from the
  // padded size, as detect.py's scale_boxes does; it can then be a hair smaller).
  float ratio = 0;
  int resized_width = 0, resized_height = 0;  // the picture inside the padding
  int top = 0, left = 0;                      // its offset in the target
  // scale_boxes' unrounded padding (target - source * gain) / 2, float32.
  float pad_x = 0, pad_y = 0;
};

namespace letterbox_detail {

// Sides beyond this are refused: no picture is that large (load_image allows 65536),
// and it keeps every index product far from int overflow.
inline constexpr int max_side = 1 << 16;
inline constexpr int coef_bits = 11;  // OpenCV's INTER_RESIZE_COEF_BITS
inline constexpr int coef_scale = 1 << coef_bits;
inline constexpr std::uint8_t pad_value = 114;

// Python's round(): to nearest, ties to even (whatever the FPU rounding mode).
[[nodiscard]] inline double round_half_even(double x) {
  const double f = std::floor(x);
  const double frac = x - f;
  if (frac > 0.5) return f + 1;
  if (frac < 0.5) return f;
  return std::fmod(f, 2.0) == 0 ? f : f + 1;
}

// Rounds a product to double before it is added to anything: GCC fuses a * b - c
// into one FMA (one rounding) under -march=native even in C++20 mode, while the
// reference rounds twice. The volatile round trip keeps the two roundings.
[[nodiscard]] inline double rounded(double x) {
  volatile double v = x;
  return v;
}

// OpenCV's linear taps for one axis (yolo_ref._linear_taps): source indices and 11-bit weights.
struct Taps {
  std::vector<int> s0, s1, w0, w1;
};

// Fills `t` (its vectors keep their capacity, so a repeated size allocates nothing).
inline void linear_taps(int src, int dst, Taps& t) {
  t.s0.resize(dst);
  t.s1.resize(dst);
  t.w0.resize(dst);
  t.w1.resize(dst);
  const double scale = 1.0 / (static_cast<double>(dst) / static_cast<double>(src));
  for (int d = 0; d < dst; ++d) {
    float f = static_cast<float>(rounded((d + 0.5) * scale) - 0.5);
    const float floor_f = std::floor(f);
    int s = static_cast<int>(floor_f);
    f = f - floor_f;
    if (s < 0) {
      s = 0;
      f = 0;
    }
    if (s >= src - 1) {
      s = src - 1;
      f = 0;
    }
    t.s0[d] = s;
    t.s1[d] = std::min(s + 1, src - 1);
    // (1 - f) and the products are float32 (exact: 2048 is a power of two); rint ties to even.
    const float one_minus_f = 1.0f - f;
    t.w0[d] = static_cast<int>(round_half_even(static_cast<double>(one_minus_f * static_cast<float>(coef_scale))));
    t.w1[d] = static_cast<int>(round_half_even(static_cast<double>(f * static_cast<float>(coef_scale))));
  }
}

// Horizontal pass of one source row: int sums p[s0] * w0 + p[s1] * w1 per output column and channel.
inline void horizontal_row(const std::uint8_t* row, const Taps& tx, int* out) {
  const int n = static_cast<int>(tx.s0.size());
  for (int x = 0; x < n; ++x) {
    const std::uint8_t* a = row + static_cast<std::size_t>(tx.s0[x]) * 3;
    const std::uint8_t* b = row + static_cast<std::size_t>(tx.s1[x]) * 3;
    for (int c = 0; c < 3; ++c) out[x * 3 + c] = a[c] * tx.w0[x] + b[c] * tx.w1[x];
  }
}

// Throws unless `g` describes a placement that fits its target (it is a plain struct a
// caller could have edited): letterbox() writes exactly where it says.
inline void check_geometry(const LetterboxGeometry& g) {
  const bool ok = g.source_width > 0 && g.source_height > 0 && g.target_width > 0 && g.target_height > 0 &&
                  g.target_width <= max_side && g.target_height <= max_side && g.resized_width > 0 &&
                  g.resized_height > 0 && g.left >= 0 && g.top >= 0 && g.resized_width <= g.target_width - g.left &&
                  g.resized_height <= g.target_height - g.top;
  require(ok, "letterbox: inconsistent geometry (source ", g.source_width, "x", g.source_height, ", target ",
          g.target_width, "x", g.target_height, ", resized ", g.resized_width, "x", g.resized_height, " at left ",
          g.left, " top ", g.top, ")");
}

}  // namespace letterbox_detail

// The letterbox placement of a src_w x src_h picture into target_w x target_h, as
// YOLOv5's letterbox(scaleup=True) computes it: r = min(target_h / h, target_w / w),
// resized size (round(w r), round(h r)) with Python's round, padding split with
// top = round(dh / 2 - 0.1), left = round(dw / 2 - 0.1).
//   minimal_rectangle = false: auto=False, pad to the full target (MODEL.md; the fixtures).
//   minimal_rectangle = true:  auto=True (detect.py): pad only up to a multiple of
//     `stride` (dw, dh = dw mod stride, dh mod stride); target becomes resized + padding.
// Beyond YOLOv5 (where OpenCV would fail on a zero size), a side that rounds to 0
// pixels is kept at 1. The target need not be a multiple of stride here.
[[nodiscard]] inline LetterboxGeometry letterbox_geometry(int src_w, int src_h, int target_w, int target_h,
                                                          bool minimal_rectangle = false, int stride = 32) {
  using namespace letterbox_detail;
  require(src_w > 0 && src_h > 0 && src_w <= max_side && src_h <= max_side, "letterbox: source size ", src_w, "x",
          src_h, " is not in 1..", max_side);
  require(target_w > 0 && target_h > 0 && target_w <= max_side && target_h <= max_side, "letterbox: target size ",
          target_w, "x", target_h, " is not in 1..", max_side);
  require(stride > 0, "letterbox: stride ", stride, " must be positive");

  LetterboxGeometry g;
  g.source_width = src_w;
  g.source_height = src_h;
  const double r = std::min(static_cast<double>(target_h) / src_h, static_cast<double>(target_w) / src_w);
  g.resized_width = std::clamp(static_cast<int>(round_half_even(src_w * r)), 1, target_w);
  g.resized_height = std::clamp(static_cast<int>(round_half_even(src_h * r)), 1, target_h);
  int dw = target_w - g.resized_width, dh = target_h - g.resized_height;  // both >= 0
  if (minimal_rectangle) {
    dw %= stride;
    dh %= stride;
  }
  g.target_width = g.resized_width + dw;
  g.target_height = g.resized_height + dh;
  g.left = static_cast<int>(round_half_even(dw / 2.0 - 0.1));
  g.top = static_cast<int>(round_half_even(dh / 2.0 - 0.1));

  // scale_boxes(img1_shape = target, img0_shape = source), ratio_pad=None.
  const double gain = std::min(static_cast<double>(g.target_height) / src_h, static_cast<double>(g.target_width) / src_w);
  g.ratio = static_cast<float>(gain);
  g.pad_x = static_cast<float>((g.target_width - rounded(src_w * gain)) / 2);
  g.pad_y = static_cast<float>((g.target_height - rounded(src_h * gain)) / 2);
  return g;
}

// The resize's working buffers, kept between calls: a stream of frames of one
// size is letterboxed without allocating.
struct LetterboxScratch {
  letterbox_detail::Taps tx, ty;
  std::vector<int> rows;

  // Makes room for any picture letterboxed into target_width x target_height
  // (the resized picture is never larger), so that even the first one
  // allocates nothing.
  void reserve(int target_width, int target_height) {
    for (auto* v : {&tx.s0, &tx.s1, &tx.w0, &tx.w1}) v->reserve(static_cast<std::size_t>(target_width));
    for (auto* v : {&ty.s0, &ty.s1, &ty.w0, &ty.w1}) v->reserve(static_cast<std::size_t>(target_height));
    rows.reserve(2 * static_cast<std::size_t>(target_width) * 3);
  }
};

// Letterboxes `src` into `out` (its buffer is reused): OpenCV uint8 INTER_LINEAR resize
// to resized_width x resized_height (a plain copy when the size is unchanged), at
// (top, left) in a target_width x target_height picture of grey 114.
inline void letterbox(const Image& src, const LetterboxGeometry& g, Image& out, LetterboxScratch& scratch) {
  using namespace letterbox_detail;
  image_detail::check_image(src, "letterbox source");
  check_geometry(g);
  require(src.width == g.source_width && src.height == g.source_height, "letterbox: image is ", src.width, "x",
          src.height, " but the geometry was computed for ", g.source_width, "x", g.source_height);
  out.width = g.target_width;
  out.height = g.target_height;
  out.rgb.assign(static_cast<std::size_t>(g.target_width) * g.target_height * 3, pad_value);

  const std::size_t src_row = static_cast<std::size_t>(src.width) * 3;
  const std::size_t out_row = static_cast<std::size_t>(out.width) * 3;
  std::uint8_t* dst0 = out.rgb.data() + static_cast<std::size_t>(g.top) * out_row + static_cast<std::size_t>(g.left) * 3;
  if (g.resized_width == src.width && g.resized_height == src.height) {
    for (int y = 0; y < src.height; ++y)
      std::copy_n(src.rgb.data() + y * src_row, src_row, dst0 + y * out_row);
    return;
  }

  Taps& tx = scratch.tx;
  Taps& ty = scratch.ty;
  linear_taps(src.width, g.resized_width, tx);
  linear_taps(src.height, g.resized_height, ty);
  // Two horizontally resized source rows, cached by index (output rows walk down the source).
  const std::size_t n = static_cast<std::size_t>(g.resized_width) * 3;
  std::vector<int>& rows = scratch.rows;
  rows.resize(2 * n);
  int cached[2] = {-1, -1};
  auto horizontal = [&](int sy, int keep) -> const int* {
    for (int k = 0; k < 2; ++k)
      if (cached[k] == sy) return rows.data() + k * n;
    const int k = cached[0] == keep ? 1 : 0;  // never evict the other row this output row needs
    horizontal_row(src.rgb.data() + static_cast<std::size_t>(sy) * src_row, tx, rows.data() + k * n);
    cached[k] = sy;
    return rows.data() + k * n;
  };
  constexpr int shift = 2 * coef_bits;
  constexpr int half = 1 << (shift - 1);
  for (int y = 0; y < g.resized_height; ++y) {
    const int* h0 = horizontal(ty.s0[y], -1);
    const int* h1 = horizontal(ty.s1[y], ty.s0[y]);
    const int wy0 = ty.w0[y], wy1 = ty.w1[y];
    std::uint8_t* dst = dst0 + static_cast<std::size_t>(y) * out_row;
    // Max 255 * 2048 * 2048 + 2^21 < 2^31: int arithmetic is exact.
    for (std::size_t i = 0; i < n; ++i)
      dst[i] = static_cast<std::uint8_t>(std::clamp((h0[i] * wy0 + h1[i] * wy1 + half) >> shift, 0, 255));
  }
}

inline void letterbox(const Image& src, const LetterboxGeometry& g, Image& out) {
  LetterboxScratch scratch;
  letterbox(src, g, out, scratch);
}

[[nodiscard]] inline Image letterbox(const Image& src, const LetterboxGeometry& g) {
  Image out;
  letterbox(src, g, out);
  return out;
}

namespace letterbox_detail {
// float32(v) / 255 for every byte: the reference's one float32 division, tabulated.
[[nodiscard]] inline const float* unit_table() {
  static const auto table = [] {
    std::vector<float> t(256);
    for (int v = 0; v < 256; ++v) t[v] = static_cast<float>(v) / 255.0f;
    return t;
  }();
  return table.data();
}
}  // namespace letterbox_detail

// The network input: planar [3, H, W] float32 RGB, float32(v) / 255. `out` holds 3 * H * W floats.
inline void image_to_chw(const Image& img, float* out) {
  image_detail::check_image(img, "image_to_chw");
  const float* lut = letterbox_detail::unit_table();
  const std::size_t plane = static_cast<std::size_t>(img.width) * img.height;
  const std::uint8_t* p = img.rgb.data();
  for (std::size_t i = 0; i < plane; ++i) {
    out[i] = lut[p[3 * i]];
    out[plane + i] = lut[p[3 * i + 1]];
    out[2 * plane + i] = lut[p[3 * i + 2]];
  }
}

// The same values interleaved [H, W, 3] (channels-last layouts). `out` holds 3 * H * W floats.
inline void image_to_hwc(const Image& img, float* out) {
  image_detail::check_image(img, "image_to_hwc");
  const float* lut = letterbox_detail::unit_table();
  for (std::size_t i = 0; i < img.rgb.size(); ++i) out[i] = lut[img.rgb[i]];
}

// YOLOv5's scale_boxes + clip_boxes for one detection: from letterboxed pixels to the
// source picture, in the reference's float32 order: (x - pad_x) / ratio, clipped to
// [0, source_width] (y likewise). NaN stays NaN, as with numpy's clip.
[[nodiscard]] inline Detection scale_box(Detection d, const LetterboxGeometry& g) {
  require(g.ratio > 0 && g.source_width > 0 && g.source_height > 0, "scale_box: geometry has ratio ", g.ratio,
          " and source ", g.source_width, "x", g.source_height, "; use letterbox_geometry()");
  const float w = static_cast<float>(g.source_width), h = static_cast<float>(g.source_height);
  auto map = [&](float v, float pad, float hi) {
    v = (v - pad) / g.ratio;
    if (v < 0.0f) v = 0.0f;
    if (v > hi) v = hi;
    return v;
  };
  d.x1 = map(d.x1, g.pad_x, w);
  d.y1 = map(d.y1, g.pad_y, h);
  d.x2 = map(d.x2, g.pad_x, w);
  d.y2 = map(d.y2, g.pad_y, h);
  return d;
}

}  // namespace riformer
