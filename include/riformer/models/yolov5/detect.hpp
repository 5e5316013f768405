#pragma once
// YOLOv5's Detect head: per level a 1x1 convolution with bias to
// na * (nc + 5) channels (channel a * (nc + 5) + k: anchor a, value k). The
// number of classes comes from the weights at load, so one binary serves any nc.
// Anchors come from the checkpoint's `anchors` buffer (autoanchor may have
// changed them during training) or else from the head spec.

#include <array>
#include <cmath>
#include <cstddef>
#include <string>

#include "riformer/core/context.hpp"
#include "riformer/core/error.hpp"
#include "riformer/core/image_view.hpp"
#include "riformer/io/param_source.hpp"
#include "riformer/kernels/gemm.hpp"
#include "riformer/layers/pointwise.hpp"
#include "riformer/models/yolov5/spec.hpp"

namespace riformer::yolo {

// The largest anchor a checkpoint may give: the largest side of any input
// (letterbox's limit, 2^16 pixels).
inline constexpr float kMaxAnchorPixels = 65536.0f;

template <int C3, int C4, int C5>
class Detect {
 public:
  static constexpr std::array<int, kDetectLevels> kInputs{C3, C4, C5};

  // Keys: m.{l}.weight [na * (nc + 5), C_l, 1, 1], m.{l}.bias; optional anchors [3, 3, 2] in grid units.
  void load(const ParamScope& p, int nc, const YoloHeadSpec& spec) {
    require(nc >= 1 && nc <= 100000, "Detect: number of classes must be in 1..100000, got ", nc);
    nc_ = nc;
    const int out = kAnchorsPerLevel * (nc + 5);
    // The output buffers are ours: pad them to whole GEMM panels (255 -> 256 for COCO).
    stride_ = kernels::gemm_padded_columns(out);
    for (int l = 0; l < kDetectLevels; ++l) {
      const ParamScope m = p.sub("m").sub(std::to_string(l));
      convs_[l] = layers::pack_pointwise(m.get("weight", {out, kInputs[l], 1, 1}), m.get("bias", {out}).data, out, kInputs[l],
                                         {}, stride_);
    }
    if (p.contains("anchors")) {
      // Stored in grid units (anchors / stride) after YOLOv5's model build.
      const HostTensor a = p.get("anchors", {kDetectLevels, kAnchorsPerLevel, 2});
      for (int l = 0; l < kDetectLevels; ++l)
        for (int i = 0; i < 6; ++i) {
          const float v = a.data[l * 6 + i] * static_cast<float>(kDetectStrides[l]);
          // Beyond the largest input any anchor is corrupt, and box areas made from it overflow in NMS.
          require(std::isfinite(v) && v > 0 && v <= kMaxAnchorPixels, p.prefix(), "anchors: anchor ", i / 2,
                  " of level ", l, " is ", v, " pixels (expected 0 < anchor <= ", kMaxAnchorPixels, ")");
          anchors_[l][i] = v;
        }
    } else {
      for (int l = 0; l < kDetectLevels; ++l)
        for (int i = 0; i < 6; ++i) anchors_[l][i] = static_cast<float>(spec.anchors[l][i]);
    }
  }

  [[nodiscard]] int num_classes() const { return nc_; }
  [[nodiscard]] int outputs_per_anchor() const { return nc_ + 5; }
  [[nodiscard]] int channels() const { return kAnchorsPerLevel * (nc_ + 5); }
  // Floats per pixel of the output maps: channels(), padded (see load()).
  [[nodiscard]] int pixel_stride() const { return stride_; }
  [[nodiscard]] const std::array<float, 6>& anchors(int level) const { return anchors_[level]; }

  // Level l's raw output: in (h, w, C_l) -> out (h, w, na * (nc + 5)), pixel_stride() floats per pixel.
  void forward(const Context& ctx, int level, const ImageView& in, float* out) const {
    require(in.channels == kInputs[level] && in.channels_contiguous(), "Detect: level ", level, " input has ", in.channels,
            " channels, expected ", kInputs[level]);
    kernels::gemm<DefaultArch, kernels::kLinearEpilogue>(ctx, in.height * in.width, in.data, static_cast<std::size_t>(in.stride_x), convs_[level], out,
                  static_cast<std::size_t>(stride_));
  }

 private:
  int nc_ = 0;
  int stride_ = 0;
  std::array<kernels::PackedMatrix, kDetectLevels> convs_;
  std::array<std::array<float, 6>, kDetectLevels> anchors_{};
};

}  // namespace riformer::yolo
