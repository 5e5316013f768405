// The backbone's folded, packed forward pass against the literal scalar
// reference (training form, unfolded), deploy form against training form,
// threads against one thread, and the errors a caller can provoke.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "reference_riformer.hpp"
#include "riformer/core/address_sanitizer.hpp"
#include "riformer/io/synthetic.hpp"
#include "riformer/io/safetensors.hpp"
#include "riformer/models/riformer/backbone.hpp"
#include "riformer/models/riformer/checkpoint.hpp"
#include "riformer/models/riformer/reparam.hpp"
#include "test_util.hpp"

using namespace riformer;
using riformer::testing::max_abs_diff;

namespace {

// Odd widths, ratios and depths, and only some outputs: nothing lines up with a tile.
constexpr BackboneSpec kOdd{{1, 2, 1, 1}, {8, 12, 20, 36}, {3, 2, 4, 1}, {true, false, true, true}};

// The returned stages as NCHW vectors.
template <class Outputs>
std::vector<std::vector<float>> nchw_vectors(const Outputs& outputs) {
  std::vector<std::vector<float>> result;
  for (const FeatureMap& f : outputs) {
    const auto nchw = f.to_nchw();
    result.emplace_back(nchw.begin(), nchw.end());
  }
  return result;
}

template <BackboneSpec S>
std::vector<std::vector<float>> run_fast(ParamSource& source, const std::vector<float>& input, int h, int w, int threads) {
  BackboneRunner<S> runner(Backbone<S>(ParamScope(source, "")), threads);
  return nchw_vectors(runner.forward(ImageView::chw(input.data(), h, w, 3)));
}

template <BackboneSpec S>
void check_against_reference(int h, int w) {
  SyntheticSource training;
  const HostTensor input = synthetic::tensor("input", {1, 3, h, w});
  const auto fast = run_fast<S>(training, input.data, h, w, 1);
  const auto slow = testing::reference_riformer(ParamScope(training, ""), S, input.data.data(), h, w);
  REQUIRE(fast.size() == slow.size());
  for (std::size_t i = 0; i < fast.size(); ++i) {
    std::vector<float> ref(slow[i].v.begin(), slow[i].v.end());
    INFO("output " << i << " of a " << h << "x" << w << " input");
    CHECK(max_abs_diff(fast[i], ref) < 1e-4);
  }
}

}  // namespace

TEST_CASE("folded forward pass equals the unfolded training-form reference") {
  check_against_reference<kS12>(64, 96);
  check_against_reference<kOdd>(37, 53);
  check_against_reference<kOdd>(3, 3);
  check_against_reference<kOdd>(6, 5);  // the interleaved input (6*5*3) outgrows every stage (36 values)
}

TEST_CASE("planar, channels-last and sliced inputs give the same outputs") {
  // Only dense channels-last input skips the interleaving copy before the stem.
  SyntheticSource training;
  BackboneRunner<kOdd> runner(Backbone<kOdd>(ParamScope(training, "")));
  constexpr int h = 45, w = 38, stride = 5;
  const HostTensor input = synthetic::tensor("input", {1, 3, h, w});
  std::vector<float> hwc(static_cast<std::size_t>(h) * w * 3), sliced(static_cast<std::size_t>(h) * w * stride, 7.0f);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) {
        const float v = input.data[(static_cast<std::size_t>(c) * h + y) * w + x];
        hwc[(static_cast<std::size_t>(y) * w + x) * 3 + c] = v;
        sliced[(static_cast<std::size_t>(y) * w + x) * stride + c] = v;
      }
  auto outputs = [&](const ImageView& view) { return nchw_vectors(runner.forward(view)); };
  const auto planar = outputs(ImageView::chw(input.data.data(), h, w, 3));
  CHECK(outputs(ImageView::hwc(hwc.data(), h, w, 3)) == planar);  // bit-identical: the same products
  CHECK(outputs(ImageView::hwc(sliced.data(), h, w, 3, stride)) == planar);
}

