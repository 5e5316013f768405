#pragma once
// YOLOv5 v7.0 building blocks on channels-last buffers: Bottleneck, C3 and
// SPPF (MODEL.md section 2). Every concatenation is a buffer whose producers
// write straight into their channel slices; nothing is copied to concatenate.

#include <array>
#include <cstddef>
#include <string>

#include "riformer/core/context.hpp"
#include "riformer/core/image_view.hpp"
#include "riformer/io/param_source.hpp"
#include "riformer/kernels/pool.hpp"
#include "riformer/layers/conv_bn_act.hpp"

namespace riformer::yolo {

// Scratch a block needs, planned by its owner for one input size.
struct BlockScratch {
  float* a = nullptr;       // (pixels, c_) temporaries
  float* b = nullptr;       // (pixels, c_)
  float* concat = nullptr;  // the block's own concatenation
  float* pool = nullptr;    // SPPF's pooling scratch
};

// Bottleneck(c, c, shortcut=False, e=1.0): cv2(cv1(x)), 1x1 then 3x3.
template <int C>
class Bottleneck {
 public:
  void load(const ParamScope& p) {
    cv1_.load(p.sub("cv1"));
    cv2_.load(p.sub("cv2"));
  }
  // x: (h, w, C) dense -> out (h, w, C), pixel stride out_stride; tmp: (h, w, C).
  void forward(const Context& ctx, const ImageView& x, float* out, std::size_t out_stride, float* tmp) const {
    cv1_.forward(ctx, x, tmp, C);                                                      // tmp: (h, w, C)
    cv2_.forward(ctx, ImageView::hwc(tmp, x.height, x.width, C), out, out_stride);  // out: (h, w, C)
  }

 private:
  layers::ConvBnSiLU<C, C, 1, 1> cv1_;
  layers::ConvBnSiLU<C, C, 3, 1> cv2_;
};

// C3(c1, c2, n, shortcut=False): cv3(concat(m(cv1(x)), cv2(x))), c_ = c2 / 2.
template <int Cin, int Cout, int Repeats>
class C3 {
  static_assert(Cout % 2 == 0 && Repeats >= 1, "C3: c2 must be even and n >= 1");

 public:
  static constexpr int kHidden = Cout / 2;

  void load(const ParamScope& p) {
    cv1_.load(p.sub("cv1"));
    cv2_.load(p.sub("cv2"));
    cv3_.load(p.sub("cv3"));
    for (int i = 0; i < Repeats; ++i) m_[i].load(p.sub("m").sub(std::to_string(i)));
  }

  // Scratch per input size: two (pixels, c_) temporaries and the (pixels, 2c_) concat.
  [[nodiscard]] static std::size_t temp_floats(int h, int w) { return static_cast<std::size_t>(h) * w * kHidden; }
  [[nodiscard]] static std::size_t concat_floats(int h, int w) { return 2 * temp_floats(h, w); }

  // x: (h, w, Cin), any pixel stride -> out: (h, w, Cout), pixel stride out_stride.
  void forward(const Context& ctx, const ImageView& x, float* out, std::size_t out_stride, const BlockScratch& s) const {
    const int h = x.height, w = x.width;
    constexpr int c = kHidden;
    float* path = s.a;  // the bottleneck path's current tensor: (h, w, c_)
    cv1_.forward(ctx, x, path, c);              // a: (h, w, c_)
    cv2_.forward(ctx, x, s.concat + c, 2 * c);  // concat[:, c_:2c_]
    for (int i = 0; i < Repeats; ++i) {
      const bool last = i + 1 == Repeats;
      // The last bottleneck writes into the concat's first slice; earlier ones back into `a`.
      m_[i].forward(ctx, ImageView::hwc(path, h, w, c), last ? s.concat : path, last ? 2 * c : c, s.b);
    }
    cv3_.forward(ctx, ImageView::hwc(s.concat, h, w, 2 * c), out, out_stride);  // out: (h, w, Cout)
  }

 private:
  layers::ConvBnSiLU<Cin, kHidden, 1, 1> cv1_, cv2_;
  layers::ConvBnSiLU<2 * kHidden, Cout, 1, 1> cv3_;
  std::array<Bottleneck<kHidden>, Repeats> m_;
};

// SPPF(c1, c2, k=5): x = cv1(x); cv2(concat(x, m(x), m(m(x)), m(m(m(x))))),
// m = 5x5 max pool, stride 1, padding 2; c_ = c1 / 2.
template <int Cin, int Cout>
class SPPF {
  static_assert(Cin % 2 == 0, "SPPF: c1 must be even");

 public:
  static constexpr int kHidden = Cin / 2;
  static constexpr int kPool = 5;

  void load(const ParamScope& p) {
    cv1_.load(p.sub("cv1"));
    cv2_.load(p.sub("cv2"));
  }

  [[nodiscard]] static std::size_t concat_floats(int h, int w) { return static_cast<std::size_t>(h) * w * 4 * kHidden; }
  [[nodiscard]] static std::size_t pool_floats(int h, int w) { return kernels::max_pool_scratch_floats(h, w, kHidden); }

  // x: (h, w, Cin) -> out: (h, w, Cout), pixel stride out_stride.
  void forward(const Context& ctx, const ImageView& x, float* out, std::size_t out_stride, const BlockScratch& s) const {
    const int h = x.height, w = x.width;
    constexpr int c = kHidden, stride = 4 * kHidden;
    cv1_.forward(ctx, x, s.concat, stride);  // concat[:, 0:c_] = cv1(x)
    for (int i = 1; i < 4; ++i)              // concat[:, i c_:(i+1) c_] = pool(previous slice)
      kernels::max_pool_same(ctx, s.concat + (i - 1) * c, stride, h, w, c, kPool, s.concat + i * c, stride, s.pool);
    cv2_.forward(ctx, ImageView::hwc(s.concat, h, w, stride), out, out_stride);  // out: (h, w, Cout)
  }

 private:
  layers::ConvBnSiLU<Cin, kHidden, 1, 1> cv1_;
  layers::ConvBnSiLU<4 * kHidden, Cout, 1, 1> cv2_;
};

}  // namespace riformer::yolo
