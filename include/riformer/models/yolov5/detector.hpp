#pragma once
// The RIFormer-YOLOv5 detector of the seed: a RIFormer backbone (model.0)
// under YOLOv5 v7.0's PAN neck and Detect head (model.1 ... model.16), as
// one type, Detector<kS12> (MODEL.md section 2). Feature maps are named as in
// the YOLOv5 graph (y5 = SPPF, y6 = lateral conv, ...), and every Concat is a
// buffer its producers write into: the backbone's P3/P4 norms, the
// upsamplings and the convolutions each fill their own channel slice.
//
//   y5  = SPPF(P5)                          model.1   (h32, w32, c1024)
//   y6  = Conv1x1(y5)                       model.2   (h32, w32, c512)
//   y9  = C3(cat(up(y6), P4))               model.5   (h16, w16, c512)
//   y10 = Conv1x1(y9)                       model.6   (h16, w16, c256)
//   y13 = C3(cat(up(y10), P3))              model.9   (h8,  w8,  c256)  -> Detect level 0
//   y14 = Conv3x3/2(y13)                    model.10  (h16, w16, c256)
//   y16 = C3(cat(y14, y10))                 model.12  (h16, w16, c512)  -> Detect level 1
//   y17 = Conv3x3/2(y16)                    model.13  (h32, w32, c512)
//   y19 = C3(cat(y17, y5))                  model.15  (h32, w32, c1024) -> Detect level 2
//   Detect(y13, y16, y19)                   model.16

#include <algorithm>
#include <array>
#include <cstddef>

#include "riformer/core/aligned_buffer.hpp"
#include "riformer/core/carved_span.hpp"
#include "riformer/core/context.hpp"
#include "riformer/core/error.hpp"
#include "riformer/core/feature_map.hpp"
#include "riformer/core/image_view.hpp"
#include "riformer/io/param_source.hpp"
#include "riformer/kernels/pool.hpp"
#include "riformer/layers/conv_bn_act.hpp"
#include "riformer/models/riformer/backbone.hpp"
#include "riformer/models/yolov5/blocks.hpp"
#include "riformer/models/yolov5/detect.hpp"
#include "riformer/models/yolov5/spec.hpp"
#include "riformer/postprocess/decode.hpp"

namespace riformer {

// Working memory of a detector for one input size (and number of classes).
// Move-only: its pointers point into its own memory.
struct DetectorWorkspace {
  DetectorWorkspace() = default;
  DetectorWorkspace(DetectorWorkspace&&) = default;
  DetectorWorkspace& operator=(DetectorWorkspace&&) = default;

  int height = 0, width = 0, nc = 0;
  bool with_p2 = true;
  BackboneWorkspace backbone;
  AlignedBuffer memory;
  CarvedSpan carving;       // memory's buffers, with (under AddressSanitizer) poisoned gaps between them
  CarvedSpan neck_carving;  // the buffers carved from the backbone's dead working memory, if any
  float* cat8 = nullptr;   // cat(up(y6), P4):  (h16, w16, c512 + dims[2])
  float* cat12 = nullptr;  // cat(up(y10), P3): (h8,  w8,  c256 + dims[1])
  float* cat15 = nullptr;  // cat(y14, y10):    (h16, w16, 2 c256)
  float* cat18 = nullptr;  // cat(y17, y5):     (h32, w32, c512 + c1024)
  float* y6 = nullptr;     // (h32, w32, c512)
  float* y9 = nullptr;     // (h16, w16, c512)
  std::array<float*, kDetectLevels> neck_out{};  // y13, y16, y19
  std::array<float*, kDetectLevels> head{};      // raw Detect outputs: (h_l, w_l, na (nc + 5)), padded per pixel
  yolo::BlockScratch block;                       // shared by SPPF and the C3s, which run one after another
  // All but cat8 and cat12 may live in the backbone's working memory, dead by
  // the time the neck runs: the head maps stay valid until the next run.
};

// What one forward pass produced; views into the workspace.
struct DetectorOutputs {
  std::array<FeatureMap, 4> backbone;               // P2 ... P5, strides 4 ... 32 (P2 empty unless planned with_p2)
  std::array<DetectLevel, kDetectLevels> levels;    // raw Detect maps with their strides and anchors
};

template <BackboneSpec B, YoloHeadSpec H = kYoloV5SeedHead>
class Detector {
  static_assert(B.outputs[1] && B.outputs[2] && B.outputs[3], "Detector: the backbone must return P3, P4 and P5");
  static constexpr int kP3 = B.dims[1], kP4 = B.dims[2], kP5 = B.dims[3];
  static constexpr int c1024 = H.width(1024), c512 = H.width(512), c256 = H.width(256);
  static constexpr int n3 = H.depth(3);

