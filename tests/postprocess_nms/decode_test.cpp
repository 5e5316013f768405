// The Detect decode: the vector sigmoid against double precision, the vector
// decode against its scalar twin on sizes that leave ragged vector ends, the
// scalar twin against the formula in double, and both against PyTorch's
// decoded `pred` of the detector fixtures (tests/reference/make_golden.py).
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "riformer/io/safetensors.hpp"
#include "riformer/postprocess/decode.hpp"
#include "raw_levels.hpp"
#include "test_util.hpp"

using namespace riformer;
using Arch = DefaultArch;
using testing::kAnchors;
using testing::random_level;
using testing::RawLevel;

namespace {

struct Errors {
  double box = 0, score = 0;
};

Errors compare(const std::vector<float>& got, const std::vector<float>& want, int nc) {
  REQUIRE(got.size() == want.size());
  const std::size_t no = static_cast<std::size_t>(nc) + 5;
  Errors e;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double d = std::abs(static_cast<double>(got[i]) - want[i]);
    double& worst = i % no < 4 ? e.box : e.score;
    if (!(d <= worst)) worst = d;  // NaN becomes the maximum
  }
  return e;
}

double exact_sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

}  // namespace

TEST_CASE("vector sigmoid against double precision") {
  // Relative error over [-20, 20) in steps of 1e-3, and at random points out to
  // the range where the result stops being a normal float (exp(-x) overflows).
  std::vector<float> xs;
  for (int i = -20000; i < 20000; ++i) xs.push_back(static_cast<float>(i * 1e-3));
  for (float v : testing::random_vector(100000, 7, -87.0f, 87.0f)) xs.push_back(v);
  xs.resize((xs.size() + 63) / 64 * 64, 0.0f);
  std::vector<float> vec(xs.size()), sca(xs.size());
  if constexpr (kIsSimd<Arch>) {
    using B = xsimd::batch<float, Arch>;
    for (std::size_t i = 0; i < xs.size(); i += B::size)
      sigmoid_vector<Arch>(B::load_unaligned(xs.data() + i)).store_unaligned(vec.data() + i);
  } else {
    for (std::size_t i = 0; i < xs.size(); ++i) vec[i] = kernels::sigmoid(xs[i]);
  }
  for (std::size_t i = 0; i < xs.size(); ++i) sca[i] = kernels::sigmoid(xs[i]);
  double vec_err = 0, sca_err = 0;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    const double truth = exact_sigmoid(xs[i]);
    vec_err = std::max(vec_err, std::abs(vec[i] - truth) / truth);
    sca_err = std::max(sca_err, std::abs(sca[i] - truth) / truth);
  }
  MESSAGE(std::string(arch_name()) << ": sigmoid max relative error, vector " << vec_err << ", scalar " << sca_err);
  CHECK(vec_err < 3e-7);
  CHECK(sca_err < 3e-7);

  if constexpr (kIsSimd<Arch>) {
    using B = xsimd::batch<float, Arch>;
    const float inf = std::numeric_limits<float>::infinity();
    auto one = [](float x) { return sigmoid_vector<Arch>(B(x)).get(0); };
    CHECK(one(0.0f) == 0.5f);
    CHECK(one(100.0f) == 1.0f);
    CHECK(one(inf) == 1.0f);
    CHECK(one(-100.0f) == 0.0f);  // as PyTorch's: exp(100) overflows, 1 / inf
    CHECK(one(-inf) == 0.0f);
    CHECK(std::isnan(one(std::nanf(""))));
  }
}

