#pragma once
// YOLOv5 v7.0's non_max_suppression for one image: decoded rows [cx, cy, w,
// h, obj, cls...] -> detections, conf descending. It reproduces the
// reference's float32 arithmetic and tie rules exactly (yolo_ref.py and
// tests/reference/README.md), so the same rows come out as in PyTorch and a
// detection never appears or vanishes through a rounding difference. The
// buffers live in a reusable workspace, so a video loop does not allocate.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "riformer/core/arch.hpp"
#include "riformer/core/error.hpp"
#include "riformer/postprocess/detection.hpp"

namespace riformer {

struct NmsOptions {
  float conf_thres = 0.25f;  // keep obj > conf_thres, then obj * cls > conf_thres
  float iou_thres = 0.45f;   // suppress a box whose IoU with a kept one is > iou_thres
  int max_det = 300;         // detections returned at most
  int max_nms = 30000;       // candidates (by conf) that enter the greedy loop at most
  std::vector<int> classes;  // keep only these classes; empty: all
  bool agnostic = false;     // one NMS across classes instead of one per class
  float max_wh = 7680.0f;    // class offset that keeps classes apart in per-class NMS
};

namespace nms_detail {

// The value as rounded to float32, hidden from the optimizer: GCC contracts a
// product and a following add into one FMA across statements (its default for
// C++), which rounds once where the reference rounds twice and would move an
// IoU across the threshold now and then.
[[nodiscard]] inline float rounded(float x) {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  asm("" : "+v"(x));
#elif defined(__GNUC__) && defined(__aarch64__)
  asm("" : "+w"(x));
#else
  volatile float v = x;
  x = v;
#endif
  return x;
}

struct Candidate {
  float x1, y1, x2, y2;  // box without the class offset
  float conf;
  int cls;
  std::size_t row;  // input row: breaks conf ties, which makes std::sort as stable as the reference's sort
};

}  // namespace nms_detail

class NmsWorkspace;
template <class ForEachRow>
std::vector<Detection>& non_max_suppression_rows(ForEachRow&& for_each_row, int nc, const NmsOptions& options,
                                                 NmsWorkspace& ws);

// The buffers of non_max_suppression. Keep one per thread and pass it to every
// call: they grow to the largest input seen and are then reused.
class NmsWorkspace {
 public:
  // The detections of the last call.
  [[nodiscard]] const std::vector<Detection>& result() const { return result_; }

  // Grows every buffer to what `rows` predictions of `nc` classes can need
  // and writes it once, so that no later call on up to that many rows
  // allocates or first touches memory (the worst case: every row a
  // candidate). Clears result().
  void reserve(std::size_t rows, int nc) {
    auto touch = [rows](auto& v) {
      v.resize(rows);  // value-initializes: the pages are written now
      v.clear();       // and the capacity stays
    };
    touch(candidates_);
    for (auto* v : {&x1_, &y1_, &x2_, &y2_, &area_}) touch(*v);
    touch(id_);
    touch(result_);
    class_kept_.reserve(static_cast<std::size_t>(std::max(nc, 0)));
  }

 private:
  template <class ForEachRow>
  friend std::vector<Detection>& non_max_suppression_rows(ForEachRow&&, int, const NmsOptions&, NmsWorkspace&);
  std::vector<nms_detail::Candidate> candidates_;
  std::vector<float> x1_, y1_, x2_, y2_, area_;  // storage of nms_detail::Alive
  std::vector<std::uint32_t> id_;
  std::vector<unsigned char> class_kept_;
  std::vector<Detection> result_;
};

namespace nms_detail {

// The boxes still alive in the greedy loop, conf order, as a structure of
// arrays for the inner loop: class-offset corners, areas, index into the candidates.
struct Alive {
  float *x1, *y1, *x2, *y2, *area;
  std::uint32_t* id;
  void move(std::size_t from, std::size_t to) const {
    x1[to] = x1[from], y1[to] = y1[from], x2[to] = x2[from], y2[to] = y2[from], area[to] = area[from];
    id[to] = id[from];
  }
};

// The reference's IoU test of box j against the kept box k. std::max/min
// differ from numpy's on NaN, but a NaN coordinate makes an area NaN and with
// it the IoU, whichever way max/min went.
inline bool overlaps(const Alive& a, std::size_t k, std::size_t j, float thr) {
  const float w = std::max(0.0f, std::min(a.x2[k], a.x2[j]) - std::max(a.x1[k], a.x1[j]));
  const float h = std::max(0.0f, std::min(a.y2[k], a.y2[j]) - std::max(a.y1[k], a.y1[j]));
  const float inter = rounded(w * h);
  return inter / ((a.area[k] + a.area[j]) - inter) > thr;
}

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__) || defined(__aarch64__))
inline constexpr bool kVectorGreedy = true;
template <class Arch>
[[nodiscard]] inline xsimd::batch<float, Arch> rounded(xsimd::batch<float, Arch> x) {
  typename xsimd::batch<float, Arch>::register_type r = x;
#if defined(__aarch64__)
  asm("" : "+w"(r));
#else
  asm("" : "+v"(r));
#endif
  return r;
}
#else
inline constexpr bool kVectorGreedy = false;  // no way to keep the compiler from fusing: scalar
#endif

