#pragma once
// Drawing detections on a picture for people to look at: YOLOv5's look (its
// 20-colour class palette, line width from the picture size, a filled label
// "name conf" above the box's corner, white text) without OpenCV. Text is
// Debian's stb_easy_font, whose glyphs are axis-aligned quads, rasterized
// here as scaled rectangles. Boxes come from a network and may be anywhere
// (outside the picture, inverted, NaN), so every rectangle is clipped in
// 64-bit arithmetic before a single pixel is written.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "riformer/core/error.hpp"
#include "riformer/io/image.hpp"
#include "riformer/postprocess/detection.hpp"

#if defined(__GNUC__)
#pragma GCC diagnostic push
#if defined(__clang__)
#pragma GCC diagnostic ignored "-Wunknown-warning-option"  // the GCC-only names below
#endif
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wsign-conversion"
#pragma GCC diagnostic ignored "-Wold-style-cast"
#pragma GCC diagnostic ignored "-Wcast-align"
#pragma GCC diagnostic ignored "-Wdouble-promotion"
#pragma GCC diagnostic ignored "-Wzero-as-null-pointer-constant"
#pragma GCC diagnostic ignored "-Wuseless-cast"
#pragma GCC diagnostic ignored "-Wcast-qual"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#endif
#include <stb/stb_easy_font.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

