// mmpretrain's ImageNet test-time preprocessing against Pillow 9.4's fixtures
// (tests/golden/imagenet_transform_cases.safetensors, written by
// tests/reference/make_imagenet_transform_golden.py): every resized byte of
// Pillow's BICUBIC resize, the ResizeEdge sizes, the center crop's half-to-even
// offsets and the normalized float32 tensor; then the windowed pipeline against
// the full resize, and the argument checks.
//
// The source pictures are procedural (the fixture's `patterns` metadata) and
// rebuilt here, checked against their stored FNV-1a 64 hashes; Pillow's resized
// pictures are stored PNG-encoded and decoded with stb_image (io/image.hpp
// compiles it into this file).

#include <doctest/doctest.h>

#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "riformer/io/image.hpp"
#include "riformer/io/safetensors.hpp"
#include "riformer/postprocess/imagenet_transform.hpp"
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

const std::string fixture = "tests/golden/imagenet_transform_cases.safetensors";
constexpr int kCrop = 224;

std::vector<std::int32_t> read_i32(const SafetensorsFile& f, const std::string& name) {
  const std::vector<std::uint8_t> raw = read_raw(f, name, "I32");
  std::vector<std::int32_t> out(raw.size() / 4);
  std::memcpy(out.data(), raw.data(), out.size() * 4);  // little-endian, as every target here
  return out;
}

std::string fnv1a64(const std::vector<std::uint8_t>& bytes) {
  std::uint64_t h = 0xCBF29CE484222325ull;
  for (std::uint8_t b : bytes) h = (h ^ b) * 0x100000001B3ull;
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(h));
  return text;
}

// The fixture's procedural pictures (its `patterns` metadata), [h, w, 3] RGB.
Image pattern(const std::string& spec, int w, int h) {
  const std::vector<std::string> parts = split(spec, ':');
  Image img;
  img.width = w;
  img.height = h;
  img.rgb.resize(static_cast<std::size_t>(w) * static_cast<std::size_t>(h) * 3);
  const std::string& kind = parts.at(0);
  if (kind == "noise") {
    // numpy.random.RandomState(seed).bytes(n): MT19937 32-bit outputs, little-endian.
    std::mt19937 rng(static_cast<std::uint32_t>(std::stoul(parts.at(1))));
    for (std::size_t i = 0; i < img.rgb.size(); i += 4) {
      const std::uint32_t v = rng();
      for (std::size_t b = 0; b < 4 && i + b < img.rgb.size(); ++b) img.rgb[i + b] = static_cast<std::uint8_t>(v >> (8 * b));
    }
    return img;
  }
  if (kind == "mixed") {
    const Image noise = pattern("noise:" + parts.at(1), w, h), grad = pattern("gradient", w, h),
                check = pattern("checker:" + parts.at(2), w, h);
    for (std::size_t i = 0; i < img.rgb.size(); i += 3) {
      img.rgb[i] = noise.rgb[i];
      img.rgb[i + 1] = grad.rgb[i];
      img.rgb[i + 2] = check.rgb[i + 2];
    }
    return img;
  }
  const int cell = kind == "checker" ? std::stoi(parts.at(1)) : 0;
  REQUIRE_MESSAGE((kind == "gradient" || kind == "checker"), "unknown pattern ", spec);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      std::uint8_t* p = img.rgb.data() + (static_cast<std::size_t>(y) * w + x) * 3;
      if (kind == "gradient") {
        p[0] = static_cast<std::uint8_t>(x * 255 / std::max(w - 1, 1));
        p[1] = static_cast<std::uint8_t>(y * 255 / std::max(h - 1, 1));
        p[2] = static_cast<std::uint8_t>((x + y) * 255 / std::max(w + h - 2, 1));
      } else {
        const bool odd = (x / cell + y / cell) % 2 == 1;
        p[0] = odd ? 255 : 0;
        p[1] = odd ? 0 : 255;
        p[2] = odd ? 200 : 30;
      }
    }
  return img;
}

