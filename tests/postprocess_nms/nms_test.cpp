// non_max_suppression against the reference's rows (tests/reference/yolo_ref.py,
// written by make_golden.py): every corner case of nms_cases.safetensors, the
// procedural 40000-row `many` case rebuilt here from its description, and the
// detector fixtures' NMS at three confidence thresholds, all exactly; then
// cases built here, argument checks, allocation-free reuse and timings.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#include <sstream>
#include <string>
#include <vector>

#include "riformer/io/safetensors.hpp"
#include "riformer/io/synthetic.hpp"
#include "riformer/postprocess/decode.hpp"
#include "riformer/postprocess/nms.hpp"
#include "test_util.hpp"

// Counts allocations, to show that a reused workspace does not allocate. The
// replacements pair malloc with free, which GCC cannot see through.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
namespace {
std::atomic<long> g_allocations{0};
}  // namespace

void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

using namespace riformer;

namespace {

SafetensorsFile open_golden(const std::string& name) {
  return SafetensorsFile::open(testing::repo_file("tests/golden/" + name + ".safetensors").string());
}

std::vector<float> read(const SafetensorsFile& f, const std::string& name) {
  const TensorInfo* t = f.find(name);
  REQUIRE_MESSAGE(t != nullptr, f.path() << " has no tensor " << name);
  return f.read_float(*t);
}

std::vector<int> parse_ints(const std::string& text) {
  std::vector<int> out;
  std::istringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) out.push_back(std::stoi(item));
  return out;
}

// Thresholds as the reference rounds them: the Python float (double) to float32.
float threshold(const std::string& text) { return static_cast<float>(std::stod(text)); }

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

// The detections must be the expected [K, 6] rows: same count and order,
// class equal, boxes and conf bit-equal (the arithmetic is the reference's).
void check_rows(const std::vector<Detection>& got, const std::vector<float>& want) {
  REQUIRE(want.size() % 6 == 0);
  REQUIRE(got.size() == want.size() / 6);
  for (std::size_t i = 0; i < got.size(); ++i) {
    CAPTURE(i);
    const float* w = want.data() + 6 * i;
    const Detection& d = got[i];
    CHECK(same_bits(d.x1, w[0]));
    CHECK(same_bits(d.y1, w[1]));
    CHECK(same_bits(d.x2, w[2]));
    CHECK(same_bits(d.y2, w[3]));
    CHECK(same_bits(d.conf, w[4]));
    CHECK(static_cast<float>(d.cls) == w[5]);
  }
}

// Python's math.fsum: the exactly rounded sum (Shewchuk's partials, then the
// round-half-even correction of CPython's final step).
double fsum(const std::vector<float>& values) {
  std::vector<double> partials;
  for (float v : values) {
    double x = v;
    std::size_t i = 0;
    for (double y : partials) {
      if (std::abs(x) < std::abs(y)) std::swap(x, y);
      const double hi = x + y;
      const double lo = y - (hi - x);
      if (lo != 0.0) partials[i++] = lo;
      x = hi;
    }
    partials.resize(i);
    partials.push_back(x);
  }
  std::size_t n = partials.size();
  double hi = 0.0;
  if (n > 0) {
    hi = partials[--n];
    double lo = 0.0;
    while (n > 0) {
      const double x = hi, y = partials[--n];
      hi = x + y;
      lo = y - (hi - x);
      if (lo != 0.0) break;
    }
    if (n > 0 && ((lo < 0 && partials[n - 1] < 0) || (lo > 0 && partials[n - 1] > 0))) {
      const double y = lo * 2, x = hi + y;
      if (y == x - hi) hi = x;
    }
  }
  return hi;
}