namespace riformer {

namespace draw_detail {

struct Rgb {
  std::uint8_t r, g, b;
};

// ultralytics utils/plots.py Colors: colour of class c is palette[c mod 20] (given there as RGB hex).
[[nodiscard]] inline Rgb class_color(int cls) {
  static constexpr std::uint32_t hex[20] = {0xFF3838, 0xFF9D97, 0xFF701F, 0xFFB21D, 0xCFD231, 0x48F90A, 0x92CC17,
                                            0x3DDB86, 0x1A9334, 0x00D4BB, 0x2C99A8, 0x00C2FF, 0x344593, 0x6473FF,
                                            0x0018EC, 0x8438FF, 0x520085, 0xCB38FF, 0xFF95C8, 0xFF37C7};
  const std::uint32_t c = hex[((cls % 20) + 20) % 20];
  return {static_cast<std::uint8_t>(c >> 16), static_cast<std::uint8_t>(c >> 8), static_cast<std::uint8_t>(c)};
}

// YOLOv5's Annotator: max(round(sum(im.shape) / 2 * 0.003), 2), im.shape = (h, w, 3),
// Python's round (ties to even).
[[nodiscard]] inline int auto_line_width(int width, int height) {
  const double x = (static_cast<double>(height) + width + 3) / 2 * 0.003;
  double r = std::floor(x);
  const double frac = x - r;
  if (frac > 0.5 || (frac == 0.5 && std::fmod(r, 2.0) != 0)) r += 1;
  return std::max(static_cast<int>(r), 2);
}

// Fills [x0, x1) x [y0, y1), clipped to the picture; coordinates may be anywhere.
inline void fill_rect(Image& img, std::int64_t x0, std::int64_t y0, std::int64_t x1, std::int64_t y1, Rgb c) {
  x0 = std::max<std::int64_t>(x0, 0);
  y0 = std::max<std::int64_t>(y0, 0);
  x1 = std::min<std::int64_t>(x1, img.width);
  y1 = std::min<std::int64_t>(y1, img.height);
  for (std::int64_t y = y0; y < y1; ++y) {
    std::uint8_t* p = img.rgb.data() + (static_cast<std::size_t>(y) * img.width + static_cast<std::size_t>(x0)) * 3;
    for (std::int64_t x = x0; x < x1; ++x, p += 3) {
      p[0] = c.r;
      p[1] = c.g;
      p[2] = c.b;
    }
  }
}

// A box corner as YOLOv5 takes it (int(), truncation), kept far from overflow; false if not finite.
[[nodiscard]] inline bool to_pixel(float v, std::int64_t& out) {
  if (!std::isfinite(v)) return false;
  constexpr float limit = 1e9f;
  out = static_cast<std::int64_t>(std::clamp(v, -limit, limit));
  return true;
}

// "name conf" with only the printable ASCII stb_easy_font has glyphs for (others become '?').
[[nodiscard]] inline std::string label_text(const Detection& d, const std::vector<std::string>& names) {
  std::string name = d.cls >= 0 && static_cast<std::size_t>(d.cls) < names.size() ? names[static_cast<std::size_t>(d.cls)]
                                                                                  : "class " + std::to_string(d.cls);
  if (name.size() > 48) name.resize(48);
  char conf[32];
  std::snprintf(conf, sizeof conf, " %.2f", static_cast<double>(d.conf));
  std::string text = name + conf;
  for (char& ch : text)
    if (static_cast<unsigned char>(ch) < 32 || static_cast<unsigned char>(ch) > 126) ch = '?';
  return text;
}

// A label's glyph rectangles in font units, from stb_easy_font's quads, and their extent.
struct TextShape {
  struct Quad {
    float x0, y0, x1, y1;
  };
  std::vector<Quad> quads;
  float width = 0, top = 0, bottom = 0;
};

[[nodiscard]] inline TextShape shape_text(std::string text) {
  // ~270 bytes per character on average; 1 KB per character cannot truncate.
  std::vector<float> vertices((text.size() + 1) * 256);
  const int n = stb_easy_font_print(0, 0, text.data(), nullptr, vertices.data(),
                                    static_cast<int>(vertices.size() * sizeof(float)));
  TextShape s;
  s.top = 1e9f;
  s.bottom = -1e9f;
  for (int q = 0; q < n; ++q) {
    const float* v = vertices.data() + static_cast<std::size_t>(q) * 16;  // 4 vertices of x, y, z, colour
    const TextShape::Quad quad{v[0], v[1], v[8], v[9]};                  // vertex 0 and vertex 2: opposite corners
    s.quads.push_back(quad);
    s.width = std::max(s.width, quad.x1);
    s.top = std::min(s.top, quad.y0);
    s.bottom = std::max(s.bottom, quad.y1);
  }
  if (s.quads.empty()) s.top = s.bottom = 0;
  return s;
}

}  // namespace draw_detail

// Draws each detection's box (line_width pixels, centred on the box edges, in its
// class colour) and a filled label "name conf" (class N for an index outside
// `class_names`) in white text, above the box's top-left corner when it fits,
// else just inside it, shifted left to stay within the picture. Drawn in reverse
// order, as YOLOv5 does, so the first (most confident) detection ends on top.
// line_width 0 picks YOLOv5's size-dependent width; the text scales with it.
// Boxes are in this picture's pixels; anything outside the picture is clipped, and
// detections with non-finite corners or wholly outside the picture are skipped.
inline void draw_detections(Image& img, const std::vector<Detection>& dets, const std::vector<std::string>& class_names,
                            int line_width = 0) {
  using namespace draw_detail;
  require(line_width >= 0 && line_width <= 1000, "draw_detections: line width ", line_width, " is not in 0..1000");
  if (img.width == 0 && img.height == 0 && img.rgb.empty()) return;  // nothing to draw on
  image_detail::check_image(img, "draw_detections");
  const int lw = line_width > 0 ? line_width : auto_line_width(img.width, img.height);
  const std::int64_t scale = lw;   // font pixel size: text about as tall as YOLOv5's at this width
  const std::int64_t pad = scale;  // label margin around the text
  const Rgb white{255, 255, 255};

  for (auto it = dets.rbegin(); it != dets.rend(); ++it) {
    const Detection& d = *it;
    std::int64_t x1 = 0, y1 = 0, x2 = 0, y2 = 0;
    if (!to_pixel(d.x1, x1) || !to_pixel(d.y1, y1) || !to_pixel(d.x2, x2) || !to_pixel(d.y2, y2)) continue;
    if (x2 < x1) std::swap(x1, x2);
    if (y2 < y1) std::swap(y1, y2);
    const Rgb color = class_color(d.cls);

    // Outline: a band of lw pixels centred on each edge line.
    const std::int64_t ox0 = x1 - lw / 2, oy0 = y1 - lw / 2;              // outer top-left
    const std::int64_t ox1 = x2 + (lw - 1) / 2 + 1, oy1 = y2 + (lw - 1) / 2 + 1;  // outer bottom-right, exclusive
    if (ox1 <= 0 || oy1 <= 0 || ox0 >= img.width || oy0 >= img.height) continue;  // wholly outside: no label either
    fill_rect(img, ox0, oy0, ox1, oy0 + lw, color);  // top
    fill_rect(img, ox0, oy1 - lw, ox1, oy1, color);  // bottom
    fill_rect(img, ox0, oy0, ox0 + lw, oy1, color);  // left
    fill_rect(img, ox1 - lw, oy0, ox1, oy1, color);  // right

    // Label.
    const TextShape text = shape_text(label_text(d, class_names));
    const std::int64_t label_w = static_cast<std::int64_t>(std::ceil(text.width)) * scale + 2 * pad;
    const std::int64_t label_h = static_cast<std::int64_t>(std::ceil(text.bottom - text.top)) * scale + 2 * pad;
    const std::int64_t ly = oy0 - label_h >= 0 ? oy0 - label_h : oy0;  // above the box if it fits, else inside
    // At the box's left edge, moved right or left just enough to stay in the picture when it fits.
    const std::int64_t lx = std::clamp<std::int64_t>(ox0, 0, std::max<std::int64_t>(img.width - label_w, 0));
    fill_rect(img, lx, ly, lx + label_w, ly + label_h, color);
    for (const TextShape::Quad& q : text.quads) {
      const std::int64_t gx = lx + pad + static_cast<std::int64_t>(q.x0) * scale;
      const std::int64_t gy = ly + pad + static_cast<std::int64_t>(q.y0 - text.top) * scale;
      fill_rect(img, gx, gy, gx + static_cast<std::int64_t>(q.x1 - q.x0) * scale,
                gy + static_cast<std::int64_t>(q.y1 - q.y0) * scale, white);
    }
  }
}

}  // namespace riformer