TEST_CASE("vector decode equals the scalar one on ragged sizes, and the scalar one is the formula") {
  const std::array<std::array<int, 2>, 6> grids{{{1, 1}, {1, 3}, {3, 1}, {3, 5}, {5, 3}, {20, 20}}};
  double worst_box = 0, worst_score = 0, formula_box = 0, formula_score = 0;
  std::uint32_t seed = 1;
  for (int nc : {1, 2, 3, 11, 80, 81})
    for (std::size_t padding : {std::size_t{0}, std::size_t{5}})
      for (const auto& g : grids) {
        CAPTURE(nc);
        CAPTURE(padding);
        CAPTURE(g[0]);
        CAPTURE(g[1]);
        // Three levels at halving resolutions, as the network has them.
        std::vector<RawLevel> raw;
        for (int l = 0; l < 3; ++l)
          raw.push_back(random_level(l, std::max(1, g[0] >> l), std::max(1, g[1] >> l), nc, padding, seed++));
        const std::vector<DetectLevel> levels = testing::levels_of(raw);
        const std::size_t rows = decoded_rows(levels);
        const std::size_t no = static_cast<std::size_t>(nc) + 5;
        std::vector<float> vec(rows * no), ref(rows * no);
        decode<Arch>(levels, nc, vec.data());
        decode_reference(levels, nc, ref.data());
        const Errors e = compare(vec, ref, nc);
        worst_box = std::max(worst_box, e.box);
        worst_score = std::max(worst_score, e.score);
        // One or two float32 roundings apart (the two exps differ by an ulp
        // now and then); boxes reach ~1500 px, where an ulp is 1.2e-4.
        CHECK(e.box <= 1e-3);
        CHECK(e.score <= 2.5e-7);

        // The formula in double, rows in the order level, anchor, y, x.
        std::vector<float> formula(rows * no);
        std::size_t row = 0;
        for (const DetectLevel& l : levels)
          for (int a = 0; a < 3; ++a)
            for (int y = 0; y < l.ny; ++y)
              for (int x = 0; x < l.nx; ++x, ++row) {
                const float* v = l.data + static_cast<std::size_t>(y * l.nx + x) * l.pixel_stride +
                                 static_cast<std::size_t>(a) * no;
                float* out = formula.data() + row * no;
                for (std::size_t k = 0; k < no; ++k) out[k] = static_cast<float>(exact_sigmoid(v[k]));
                out[0] = static_cast<float>((2.0 * exact_sigmoid(v[0]) - 0.5 + x) * l.stride);
                out[1] = static_cast<float>((2.0 * exact_sigmoid(v[1]) - 0.5 + y) * l.stride);
                out[2] = static_cast<float>(std::pow(2.0 * exact_sigmoid(v[2]), 2) * l.anchors[2 * a]);
                out[3] = static_cast<float>(std::pow(2.0 * exact_sigmoid(v[3]), 2) * l.anchors[2 * a + 1]);
              }
        const Errors f = compare(ref, formula, nc);
        formula_box = std::max(formula_box, f.box);
        formula_score = std::max(formula_score, f.score);
        CHECK(f.box <= 1e-3);
        CHECK(f.score <= 2.5e-7);
      }
  MESSAGE(std::string(arch_name()) << ": vector vs scalar decode: boxes " << worst_box << " px, scores " << worst_score
                      << "; scalar vs double formula: boxes " << formula_box << " px, scores " << formula_score);
}

TEST_CASE("without SIMD, decode is the scalar twin") {
  RawLevel r = random_level(0, 3, 5, 3, 0, 99);
  r.level.data = r.data.data();
  const std::vector<DetectLevel> levels{r.level};
  std::vector<float> a(decoded_rows(levels) * 8), b(a.size());
  decode<xsimd::unavailable>(levels, 3, a.data());
  decode_reference(levels, 3, b.data());
  CHECK(a == b);
}