// The `many` case, from the description in its metadata (many.generator).
constexpr int kManyRows = 40000, kManyCols = 8;
std::vector<float> many_candidates() {
  struct Range { double lo, hi; };
  constexpr Range cluster[kManyCols] = {{320, 322}, {240, 242}, {100, 102}, {80, 82},
                                        {0.9, 1.0}, {0.9, 1.0}, {0.0, 0.5}, {0.0, 0.5}};
  constexpr Range spread[kManyCols] = {{0, 640}, {0, 480}, {4, 40}, {4, 40},
                                       {0.3, 0.8}, {0.5, 1.0}, {0.5, 1.0}, {0.5, 1.0}};
  const std::uint32_t key = synthetic::fnv1a("nms_many");
  std::vector<float> pred(static_cast<std::size_t>(kManyRows) * kManyCols);
  for (int r = 0; r < kManyRows; ++r)
    for (int c = 0; c < kManyCols; ++c) {
      const Range& range = r % 8 == 7 ? spread[c] : cluster[c];
      const double u = synthetic::uniform(key, static_cast<std::uint32_t>(kManyCols * r + c));
      // Two double roundings, as numpy: the volatile keeps GCC from fusing them into an FMA.
      volatile double product = (range.hi - range.lo) * u;
      pred[static_cast<std::size_t>(kManyCols * r + c)] = static_cast<float>(range.lo + product);
    }
  return pred;
}