// Removes from (k, end) every box that overlaps box k, keeping the order;
// returns the new end. Vectorized: the same float32 operations per lane (the
// division dominates and vectorizes well), and per-class NMS mostly finds
// whole vectors of survivors, which move as vectors.
template <class Arch>
[[nodiscard]] std::size_t suppress(const Alive& a, std::size_t k, std::size_t end, float thr) {
  std::size_t out = k + 1, j = k + 1;
  if constexpr (kIsSimd<Arch> && kVectorGreedy) {
    using B = xsimd::batch<float, Arch>;
    constexpr std::size_t W = B::size;
    const B kx1(a.x1[k]), ky1(a.y1[k]), kx2(a.x2[k]), ky2(a.y2[k]), karea(a.area[k]), t(thr), zero(0.0f);
    for (; j + W <= end; j += W) {
      const B x1 = B::load_unaligned(a.x1 + j), y1 = B::load_unaligned(a.y1 + j);
      const B x2 = B::load_unaligned(a.x2 + j), y2 = B::load_unaligned(a.y2 + j);
      const B area = B::load_unaligned(a.area + j);
      const B w = xsimd::max(zero, xsimd::min(kx2, x2) - xsimd::max(kx1, x1));
      const B h = xsimd::max(zero, xsimd::min(ky2, y2) - xsimd::max(ky1, y1));
      const B inter = rounded<Arch>(w * h);
      B iou;
      if constexpr (kInexactDivide<Arch>) iou = exact_divide(inter, (karea + area) - inter);
      else iou = inter / ((karea + area) - inter);
      const auto gone = iou > t;
      if (xsimd::none(gone)) {
        if (out != j) {  // out < j: vectors do not overlap their destination's later reads
          x1.store_unaligned(a.x1 + out), y1.store_unaligned(a.y1 + out);
          x2.store_unaligned(a.x2 + out), y2.store_unaligned(a.y2 + out);
          area.store_unaligned(a.area + out);
          std::copy(a.id + j, a.id + j + W, a.id + out);
        }
        out += W;
        continue;
      }
      alignas(64) float mask[W];
      xsimd::select(gone, B(1.0f), zero).store_aligned(mask);
      for (std::size_t l = 0; l < W; ++l)
        if (mask[l] == 0.0f) a.move(j + l, out++);
    }
  }
  for (; j < end; ++j)
    if (!overlaps(a, k, j, thr)) a.move(j, out++);
  return out;
}

inline void check(int nc, const NmsOptions& o) {
  require(nc >= 1, "non_max_suppression: number of classes must be >= 1, got ", nc);
  require(o.conf_thres >= 0.0f && o.conf_thres <= 1.0f, "non_max_suppression: conf_thres must be in [0, 1], got ",
          o.conf_thres);
  require(o.iou_thres >= 0.0f && o.iou_thres <= 1.0f, "non_max_suppression: iou_thres must be in [0, 1], got ",
          o.iou_thres);
  require(o.max_det >= 1, "non_max_suppression: max_det must be >= 1, got ", o.max_det);
  require(o.max_nms >= 1, "non_max_suppression: max_nms must be >= 1, got ", o.max_nms);
  require(std::isfinite(o.max_wh) && o.max_wh >= 0.0f,
          "non_max_suppression: max_wh must be finite and >= 0, got ", o.max_wh);
  for (int c : o.classes)
    require(c >= 0 && c < nc, "non_max_suppression: class filter entry ", c, " is not a class index in [0, ", nc, ")");
}

}  // namespace nms_detail