// Pillow's resized picture of `name`, decoded from its PNG.
Image pillow_resized(const SafetensorsFile& f, const std::string& name) {
  const std::vector<std::uint8_t> png = read_raw(f, name + ".resized_png", "U8");
  int w = 0, h = 0, channels = 0;
  std::unique_ptr<stbi_uc, void (*)(void*)> pixels(
      stbi_load_from_memory(png.data(), static_cast<int>(png.size()), &w, &h, &channels, 3), stbi_image_free);
  REQUIRE_MESSAGE(pixels != nullptr, name, ": cannot decode the stored PNG");
  Image img;
  img.width = w;
  img.height = h;
  img.rgb.assign(pixels.get(), pixels.get() + static_cast<std::size_t>(w) * static_cast<std::size_t>(h) * 3);
  return img;
}

// The case's source picture, checked against the generator's hash (a wrong pattern
// formula here would make every comparison below meaningless).
Image case_source(const SafetensorsFile& f, const std::string& name) {
  const auto& meta = f.metadata();
  const std::vector<int> size = ints(meta.at(name + ".source"));
  Image src = pattern(meta.at(name + ".pattern"), size.at(0), size.at(1));
  REQUIRE(fnv1a64(src.rgb) == meta.at(name + ".source_fnv1a64"));
  return src;
}

std::size_t differing_bytes(const Image& a, const Image& b) {
  REQUIRE(a.rgb.size() == b.rgb.size());
  std::size_t n = 0;
  for (std::size_t i = 0; i < a.rgb.size(); ++i) n += a.rgb[i] != b.rgb[i];
  return n;
}

// (float32(v) - mean) / std, planar [3, crop, crop], of the crop at (x1, y1): the reference's
// normalization, written out plainly.
std::vector<float> normalize_crop(const Image& img, int x1, int y1, int crop, const ImagenetTransform& t) {
  std::vector<float> out(3 * static_cast<std::size_t>(crop) * crop);
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < crop; ++y)
      for (int x = 0; x < crop; ++x) {
        const std::uint8_t v = img.rgb[(static_cast<std::size_t>(y1 + y) * img.width + (x1 + x)) * 3 + c];
        out[(static_cast<std::size_t>(c) * crop + y) * crop + x] = (static_cast<float>(v) - t.mean[c]) / t.std[c];
      }
  return out;
}

std::size_t differing_bits(const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  std::size_t n = 0;
  for (std::size_t i = 0; i < a.size(); ++i) n += std::bit_cast<std::uint32_t>(a[i]) != std::bit_cast<std::uint32_t>(b[i]);
  return n;
}

// Neumaier's compensated sum: the float64 sum of 150528 floats to far below 1e-9.
double accurate_sum(const std::vector<float>& v) {
  double sum = 0, compensation = 0;
  for (float f : v) {
    const double x = f, t = sum + x;
    compensation += std::abs(sum) >= std::abs(x) ? (sum - t) + x : (x - t) + sum;
    sum = t;
  }
  return sum + compensation;
}

Image uniform_image(int w, int h, std::uint8_t v) {
  Image img;
  img.width = w;
  img.height = h;
  img.rgb.assign(static_cast<std::size_t>(w) * static_cast<std::size_t>(h) * 3, v);
  return img;
}

}  // namespace

