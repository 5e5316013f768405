// Letterbox and scale_box against the PyTorch/numpy reference's fixtures
// (tests/golden/letterbox_cases.safetensors, written by yolo_ref.letterbox /
// to_tensor / scale_boxes): geometry, every letterboxed byte, the float input
// and the box mapping; plus YOLOv5 detect.py's minimal-rectangle geometry and
// the argument checks.

#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "riformer/io/safetensors.hpp"
#include "riformer/io/synthetic.hpp"
#include "riformer/postprocess/letterbox.hpp"
#include "fixture_reading.hpp"
#include "test_util.hpp"

using namespace riformer;
using riformer::testing::contains;
using riformer::testing::error_message;
using riformer::testing::ints;
using riformer::testing::read_f32;
using riformer::testing::read_raw;
using riformer::testing::split;

namespace {

const std::string fixture = "tests/golden/letterbox_cases.safetensors";

// The fixture's procedural picture: bits('letterbox.' + case, i) >> 24 (SYNTHETIC.md), C order [h, w, 3].
Image case_image(const std::string& name, int h, int w) {
  Image img;
  img.width = w;
  img.height = h;
  img.rgb.resize(static_cast<std::size_t>(h) * w * 3);
  const std::uint32_t key = synthetic::fnv1a("letterbox." + name);
  for (std::size_t i = 0; i < img.rgb.size(); ++i) {
    const std::uint32_t index = static_cast<std::uint32_t>(i);
    const std::uint32_t bits = synthetic::mix(key ^ synthetic::mix(index * 0x9E3779B9u + 0x7F4A7C15u));
    img.rgb[i] = static_cast<std::uint8_t>(bits >> 24);
  }
  return img;
}

Image uniform_image(int w, int h, std::uint8_t v) {
  Image img;
  img.width = w;
  img.height = h;
  img.rgb.assign(static_cast<std::size_t>(w) * h * 3, v);
  return img;
}

}  // namespace

TEST_CASE("every fixture case: geometry, letterboxed bytes and scale_box match the reference") {
  const SafetensorsFile f = SafetensorsFile::open(riformer::testing::repo_file(fixture).string());
  const auto& meta = f.metadata();
  const std::vector<int> target = ints(meta.at("target"));  // h, w
  REQUIRE(target.size() == 2);
  REQUIRE(meta.at("pad_value") == "114");
  const std::vector<std::string> cases = split(meta.at("cases"), ',');
  REQUIRE(cases.size() == 6);

  for (const std::string& name : cases) {
    CAPTURE(name);
    const std::vector<int> shape = ints(meta.at(name + ".shape"));          // h, w
    const std::vector<int> resized = ints(meta.at(name + ".resized"));      // h, w
    const std::vector<int> top_left = ints(meta.at(name + ".top_left"));    // top, left
    const double ratio = std::stod(meta.at(name + ".ratio"));
    const int h = shape[0], w = shape[1];

    const LetterboxGeometry g = letterbox_geometry(w, h, target[1], target[0]);
    CHECK(g.source_width == w);
    CHECK(g.source_height == h);
    CHECK(g.target_width == target[1]);
    CHECK(g.target_height == target[0]);
    CHECK(g.resized_height == resized[0]);
    CHECK(g.resized_width == resized[1]);
    CHECK(g.top == top_left[0]);
    CHECK(g.left == top_left[1]);
    CHECK(g.ratio == static_cast<float>(ratio));
    // scale_boxes' unrounded padding (W1 - W0 * gain) / 2, float64 then float32. The product is
    // rounded on its own (volatile), as in Python: an FMA would leave e.g. 1.8e-15 instead of 0.
    const volatile double w_gain = w * ratio, h_gain = h * ratio;
    CHECK(g.pad_x == static_cast<float>((target[1] - w_gain) / 2));
    CHECK(g.pad_y == static_cast<float>((target[0] - h_gain) / 2));

    const Image src = case_image(name, h, w);
    const Image out = letterbox(src, g);
    REQUIRE(out.width == target[1]);
    REQUIRE(out.height == target[0]);
    const std::vector<std::uint8_t> expected = read_raw(f, name + ".letterboxed", "U8");
    REQUIRE(expected.size() == out.rgb.size());
    std::size_t mismatches = 0;
    for (std::size_t i = 0; i < expected.size(); ++i) mismatches += expected[i] != out.rgb[i];
    CHECK(mismatches == 0);

    const std::vector<float> boxes = read_f32(f, name + ".boxes");
    const std::vector<float> mapped = read_f32(f, name + ".boxes_mapped");
    REQUIRE(boxes.size() == 18);
    REQUIRE(mapped.size() == 18);
    for (int r = 0; r < 3; ++r) {
      CAPTURE(r);
      Detection d{boxes[r * 6 + 0], boxes[r * 6 + 1], boxes[r * 6 + 2], boxes[r * 6 + 3], boxes[r * 6 + 4],
                  static_cast<int>(boxes[r * 6 + 5])};
      const Detection m = scale_box(d, g);
      const float got[4] = {m.x1, m.y1, m.x2, m.y2};
      for (int k = 0; k < 4; ++k) {
        CAPTURE(k);
        CHECK(std::abs(got[k] - mapped[r * 6 + k]) <= 1e-4f);
        CHECK(std::bit_cast<std::uint32_t>(got[k]) == std::bit_cast<std::uint32_t>(mapped[r * 6 + k]));  // same float32 ops
      }
      CHECK(m.conf == mapped[r * 6 + 4]);
      CHECK(m.cls == static_cast<int>(mapped[r * 6 + 5]));
    }
  }
}

