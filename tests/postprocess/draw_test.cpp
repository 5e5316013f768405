// Drawing detections: YOLOv5's palette and line width, outlines and labels
// where they should be and nowhere else, and no out-of-bounds writes for
// boxes outside the picture, degenerate or non-finite boxes, tiny pictures
// and odd class names (run under ASan: see the report / BUILD comment).

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "riformer/postprocess/draw.hpp"
#include "test_util.hpp"

using namespace riformer;
using riformer::testing::contains;
using riformer::testing::error_message;

namespace {

Image flat(int w, int h, std::uint8_t v = 40) {
  Image img;
  img.width = w;
  img.height = h;
  img.rgb.assign(static_cast<std::size_t>(w) * h * 3, v);
  return img;
}

const std::uint8_t* px(const Image& img, int x, int y) {
  return img.rgb.data() + (static_cast<std::size_t>(y) * img.width + x) * 3;
}

bool is(const Image& img, int x, int y, std::uint8_t r, std::uint8_t g, std::uint8_t b) {
  const std::uint8_t* p = px(img, x, y);
  return p[0] == r && p[1] == g && p[2] == b;
}

bool untouched(const Image& img, int x, int y, std::uint8_t v = 40) { return is(img, x, y, v, v, v); }

const std::vector<std::string> names = {"person", "bicycle", "car"};

}  // namespace

TEST_CASE("YOLOv5's palette and automatic line width") {
  using draw_detail::class_color;
  CHECK(class_color(0).r == 0xFF);
  CHECK(class_color(0).g == 0x38);
  CHECK(class_color(0).b == 0x38);
  CHECK(class_color(19).r == 0xFF);
  CHECK(class_color(19).g == 0x37);
  CHECK(class_color(19).b == 0xC7);
  CHECK(class_color(14).b == 0xEC);  // 0018EC
  CHECK(class_color(20).g == class_color(0).g);
  CHECK(class_color(-1).b == class_color(19).b);
  CHECK(class_color(std::numeric_limits<int>::min()).r == class_color(std::numeric_limits<int>::min() % 20 + 20).r);

  using draw_detail::auto_line_width;
  CHECK(auto_line_width(640, 480) == 2);    // 1123 / 2 * 0.003 = 1.68
  CHECK(auto_line_width(1280, 720) == 3);   // 3.0045
  CHECK(auto_line_width(1920, 1080) == 5);  // 4.5045
  CHECK(auto_line_width(3, 2) == 2);
  CHECK(auto_line_width(4000, 3000) == 11);  // 10.5045
}

TEST_CASE("labels: name and conf with two decimals, unknown classes, unprintable characters") {
  using draw_detail::label_text;
  CHECK(label_text(Detection{0, 0, 1, 1, 0.8712f, 0}, names) == "person 0.87");
  CHECK(label_text(Detection{0, 0, 1, 1, 0.5f, 2}, names) == "car 0.50");
  CHECK(label_text(Detection{0, 0, 1, 1, 0.5f, 7}, names) == "class 7 0.50");
  CHECK(label_text(Detection{0, 0, 1, 1, 0.5f, -3}, names) == "class -3 0.50");
  CHECK(label_text(Detection{0, 0, 1, 1, 1.0f, 0}, {}) == "class 0 1.00");
  CHECK(label_text(Detection{0, 0, 1, 1, 0.25f, 0}, {"caf\xC3\xA9\ttab"}) == "caf??" "?tab 0.25");
  const std::string long_name(500, 'x');
  CHECK(label_text(Detection{0, 0, 1, 1, 0.25f, 0}, {long_name}).size() == 48 + 5);
}