// The rows come from for_each_row(visit), which calls visit(row, index) for
// rows of nc + 5 floats [cx, cy, w, h, obj, cls 0..nc-1] (what decode()
// writes), in increasing index order; it may skip rows with obj <= conf_thres,
// which step 1 drops anyway (a decoder can then leave them undecoded). The
// index breaks ties in conf. Returns the workspace's result: at most max_det
// detections [x1, y1, x2, y2] (no class offset), conf, class, conf descending
// (ties in row order). Steps, all float32 as the reference:
//   1. rows with obj > conf_thres; class scores times obj; class = first
//      maximum of the products, conf = that product; keep conf > conf_thres
//      (a NaN score anywhere drops the row: the reference's argmax picks it);
//   2. class filter; sort by conf descending, ties by row; keep max_nms;
//   3. greedy NMS on the boxes offset by class * max_wh (0 if agnostic):
//      IoU = inter / ((area_i + area_j) - inter) > iou_thres suppresses, so
//      0/0 (zero-area duplicates) and NaN boxes suppress nothing.
template <class ForEachRow>
std::vector<Detection>& non_max_suppression_rows(ForEachRow&& for_each_row, int nc, const NmsOptions& options,
                                                 NmsWorkspace& ws) {
  using nms_detail::Candidate;
  using nms_detail::rounded;
  nms_detail::check(nc, options);
  ws.result_.clear();
  ws.candidates_.clear();

  const bool filter = !options.classes.empty();
  if (filter) {
    ws.class_kept_.assign(static_cast<std::size_t>(nc), 0);
    for (int c : options.classes) ws.class_kept_[static_cast<std::size_t>(c)] = 1;
  }

  const float thr = options.conf_thres;
  for_each_row([&](const float* p, std::size_t r) {
    const float obj = p[4];
    if (!(obj > thr)) return;
    float best = p[5] * obj;
    int best_k = 0;
    bool nan = std::isnan(best);
    for (int k = 1; k < nc && !nan; ++k) {
      const float v = p[5 + k] * obj;
      nan = std::isnan(v);
      if (v > best) best = v, best_k = k;
    }
    if (nan || !(best > thr)) return;
    if (filter && !ws.class_kept_[static_cast<std::size_t>(best_k)]) return;
    const float half_w = rounded(p[2] / 2.0f), half_h = rounded(p[3] / 2.0f);
    ws.candidates_.push_back({p[0] - half_w, p[1] - half_h, p[0] + half_w, p[1] + half_h, best, best_k, r});
  });

  // A total order (conf descending, then row) sorts like the reference's
  // stable sort without stable_sort's temporary buffer.
  auto before = [](const Candidate& a, const Candidate& b) {
    return a.conf > b.conf || (a.conf == b.conf && a.row < b.row);
  };
  auto& cand = ws.candidates_;
  const std::size_t n = std::min(cand.size(), static_cast<std::size_t>(options.max_nms));
  if (n < cand.size()) std::nth_element(cand.begin(), cand.begin() + static_cast<std::ptrdiff_t>(n), cand.end(), before);
  std::sort(cand.begin(), cand.begin() + static_cast<std::ptrdiff_t>(n), before);

  for (auto* v : {&ws.x1_, &ws.y1_, &ws.x2_, &ws.y2_, &ws.area_}) v->resize(n);
  ws.id_.resize(n);
  const float max_wh = options.agnostic ? 0.0f : options.max_wh;
  for (std::size_t i = 0; i < n; ++i) {
    const Candidate& c = cand[i];
    const float offset = rounded(static_cast<float>(c.cls) * max_wh);
    const float x1 = c.x1 + offset, y1 = c.y1 + offset, x2 = c.x2 + offset, y2 = c.y2 + offset;
    ws.x1_[i] = x1, ws.y1_[i] = y1, ws.x2_[i] = x2, ws.y2_[i] = y2;
    ws.area_[i] = (x2 - x1) * (y2 - y1);
    ws.id_[i] = static_cast<std::uint32_t>(i);
  }

  // Greedy, torchvision's order: the best alive box is kept and removes the
  // boxes it overlaps; survivors are compacted, so each pass only visits boxes
  // still alive (O(n) per kept box, n shrinking).
  const nms_detail::Alive alive{ws.x1_.data(), ws.y1_.data(), ws.x2_.data(), ws.y2_.data(), ws.area_.data(),
                                ws.id_.data()};
  const std::size_t max_det = static_cast<std::size_t>(options.max_det);
  std::size_t end = n;
  for (std::size_t head = 0; head < end; ++head) {
    const Candidate& kept = cand[alive.id[head]];
    ws.result_.push_back({kept.x1, kept.y1, kept.x2, kept.y2, kept.conf, kept.cls});
    if (ws.result_.size() >= max_det) break;
    end = nms_detail::suppress<DefaultArch>(alive, head, end, options.iou_thres);
  }
  return ws.result_;
}

// pred: rows x (nc + 5) floats, all rows decoded (see non_max_suppression_rows).
inline std::vector<Detection>& non_max_suppression(const float* pred, std::size_t rows, int nc,
                                                   const NmsOptions& options, NmsWorkspace& ws) {
  require(pred != nullptr || rows == 0, "non_max_suppression: pred is null but rows = ", rows);
  const std::size_t no = static_cast<std::size_t>(std::max(nc, 0)) + 5;
  return non_max_suppression_rows(
      [&](auto&& visit) {
        for (std::size_t r = 0; r < rows; ++r) visit(pred + r * no, r);
      },
      nc, options, ws);
}

// One-off form: allocates a workspace per call.
[[nodiscard]] inline std::vector<Detection> non_max_suppression(const float* pred, std::size_t rows, int nc,
                                                                const NmsOptions& options = {}) {
  NmsWorkspace ws;
  return std::move(non_max_suppression(pred, rows, nc, options, ws));
}

}  // namespace riformer