TEST_CASE("deploy-form weights give the training-form outputs") {
  SyntheticSource training;
  DeployView deploy(training);
  const HostTensor input = synthetic::tensor("input", {1, 3, 61, 75});
  const auto a = run_fast<kOdd>(training, input.data, 61, 75, 1);
  const auto b = run_fast<kOdd>(deploy, input.data, 61, 75, 1);
  // The deploy-form reference must also agree: it reads norm_reparam literally.
  const auto ref = testing::reference_riformer(ParamScope(deploy, ""), kOdd, input.data.data(), 61, 75);
  for (std::size_t i = 0; i < a.size(); ++i) {
    CHECK(max_abs_diff(a[i], b[i]) < 1e-5);
    CHECK(max_abs_diff(b[i], std::vector<float>(ref[i].v.begin(), ref[i].v.end())) < 1e-4);
  }
}

TEST_CASE("two threads give the one-thread result") {
  SyntheticSource training;
  const HostTensor input = synthetic::tensor("input", {1, 3, 96, 64});
  const auto one = run_fast<kS12>(training, input.data, 96, 64, 1);
  const auto two = run_fast<kS12>(training, input.data, 96, 64, 2);
  for (std::size_t i = 0; i < one.size(); ++i) CHECK(max_abs_diff(one[i], two[i]) < 1e-5);
}

TEST_CASE("outputs have the stage shapes and the spec's count") {
  SyntheticSource training;
  BackboneRunner<kOdd> runner(Backbone<kOdd>(ParamScope(training, "")));
  const HostTensor input = synthetic::tensor("input", {1, 3, 64, 96});
  const auto outs = runner.forward(ImageView::chw(input.data.data(), 64, 96, 3));
  static_assert(std::tuple_size_v<decltype(outs)> == 3);
  CHECK(outs[0].height == 16);
  CHECK(outs[0].width == 24);
  CHECK(outs[0].channels == 8);
  CHECK(outs[1].height == 4);  // stage 2 (stage 1 is not returned)
  CHECK(outs[1].channels == 20);
  CHECK(outs[2].height == 2);
  CHECK(outs[2].width == 3);
  CHECK(outs[2].channels == 36);
}

TEST_CASE("the same runner serves changing input sizes") {
  SyntheticSource training;
  BackboneRunner<kOdd> runner(Backbone<kOdd>(ParamScope(training, "")));
  for (auto [h, w] : {std::pair{32, 32}, std::pair{50, 20}, std::pair{32, 32}}) {
    const HostTensor input = synthetic::tensor("input", {1, 3, h, w});
    const auto outs = runner.forward(ImageView::chw(input.data.data(), h, w, 3));
    const auto ref = testing::reference_riformer(ParamScope(training, ""), kOdd, input.data.data(), h, w);
    const auto last = outs[2].to_nchw();
    CHECK(max_abs_diff(std::vector<float>(last.begin(), last.end()), std::vector<float>(ref[2].v.begin(), ref[2].v.end())) <
          1e-4);
  }
}

TEST_CASE("bad inputs are clear errors") {
  SyntheticSource training;
  BackboneRunner<kOdd> runner(Backbone<kOdd>(ParamScope(training, "")));
  std::vector<float> image(4 * 64 * 64, 0.5f);
  using testing::contains;
  using testing::error_message;
  CHECK(contains(error_message([&] { runner.forward(ImageView::chw(image.data(), 2, 64, 3)); }), "2x64"));
  CHECK(contains(error_message([&] { runner.forward(ImageView::chw(image.data(), 64, 64, 4)); }), "3 channels"));
  xt::xtensor<float, 4> batch2 = xt::zeros<float>({2, 3, 32, 32});
  CHECK(contains(error_message([&] { runner.forward(batch2); }), "[1, 3, H, W]"));
}

TEST_CASE("missing and mis-shaped parameters name their key") {
  // A source whose every tensor has the wrong shape for one key.
  struct Broken : SyntheticSource {
    HostTensor get(const std::string& key, const Shape& shape) override {
      if (key == "network.2.0.mlp.fc1.weight") fail("test source: wrong shape for key '", key, "'");
      return SyntheticSource::get(key, shape);
    }
  } broken;
  const std::string msg = testing::error_message([&] { Backbone<kS12> net{ParamScope(broken, "")}; });
  CHECK(testing::contains(msg, "network.2.0.mlp.fc1.weight"));
}