TEST_CASE("tensor example: float32(v) / 255, planar and interleaved") {
  const SafetensorsFile f = SafetensorsFile::open(riformer::testing::repo_file(fixture).string());
  const LetterboxGeometry g = letterbox_geometry(100, 150, 96, 64);
  const Image img = letterbox(case_image("down", 150, 100), g);
  std::vector<float> chw(img.rgb.size()), hwc(img.rgb.size());
  image_to_chw(img, chw.data());
  image_to_hwc(img, hwc.data());
  const std::vector<float> expected = read_f32(f, "tensor_example");  // [1, 3, 4, 4]
  REQUIRE(expected.size() == 48);
  const std::size_t plane = static_cast<std::size_t>(img.width) * img.height;
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < 4; ++y)
      for (int x = 0; x < 4; ++x) {
        const float e = expected[(c * 4 + y) * 4 + x];
        CHECK(std::bit_cast<std::uint32_t>(chw[c * plane + y * img.width + x]) == std::bit_cast<std::uint32_t>(e));
      }
  for (std::size_t i = 0; i < plane; ++i)
    for (int c = 0; c < 3; ++c) {
      REQUIRE(hwc[i * 3 + c] == chw[c * plane + i]);
      REQUIRE(hwc[i * 3 + c] == static_cast<float>(img.rgb[i * 3 + c]) / 255.0f);
    }
  CHECK(chw[0] >= 0.0f);
  const Image white = uniform_image(2, 1, 255);
  float v[6];
  image_to_chw(white, v);
  for (float x : v) CHECK(x == 1.0f);
}

