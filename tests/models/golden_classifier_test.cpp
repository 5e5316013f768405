// Golden tests: the ImageNet classifier (backbone's last stage, global
// average pooling, head.fc) against PyTorch. S12 at 224x224 on synthetic
// weights (1000 classes) in both checkpoint forms, and the tiny custom variant
// from the checkpoints PyTorch and tools/export_weights.py wrote (F32, F16,
// BF16; 10 classes). Fixtures: tests/reference/make_golden.py classifier.
// Then what a bad checkpoint gets, and top_k.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "riformer/io/safetensors.hpp"
#include "riformer/io/synthetic.hpp"
#include "riformer/models/riformer/classifier.hpp"
#include "riformer/models/riformer/classifier_checkpoint.hpp"
#include "riformer/models/riformer/reparam.hpp"
#include "riformer/postprocess/top_k.hpp"
#include "fixture_reading.hpp"
#include "test_util.hpp"

using namespace riformer;

namespace {

constexpr double kTolerance = 1e-4;  // logits and pooled features are of unit scale

constexpr BackboneSpec kTiny{{1, 1, 2, 1}, {16, 24, 40, 64}, {3, 3, 3, 3}};

SafetensorsFile golden(const std::string& name) {
  return SafetensorsFile::open(testing::repo_file("tests/golden/" + name).string());
}

std::vector<float> as_vector(std::span<const float> s) { return {s.begin(), s.end()}; }

// The class numbers of the k largest values, best first (ties: lower index first).
std::vector<int> ranking(const std::vector<float>& v, int k) {
  std::vector<int> order(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) order[i] = static_cast<int>(i);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return v[a] > v[b]; });
  order.resize(static_cast<std::size_t>(k));
  return order;
}

}  // namespace

TEST_CASE("S12 classifier matches PyTorch at 224x224, in both checkpoint forms") {
  const SafetensorsFile file = golden("classifier_s12_224x224.safetensors");
  const HostTensor input = testing::synthetic_input(file, 224, 224);
  const std::vector<float> want_logits = testing::read_f32(file, "logits"), want_pooled = testing::read_f32(file, "pooled");
  REQUIRE(want_logits.size() == 1000);
  SyntheticSource training;
  DeployView deploy(training);
  for (ParamSource* source : {static_cast<ParamSource*>(&training), static_cast<ParamSource*>(&deploy)}) {
    INFO("loaded from " << source->describe());
    ClassifierRunner<kS12> runner(Classifier<kS12>(ParamScope(*source, ""), ParamScope(*source, "head."), 1000));
    CHECK(runner.classes() == 1000);
    const std::vector<float> logits = as_vector(runner.forward(ImageView::chw(input.data.data(), 224, 224, 3)));
    REQUIRE(logits.size() == want_logits.size());
    const double err = testing::max_abs_diff(logits, want_logits);
    const double pooled_err = testing::max_abs_diff(as_vector(runner.features()), want_pooled);
    MESSAGE("S12 classifier from " << source->describe() << ": max abs error, logits " << err << ", pooled "
                                   << pooled_err);
    CHECK(err <= kTolerance);
    CHECK(pooled_err <= kTolerance);
    // The answer a user reads: the same five classes in the same order.
    std::vector<int> top5;
    for (const ClassScore& s : top_k(logits, 5)) top5.push_back(s.cls);
    CHECK(top5 == ranking(want_logits, 5));
  }
}

TEST_CASE("classifier checkpoints written by PyTorch and export_weights.py load and match (F32, F16, BF16)") {
  const SafetensorsFile file = golden("classifier_tiny_logits.safetensors");
  const int h = std::stoi(file.metadata().at("height")), w = std::stoi(file.metadata().at("width"));
  const HostTensor input = testing::synthetic_input(file, h, w);
  for (const char* dtype : {"f32", "f16", "bf16"}) {
    const std::string weights = testing::repo_file(std::string("tests/golden/tiny_") + dtype + ".safetensors").string();
    INFO(weights);
    const ClassifierCheckpointInfo info = inspect_classifier(SafetensorsFile::open(weights));
    CHECK(info.root == "");
    CHECK(info.backbone.prefix == "backbone.");
    CHECK(info.classes == 10);
    // These files keep norm0, norm2 and norm4 as well: read and checked, not refused as extra keys.
    ClassifierRunner<kTiny> runner(load_classifier<kTiny>(weights), 2);
    const std::vector<float> logits = as_vector(runner.forward(ImageView::chw(input.data.data(), h, w, 3)));
    const double err = testing::max_abs_diff(logits, testing::read_f32(file, std::string("logits_") + dtype));
    MESSAGE(weights << ": max abs error of the logits " << err);
    CHECK(err <= kTolerance);
  }
}

TEST_CASE("a classifier runs again at another size and allocates its memory once per size") {
  SyntheticSource source;
  ClassifierRunner<kTiny> runner(Classifier<kTiny>(ParamScope(source, ""), ParamScope(source, "head."), 7));
  const HostTensor a = synthetic::tensor("input", {1, 3, 64, 96}), b = synthetic::tensor("input", {1, 3, 33, 47});
  const std::vector<float> first = as_vector(runner.forward(ImageView::chw(a.data.data(), 64, 96, 3)));
  const std::vector<float> other = as_vector(runner.forward(ImageView::chw(b.data.data(), 33, 47, 3)));
  const std::vector<float> again = as_vector(runner.forward(ImageView::chw(a.data.data(), 64, 96, 3)));
  REQUIRE(first.size() == 7);
  CHECK(first == again);  // the same input gives the same bits, whatever ran in between
  CHECK(first != other);
}