TEST_CASE("Pillow golden, whole pipeline: resized bytes, crop offsets and the normalized tensor") {
  const SafetensorsFile f = SafetensorsFile::open(riformer::testing::repo_file(fixture).string());
  const auto& meta = f.metadata();
  REQUIRE(meta.at("resize_short") == "248");
  REQUIRE(meta.at("crop") == "224");
  const std::vector<float> table = read_f32(f, "norm_table");  // [3, 256]
  REQUIRE(table.size() == 3 * 256);
  const int step = std::stoi(meta.at("sample_step"));
  const std::vector<std::string> cases = split(meta.at("pipeline_cases"), ',');
  REQUIRE(cases.size() == 9);

  const ImagenetTransform t;
  PilResizeScratch scratch;  // reused across pictures of different sizes
  std::size_t bytes_compared = 0;
  for (const std::string& name : cases) {
    CAPTURE(name);
    const Image src = case_source(f, name);
    const std::vector<int> resized = ints(meta.at(name + ".resized"));  // w, h
    const std::vector<int> crop_xy = ints(meta.at(name + ".crop_xy"));  // x1, y1

    // ResizeEdge's size and CenterCrop's offsets as Python computed them.
    const std::array<int, 2> size = resize_edge_size(src.width, src.height, 248);
    CHECK(size[0] == resized[0]);
    CHECK(size[1] == resized[1]);
    CHECK(imagenet_detail::center_crop_offset(resized[0], kCrop) == crop_xy[0]);
    CHECK(imagenet_detail::center_crop_offset(resized[1], kCrop) == crop_xy[1]);

    // Every byte of the resized picture.
    const Image expected = pillow_resized(f, name);
    REQUIRE(expected.width == resized[0]);
    REQUIRE(expected.height == resized[1]);
    REQUIRE(fnv1a64(expected.rgb) == meta.at(name + ".resized_fnv1a64"));  // the PNG decoded right
    const Image got = resize_bicubic_pil(src, resized[0], resized[1]);
    REQUIRE(got.width == resized[0]);
    REQUIRE(got.height == resized[1]);
    const std::size_t diff = differing_bytes(got, expected);
    CHECK_MESSAGE(diff == 0, diff, " of ", expected.rgb.size(), " resized bytes differ from Pillow's");
    bytes_compared += expected.rgb.size();

    // The network input: norm_table (numpy's float32 normalization of every byte value) at
    // Pillow's crop is numpy's whole tensor (the generator asserts it bit for bit).
    std::vector<float> reference(3 * static_cast<std::size_t>(kCrop) * kCrop);
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < kCrop; ++y)
        for (int x = 0; x < kCrop; ++x) {
          const std::uint8_t v =
              expected.rgb[(static_cast<std::size_t>(crop_xy[1] + y) * expected.width + (crop_xy[0] + x)) * 3 + c];
          reference[(static_cast<std::size_t>(c) * kCrop + y) * kCrop + x] = table[static_cast<std::size_t>(c) * 256 + v];
        }
    std::vector<float> tensor(reference.size(), std::numeric_limits<float>::quiet_NaN());
    imagenet_preprocess(src, tensor.data(), t, scratch);
    CHECK(riformer::testing::max_abs_diff(tensor, reference) <= 1e-6);
    const std::size_t bits = differing_bits(tensor, reference);
    CHECK_MESSAGE(bits == 0, bits, " of ", reference.size(), " floats differ from numpy's");
    CHECK(std::abs(accurate_sum(tensor) - std::stod(meta.at(name + ".tensor_fsum"))) <= 1e-6);

    // numpy's own tensor, sampled every `step` rows and columns.
    const std::vector<float> sample = read_f32(f, name + ".tensor_sample");
    const int n = (kCrop + step - 1) / step;
    REQUIRE(sample.size() == 3 * static_cast<std::size_t>(n) * n);
    std::size_t sample_mismatches = 0;
    for (int c = 0; c < 3; ++c)
      for (int i = 0; i < n; ++i)
        for (int j = 0; j < n; ++j)
          sample_mismatches +=
              std::bit_cast<std::uint32_t>(tensor[(static_cast<std::size_t>(c) * kCrop + i * step) * kCrop + j * step]) !=
              std::bit_cast<std::uint32_t>(sample[(static_cast<std::size_t>(c) * n + i) * n + j]);
    CHECK_MESSAGE(sample_mismatches == 0, sample_mismatches, " of ", sample.size(), " sampled floats differ");

    // The overloads agree (fresh scratch, and the vector form).
    std::vector<float> fresh(reference.size());
    imagenet_preprocess(src, fresh.data());
    CHECK(differing_bits(fresh, tensor) == 0);
    CHECK(differing_bits(imagenet_preprocess(src), tensor) == 0);
  }
  CHECK(bytes_compared == 2148672);
}