TEST_CASE("minimal rectangle (detect.py auto=True): pad to a multiple of the stride only") {
  SUBCASE("1280x720 -> 640: 640x360 padded to 640x384") {
    const LetterboxGeometry g = letterbox_geometry(1280, 720, 640, 640, true);
    CHECK(g.resized_width == 640);
    CHECK(g.resized_height == 360);
    CHECK(g.target_width == 640);
    CHECK(g.target_height == 384);
    CHECK(g.top == 12);
    CHECK(g.left == 0);
    CHECK(g.ratio == 0.5f);
    CHECK(g.pad_x == 0.0f);
    CHECK(g.pad_y == 12.0f);
    const LetterboxGeometry full = letterbox_geometry(1280, 720, 640, 640);
    CHECK(full.target_height == 640);
    CHECK(full.top == 140);
  }
  SUBCASE("portrait 720x1280 -> 384x640") {
    const LetterboxGeometry g = letterbox_geometry(720, 1280, 640, 640, true);
    CHECK(g.resized_width == 360);
    CHECK(g.resized_height == 640);
    CHECK(g.target_width == 384);
    CHECK(g.target_height == 640);
    CHECK(g.left == 12);
    CHECK(g.top == 0);
  }
  SUBCASE("YOLOv5's bus.jpg 810x1080 -> 480x640, no padding") {
    const LetterboxGeometry g = letterbox_geometry(810, 1080, 640, 640, true);
    CHECK(g.resized_width == 480);
    CHECK(g.resized_height == 640);
    CHECK(g.target_width == 480);
    CHECK(g.target_height == 640);
    CHECK(g.top == 0);
    CHECK(g.left == 0);
  }
  SUBCASE("odd padding splits with round(d/2 -+ 0.1); other strides") {
    // 1000x590 -> r 0.64: 640x378 (377.6 rounds up), dh 262 mod 32 = 6 -> 3 top, 3 bottom.
    const LetterboxGeometry g = letterbox_geometry(1000, 590, 640, 640, true);
    CHECK(g.resized_height == 378);
    CHECK(g.target_height == 384);
    CHECK(g.top == 3);
    // 1000x586 -> 375.04 -> 375, dh 265 mod 32 = 9: top round(4.4) = 4, bottom 5.
    const LetterboxGeometry h = letterbox_geometry(1000, 586, 640, 640, true);
    CHECK(h.resized_height == 375);
    CHECK(h.target_height == 384);
    CHECK(h.top == 4);
    const LetterboxGeometry s64 = letterbox_geometry(1280, 720, 640, 640, true, 64);
    CHECK(s64.target_height == 384);  // 280 mod 64 = 24
    CHECK(s64.top == 12);
    const LetterboxGeometry s1 = letterbox_geometry(1280, 720, 640, 640, true, 1);
    CHECK(s1.target_height == 360);
    CHECK(s1.top == 0);
  }
  SUBCASE("the letterboxed picture has the minimal size and maps boxes back") {
    const LetterboxGeometry g = letterbox_geometry(128, 72, 64, 64, true, 8);
    CHECK(g.target_width == 64);
    CHECK(g.target_height == 40);  // 36 + 28 mod 8
    const Image out = letterbox(uniform_image(128, 72, 7), g);
    CHECK(out.width == 64);
    CHECK(out.height == 40);
    CHECK(out.rgb[0] == 114);  // top padding row
    CHECK(out.rgb[(static_cast<std::size_t>(g.top) * 64) * 3] == 7);
    const Detection d = scale_box(Detection{0, static_cast<float>(g.top), 64, static_cast<float>(g.top + 36), 0.5f, 3}, g);
    CHECK(d.x1 == 0.0f);
    CHECK(d.y1 == 0.0f);
    CHECK(d.x2 == 128.0f);
    CHECK(d.y2 == 72.0f);
  }
}