template <class Fn>
double best_ms(int repeats, Fn&& fn) {
  double best = std::numeric_limits<double>::infinity();
  for (int i = 0; i < repeats; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    best = std::min(best, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

// A row [cx, cy, w, h, obj, cls...] with one class score set.
void add_row(std::vector<float>& pred, int nc, float cx, float cy, float w, float h, float obj, int cls, float score) {
  pred.insert(pred.end(), {cx, cy, w, h, obj});
  for (int k = 0; k < nc; ++k) pred.push_back(k == cls ? score : 0.0f);
}

std::vector<Detection> run(const std::vector<float>& pred, int nc, const NmsOptions& o = {}) {
  return non_max_suppression(pred.data(), pred.size() / static_cast<std::size_t>(nc + 5), nc, o);
}

}  // namespace

TEST_CASE("every case of nms_cases.safetensors gives the reference's rows") {
  const SafetensorsFile golden = open_golden("nms_cases");
  const auto& meta = golden.metadata();
  const float max_wh = threshold(meta.at("max_wh"));
  const int max_nms = std::stoi(meta.at("max_nms"));
  std::istringstream cases(meta.at("cases"));
  std::string name;
  int checked = 0;
  NmsWorkspace ws;  // one workspace through all cases: reuse must not leak state
  while (std::getline(cases, name, ',')) {
    if (name == "many") continue;  // procedural, next test case
    CAPTURE(name);
    const TensorInfo* pred_info = golden.find(name + ".pred");
    REQUIRE(pred_info != nullptr);
    const int nc = static_cast<int>(pred_info->shape[1]) - 5;
    const std::size_t rows = static_cast<std::size_t>(pred_info->shape[0]);
    const std::vector<float> pred = golden.read_float(*pred_info);
    NmsOptions o;
    o.conf_thres = threshold(meta.at(name + ".conf_thres"));
    o.iou_thres = threshold(meta.at(name + ".iou_thres"));
    o.classes = parse_ints(meta.at(name + ".classes"));
    o.agnostic = meta.at(name + ".agnostic") == "1";
    o.max_det = std::stoi(meta.at(name + ".max_det"));
    o.max_nms = max_nms;
    o.max_wh = max_wh;
    const std::vector<Detection>& got = non_max_suppression(rows == 0 ? nullptr : pred.data(), rows, nc, o, ws);
    CHECK(got.size() == std::stoul(meta.at(name + ".rows")));
    check_rows(got, read(golden, name + ".expected"));
    ++checked;
  }
  CHECK(checked == 12);
}

TEST_CASE("the procedural 40000-row case: the 30000 cap decides the result") {
  const SafetensorsFile golden = open_golden("nms_cases");
  const auto& meta = golden.metadata();
  REQUIRE(meta.at("many.pred_shape") == "40000,8");
  const std::vector<float> pred = many_candidates();

  // The generator first: a formula mismatch shows up here, not as a wrong NMS.
  const std::vector<float> head = read(golden, "many.pred_head");
  REQUIRE(head.size() == 16 * kManyCols);
  for (std::size_t i = 0; i < head.size(); ++i) {
    CAPTURE(i);
    REQUIRE(same_bits(pred[i], head[i]));
  }
  REQUIRE(fsum(pred) == std::stod(meta.at("many.pred_sum")));

  NmsOptions o;
  o.conf_thres = threshold(meta.at("many.conf_thres"));
  o.iou_thres = threshold(meta.at("many.iou_thres"));
  o.max_det = std::stoi(meta.at("many.max_det"));
  NmsWorkspace ws;
  const std::vector<Detection> capped = non_max_suppression(pred.data(), kManyRows, 3, o, ws);
  check_rows(capped, read(golden, "many.expected"));
  const double capped_ms = best_ms(5, [&] { non_max_suppression(pred.data(), kManyRows, 3, o, ws); });

  // Without the cap the 5000 spread rows reach the greedy loop and survive.
  o.max_nms = std::numeric_limits<int>::max();
  std::vector<Detection> uncapped = non_max_suppression(pred.data(), kManyRows, 3, o, ws);
  CHECK(uncapped.size() == std::stoul(meta.at("many.rows_without_cap")));
  CHECK(uncapped.size() > capped.size());
  const double uncapped_ms = best_ms(5, [&] { non_max_suppression(pred.data(), kManyRows, 3, o, ws); });
  // Capping the first 30000 rows in input order (not by conf) would be wrong
  // too: 3750 spread rows would be among them.
  MESSAGE("many (40000 rows, nc 3): " << capped_ms << " ms with the 30000 cap -> " << capped.size() << " row, "
                                      << uncapped_ms << " ms without -> " << uncapped.size() << " rows");
}

TEST_CASE("NMS of the detector fixtures' pred equals PyTorch's nms, nms_low, nms_mid") {
  for (const std::string file : {"detector_s12_128x160_nc3", "detector_s12_128x160_nc80", "detector_m36_128x160_nc3"}) {
    CAPTURE(file);
    const SafetensorsFile golden = open_golden(file);
    const auto& meta = golden.metadata();
    const int nc = std::stoi(meta.at("nc"));
    const std::vector<float> pred = read(golden, "pred");
    const std::size_t rows = pred.size() / static_cast<std::size_t>(nc + 5);
    REQUIRE(rows == 1260);
    NmsWorkspace ws;
    for (const std::string which : {"nms", "nms_low", "nms_mid"}) {
      CAPTURE(which);
      NmsOptions o;
      o.conf_thres = threshold(which == "nms" ? meta.at("conf_thres") : meta.at(which + "_conf_thres"));
      o.iou_thres = threshold(meta.at("iou_thres"));
      o.max_det = std::stoi(meta.at("max_det"));
      const auto& got = non_max_suppression(pred.data(), rows, nc, o, ws);
      CHECK(got.size() == std::stoul(meta.at(which + "_rows")));
      check_rows(got, read(golden, which));
    }
  }
}

TEST_CASE("cases by construction") {
  SUBCASE("no input, nothing above the thresholds") {
    CHECK(non_max_suppression(nullptr, 0, 80).empty());
    std::vector<float> pred;
    add_row(pred, 2, 50, 50, 10, 10, 0.25f, 0, 1.0f);  // obj == conf_thres: not >
    add_row(pred, 2, 50, 50, 10, 10, 0.5f, 1, 0.5f);   // conf 0.25 exactly: not >
    add_row(pred, 2, 50, 50, 10, 10, 0.9f, 0, 0.2f);
    CHECK(run(pred, 2).empty());
    NmsOptions zero;
    zero.conf_thres = 0;
    // Now all pass; the boxes coincide: class 0 keeps row 0 over row 2, class 1
    // keeps row 1, which ties with row 0 on conf 0.25 and comes after it.
    const auto got = run(pred, 2, zero);
    REQUIRE(got.size() == 2);
    CHECK(got[0].cls == 0);
    CHECK(got[1].cls == 1);
    CHECK(got[1].conf == 0.25f);
  }
  SUBCASE("one class: overlapping boxes collapse; per class they do not; agnostic they do again") {
    std::vector<float> same, mixed;
    for (int i = 0; i < 4; ++i) {
      add_row(same, 4, 100.0f + i, 100, 50, 50, 0.9f - 0.1f * static_cast<float>(i), 0, 0.9f);
      add_row(mixed, 4, 100.0f + i, 100, 50, 50, 0.9f - 0.1f * static_cast<float>(i), i, 0.9f);
    }
    const auto one = run(same, 4);
    REQUIRE(one.size() == 1);
    CHECK(one[0].x1 == 75.0f);
    CHECK(one[0].cls == 0);
    const auto per_class = run(mixed, 4);
    REQUIRE(per_class.size() == 4);
    for (int i = 0; i < 4; ++i) {
      CHECK(per_class[static_cast<std::size_t>(i)].cls == i);
      // Boxes come back without the class offset.
      CHECK(per_class[static_cast<std::size_t>(i)].x1 == 75.0f + static_cast<float>(i));
      CHECK(per_class[static_cast<std::size_t>(i)].y2 == 125.0f);
    }
    NmsOptions agnostic;
    agnostic.agnostic = true;
    CHECK(run(mixed, 4, agnostic).size() == 1);
  }
  SUBCASE("identical boxes and equal confs: the earlier row wins") {
    std::vector<float> pred;
    add_row(pred, 1, 10, 10, 4, 4, 0.7f, 0, 1.0f);
    add_row(pred, 1, 30, 10, 4, 4, 0.8f, 0, 1.0f);  // row 1
    add_row(pred, 1, 30, 10, 4, 4, 0.8f, 0, 1.0f);  // row 2, identical: suppressed by row 1
    add_row(pred, 1, 10, 10, 4, 4, 0.8f, 0, 1.0f);  // row 3, conf tie with 1 and 2, after them
    const auto got = run(pred, 1);
    REQUIRE(got.size() == 2);
    CHECK(got[0].x1 == 28.0f);
    CHECK(got[1].x1 == 8.0f);
    CHECK(got[1].conf == 0.8f);
  }
  SUBCASE("zero-area boxes: 0/0 suppresses nothing, a zero-area box inside a big one has IoU 0") {
    std::vector<float> pred;
    add_row(pred, 1, 50, 50, 0, 0, 0.9f, 0, 1.0f);
    add_row(pred, 1, 50, 50, 0, 0, 0.8f, 0, 1.0f);
    add_row(pred, 1, 50, 50, 20, 20, 0.7f, 0, 1.0f);
    CHECK(run(pred, 1).size() == 3);
  }
  SUBCASE("NaN: a NaN score drops the row, a NaN box is kept and suppresses nothing") {
    const float nan = std::numeric_limits<float>::quiet_NaN();
    std::vector<float> pred;
    add_row(pred, 2, 50, 50, 20, 20, 0.9f, 1, 0.9f);
    pred[5] = nan;  // class 0 NaN, class 1 fine: the reference's argmax picks the NaN, conf NaN fails
    add_row(pred, 2, nan, 50, 20, 20, 0.8f, 0, 1.0f);
    add_row(pred, 2, 50, 50, 20, 20, 0.7f, 0, 1.0f);
    add_row(pred, 2, 51, 50, 20, 20, 0.6f, 0, 1.0f);  // suppressed by the previous one
    add_row(pred, 2, 50, 50, 20, 20, nan, 0, 1.0f);   // NaN objectness: dropped
    const auto got = run(pred, 2);
    REQUIRE(got.size() == 2);
    CHECK(std::isnan(got[0].x1));
    CHECK(got[1].conf == 0.7f);
  }
  SUBCASE("the class is the first maximum of obj * cls, not of cls") {
    // Find scores a < b whose products with obj round to the same float: the
    // reference's argmax sees a tie there and takes the lower class.
    const float obj = 0.3f;
    float a = 0.7f, b = std::nextafter(a, 1.0f);
    while (a * obj != b * obj) a = b, b = std::nextafter(b, 1.0f);
    std::vector<float> pred{10, 10, 4, 4, obj, a, b};
    const auto got = run(pred, 2);
    REQUIRE(got.size() == 1);
    CHECK(got[0].cls == 0);
    CHECK(got[0].conf == a * obj);
  }
  SUBCASE("class filter") {
    std::vector<float> pred;
    for (int i = 0; i < 6; ++i) add_row(pred, 3, 100, 100, 50, 50, 0.9f - 0.05f * static_cast<float>(i), i % 3, 0.9f);
    NmsOptions o;
    o.classes = {2, 0};
    const auto got = run(pred, 3, o);
    REQUIRE(got.size() == 2);
    CHECK(got[0].cls == 0);
    CHECK(got[1].cls == 2);
  }
  SUBCASE("max_det and max_nms") {
    std::vector<float> pred;  // 10 disjoint boxes, conf rising with the row
    for (int i = 0; i < 10; ++i) add_row(pred, 1, 20.0f * static_cast<float>(i), 0, 10, 10, 0.5f + 0.04f * static_cast<float>(i), 0, 1.0f);
    NmsOptions o;
    o.max_det = 4;
    auto got = run(pred, 1, o);
    REQUIRE(got.size() == 4);
    for (std::size_t i = 0; i < 4; ++i) CHECK(got[i].x1 == 20.0f * static_cast<float>(9 - i) - 5.0f);
    o.max_det = 300;
    o.max_nms = 3;  // only the 3 best candidates enter NMS
    got = run(pred, 1, o);
    REQUIRE(got.size() == 3);
    CHECK(got[2].x1 == 20.0f * 7 - 5.0f);
  }
  SUBCASE("IoU threshold bounds") {
    std::vector<float> pred;
    add_row(pred, 1, 10, 10, 10, 10, 0.9f, 0, 1.0f);
    add_row(pred, 1, 10, 10, 10, 10, 0.8f, 0, 1.0f);  // IoU 1
    add_row(pred, 1, 30, 10, 10, 10, 0.7f, 0, 1.0f);  // IoU 0
    NmsOptions o;
    o.iou_thres = 1.0f;  // IoU 1 is not > 1: nothing is suppressed
    CHECK(run(pred, 1, o).size() == 3);
    o.iou_thres = 0.0f;  // any overlap suppresses, touching or disjoint boxes do not
    CHECK(run(pred, 1, o).size() == 2);
  }
}

TEST_CASE("the vector greedy pass removes exactly what the scalar one removes") {
  // Crowded same-class boxes (many IoUs near the threshold), run to the end
  // with both passes; also lengths that leave every ragged vector tail.
  for (std::size_t n : {std::size_t{1}, std::size_t{7}, std::size_t{33}, std::size_t{2000}}) {
    CAPTURE(n);
    const std::vector<float> r = testing::random_vector(4 * n, static_cast<std::uint32_t>(n), 0.0f, 1.0f);
    std::array<std::vector<float>, 2> x1, y1, x2, y2, area;
    std::array<std::vector<std::uint32_t>, 2> id;
    for (int v = 0; v < 2; ++v)
      for (std::size_t i = 0; i < n; ++i) {
        const float cx = 100 * r[4 * i], cy = 100 * r[4 * i + 1], w = 5 + 40 * r[4 * i + 2], h = 5 + 40 * r[4 * i + 3];
        x1[v].push_back(cx - w / 2), y1[v].push_back(cy - h / 2), x2[v].push_back(cx + w / 2), y2[v].push_back(cy + h / 2);
        area[v].push_back((x2[v].back() - x1[v].back()) * (y2[v].back() - y1[v].back()));
        id[v].push_back(static_cast<std::uint32_t>(i));
      }
    std::array<std::size_t, 2> kept{};
    for (int v = 0; v < 2; ++v) {
      const nms_detail::Alive a{x1[v].data(), y1[v].data(), x2[v].data(), y2[v].data(), area[v].data(), id[v].data()};
      std::size_t end = n, head = 0;
      for (; head < end; ++head)
        end = v == 0 ? nms_detail::suppress<xsimd::unavailable>(a, head, end, 0.3f)
                     : nms_detail::suppress<DefaultArch>(a, head, end, 0.3f);
      kept[static_cast<std::size_t>(v)] = head;
    }
    CHECK(kept[0] == kept[1]);
    if (n == 2000) CHECK(kept[0] < n / 2);  // the crowd really is thinned
    CHECK(std::equal(id[0].begin(), id[0].begin() + static_cast<std::ptrdiff_t>(kept[0]), id[1].begin()));
  }
}

TEST_CASE("IoUs a few ulps from the threshold: the vector pass decides as the scalar one") {
  // Box k = [0, 0, s, s] and 16 copies of box j = [a, 0, s + a, s] (a vector's worth for any width), j slid
  // in steps of one ulp across IoU (s - a) / (s + a) == thr. A vector division that is not correctly
  // rounded (xsimd 8.1.0's on 64-bit ARM) decided some of these the other way.
  constexpr std::size_t n = 17;
  for (float thr : {0.3f, 0.45f, 0.5f, 0.6f, 0.7f})
    for (float s : {1.0f, 37.0f, 640.0f}) {
      float a = s * (1 - thr) / (1 + thr);
      for (int i = 0; i < 64; ++i) a = std::nextafter(a, 0.0f);
      for (int i = 0; i < 128; ++i, a = std::nextafter(a, s)) {
        std::vector<float> x1(n, a), y1(n, 0.0f), x2(n, s + a), y2(n, s), area(n);
        x1[0] = 0, x2[0] = s;
        for (std::size_t b = 0; b < n; ++b) area[b] = (x2[b] - x1[b]) * (y2[b] - y1[b]);
        std::vector<std::uint32_t> id(n);
        for (std::size_t b = 0; b < n; ++b) id[b] = static_cast<std::uint32_t>(b);
        const nms_detail::Alive boxes{x1.data(), y1.data(), x2.data(), y2.data(), area.data(), id.data()};
        const bool scalar = nms_detail::overlaps(boxes, 0, 1, thr);
        CAPTURE(thr);
        CAPTURE(s);
        CAPTURE(a);
        CHECK(nms_detail::suppress<DefaultArch>(boxes, 0, x1.size(), thr) == (scalar ? 1 : n));
      }
    }
}

TEST_CASE("invalid arguments are riformer::Error naming the problem") {
  const std::vector<float> pred(8, 0.5f);
  auto message = [&](const NmsOptions& o, int nc = 3, const float* p = nullptr, std::size_t rows = 1) {
    return testing::error_message([&] { (void)non_max_suppression(p ? p : pred.data(), rows, nc, o); });
  };
  NmsOptions o;
  CHECK(testing::contains(message(o, 0), "number of classes must be >= 1, got 0"));
  CHECK(testing::contains(
      testing::error_message([&] { (void)non_max_suppression(nullptr, 5, 3); }), "pred is null but rows = 5"));
  for (float bad : {-0.1f, 1.5f, std::numeric_limits<float>::quiet_NaN()}) {
    o = {};
    o.conf_thres = bad;
    CHECK(testing::contains(message(o), "conf_thres must be in [0, 1]"));
    o = {};
    o.iou_thres = bad;
    CHECK(testing::contains(message(o), "iou_thres must be in [0, 1]"));
  }
  o = {};
  o.max_det = 0;
  CHECK(testing::contains(message(o), "max_det must be >= 1, got 0"));
  o = {};
  o.max_nms = -3;
  CHECK(testing::contains(message(o), "max_nms must be >= 1, got -3"));
  o = {};
  o.max_wh = -1;
  CHECK(testing::contains(message(o), "max_wh must be finite and >= 0"));
  o.max_wh = std::numeric_limits<float>::infinity();
  CHECK(testing::contains(message(o), "max_wh must be finite and >= 0"));
  o = {};
  o.classes = {0, 3};
  CHECK(testing::contains(message(o), "class filter entry 3 is not a class index in [0, 3)"));
  o.classes = {-1};
  CHECK(testing::contains(message(o), "class filter entry -1"));
}

TEST_CASE("a reused workspace does not allocate, and both forms agree") {
  std::vector<float> pred = testing::random_vector(2000 * 85, 11, 0.0f, 1.0f);
  for (std::size_t r = 0; r < 2000; ++r) {
    pred[r * 85 + 0] *= 640, pred[r * 85 + 1] *= 640, pred[r * 85 + 2] *= 100, pred[r * 85 + 3] *= 100;
  }
  NmsOptions o;
  o.classes = {0, 1, 2, 5, 79};
  NmsWorkspace ws;
  const std::vector<Detection> first = non_max_suppression(pred.data(), 2000, 80, o, ws);
  const Detection* storage = ws.result().data();
  const long before = g_allocations.load();
  const auto& again = non_max_suppression(pred.data(), 2000, 80, o, ws);
  const long allocations = g_allocations.load() - before;
  CHECK(allocations == 0);
  CHECK(ws.result().data() == storage);
  CHECK(&again == &ws.result());
  const auto one_off = non_max_suppression(pred.data(), 2000, 80, o);
  REQUIRE(one_off.size() == first.size());
  REQUIRE(!first.empty());
  for (std::size_t i = 0; i < first.size(); ++i) {
    CHECK(std::memcmp(&one_off[i], &first[i], sizeof(Detection)) == 0);
    CHECK(std::memcmp(&again[i], &first[i], sizeof(Detection)) == 0);
  }
}

TEST_CASE("timing: a 640x640 COCO head (25200 rows x 85)") {
  // Raw logits for the three levels (80x80, 40x40, 20x20, 255 channels).
  constexpr int nc = 80;
  constexpr std::size_t no = nc + 5;
  const std::array<float, 18> anchors{10, 13, 16, 30, 33, 23, 30, 61, 62, 45, 59, 119, 116, 90, 156, 198, 373, 326};
  std::array<std::vector<float>, 3> raw;
  std::vector<DetectLevel> levels;
  for (int l = 0; l < 3; ++l) {
    const int n = 80 >> l;
    // Mostly unlikely objects, as a trained head has them, with a tail of confident ones.
    raw[static_cast<std::size_t>(l)] = testing::random_vector(static_cast<std::size_t>(n * n) * 3 * no, 100u + l, -9.0f, 3.0f);
    DetectLevel level{raw[static_cast<std::size_t>(l)].data(), n, n, 3 * no, static_cast<float>(8 << l), {}};
    std::copy_n(anchors.begin() + 6 * l, 6, level.anchors.begin());
    levels.push_back(level);
  }
  const std::size_t rows = decoded_rows(levels);
  REQUIRE(rows == 25200);
  std::vector<float> pred(rows * no);
  const double decode_ms = best_ms(5, [&] { decode(levels, nc, pred.data()); });
  const double decode_ref_ms = best_ms(3, [&] { decode_reference(levels, nc, pred.data()); });
  decode(levels, nc, pred.data());
  NmsWorkspace ws;
  std::size_t kept = 0;
  const double decoded_ms = best_ms(5, [&] { kept = non_max_suppression(pred.data(), rows, nc, {}, ws).size(); });

  // Uniform scores: ~19000 candidates over 80 classes, the heavy end for NMS.
  std::vector<float> uniform = testing::random_vector(rows * no, 5, 0.0f, 1.0f);
  for (std::size_t r = 0; r < rows; ++r) {
    float* p = uniform.data() + r * no;
    p[0] *= 640, p[1] *= 640, p[2] = 4 + p[2] * 200, p[3] = 4 + p[3] * 200;
  }
  std::size_t uniform_kept = 0;
  const double uniform_ms = best_ms(5, [&] { uniform_kept = non_max_suppression(uniform.data(), rows, nc, {}, ws).size(); });

  // The greedy loop's worst case: 30000 disjoint boxes of one class, 300 kept,
  // each pass over all ~30000 survivors.
  std::vector<float> disjoint;
  for (int i = 0; i < 30000; ++i)
    add_row(disjoint, 1, 10.0f * static_cast<float>(i % 200), 10.0f * static_cast<float>(i / 200), 8, 8,
            0.3f + 0.6f * static_cast<float>((i * 7919) % 30000) / 30000.0f, 0, 1.0f);
  std::size_t disjoint_kept = 0;
  const double disjoint_ms = best_ms(3, [&] { disjoint_kept = non_max_suppression(disjoint.data(), 30000, 1, {}, ws).size(); });
  CHECK(disjoint_kept == 300);

  MESSAGE(std::string(arch_name()) << ": decode 25200x85 " << decode_ms << " ms (scalar twin " << decode_ref_ms
                                   << " ms); NMS of it " << decoded_ms << " ms -> " << kept
                                   << " rows; NMS of uniform scores " << uniform_ms << " ms -> " << uniform_kept
                                   << " rows; 30000 disjoint boxes " << disjoint_ms << " ms -> " << disjoint_kept);
}
