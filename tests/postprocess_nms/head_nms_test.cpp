// NMS straight from the head (head_nms.hpp, what detect() runs) against the
// two steps it replaces, decode() then non_max_suppression() on every row:
// decode_confident_rows must visit exactly the rows whose decoded objectness
// passes the threshold, with decode()'s bits, and the detections must be the
// same, bit for bit, for any threshold, class filter, NaN and ragged size.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <vector>

#include "raw_levels.hpp"
#include "riformer/postprocess/head_nms.hpp"
#include "test_util.hpp"

using namespace riformer;

namespace {

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

// Three levels at halving resolutions; objectness logits spread so that every
// threshold below keeps some rows and drops others; a few NaN scores.
std::vector<testing::RawLevel> head(int ny, int nx, int nc, std::size_t padding, std::uint32_t seed) {
  std::vector<testing::RawLevel> raw;
  for (int l = 0; l < 3; ++l)
    raw.push_back(testing::random_level(l, std::max(1, ny >> l), std::max(1, nx >> l), nc, padding, seed + l));
  const std::size_t no = static_cast<std::size_t>(nc) + 5;
  std::size_t i = 0;
  for (testing::RawLevel& r : raw)
    for (std::size_t p = 0; p * r.level.pixel_stride < r.data.size(); ++p, ++i) {
      float* pixel = r.data.data() + p * r.level.pixel_stride;
      if (i % 29 == 3) pixel[4] = std::nanf("");                   // NaN objectness, anchor 0
      if (i % 31 == 5) pixel[no + 5 + (i % nc)] = std::nanf("");  // a NaN class score, anchor 1
    }
  return raw;
}

}  // namespace

template <class Arch>
void check_visits(int nc, std::size_t padding, const std::array<int, 2>& grid) {
  std::vector<testing::RawLevel> raw = head(grid[0], grid[1], nc, padding, 17u + static_cast<std::uint32_t>(nc));
  const std::vector<DetectLevel> levels = testing::levels_of(raw);
  const std::size_t rows = decoded_rows(levels), no = static_cast<std::size_t>(nc) + 5;
  std::vector<float> pred(rows * no);
  decode<Arch>(levels, nc, pred.data());
  std::vector<float> row(no);
  for (float thr : {0.0f, 0.25f, 0.9f}) {
    CAPTURE(thr);
    std::vector<std::size_t> expected, visited;
    for (std::size_t r = 0; r < rows; ++r)
      if (pred[r * no + 4] > thr) expected.push_back(r);
    bool bits = true;
    decode_confident_rows<Arch>(levels, nc, thr, row.data(), [&](const float* p, std::size_t r) {
      visited.push_back(r);
      for (std::size_t k = 0; k < no; ++k) bits = bits && same_bits(p[k], pred[r * no + k]);
    });
    CHECK(visited == expected);
    CHECK(bits);
  }
}

TEST_CASE("decode_confident_rows visits exactly decode()'s confident rows, with its bits, in order") {
  const std::array<std::array<int, 2>, 4> grids{{{1, 1}, {3, 5}, {5, 37}, {20, 20}}};  // 37: a ragged batch of 16
  for (int nc : {1, 3, 11, 80})
    for (std::size_t padding : {std::size_t{0}, std::size_t{5}})
      for (const auto& g : grids) {
        CAPTURE(nc);
        CAPTURE(padding);
        CAPTURE(g[0]);
        CAPTURE(g[1]);
        check_visits<DefaultArch>(nc, padding, g);
        check_visits<xsimd::unavailable>(nc, padding, g);  // the scalar build
      }
}

TEST_CASE("NMS from the head equals NMS of the decoded rows, bit for bit") {
  int compared = 0;
  for (int nc : {1, 3, 80})
    for (const std::array<int, 2> g : {std::array<int, 2>{8, 10}, std::array<int, 2>{40, 40}}) {
      std::vector<testing::RawLevel> raw = head(g[0], g[1], nc, 3, 5u + static_cast<std::uint32_t>(nc));
      const std::vector<DetectLevel> levels = testing::levels_of(raw);
      const std::size_t rows = decoded_rows(levels);
      std::vector<float> pred(rows * (static_cast<std::size_t>(nc) + 5));
      decode(levels, nc, pred.data());
      for (float conf : {0.0f, 0.25f, 0.7f})
        for (int variant = 0; variant < 3; ++variant) {
          CAPTURE(nc);
          CAPTURE(g[0]);
          CAPTURE(conf);
          CAPTURE(variant);
          NmsOptions o;
          o.conf_thres = conf;
          o.agnostic = variant == 1;
          if (variant == 2) {
            o.classes = {0, nc - 1};
            o.max_det = 7;
          }
          NmsWorkspace ws_rows, ws_head;
          std::vector<float> row;
          const std::vector<Detection>& want = non_max_suppression(pred.data(), rows, nc, o, ws_rows);
          const std::vector<Detection>& got = non_max_suppression(levels, nc, o, ws_head, row);
          REQUIRE(got.size() == want.size());
          for (std::size_t i = 0; i < got.size(); ++i) {
            CHECK(same_bits(got[i].x1, want[i].x1));
            CHECK(same_bits(got[i].y1, want[i].y1));
            CHECK(same_bits(got[i].x2, want[i].x2));
            CHECK(same_bits(got[i].y2, want[i].y2));
            CHECK(same_bits(got[i].conf, want[i].conf));
            CHECK(got[i].cls == want[i].cls);
          }
          compared += static_cast<int>(got.size());
        }
    }
  CHECK(compared > 1000);  // the comparison is not vacuous
}

TEST_CASE("NMS from the head refuses what NMS and decode refuse") {
  std::vector<testing::RawLevel> raw = head(4, 4, 3, 0, 1);
  const std::vector<DetectLevel> levels = testing::levels_of(raw);
  NmsWorkspace ws;
  std::vector<float> row;
  NmsOptions bad;
  bad.iou_thres = 1.5f;
  CHECK(testing::contains(testing::error_message([&] { (void)non_max_suppression(levels, 3, bad, ws, row); }),
                          "iou_thres must be in [0, 1]"));
  CHECK(testing::contains(testing::error_message([&] { (void)non_max_suppression(levels, 0, NmsOptions{}, ws, row); }),
                          "number of classes must be >= 1"));
  std::vector<DetectLevel> broken = levels;
  broken[1].data = nullptr;
  CHECK(testing::contains(testing::error_message([&] { (void)non_max_suppression(broken, 3, NmsOptions{}, ws, row); }),
                          "level 1 has no data"));
}
