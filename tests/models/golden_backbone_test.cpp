// Golden tests: the backbone against PyTorch. Every published variant at
// 64x96 in both checkpoint forms and S12 at 224x224 use synthetic weights
// (tests/reference/SYNTHETIC.md, computed identically on both sides); the tiny
// custom variant loads real files that PyTorch and tools/export_weights.py
// wrote (F32, F16, BF16). Fixtures: tests/reference/make_golden.py.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "riformer/io/safetensors.hpp"
#include "riformer/io/synthetic.hpp"
#include "riformer/models/riformer/backbone.hpp"
#include "riformer/models/riformer/checkpoint.hpp"
#include "riformer/models/riformer/dispatch.hpp"
#include "riformer/models/riformer/reparam.hpp"
#include "fixture_reading.hpp"
#include "test_util.hpp"

using namespace riformer;

namespace {

constexpr double kTolerance = 1e-4;  // on unit-scale (GroupNorm-ed) features

template <BackboneSpec S>
void compare_outputs(Backbone<S> net, const SafetensorsFile& golden, const HostTensor& input, int h, int w) {
  BackboneRunner<S> runner(std::move(net));
  const auto outs = runner.forward(ImageView::chw(input.data.data(), h, w, 3));
  double worst = 0;
  for (std::size_t i = 0; i < outs.size(); ++i) {
    const TensorInfo* expected = golden.find("out" + std::to_string(i));
    REQUIRE(expected != nullptr);
    const auto got = outs[i].to_nchw();
    REQUIRE(Shape(got.shape().begin(), got.shape().end()) == expected->shape);
    const std::vector<float> want = golden.read_float(*expected);
    const double err = testing::max_abs_diff(got.data(), want.data(), want.size());
    INFO(golden.path() << " out" << i);
    CHECK(err <= kTolerance);
    worst = std::max(worst, err);
  }
  MESSAGE(golden.path() << ": max abs error " << worst);
}

void check_synthetic_fixture(const std::string& file) {
  const SafetensorsFile golden = SafetensorsFile::open(testing::repo_file("tests/golden/" + file).string());
  const auto& meta = golden.metadata();
  const int h = std::stoi(meta.at("height")), w = std::stoi(meta.at("width"));
  const HostTensor input = testing::synthetic_input(golden, h, w);
  SyntheticSource training;
  DeployView deploy(training);
  // The checkpoint form PyTorch used, and the other one: both must match.
  for (ParamSource* source : {static_cast<ParamSource*>(&training), static_cast<ParamSource*>(&deploy)}) {
    INFO(file << " loaded from " << source->describe());
    with_backbone_spec(meta.at("arch"), [&]<BackboneSpec S>() {
      compare_outputs<S>(Backbone<S>(ParamScope(*source, "")), golden, input, h, w);
    });
  }
}

// The tiny custom variant of the committed PyTorch-written checkpoints.
constexpr BackboneSpec kTiny{{1, 1, 2, 1}, {16, 24, 40, 64}, {3, 3, 3, 3}};

}  // namespace

TEST_CASE("all variants match PyTorch at 64x96, in both checkpoint forms") {
  for (const char* arch : {"s12", "s24", "s36", "m36", "m48"})
    for (const char* form : {"training", "deploy"})
      check_synthetic_fixture(std::string("backbone_") + arch + "_64x96_" + form + ".safetensors");
}

TEST_CASE("S12 matches PyTorch at 224x224") { check_synthetic_fixture("backbone_s12_224x224_training.safetensors"); }

TEST_CASE("checkpoints written by PyTorch and export_weights.py load and match (F32, F16, BF16)") {
  for (const char* dtype : {"f32", "f16", "bf16"}) {
    const std::string weights = testing::repo_file(std::string("tests/golden/tiny_") + dtype + ".safetensors").string();
    const SafetensorsFile golden =
        SafetensorsFile::open(testing::repo_file(std::string("tests/golden/tiny_") + dtype + "_outputs.safetensors").string());
    const int h = std::stoi(golden.metadata().at("height")), w = std::stoi(golden.metadata().at("width"));
    INFO(weights);
    const BackboneCheckpointInfo info = inspect_backbone(SafetensorsFile::open(weights));
    CHECK(info.prefix == "backbone.");
    CHECK(info.spec == kTiny);
    // The exporter keeps the classifier head (head.fc.*): outside the backbone's prefix, so not an error.
    compare_outputs<kTiny>(load_backbone<kTiny>(weights), golden, testing::synthetic_input(golden, h, w), h, w);
  }
}