 public:
  static constexpr BackboneSpec kBackbone = B;
  static constexpr YoloHeadSpec kHead = H;
  // Input sizes must be multiples of the largest stride.
  static constexpr int kSizeMultiple = 32;

  Detector() = default;
  // root: where the `model.N.` keys live; nc: from the Detect weights' shape.
  Detector(const ParamScope& root, int nc) { load(root, nc); }

  void load(const ParamScope& root, int nc) {
    backbone_.load(root.sub("model.0"));
    sppf_.load(root.sub("model.1"));
    lateral5_.load(root.sub("model.2"));
    top_down4_.load(root.sub("model.5"));
    lateral4_.load(root.sub("model.6"));
    top_down3_.load(root.sub("model.9"));
    down3_.load(root.sub("model.10"));
    bottom_up4_.load(root.sub("model.12"));
    down4_.load(root.sub("model.13"));
    bottom_up5_.load(root.sub("model.15"));
    detect_.load(root.sub("model.16"), nc, H);
  }

  [[nodiscard]] const Backbone<B>& backbone() const { return backbone_; }
  [[nodiscard]] int num_classes() const { return detect_.num_classes(); }
  [[nodiscard]] const std::array<float, 6>& anchors(int level) const { return detect_.anchors(level); }

  // Sizes `ws` for a height x width input (allocates only when something
  // changed). `with_p2`: also normalize the backbone's stride-4 output, which
  // the head does not read (dumps and feature users want it; detection not).
  void plan(DetectorWorkspace& ws, int height, int width, bool with_p2 = true) const {
    require(height >= kSizeMultiple && width >= kSizeMultiple && height % kSizeMultiple == 0 && width % kSizeMultiple == 0,
            "detector: input size ", height, "x", width, " is not a positive multiple of ", kSizeMultiple,
            " (letterbox the image to e.g. 640x640)");
    if (ws.height == height && ws.width == width && ws.nc == num_classes() && ws.with_p2 == with_p2 && ws.memory.size())
      return;
    const int h8 = height / 8, w8 = width / 8, h16 = h8 / 2, w16 = w8 / 2, h32 = h16 / 2, w32 = w16 / 2;
    const auto px = [](int h, int w) { return static_cast<std::size_t>(h) * w; };
    const std::size_t no3 = static_cast<std::size_t>(detect_.pixel_stride());

    // P3 and P4 are normalized by the backbone straight into their concat slices.
    using enum StageOutput;
    backbone_.plan(ws.backbone, height, width, {with_p2 ? own : skip, external, external, own});

    // The concatenations with P3 and P4 are filled while the backbone runs; everything
    // else the neck needs lives only after it, in the backbone's dead working memory
    // when that is large enough (it is for the published variants).
    const std::array<std::size_t, 2> during{px(h16, w16) * (c512 + kP4), px(h8, w8) * (c256 + kP3)};
    const std::size_t temp = std::max({decltype(top_down4_)::temp_floats(h16, w16), decltype(top_down3_)::temp_floats(h8, w8),
                                       decltype(bottom_up4_)::temp_floats(h16, w16), decltype(bottom_up5_)::temp_floats(h32, w32)});
    const std::size_t concat =
        std::max({decltype(sppf_)::concat_floats(h32, w32), decltype(top_down4_)::concat_floats(h16, w16),
                  decltype(top_down3_)::concat_floats(h8, w8), decltype(bottom_up4_)::concat_floats(h16, w16),
                  decltype(bottom_up5_)::concat_floats(h32, w32)});
    const std::array<std::size_t, 14> after{
        px(h16, w16) * 2 * c256, px(h32, w32) * (c512 + c1024), px(h32, w32) * c512, px(h16, w16) * c512,
        px(h8, w8) * c256,       px(h16, w16) * c512,           px(h32, w32) * c1024, px(h8, w8) * no3,
        px(h16, w16) * no3,      px(h32, w32) * no3,            temp,                 temp,
        concat,                  decltype(sppf_)::pool_floats(h32, w32)};
    std::size_t during_total = 0, after_total = 0;
    for (std::size_t n : during) during_total += CarvedSpan::footprint(n);
    for (std::size_t n : after) after_total += CarvedSpan::footprint(n);
    const bool reuse = after_total <= ws.backbone.reusable_size;
    ws.memory.resize(during_total + (reuse ? 0 : after_total));
    ws.carving.reset(ws.memory.data(), ws.memory.size());
    ws.cat8 = ws.carving.take(during[0]);
    ws.cat12 = ws.carving.take(during[1]);
    if (reuse)
      ws.neck_carving.reset(ws.backbone.reusable, ws.backbone.reusable_size);
    else
      ws.neck_carving.reset(nullptr, 0);
    CarvedSpan& neck = reuse ? ws.neck_carving : ws.carving;
    std::size_t next = 0;
    auto take_after = [&] { return neck.take(after[next++]); };
    ws.cat15 = take_after();
    ws.cat18 = take_after();
    ws.y6 = take_after();
    ws.y9 = take_after();
    for (auto& o : ws.neck_out) o = take_after();
    for (auto& o : ws.head) o = take_after();
    ws.block.a = take_after();
    ws.block.b = take_after();
    ws.block.concat = take_after();
    ws.block.pool = take_after();
    ws.carving.arm();

    ws.backbone.outputs[1] = ws.cat12 + c256;
    ws.backbone.output_stride[1] = c256 + kP3;
    ws.backbone.outputs[2] = ws.cat8 + c512;
    ws.backbone.output_stride[2] = c512 + kP4;
    ws.height = height;
    ws.width = width;
    ws.nc = num_classes();
    ws.with_p2 = with_p2;
  }