TEST_CASE("one box: outline in the class colour, label above, nothing else touched") {
  Image img = flat(200, 150);
  const int lw = 2;
  const Detection d{50, 60, 120, 110, 0.87f, 2};  // car: 0xFF701F
  draw_detections(img, {d}, names, lw);

  // Each edge e gets the band [e - lw/2, e - lw/2 + lw): rows 59..60 and 109..110, cols 49..50 and 119..120.
  CHECK(is(img, 80, 59, 0xFF, 0x70, 0x1F));
  CHECK(is(img, 80, 60, 0xFF, 0x70, 0x1F));
  CHECK(is(img, 80, 109, 0xFF, 0x70, 0x1F));
  CHECK(is(img, 80, 110, 0xFF, 0x70, 0x1F));
  CHECK(is(img, 49, 85, 0xFF, 0x70, 0x1F));
  CHECK(is(img, 50, 85, 0xFF, 0x70, 0x1F));
  CHECK(is(img, 119, 85, 0xFF, 0x70, 0x1F));
  CHECK(is(img, 120, 85, 0xFF, 0x70, 0x1F));
  CHECK(untouched(img, 80, 111));
  CHECK(untouched(img, 80, 108));
  CHECK(untouched(img, 48, 85));
  CHECK(untouched(img, 121, 85));
  CHECK(untouched(img, 51, 85));
  CHECK(untouched(img, 118, 85));

  // The label sits on top of the box, starting at its left edge: class colour with white text.
  int label_top = 59, label_right = 0, white = 0, colored = 0;
  for (int y = 0; y < 59; ++y)
    for (int x = 0; x < img.width; ++x) {
      if (untouched(img, x, y)) continue;
      label_top = std::min(label_top, y);
      label_right = std::max(label_right, x);
      CHECK(x >= 49);
      if (is(img, x, y, 255, 255, 255)) ++white;
      else if (is(img, x, y, 0xFF, 0x70, 0x1F)) ++colored;
      else FAIL("unexpected colour at " << x << "," << y);
    }
  CHECK(white > 30);    // "car 0.87" in 2x-scaled glyphs
  CHECK(colored > 100);
  CHECK(label_top >= 59 - 30);  // text ~ 10 font pixels high at scale 2, plus margins
  CHECK(label_top <= 59 - 15);
  CHECK(label_right > 49 + 8 * 2 * 4);  // 8 characters, 4+ font pixels each at scale 2

  // Everything else is untouched: inside the box and outside box + label.
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < img.width; ++x) {
      const bool in_outline = x >= 49 && x <= 120 && y >= 59 && y <= 110 && !(x >= 51 && x <= 118 && y >= 61 && y <= 108);
      const bool in_label = y >= label_top && y < 59 && x >= 49 && x <= label_right;
      if (!in_outline && !in_label) REQUIRE(untouched(img, x, y));
      if (in_outline) REQUIRE(is(img, x, y, 0xFF, 0x70, 0x1F));
    }
}

TEST_CASE("label placement: inside the box at the top edge, shifted left at the right edge") {
  Image img = flat(120, 80);
  draw_detections(img, {Detection{10, 2, 60, 70, 0.5f, 0}}, names, 2);
  // No room above: the label starts at the box's top and covers part of its inside.
  CHECK(!untouched(img, 20, 10));
  CHECK(untouched(img, 20, 60));
  for (int x = 0; x < img.width; ++x) CHECK(untouched(img, x, 0));  // nothing above the outline

  Image right = flat(120, 80);
  draw_detections(right, {Detection{110, 50, 119, 70, 0.5f, 1}}, names, 2);
  // "bicycle 0.50" is wider than the space to the right: the label ends at the picture's edge.
  CHECK(!untouched(right, 119, 45));
  CHECK(!untouched(right, 60, 45));
}

TEST_CASE("drawing order: the first detection ends on top; automatic width") {
  Image img = flat(640, 480);
  draw_detections(img, {Detection{100, 100, 300, 300, 0.9f, 0}, Detection{100, 100, 300, 300, 0.8f, 5}}, names);
  CHECK(is(img, 200, 100, 0xFF, 0x38, 0x38));  // class 0 over class 5
  CHECK(is(img, 200, 99, 0xFF, 0x38, 0x38));   // auto width 2 at 640x480
  CHECK(untouched(img, 200, 102));
}

