#pragma once
// Image in, boxes out: what YOLOv5's detect.py does for one image, around a
// Detector. Letterbox (bilinear resize + pad 114) to the network size, the
// forward pass, the decode, NMS, and the boxes mapped back to the original
// image. Every buffer is kept between calls, so a stream of images of one
// size allocates nothing after the first.

#include <chrono>
#include <cstddef>
#include <vector>

#include "riformer/core/aligned_buffer.hpp"
#include "riformer/core/context.hpp"
#include "riformer/io/image.hpp"
#include "riformer/models/yolov5/detector.hpp"
#include "riformer/postprocess/decode.hpp"
#include "riformer/postprocess/detection.hpp"
#include "riformer/postprocess/head_nms.hpp"
#include "riformer/postprocess/letterbox.hpp"
#include "riformer/postprocess/nms.hpp"

namespace riformer {

struct DetectOptions {
  int height = 640, width = 640;   // network input; multiples of 32
  bool minimal_rectangle = false;  // pad only to a multiple of 32 (YOLOv5 detect.py's auto=True), not to the full size
  NmsOptions nms;
};

// Wall-clock milliseconds of the stages of the last detect().
struct DetectTimings {
  double preprocess = 0, network = 0, nms = 0;
};

template <BackboneSpec B, YoloHeadSpec H = kYoloV5SeedHead>
class DetectorRunner {
 public:
  explicit DetectorRunner(Detector<B, H> net, int threads = 1) : net_(std::move(net)), ctx_(threads) {}

  [[nodiscard]] const Detector<B, H>& network() const { return net_; }
  [[nodiscard]] int threads() const { return ctx_.threads(); }
  [[nodiscard]] int num_classes() const { return net_.num_classes(); }
  // Times each layer of the following network passes into `timer` (null: stop).
  void set_layer_timer(LayerTimer* timer) { ctx_.set_layer_timer(timer); }

  // Plans the working memory for a height x width network input, runs the
  // network once on a grey picture and sizes and writes every buffer of
  // detect() (letterbox, network input, decode, NMS), so that the first real
  // image letterboxed to that size allocates nothing and does not pay for
  // first touching that memory: hundreds of ms for the network's at 640 on
  // some virtual machines, and 19 ms for the letterbox and input buffers here.
  void warm_up(int height, int width) {
    const std::size_t values = static_cast<std::size_t>(height) * width * 3;
    letterboxed_.rgb.assign(values, 114);
    letterbox_scratch_.reserve(width, height);
    input_.assign(values, 114.0f / 255.0f);  // the grey picture
    forward(ImageView::hwc(input_.data(), height, width, 3), /*with_p2=*/false);
    nms_ws_.reserve(decoded_rows(outputs_.levels), num_classes());
    row_.reserve(static_cast<std::size_t>(num_classes()) + 5);
    nms_last(NmsOptions{});
  }

  // The network alone on an already letterboxed image (e.g. a [1, 3, H, W]
  // tensor as PyTorch takes it); outputs stay valid until the next call.
  // With with_p2, the backbone's stride-4 output P2 (which the head does not
  // read) is computed too.
  const DetectorOutputs& forward(const ImageView& input, bool with_p2 = true) {
    net_.plan(ws_, input.height, input.width, with_p2);
    outputs_ = net_.run(ctx_, input, ws_);
    return outputs_;
  }

  // Decoded predictions [rows, nc + 5] of the last forward(), in input pixels.
  const std::vector<float>& decode_last() {
    pred_.resize(decoded_rows(outputs_.levels) * static_cast<std::size_t>(num_classes() + 5));
    decode(outputs_.levels, num_classes(), pred_.data());
    return pred_;
  }

  // Detections in the last forward()'s input pixels: the same as NMS on
  // decode_last()'s rows, but only rows with a confident objectness are
  // decoded (see head_nms.hpp).
  std::vector<Detection>& nms_last(const NmsOptions& options) {
    return non_max_suppression(outputs_.levels, num_classes(), options, nms_ws_, row_);
  }

  // Detections in `image`'s pixels; `timings`, if given, receives the stage times.
  const std::vector<Detection>& detect(const Image& image, const DetectOptions& options, DetectTimings* timings = nullptr) {
    using Clock = std::chrono::steady_clock;
    const auto ms = [](Clock::time_point a, Clock::time_point b) {
      return std::chrono::duration<double, std::milli>(b - a).count();
    };
    const auto t0 = Clock::now();
    const LetterboxGeometry g =
        letterbox_geometry(image.width, image.height, options.width, options.height, options.minimal_rectangle);
    letterbox(image, g, letterboxed_, letterbox_scratch_);
    input_.resize(static_cast<std::size_t>(letterboxed_.width) * letterboxed_.height * 3);
    image_to_hwc(letterboxed_, input_.data());
    const auto t1 = Clock::now();
    forward(ImageView::hwc(input_.data(), letterboxed_.height, letterboxed_.width, 3), /*with_p2=*/false);
    const auto t2 = Clock::now();
    std::vector<Detection>& dets = nms_last(options.nms);
    for (Detection& d : dets) d = scale_box(d, g);
    const auto t3 = Clock::now();
    if (timings) *timings = {ms(t0, t1), ms(t1, t2), ms(t2, t3)};
    return dets;
  }

 private:
  Detector<B, H> net_;
  Context ctx_;
  DetectorWorkspace ws_;
  DetectorOutputs outputs_{};
  Image letterboxed_;
  LetterboxScratch letterbox_scratch_;
  std::vector<float> input_;  // letterboxed image, HWC float in [0, 1]
  std::vector<float> pred_;  // decode_last()'s rows
  std::vector<float> row_;   // one decoded row, for nms_last()
  NmsWorkspace nms_ws_;
};

}  // namespace riformer