TEST_CASE("resize properties: uniform stays uniform, identity copies, buffer reuse, extreme aspect ratios") {
  for (int w : {1, 2, 3, 7, 31, 100, 333})
    for (int h : {1, 2, 5, 64, 129}) {
      CAPTURE(w);
      CAPTURE(h);
      const LetterboxGeometry g = letterbox_geometry(w, h, 96, 64);
      const Image out = letterbox(uniform_image(w, h, 200), g);
      std::size_t inside = 0, grey = 0;
      for (std::size_t i = 0; i < out.rgb.size(); ++i) {
        inside += out.rgb[i] == 200;
        grey += out.rgb[i] == 114;
      }
      CHECK(inside == static_cast<std::size_t>(g.resized_width) * g.resized_height * 3);
      CHECK(inside + grey == out.rgb.size());
    }

  const Image src = case_image("same", 64, 96);
  CHECK(letterbox(src, letterbox_geometry(96, 64, 96, 64)).rgb == src.rgb);

  // Reusing an output buffer gives the same result as a fresh one.
  Image out;
  letterbox(case_image("up", 37, 53), letterbox_geometry(53, 37, 96, 64), out);
  const Image bigger = out;
  letterbox(case_image("narrow", 20, 7), letterbox_geometry(7, 20, 96, 64), out);
  CHECK(out.rgb == letterbox(case_image("narrow", 20, 7), letterbox_geometry(7, 20, 96, 64)).rgb);
  CHECK(out.rgb != bigger.rgb);

  // A side that rounds to zero pixels keeps one (OpenCV would refuse it).
  const LetterboxGeometry thin = letterbox_geometry(5000, 1, 96, 64);
  CHECK(thin.resized_width == 96);
  CHECK(thin.resized_height == 1);
  CHECK(letterbox(uniform_image(5000, 1, 9), thin).rgb.size() == 96u * 64u * 3u);
  const LetterboxGeometry tall = letterbox_geometry(1, 5000, 96, 64, true);
  CHECK(tall.resized_width == 1);
  CHECK(tall.target_width == 1 + 95 % 32);

  // Upscaling a 1x1 picture fills the whole resized area with it.
  const LetterboxGeometry one = letterbox_geometry(1, 1, 96, 64);
  CHECK(one.resized_width == 64);
  CHECK(one.left == 16);
  Image dot = uniform_image(1, 1, 0);
  dot.rgb = {10, 20, 30};
  const Image big = letterbox(dot, one);
  CHECK(big.rgb[(5 * 96 + 16) * 3 + 0] == 10);
  CHECK(big.rgb[(5 * 96 + 79) * 3 + 2] == 30);
  CHECK(big.rgb[(5 * 96 + 80) * 3 + 2] == 114);
}

TEST_CASE("scale_box: clipping to the source picture, NaN passes through") {
  const LetterboxGeometry g = letterbox_geometry(100, 150, 96, 64);
  const Detection d = scale_box(Detection{-50, -50, 1000, 1000, 0.9f, 4}, g);
  CHECK(d.x1 == 0.0f);
  CHECK(d.y1 == 0.0f);
  CHECK(d.x2 == 100.0f);
  CHECK(d.y2 == 150.0f);
  CHECK(d.conf == 0.9f);
  CHECK(d.cls == 4);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  CHECK(std::isnan(scale_box(Detection{nan, 1, 2, 3, 0.5f, 0}, g).x1));
  CHECK(contains(error_message([] { (void)scale_box(Detection{}, LetterboxGeometry{}); }), "letterbox_geometry"));
}

TEST_CASE("argument errors") {
  CHECK(contains(error_message([] { (void)letterbox_geometry(0, 10, 64, 64); }), "source size 0x10"));
  CHECK(contains(error_message([] { (void)letterbox_geometry(10, -1, 64, 64); }), "source size"));
  CHECK(contains(error_message([] { (void)letterbox_geometry(10, 10, 0, 64); }), "target size 0x64"));
  CHECK(contains(error_message([] { (void)letterbox_geometry(10, 10, 64, 1 << 20); }), "target size"));
  CHECK(contains(error_message([] { (void)letterbox_geometry(10, 10, 64, 64, true, 0); }), "stride 0"));

  const LetterboxGeometry g = letterbox_geometry(10, 20, 64, 64);
  CHECK(contains(error_message([&] { (void)letterbox(uniform_image(20, 10, 1), g); }),
                 "geometry was computed for 10x20"));
  Image broken = uniform_image(10, 20, 1);
  broken.rgb.pop_back();
  CHECK(contains(error_message([&] { (void)letterbox(broken, g); }), "needs 600 bytes"));
  LetterboxGeometry edited = g;
  edited.left = 60;
  CHECK(contains(error_message([&] { (void)letterbox(uniform_image(10, 20, 1), edited); }), "inconsistent geometry"));
  edited = g;
  edited.resized_height = 0;
  CHECK(contains(error_message([&] { (void)letterbox(uniform_image(10, 20, 1), edited); }), "inconsistent geometry"));
  std::vector<float> sink(3);
  CHECK(contains(error_message([&] { image_to_chw(Image{}, sink.data()); }), "image_to_chw"));
  CHECK(contains(error_message([&] { image_to_hwc(broken, sink.data()); }), "image_to_hwc"));
}