TEST_CASE("boxes outside the picture, inverted, degenerate or non-finite; tiny pictures") {
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float big = std::numeric_limits<float>::max();

  SUBCASE("wholly outside: nothing drawn, not even the label") {
    Image img = flat(50, 40);
    draw_detections(img,
                    {Detection{-100, -100, -60, -50, 0.9f, 0}, Detection{60, 10, 90, 30, 0.9f, 1},
                     Detection{10, 45, 20, 70, 0.9f, 2}, Detection{10, -30, 20, -3, 0.9f, 2}},
                    names, 2);
    CHECK(img.rgb == flat(50, 40).rgb);
  }
  SUBCASE("partly outside: clipped outline") {
    Image img = flat(50, 40);
    draw_detections(img, {Detection{-20, 10, 30, 100, 0.9f, 0}}, names, 2);
    CHECK(is(img, 29, 35, 0xFF, 0x38, 0x38));  // right edge visible below the label
    CHECK(is(img, 30, 35, 0xFF, 0x38, 0x38));
    CHECK(untouched(img, 31, 35));
    CHECK(untouched(img, 10, 35));
    CHECK(!untouched(img, 0, 12));  // the label, moved into the picture
  }
  SUBCASE("inverted corners draw the same box") {
    Image a = flat(60, 60), b = flat(60, 60);
    draw_detections(a, {Detection{10, 20, 40, 50, 0.5f, 1}}, names, 1);
    draw_detections(b, {Detection{40, 50, 10, 20, 0.5f, 1}}, names, 1);
    CHECK(a.rgb == b.rgb);
  }
  SUBCASE("non-finite corners are skipped; huge ones are clipped") {
    Image img = flat(30, 30);
    draw_detections(img, {Detection{nan, 1, 5, 5, 0.5f, 0}, Detection{1, 1, inf, 5, 0.5f, 0}}, names, 1);
    CHECK(img.rgb == flat(30, 30).rgb);
    draw_detections(img, {Detection{-big, -big, big, big, nan, 0}}, names, 1);  // covers everything, label "nan"
    CHECK(img.rgb.size() == 30u * 30u * 3u);
  }
  SUBCASE("zero-size boxes and tiny pictures, every line width") {
    for (int w : {1, 2, 3, 7})
      for (int h : {1, 2, 5})
        for (int lw : {0, 1, 2, 5, 40, 1000}) {
          Image img = flat(w, h);
          const std::vector<Detection> dets = {Detection{0, 0, 0, 0, 0.1f, 0}, Detection{0.5f, 0.5f, 0.5f, 0.5f, 0.9f, 3},
                                               Detection{-1, -1, 10, 10, 1.0f, 99}, Detection{w - 1.0f, h - 1.0f, w + 5.0f, h + 5.0f, 0.3f, 1}};
          draw_detections(img, dets, names, lw);
          REQUIRE(img.rgb.size() == static_cast<std::size_t>(w) * h * 3);
        }
    Image empty;
    draw_detections(empty, {Detection{0, 0, 10, 10, 0.5f, 0}}, names);
    CHECK(empty.rgb.empty());
  }
}

TEST_CASE("random detections and names never write out of bounds") {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> coord(-300.0f, 600.0f);
  std::vector<std::string> odd_names = {"", "\x01\x02\x7F\xFF", std::string(200, 'W'), "~}|{", "a\nb"};
  for (int round = 0; round < 40; ++round) {
    const int w = 1 + static_cast<int>(rng() % 300), h = 1 + static_cast<int>(rng() % 200);
    Image img = flat(w, h);
    std::vector<Detection> dets;
    for (int i = 0; i < 25; ++i)
      dets.push_back(Detection{coord(rng), coord(rng), coord(rng), coord(rng), coord(rng) / 600.0f,
                               static_cast<int>(rng() % 14) - 4});
    draw_detections(img, dets, odd_names, static_cast<int>(rng() % 6));
    REQUIRE(img.rgb.size() == static_cast<std::size_t>(w) * h * 3);
  }
}

TEST_CASE("argument errors") {
  Image img = flat(10, 10);
  CHECK(contains(error_message([&] { draw_detections(img, {}, names, -1); }), "line width -1"));
  CHECK(contains(error_message([&] { draw_detections(img, {}, names, 5000); }), "line width 5000"));
  Image broken = flat(10, 10);
  broken.rgb.resize(7);
  CHECK(contains(error_message([&] { draw_detections(broken, {}, names); }), "draw_detections"));
  CHECK(contains(error_message([&] { draw_detections(broken, {}, names); }), "needs 300 bytes"));
}
