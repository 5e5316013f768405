#pragma once
// mmpretrain's ImageClassifier around a RIFormer backbone, the form of the
// published ImageNet checkpoints (MODEL.md section 5):
//
//   backbone          (H, W, 3) -> (h3, w3, d3)   the last stage only, normalized by norm6
//   neck              (h3, w3, d3) -> (d3)        global average pooling
//   head.fc           (d3) -> (classes)           Linear; the class count comes from the weights
//
// The test-time image pipeline (short edge to 248, bicubic; center crop 224;
// normalize) is postprocess/imagenet_transform.hpp; softmax and top-k,
// postprocess/top_k.hpp.

#include <cstddef>
#include <span>
#include <string>

#include <xtensor/xtensor.hpp>

#include "riformer/core/aligned_buffer.hpp"
#include "riformer/core/context.hpp"
#include "riformer/core/error.hpp"
#include "riformer/core/image_view.hpp"
#include "riformer/io/param_source.hpp"
#include "riformer/kernels/gemm.hpp"
#include "riformer/layers/global_average_pool.hpp"
#include "riformer/layers/pointwise.hpp"
#include "riformer/models/riformer/backbone.hpp"
#include "riformer/models/riformer/spec.hpp"

namespace riformer {

// `spec` returning its last stage alone, as the classifier's backbone does
// (mmpretrain's out_indices=(3,)): the other stages' norms are not run.
[[nodiscard]] constexpr BackboneSpec last_stage_only(BackboneSpec spec) {
  spec.outputs = {false, false, false, true};
  return spec;
}

// Far more classes than any classifier has (ImageNet-21k: 21843); beyond it a
// shape is corrupt.
inline constexpr int kMaxClasses = 1 << 20;

template <BackboneSpec S>
class Classifier {
 public:
  static constexpr BackboneSpec kBackboneSpec = last_stage_only(S);
  static constexpr int kFeatures = S.dims[3];  // pooled features per image (d3)
  using BackboneType = Backbone<kBackboneSpec>;

  Classifier() = default;
  // backbone: the scope of the backbone's keys (patch_embed..., norm6); head:
  // of the head's ("head.": fc.weight [classes, d3], fc.bias [classes]).
  Classifier(const ParamScope& backbone, const ParamScope& head, int classes) { load(backbone, head, classes); }

  void load(const ParamScope& backbone, const ParamScope& head, int classes) {
    require(classes >= 1 && classes <= kMaxClasses, "RIFormer classifier: ", classes, " classes; expected 1 to ",
            kMaxClasses);
    backbone_.load(backbone);
    // A backbone trained to return every stage also holds norm0, norm2 and
    // norm4: read and shape-checked, as part of the checkpoint, but unused.
    for (int s = 0; s < 3; ++s) {
      const ParamScope norm = backbone.sub("norm" + std::to_string(2 * s));
      if (!norm.contains("weight")) continue;
      (void)norm.get("weight", {S.dims[s]});
      (void)norm.get("bias", {S.dims[s]});
    }
    const HostTensor w = head.get("fc.weight", {classes, kFeatures});
    const HostTensor b = head.get("fc.bias", {classes});
    fc_ = layers::pack_pointwise(w, b.data, classes, kFeatures);
    classes_ = classes;
  }

  [[nodiscard]] int classes() const { return classes_; }
  [[nodiscard]] const BackboneType& backbone() const { return backbone_; }

  // logits = head.fc(mean over the pixels of the last stage `last`).
  // pooled: kFeatures floats, the image's embedding; logits: classes() floats.
  void head(const Context& ctx, const FeatureMap& last, float* pooled, float* logits) const {
    require(last.channels == kFeatures, "RIFormer classifier: the last stage has ", last.channels, " channels, expected ",
            kFeatures);
    layers::global_average_pool(last, pooled);  // (d3)
    kernels::gemm<DefaultArch, kernels::kLinearEpilogue>(ctx, 1, pooled, kFeatures, fc_, logits,
                                                         static_cast<std::size_t>(classes_));  // (classes)
  }

 private:
  BackboneType backbone_;
  kernels::PackedMatrix fc_;  // head.fc: (d3 -> classes)
  int classes_ = 0;
};

// A classifier with its own threads and memory: what most users hold. After
// the first forward() at a size (or reserve()), forward() allocates nothing.
template <BackboneSpec S>
class ClassifierRunner {
 public:
  explicit ClassifierRunner(Classifier<S> net, int threads = 1)
      : net_(std::move(net)), ctx_(threads), pooled_(Classifier<S>::kFeatures), logits_(net_.classes()) {}

  [[nodiscard]] const Classifier<S>& network() const { return net_; }
  [[nodiscard]] int classes() const { return net_.classes(); }
  [[nodiscard]] int threads() const { return ctx_.threads(); }
  void set_layer_timer(LayerTimer* timer) { ctx_.set_layer_timer(timer); }
  // Plans memory for an input size ahead of the first forward().
  void reserve(int height, int width) { net_.backbone().plan(ws_, height, width); }

  // image: one normalized RGB image (imagenet_preprocess gives 3 x 224 x 224),
  // any layout ImageView describes. Returns the logits, valid until the next call.
  std::span<const float> forward(const ImageView& image) {
    net_.backbone().plan(ws_, image.height, image.width);
    const auto outputs = net_.backbone().run(ctx_, image, ws_);  // {(h3, w3, d3)}
    net_.head(ctx_, outputs[0], pooled_.data(), logits_.data());
    ctx_.end_layer("head");
    return {logits_.data(), logits_.size()};
  }
  // input: [1, 3, H, W] float, PyTorch's layout.
  std::span<const float> forward(const xt::xtensor<float, 4>& input) {
    const auto& s = input.shape();
    require(s[0] == 1 && s[1] == 3, "RIFormer classifier: expected an input of shape [1, 3, H, W], got [", s[0], ", ",
            s[1], ", ", s[2], ", ", s[3], "]");
    return forward(ImageView::chw(input.data(), static_cast<int>(s[2]), static_cast<int>(s[3]), 3));
  }
  // The pooled features (d3) of the last forward(): the image's embedding.
  [[nodiscard]] std::span<const float> features() const { return {pooled_.data(), pooled_.size()}; }

 private:
  Classifier<S> net_;
  Context ctx_;
  BackboneWorkspace ws_;
  AlignedBuffer pooled_;  // (d3)
  AlignedBuffer logits_;  // (classes)
};

}  // namespace riformer
