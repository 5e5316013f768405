// The detector's folded (BatchNorm in the convolutions, token mixer
// re-parameterized), in-place-concatenating forward pass against the literal
// scalar reference with separate BatchNorms and explicit concatenations; both
// checkpoint forms; one and two threads; input sizes the network cannot take.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "reference_yolo.hpp"
#include "riformer/core/address_sanitizer.hpp"
#include "riformer/io/synthetic.hpp"
#include "riformer/models/riformer/reparam.hpp"
#include "riformer/models/yolov5/detector.hpp"
#include "test_util.hpp"

using namespace riformer;

namespace {

// Raw Detect maps as [3 (nc + 5), h, w] planes, comparable with the reference.
std::vector<std::vector<float>> heads_nchw(const DetectorOutputs& out, int nc) {
  std::vector<std::vector<float>> result;
  for (const DetectLevel& l : out.levels) {
    const int c = 3 * (nc + 5);
    FeatureMap f{l.data, l.ny, l.nx, c, l.pixel_stride};
    const auto t = f.to_nchw();
    result.emplace_back(t.begin(), t.end());
  }
  return result;
}

template <BackboneSpec B>
std::vector<std::vector<float>> run_detector(ParamSource& source, int nc, const HostTensor& input, int h, int w, int threads) {
  Detector<B> net(ParamScope(source, ""), nc);
  CHECK(net.num_classes() == nc);
  Context ctx(threads);
  DetectorWorkspace ws;
  net.plan(ws, h, w);
  return heads_nchw(net.run(ctx, ImageView::chw(input.data.data(), h, w, 3), ws), nc);
}

}  // namespace

TEST_CASE("folded detector equals the unfolded scalar reference") {
  const int h = 64, w = 96, nc = 3;
  SyntheticSource training;
  DeployView deploy(training);
  const HostTensor input = synthetic::tensor("input", {1, 3, h, w});
  const auto ref = testing::reference_yolo(ParamScope(training, ""), kS12, nc, input.data.data(), h, w);
  for (ParamSource* source : {static_cast<ParamSource*>(&training), static_cast<ParamSource*>(&deploy)}) {
    for (int threads : {1, 2}) {
      const auto fast = run_detector<kS12>(*source, nc, input, h, w, threads);
      for (int l = 0; l < 3; ++l) {
        INFO(source->describe() << ", level " << l << ", " << threads << " threads");
        const std::vector<float> want(ref[l].v.begin(), ref[l].v.end());
        CHECK(testing::max_abs_diff(fast[l], want) < 1e-4);
      }
    }
  }
}

TEST_CASE("the head's anchors come from the checkpoint when it has them") {
  struct WithAnchors : SyntheticSource {
    HostTensor get(const std::string& key, const Shape& shape) override {
      if (key == "model.16.anchors") return {shape, std::vector<float>(18, 2.0f)};
      return SyntheticSource::get(key, shape);
    }
    bool contains(const std::string& key) const override {
      return key == "model.16.anchors" || SyntheticSource::contains(key);
    }
  } source;
  Detector<kS12> net(ParamScope(source, ""), 2);
  CHECK(net.anchors(0)[0] == 16.0f);  // 2 grid cells x stride 8
  CHECK(net.anchors(2)[5] == 64.0f);  // 2 x stride 32
  SyntheticSource plain;
  Detector<kS12> spec_anchors(ParamScope(plain, ""), 2);
  CHECK(spec_anchors.anchors(1)[5] == 119.0f);

  // Finite but absurd: box areas made from it overflow, and NMS would keep every box.
  struct HugeAnchors : WithAnchors {
    HostTensor get(const std::string& key, const Shape& shape) override {
      if (key == "model.16.anchors") return {shape, std::vector<float>(18, 1e30f)};
      return WithAnchors::get(key, shape);
    }
  } huge;
  const std::string msg = testing::error_message([&] { Detector<kS12> net(ParamScope(huge, ""), 2); });
  CHECK(testing::contains(msg, "model.16.anchors: anchor 0 of level 0"));
  CHECK(testing::contains(msg, "expected 0 < anchor <= 65536"));
}