TEST_CASE("bad classifier checkpoints get clear errors") {
  const std::filesystem::path dir = testing::temp_dir();
  const std::string tiny = testing::repo_file("tests/golden/tiny_f32.safetensors").string();
  const SafetensorsFile source = SafetensorsFile::open(tiny);
  // Rewrites the tiny checkpoint with `edit` applied to its tensors.
  auto rewritten = [&](const std::string& name, auto edit) {
    std::vector<NamedTensor> tensors;
    for (const TensorInfo& t : source.tensors()) tensors.push_back({t.name, t.shape, source.read_float(t)});
    edit(tensors);
    const std::string path = (dir / name).string();
    write_safetensors(path, tensors);
    return path;
  };
  auto erase = [](std::vector<NamedTensor>& ts, const std::string& name) {
    std::erase_if(ts, [&](const NamedTensor& t) { return t.name == name; });
  };

  SUBCASE("a backbone-only checkpoint has no head") {
    const std::string path = rewritten("no_head.safetensors", [&](auto& ts) {
      erase(ts, "head.fc.weight");
      erase(ts, "head.fc.bias");
    });
    const std::string msg = testing::error_message([&] { (void)load_classifier<kTiny>(path); });
    CHECK(testing::contains(msg, "no key 'head.fc.weight'"));
    CHECK(testing::contains(msg, "not an ImageNet classifier checkpoint"));
  }
  SUBCASE("the head must take the last stage's width") {
    const std::string path = rewritten("wide_head.safetensors", [&](auto& ts) {
      for (NamedTensor& t : ts)
        if (t.name == "head.fc.weight") t = {t.name, {10, 65}, std::vector<float>(650, 0.5f)};
    });
    const std::string msg = testing::error_message([&] { (void)load_classifier<kTiny>(path); });
    CHECK(testing::contains(msg, "'head.fc.weight' has shape [10, 65], expected [classes, 64]"));
  }
  SUBCASE("a missing bias is named") {
    const std::string path = rewritten("no_bias.safetensors", [&](auto& ts) { erase(ts, "head.fc.bias"); });
    const std::string msg = testing::error_message([&] { (void)load_classifier<kTiny>(path); });
    CHECK(testing::contains(msg, "head.fc.bias"));
  }
  SUBCASE("without norm6 there is nothing to pool") {
    const std::string path = rewritten("no_norm6.safetensors", [&](auto& ts) {
      erase(ts, "backbone.norm6.weight");
      erase(ts, "backbone.norm6.bias");
    });
    const std::string msg = testing::error_message([&] { (void)load_classifier<kTiny>(path); });
    CHECK(testing::contains(msg, "norm6.weight"));
  }
  SUBCASE("unknown keys are refused unless allowed") {
    const std::string path = rewritten("extra.safetensors", [&](auto& ts) {
      ts.push_back({"head.extra.weight", {2}, {1.0f, 2.0f}});
    });
    const std::string msg = testing::error_message([&] { (void)load_classifier<kTiny>(path); });
    CHECK(testing::contains(msg, "'head.extra.weight'"));
    BackboneLoadOptions options;
    options.allow_extra_keys = true;
    CHECK(load_classifier<kTiny>(path, options).classes() == 10);
  }
  SUBCASE("another variant's checkpoint is named as such") {
    const std::string msg = testing::error_message([&] { (void)load_classifier<kS12>(tiny); });
    CHECK(testing::contains(msg, "but the model expects s12"));
  }
  SUBCASE("a NaN logit weight is refused at load") {
    const std::string path = rewritten("nan.safetensors", [&](auto& ts) {
      for (NamedTensor& t : ts)
        if (t.name == "head.fc.bias") t.data[3] = std::nanf("");
    });
    const std::string msg = testing::error_message([&] { (void)load_classifier<kTiny>(path); });
    CHECK(testing::contains(msg, "head.fc.bias"));
  }
}

TEST_CASE("top_k: best first, softmax probabilities, ties by class index, bad input refused") {
  const std::vector<float> logits{1.0f, 3.0f, -2.0f, 3.0f, 0.5f};
  const std::vector<ClassScore> top = top_k(logits, 3);
  REQUIRE(top.size() == 3);
  CHECK(top[0].cls == 1);
  CHECK(top[1].cls == 3);  // the tie with class 1 goes to the lower index first
  CHECK(top[2].cls == 0);
  double total = 0;
  for (float v : logits) total += std::exp(static_cast<double>(v));
  CHECK(top[0].probability == doctest::Approx(std::exp(3.0) / total).epsilon(1e-6));
  CHECK(top[2].probability == doctest::Approx(std::exp(1.0) / total).epsilon(1e-6));
  CHECK(top[1].logit == 3.0f);
  CHECK(top_k(logits, 99).size() == 5);  // k past the class count: every class
  // Large logits do not overflow: softmax is taken relative to the largest.
  const std::vector<ClassScore> big = top_k(std::vector<float>{1000.0f, 999.0f}, 2);
  CHECK(big[0].probability == doctest::Approx(1.0 / (1.0 + std::exp(-1.0))).epsilon(1e-6));
  CHECK(testing::contains(testing::error_message([] { (void)top_k(std::vector<float>{1.0f, NAN}, 1); }),
                          "logit 1 is nan"));
  CHECK(testing::contains(testing::error_message([] { (void)top_k(std::vector<float>{}, 1); }), "no logits"));
  CHECK(testing::contains(testing::error_message([] { (void)top_k(std::vector<float>{1.0f}, 0); }), "at least 1"));
}