TEST_CASE("Pillow golden, resize alone: other sizes, one axis, one pixel, copies") {
  const SafetensorsFile f = SafetensorsFile::open(riformer::testing::repo_file(fixture).string());
  const auto& meta = f.metadata();
  const std::vector<std::string> cases = split(meta.at("resize_cases"), ',');
  REQUIRE(cases.size() == 12);
  for (const std::string& name : cases) {
    CAPTURE(name);
    const Image src = case_source(f, name);
    const std::vector<int> resized = ints(meta.at(name + ".resized"));
    const Image expected = pillow_resized(f, name);
    REQUIRE(expected.width == resized[0]);
    REQUIRE(expected.height == resized[1]);
    REQUIRE(fnv1a64(expected.rgb) == meta.at(name + ".resized_fnv1a64"));
    const Image got = resize_bicubic_pil(src, resized[0], resized[1]);
    REQUIRE(got.width == resized[0]);
    REQUIRE(got.height == resized[1]);
    const std::size_t diff = differing_bytes(got, expected);
    CHECK_MESSAGE(diff == 0, diff, " of ", expected.rgb.size(), " resized bytes differ from Pillow's");
  }
}

TEST_CASE("resize_edge_size: Python's int(scale * long / short) on tall, wide, square and near-integer sizes") {
  const SafetensorsFile f = SafetensorsFile::open(riformer::testing::repo_file(fixture).string());
  const std::vector<std::int32_t> rows = read_i32(f, "resize_edge_cases");  // [N, 5]
  REQUIRE(rows.size() % 5 == 0);
  REQUIRE(rows.size() / 5 >= 40);
  for (std::size_t r = 0; r < rows.size(); r += 5) {
    const int w = rows[r], h = rows[r + 1], short_edge = rows[r + 2];
    CAPTURE(w);
    CAPTURE(h);
    CAPTURE(short_edge);
    const std::array<int, 2> size = resize_edge_size(w, h, short_edge);
    CHECK(size[0] == rows[r + 3]);
    CHECK(size[1] == rows[r + 4]);
  }
  // By hand: a square takes the height branch; 248 * 600 / 400 is exactly 372.
  CHECK(resize_edge_size(100, 100, 248) == std::array<int, 2>{248, 248});
  CHECK(resize_edge_size(500, 375, 248) == std::array<int, 2>{330, 248});
  CHECK(resize_edge_size(375, 500, 248) == std::array<int, 2>{248, 330});
  CHECK(resize_edge_size(600, 400, 248) == std::array<int, 2>{372, 248});  // exactly 372
  CHECK(resize_edge_size(1, 65536, 248) == std::array<int, 2>{248, 16252928});
}

TEST_CASE("CenterCrop offsets round half to even, like Python's round") {
  using imagenet_detail::center_crop_offset;
  CHECK(center_crop_offset(224, 224) == 0);
  CHECK(center_crop_offset(225, 224) == 0);  // 0.5 -> 0
  CHECK(center_crop_offset(227, 224) == 2);  // 1.5 -> 2
  CHECK(center_crop_offset(248, 224) == 12);
  CHECK(center_crop_offset(330, 224) == 53);
  CHECK(center_crop_offset(331, 224) == 54);  // 53.5 -> 54
  CHECK(center_crop_offset(333, 224) == 54);  // 54.5 -> 54
  CHECK(center_crop_offset(335, 224) == 56);  // 55.5 -> 56
  CHECK(center_crop_offset(200, 224) == 0);   // max(0, ...)
}