TEST_CASE("a negative BatchNorm variance is refused at load, naming the key and channel") {
  struct NegativeVariance : SyntheticSource {
    HostTensor get(const std::string& key, const Shape& shape) override {
      HostTensor t = SyntheticSource::get(key, shape);
      if (key == "model.9.cv1.bn.running_var") t.data[5] = -0.25f;
      return t;
    }
  } source;
  const std::string msg = testing::error_message([&] { Detector<kS12> net(ParamScope(source, ""), 2); });
  CHECK(testing::contains(msg, "'model.9.cv1.bn.running_var'"));
  CHECK(testing::contains(msg, "negative variance, -0.25 for channel 5"));
}

TEST_CASE("input sizes that are not multiples of 32 are refused clearly") {
  SyntheticSource source;
  Detector<kS12> net(ParamScope(source, ""), 3);
  DetectorWorkspace ws;
  const std::string msg = testing::error_message([&] { net.plan(ws, 100, 640); });
  CHECK(testing::contains(msg, "100x640"));
  CHECK(testing::contains(msg, "multiple of 32"));
  CHECK_THROWS_AS(net.plan(ws, 0, 32), riformer::Error);
}

TEST_CASE("a layer timer sees every layer once per pass, in the order they run, and changes no value") {
  const int h = 64, w = 96, nc = 3;
  SyntheticSource source;
  const HostTensor input = synthetic::tensor("input", {1, 3, h, w});
  Detector<kS12> net(ParamScope(source, ""), nc);
  const ImageView image = ImageView::chw(input.data.data(), h, w, 3);
  Context ctx(1);
  DetectorWorkspace ws;
  net.plan(ws, h, w, /*with_p2=*/false);
  const auto untimed = heads_nchw(net.run(ctx, image, ws), nc);

  LayerTimer timer;
  ctx.set_layer_timer(&timer);
  for (int pass = 0; pass < 2; ++pass) {
    const auto timed = heads_nchw(net.run(ctx, image, ws), nc);
    for (int l = 0; l < 3; ++l) CHECK(timed[l] == untimed[l]);
  }
  // P2 is not computed (with_p2 = false), so there is no norm0; the
  // concatenations (model.4, 8, 11, 14) are written in place by their inputs.
  const std::vector<std::string> expected{"patch_embed", "network.0", "network.1", "network.2", "norm2",
                                          "network.3",   "network.4", "norm4",     "network.5", "network.6",
                                          "norm6",       "model.1",   "model.2",   "model.3",   "model.5",
                                          "model.6",     "model.7",   "model.9",   "model.10",  "model.12",
                                          "model.13",    "model.15",  "model.16"};
  std::vector<std::string> names;
  double sum = 0;
  for (const LayerTimer::Entry& e : timer.entries()) {
    names.emplace_back(e.name);
    CHECK(e.marks == 2);
    CHECK(e.ms >= 0.0);
    sum += e.ms;
  }
  CHECK(names == expected);
  CHECK(sum > 0.0);
}

TEST_CASE("under AddressSanitizer the neck's buffers, carved from the backbone's dead memory, are fenced too") {
  if (!kAddressSanitizer) {
    MESSAGE("not an AddressSanitizer build: nothing is poisoned, nothing to check");
    return;
  }
  const int h = 64, w = 96, nc = 3;
  SyntheticSource source;
  const Detector<kS12> net(ParamScope(source, ""), nc);
  const HostTensor input = synthetic::tensor("input", {1, 3, h, w});
  Context ctx(1);
  DetectorWorkspace ws;
  net.plan(ws, h, w);
  REQUIRE(ws.neck_carving.size() > 0);  // (the neck lives in the backbone's working memory)
  CHECK(is_poisoned(ws.cat12 - 1));     // between the two concatenations the backbone writes into
  CHECK_FALSE(is_poisoned(ws.cat15));   // the neck's memory still the backbone's
  net.run(ctx, ImageView::chw(input.data.data(), h, w, 3), ws);
  CHECK(is_poisoned(ws.cat18 - 1));  // after cat15, in what was the backbone's memory
  CHECK_FALSE(is_poisoned(ws.cat18));
  CHECK(is_poisoned(ws.head[0] - 1));
  CHECK_FALSE(is_poisoned(ws.head[2]));
}