TEST_CASE("a checkpoint with a block missing mid-stage, or a mislabelled arch, is named as such") {
  // Only the keys inspect_backbone reads: the stem and each block's fc1, for kOdd's shapes.
  auto checkpoint = [](int skipped_block_of_stage1, const std::map<std::string, std::string>& metadata,
                       int hidden0 = kOdd.hidden(0)) {
    std::vector<NamedTensor> tensors{{"patch_embed.proj.weight", {kOdd.dims[0], 3, 7, 7}, {}}};
    for (int s = 0; s < 4; ++s)
      for (int b = 0; b < kOdd.depths[s] + (s == 1 && skipped_block_of_stage1 >= 0); ++b) {
        if (s == 1 && b == skipped_block_of_stage1) continue;
        tensors.push_back({"network." + std::to_string(2 * s) + "." + std::to_string(b) + ".mlp.fc1.weight",
                           {s == 0 ? hidden0 : kOdd.hidden(s), kOdd.dims[s], 1, 1}, {}});
      }
    for (NamedTensor& t : tensors) t.data.assign(static_cast<std::size_t>(element_count(t.shape)), 0.5f);
    const std::string path = (testing::temp_dir() / "inspect.safetensors").string();
    write_safetensors(path, tensors, metadata);
    return SafetensorsFile::open(path);
  };
  // Stage 1 has blocks 0 and 2: a block is missing, not a one-block stage.
  const std::string gap = testing::error_message([&] { (void)inspect_backbone(checkpoint(1, {})); });
  CHECK(testing::contains(gap, "block network.2.1 is missing"));
  CHECK(testing::contains(gap, "the file has block network.2.2"));

  // A zero in a shape takes no bytes, so nothing but a check bounds the other sizes.
  const std::string empty = testing::error_message([&] { (void)inspect_backbone(checkpoint(-1, {}, 0)); });
  CHECK(testing::contains(empty, "not a RIFormer MLP"));

  const BackboneCheckpointInfo complete = inspect_backbone(checkpoint(-1, {{"arch", "s12"}}));
  CHECK(complete.spec.depths == kOdd.depths);
  CHECK(complete.metadata_arch == "s12");
  // The shapes are kOdd's, the metadata says s12: the message must not claim they differ.
  const std::string label = testing::error_message([&] { check_backbone_topology(complete, kOdd, "x.safetensors"); });
  CHECK(testing::contains(label, "its tensors have the shapes of custom topology"));
  CHECK(testing::contains(label, "metadata says arch \"s12\""));
}

TEST_CASE("under AddressSanitizer the workspace's buffers are fenced off while it runs, its dead memory free after") {
  if (!kAddressSanitizer) {
    MESSAGE("not an AddressSanitizer build: nothing is poisoned, nothing to check");
    return;
  }
  SyntheticSource source;
  const Backbone<kOdd> net{ParamScope(source, "")};
  const int h = 37, w = 53;
  const HostTensor input = synthetic::tensor("input", {1, 3, h, w});
  const ImageView image = ImageView::chw(input.data.data(), h, w, 3);
  Context ctx(1);
  BackboneWorkspace ws;
  net.plan(ws, h, w);
  // Between the two stream buffers, and between the working memory and the first own output.
  CHECK(is_poisoned(ws.stream[1] - 1));
  CHECK_FALSE(is_poisoned(ws.stream[1]));
  CHECK(is_poisoned(ws.outputs[0] - 1));
  CHECK(is_poisoned(ws.outputs[2] - 1));
  const auto first = nchw_vectors(net.run(ctx, image, ws));
  // The working memory is the caller's now, gaps included; the outputs stay fenced.
  CHECK_FALSE(is_poisoned(ws.stream[1] - 1));
  CHECK_FALSE(is_poisoned(ws.reusable + ws.reusable_size - 1));
  CHECK(is_poisoned(ws.outputs[2] - 1));
  std::fill(ws.reusable, ws.reusable + ws.reusable_size, 7.0f);  // the caller's own use of it
  const auto second = nchw_vectors(net.run(ctx, image, ws));
  CHECK(second == first);
}