TEST_CASE("normalization: float32 like numpy for every byte value; defaults are the fixture's") {
  const SafetensorsFile f = SafetensorsFile::open(riformer::testing::repo_file(fixture).string());
  const ImagenetTransform t;
  const std::vector<std::string> mean = split(f.metadata().at("mean"), ',');
  const std::vector<std::string> stdev = split(f.metadata().at("std"), ',');
  REQUIRE(mean.size() == 3);
  REQUIRE(stdev.size() == 3);
  for (int c = 0; c < 3; ++c) {
    CHECK(t.mean[c] == static_cast<float>(std::stod(mean[c])));  // repr of the float32 value: exact
    CHECK(t.std[c] == static_cast<float>(std::stod(stdev[c])));
  }
  // The header's float32 expression against numpy's, for all 768 channel values.
  const std::vector<float> table = read_f32(f, "norm_table");
  std::size_t mismatches = 0;
  for (int c = 0; c < 3; ++c)
    for (int v = 0; v < 256; ++v) {
      const float got = (static_cast<float>(v) - t.mean[c]) / t.std[c];
      mismatches += std::bit_cast<std::uint32_t>(got) != std::bit_cast<std::uint32_t>(table[c * 256 + v]);
    }
  CHECK(mismatches == 0);
  // 1x1 resize_short and crop: the pixel itself, normalized.
  Image dot = uniform_image(1, 1, 0);
  dot.rgb = {0, 128, 255};
  ImagenetTransform one = t;
  one.resize_short = 1;
  one.crop = 1;
  const std::vector<float> out = imagenet_preprocess(dot, one);
  REQUIRE(out.size() == 3);
  CHECK(std::bit_cast<std::uint32_t>(out[0]) == std::bit_cast<std::uint32_t>(table[0]));
  CHECK(std::bit_cast<std::uint32_t>(out[1]) == std::bit_cast<std::uint32_t>(table[256 + 128]));
  CHECK(std::bit_cast<std::uint32_t>(out[2]) == std::bit_cast<std::uint32_t>(table[512 + 255]));
}

TEST_CASE("the cropped window equals the crop of the full resize, for other transforms and shapes") {
  struct Case {
    const char* pattern;
    int w, h, resize_short, crop;
  };
  const Case cases[] = {
      {"noise:7", 500, 375, 248, 224}, {"noise:8", 10, 300, 248, 224},  // 248x7440: a long picture
      {"mixed:9:3", 333, 500, 256, 224}, {"checker:4", 61, 59, 64, 64},  // crop = resize_short
      {"noise:10", 3, 2, 7, 5},          {"gradient", 2000, 900, 32, 17}, // 28x smaller
  };
  PilResizeScratch scratch;
  for (const Case& c : cases) {
    CAPTURE(c.pattern);
    CAPTURE(c.w);
    CAPTURE(c.h);
    const Image src = pattern(c.pattern, c.w, c.h);
    ImagenetTransform t;
    t.resize_short = c.resize_short;
    t.crop = c.crop;
    t.mean = {1.5f, -2.0f, 100.0f};
    t.std = {0.5f, 3.0f, -7.0f};
    const std::array<int, 2> size = resize_edge_size(c.w, c.h, c.resize_short);
    const Image full = resize_bicubic_pil(src, size[0], size[1]);
    const int x1 = imagenet_detail::center_crop_offset(size[0], c.crop);
    const int y1 = imagenet_detail::center_crop_offset(size[1], c.crop);
    const std::vector<float> expected = normalize_crop(full, x1, y1, c.crop, t);
    std::vector<float> got(expected.size());
    imagenet_preprocess(src, got.data(), t, scratch);
    CHECK(differing_bits(got, expected) == 0);
  }
}