TEST_CASE("decode of the detector fixtures matches PyTorch's pred") {
  for (const std::string file : {"detector_s12_128x160_nc3", "detector_s12_128x160_nc80", "detector_m36_128x160_nc3"}) {
    CAPTURE(file);
    const SafetensorsFile golden =
        SafetensorsFile::open(testing::repo_file("tests/golden/" + file + ".safetensors").string());
    const auto& meta = golden.metadata();
    const int nc = std::stoi(meta.at("nc"));
    const std::size_t no = static_cast<std::size_t>(nc) + 5;
    std::array<float, 18> anchors{};
    std::array<float, 3> strides{};
    {
      std::istringstream a(meta.at("anchors")), s(meta.at("strides"));
      std::string item;
      for (float& v : anchors) {
        REQUIRE(std::getline(a, item, ','));
        v = std::stof(item);
      }
      for (float& v : strides) {
        REQUIRE(std::getline(s, item, ','));
        v = std::stof(item);
      }
    }

    // head{l} is PyTorch's permuted [1, 3, ny, nx, no]; the network writes
    // [ny, nx, 3 * no] (channel a * no + k): re-interleave.
    std::array<std::vector<float>, 3> interleaved;
    std::vector<DetectLevel> levels;
    for (int l = 0; l < 3; ++l) {
      const TensorInfo* t = golden.find("head" + std::to_string(l));
      REQUIRE(t != nullptr);
      REQUIRE(t->shape.size() == 5);
      REQUIRE(t->shape[4] == static_cast<std::int64_t>(no));
      const int ny = static_cast<int>(t->shape[2]), nx = static_cast<int>(t->shape[3]);
      const std::vector<float> head = golden.read_float(*t);
      const std::size_t pixels = static_cast<std::size_t>(ny * nx);
      auto& dst = interleaved[static_cast<std::size_t>(l)];
      dst.resize(head.size());
      for (std::size_t a = 0; a < 3; ++a)
        for (std::size_t p = 0; p < pixels; ++p)
          for (std::size_t k = 0; k < no; ++k) dst[p * 3 * no + a * no + k] = head[(a * pixels + p) * no + k];
      DetectLevel level{dst.data(), ny, nx, 3 * no, strides[static_cast<std::size_t>(l)], {}};
      std::copy_n(anchors.begin() + 6 * l, 6, level.anchors.begin());
      levels.push_back(level);

      // raw_head undoes the interleave bit for bit.
      std::vector<float> back(head.size());
      raw_head(level, nc, back.data());
      CHECK(back == head);
    }

    const std::vector<float> want = golden.read_float(*golden.find("pred"));
    REQUIRE(want.size() == decoded_rows(levels) * no);
    std::vector<float> vec(want.size()), ref(want.size());
    decode<Arch>(levels, nc, vec.data());
    decode_reference(levels, nc, ref.data());
    const Errors ev = compare(vec, want, nc), er = compare(ref, want, nc);
    MESSAGE(file << ": decode vs PyTorch pred: vector boxes " << ev.box << " px, scores " << ev.score
                 << "; scalar boxes " << er.box << " px, scores " << er.score);
    // Measured <= 1e-4 px and 1.2e-7 (an ulp or two of the sigmoid, scaled
    // by the box formula); the bar is 1e-2 px and 1e-5.
    CHECK(ev.box <= 1e-3);
    CHECK(ev.score <= 1e-6);
    CHECK(er.box <= 1e-3);
    CHECK(er.score <= 1e-6);
  }
}

TEST_CASE("decoded_rows and argument checks") {
  std::vector<float> data(3 * 8 * 6, 0.0f);
  const DetectLevel good{data.data(), 2, 3, 24, 8.0f, kAnchors[0]};
  CHECK(decoded_rows(std::vector<DetectLevel>{good, good}) == 36);
  CHECK(decoded_rows(std::span<const DetectLevel>{}) == 0);
  std::vector<float> out(18 * 8);
  decode<Arch>(std::vector<DetectLevel>{good}, 3, out.data());
  // All-zero logits: s = 0.5, so boxes sit at the cell centres with the anchor's size.
  CHECK(out[0] == 4.0f);
  CHECK(out[1] == 4.0f);
  CHECK(out[2] == 10.0f);
  CHECK(out[3] == 13.0f);
  CHECK(out[4] == 0.5f);
  CHECK(out[8 * 6 + 2] == 16.0f);  // anchor 1 starts after the 6 cells of anchor 0

  auto message = [&](DetectLevel l, int nc) {
    return testing::error_message([&] { decode<Arch>(std::vector<DetectLevel>{l}, nc, out.data()); });
  };
  CHECK(testing::contains(message(good, 0), "number of classes must be >= 1"));
  CHECK(testing::contains(message(good, 4), "pixel stride 24 is smaller than the 27 channels"));
  DetectLevel l = good;
  l.data = nullptr;
  CHECK(testing::contains(message(l, 3), "level 0 has no data"));
  l = good;
  l.nx = 0;
  CHECK(testing::contains(message(l, 3), "has a 2x0 grid"));
  l = good;
  l.stride = 0;
  CHECK(testing::contains(message(l, 3), "stride 0 must be positive"));
  l = good;
  l.anchors[3] = std::nanf("");
  CHECK(testing::contains(message(l, 3), "anchor 1 is not finite"));
  CHECK(testing::contains(testing::error_message([&] { decode_reference(std::vector<DetectLevel>{good}, 3, nullptr); }),
                          "output pointer is null"));
  CHECK(testing::contains(testing::error_message([&] { raw_head(good, 0, out.data()); }), "raw_head"));
}