  // One forward pass on a 3-channel image of the planned size. Allocates nothing.
  DetectorOutputs run(const Context& ctx, const ImageView& image, DetectorWorkspace& ws) const {
    const auto features = run_backbone(ctx, image, ws);
    DetectorOutputs out;
    std::copy(features.begin(), features.end(), out.backbone.begin());
    out.levels = run_head(ctx, ws);
    return out;
  }

  // The two halves of run(), separately timeable: the backbone (P2..P5, with
  // P3 and P4 written into the neck's concatenations) ...
  typename Backbone<B>::Outputs run_backbone(const Context& ctx, const ImageView& image, DetectorWorkspace& ws) const {
    require(ws.height == image.height && ws.width == image.width && ws.nc == num_classes(),
            "detector: workspace planned for ", ws.height, "x", ws.width, ", input is ", image.height, "x", image.width);
    return backbone_.run(ctx, image, ws.backbone);
  }

  // ... and the neck and Detect head on the backbone's last outputs in `ws`.
  std::array<DetectLevel, kDetectLevels> run_head(const Context& ctx, DetectorWorkspace& ws) const {
    const int h8 = ws.height / 8, w8 = ws.width / 8, h16 = h8 / 2, w16 = w8 / 2, h32 = h16 / 2, w32 = w16 / 2;
    ws.neck_carving.arm();  // (the backbone's dead memory, carved for the neck)
    const yolo::BlockScratch& s = ws.block;
    constexpr int cat18_c = c512 + c1024, cat8_c = c512 + kP4, cat15_c = 2 * c256, cat12_c = c256 + kP3;
    const float* p5 = ws.backbone.outputs[3];  // (h32, w32, kP5)
    float* y5 = ws.cat18 + c512;   // (h32, w32, c1024), slice of cat18
    float* y10 = ws.cat15 + c256;  // (h16, w16, c256), slice of cat15
    ctx.start_layers();
    sppf_.forward(ctx, ImageView::hwc(p5, h32, w32, kP5, ws.backbone.output_stride[3]), y5, cat18_c, s);
    ctx.end_layer("model.1");
    lateral5_.forward(ctx, ImageView::hwc(y5, h32, w32, c1024, cat18_c), ws.y6, c512);
    ctx.end_layer("model.2");
    kernels::upsample_nearest_2x(ctx, ws.y6, c512, h32, w32, c512, ws.cat8, cat8_c);  // cat8[:, :c512]
    ctx.end_layer("model.3");
    top_down4_.forward(ctx, ImageView::hwc(ws.cat8, h16, w16, cat8_c), ws.y9, c512, s);
    ctx.end_layer("model.5");
    lateral4_.forward(ctx, ImageView::hwc(ws.y9, h16, w16, c512), y10, cat15_c);
    ctx.end_layer("model.6");
    kernels::upsample_nearest_2x(ctx, y10, cat15_c, h16, w16, c256, ws.cat12, cat12_c);  // cat12[:, :c256]
    ctx.end_layer("model.7");
    top_down3_.forward(ctx, ImageView::hwc(ws.cat12, h8, w8, cat12_c), ws.neck_out[0], c256, s);         // y13
    ctx.end_layer("model.9");
    down3_.forward(ctx, ImageView::hwc(ws.neck_out[0], h8, w8, c256), ws.cat15, cat15_c);  // y14
    ctx.end_layer("model.10");
    bottom_up4_.forward(ctx, ImageView::hwc(ws.cat15, h16, w16, cat15_c), ws.neck_out[1], c512, s);      // y16
    ctx.end_layer("model.12");
    down4_.forward(ctx, ImageView::hwc(ws.neck_out[1], h16, w16, c512), ws.cat18, cat18_c);  // y17
    ctx.end_layer("model.13");
    bottom_up5_.forward(ctx, ImageView::hwc(ws.cat18, h32, w32, cat18_c), ws.neck_out[2], c1024, s);     // y19
    ctx.end_layer("model.15");

    std::array<DetectLevel, kDetectLevels> levels;
    const std::array<int, kDetectLevels> hs{h8, h16, h32}, wsz{w8, w16, w32}, cs{c256, c512, c1024};
    for (int l = 0; l < kDetectLevels; ++l) {
      detect_.forward(ctx, l, ImageView::hwc(ws.neck_out[l], hs[l], wsz[l], cs[l]), ws.head[l]);
      levels[l] = DetectLevel{ws.head[l], hs[l], wsz[l], static_cast<std::size_t>(detect_.pixel_stride()),
                              static_cast<float>(kDetectStrides[l]), detect_.anchors(l)};
    }
    ctx.end_layer("model.16");
    return levels;
  }

 private:
  Backbone<B> backbone_;                                    // model.0
  yolo::SPPF<kP5, c1024> sppf_;                             // model.1
  layers::ConvBnSiLU<c1024, c512, 1, 1> lateral5_;          // model.2
  yolo::C3<c512 + kP4, c512, n3> top_down4_;                // model.5
  layers::ConvBnSiLU<c512, c256, 1, 1> lateral4_;           // model.6
  yolo::C3<c256 + kP3, c256, n3> top_down3_;                // model.9
  layers::ConvBnSiLU<c256, c256, 3, 2> down3_;              // model.10
  yolo::C3<2 * c256, c512, n3> bottom_up4_;                 // model.12
  layers::ConvBnSiLU<c512, c512, 3, 2> down4_;              // model.13
  yolo::C3<c512 + c1024, c1024, n3> bottom_up5_;            // model.15
  yolo::Detect<c256, c512, c1024> detect_;                  // model.16
};

}  // namespace riformer