TEST_CASE("resize properties: uniform stays uniform, identity copies, one pixel fills") {
  for (int w : {1, 2, 5, 64, 333})
    for (int h : {1, 3, 100}) {
      for (const std::array<int, 2> out : {std::array<int, 2>{7, 9}, std::array<int, 2>{248, 330}}) {
        CAPTURE(w);
        CAPTURE(h);
        const Image r = resize_bicubic_pil(uniform_image(w, h, 200), out[0], out[1]);
        std::size_t other = 0;
        for (std::uint8_t v : r.rgb) other += v != 200;
        CHECK(other == 0);
      }
    }
  const Image src = pattern("noise:11", 31, 17);
  CHECK(resize_bicubic_pil(src, 31, 17).rgb == src.rgb);
  Image dot = uniform_image(1, 1, 0);
  dot.rgb = {10, 20, 30};
  const Image big = resize_bicubic_pil(dot, 5, 4);
  for (std::size_t i = 0; i < big.rgb.size(); i += 3) {
    CHECK(big.rgb[i] == 10);
    CHECK(big.rgb[i + 2] == 30);
  }
}

TEST_CASE("argument errors") {
  const Image img = uniform_image(10, 20, 1);
  std::vector<float> out(3 * kCrop * kCrop);

  CHECK(contains(error_message([] { (void)resize_bicubic_pil(Image{}, 10, 10); }), "image has size 0x0"));
  Image broken = img;
  broken.rgb.pop_back();
  CHECK(contains(error_message([&] { (void)resize_bicubic_pil(broken, 10, 10); }), "needs 600 bytes"));
  CHECK(contains(error_message([&] { (void)resize_bicubic_pil(img, 0, 10); }), "output size 0x10"));
  CHECK(contains(error_message([&] { (void)resize_bicubic_pil(img, 10, -3); }), "output size 10x-3"));
  CHECK(contains(error_message([&] { (void)resize_bicubic_pil(img, 1 << 17, 1); }), "output size"));

  CHECK(contains(error_message([] { (void)resize_edge_size(0, 10, 248); }), "image size 0x10"));
  CHECK(contains(error_message([] { (void)resize_edge_size(10, -1, 248); }), "image size 10x-1"));
  CHECK(contains(error_message([] { (void)resize_edge_size(10, 10, 0); }), "short edge 0"));
  CHECK(contains(error_message([] { (void)resize_edge_size(1, 1 << 30, 248); }), "too large"));

  CHECK(contains(error_message([&] { imagenet_preprocess(Image{}, out.data()); }), "imagenet_preprocess: image has size 0x0"));
  CHECK(contains(error_message([&] { imagenet_preprocess(broken, out.data()); }), "needs 600 bytes"));
  ImagenetTransform t;
  t.crop = 249;
  CHECK(contains(error_message([&] { imagenet_preprocess(img, out.data(), t); }), "crop 249 is not in 1..248"));
  CHECK(contains(error_message([&] { (void)imagenet_preprocess(img, t); }), "crop 249"));
  t = {};
  t.crop = 0;
  CHECK(contains(error_message([&] { imagenet_preprocess(img, out.data(), t); }), "crop 0"));
  t = {};
  t.resize_short = -5;
  CHECK(contains(error_message([&] { imagenet_preprocess(img, out.data(), t); }), "resize_short -5"));
  t = {};
  t.std[1] = 0.0f;
  CHECK(contains(error_message([&] { imagenet_preprocess(img, out.data(), t); }), "std[1]"));
  t.std[1] = std::numeric_limits<float>::quiet_NaN();
  CHECK(contains(error_message([&] { imagenet_preprocess(img, out.data(), t); }), "std[1]"));
  t = {};
  t.std[2] = std::numeric_limits<float>::infinity();
  CHECK(contains(error_message([&] { imagenet_preprocess(img, out.data(), t); }), "std[2]"));
  t = {};
  t.mean[0] = std::numeric_limits<float>::quiet_NaN();
  CHECK(contains(error_message([&] { imagenet_preprocess(img, out.data(), t); }), "mean[0]"));
}
