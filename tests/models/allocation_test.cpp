// forward() allocates nothing once the working memory is planned: a counting
// global operator new around steady-state calls of the backbone, the detector
// network, the whole image-to-boxes pipeline and the classifier with its
// preprocessing.
#include <doctest/doctest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "riformer/io/synthetic.hpp"
#include "riformer/models/riformer/backbone.hpp"
#include "riformer/models/riformer/classifier.hpp"
#include "riformer/models/yolov5/detector.hpp"
#include "riformer/pipeline/detector_runner.hpp"
#include "riformer/postprocess/imagenet_transform.hpp"

// The replacements pair malloc with free correctly; GCC cannot see that.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace {
std::atomic<long> g_allocations{0};
}

void* operator new(std::size_t n) {
  ++g_allocations;
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void* operator new(std::size_t n, std::align_val_t a) {
  ++g_allocations;
  if (void* p = std::aligned_alloc(static_cast<std::size_t>(a), (n + static_cast<std::size_t>(a) - 1) /
                                                                    static_cast<std::size_t>(a) * static_cast<std::size_t>(a)))
    return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n, std::align_val_t a) { return operator new(n, a); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

using namespace riformer;

namespace {

// A width x height RGB picture of varied values.
Image picture(int width, int height) {
  Image image{width, height, std::vector<std::uint8_t>(static_cast<std::size_t>(width) * height * 3)};
  for (std::size_t i = 0; i < image.rgb.size(); ++i) image.rgb[i] = static_cast<std::uint8_t>(i * 7919 % 251);
  return image;
}

// The same detections, value for value.
void check_same(const std::vector<Detection>& got, const std::vector<Detection>& want) {
  REQUIRE(got.size() == want.size());
  CHECK(!got.empty());
  for (std::size_t i = 0; i < got.size(); ++i) {
    CHECK(got[i].x1 == want[i].x1);
    CHECK(got[i].y1 == want[i].y1);
    CHECK(got[i].x2 == want[i].x2);
    CHECK(got[i].y2 == want[i].y2);
    CHECK(got[i].conf == want[i].conf);
    CHECK(got[i].cls == want[i].cls);
  }
}

}  // namespace

template <class F>
long allocations_during(F&& f) {
  const long before = g_allocations.load();
  f();
  return g_allocations.load() - before;
}

TEST_CASE("backbone forward allocates nothing in steady state, on 1 and 2 threads") {
  SyntheticSource source;
  const HostTensor input = synthetic::tensor("input", {1, 3, 96, 128});
  for (int threads : {1, 2}) {
    BackboneRunner<kS12> runner(Backbone<kS12>(ParamScope(source, "")), threads);
    const ImageView image = ImageView::chw(input.data.data(), 96, 128, 3);
    runner.forward(image);  // plans the working memory
    CHECK(allocations_during([&] { runner.forward(image); }) == 0);
  }
}

TEST_CASE("the classifier and its preprocessing allocate nothing in steady state, on 1 and 2 threads") {
  SyntheticSource source;
  const Image photo = picture(300, 200);
  for (int threads : {1, 2}) {
    ClassifierRunner<kS12> runner(Classifier<kS12>(ParamScope(source, ""), ParamScope(source, "head."), 1000), threads);
    std::vector<float> input(3 * 224 * 224);  // (3, 224, 224)
    PilResizeScratch scratch;
    auto classify = [&] {
      imagenet_preprocess(photo, input.data(), {}, scratch);
      return runner.forward(ImageView::chw(input.data(), 224, 224, 3))[0];
    };
    const float first = classify();  // plans the working memory and sizes the scratch
    float again = 0;
    CHECK(allocations_during([&] { again = classify(); }) == 0);
    CHECK(again == first);
  }
}

TEST_CASE("detector network and the whole detect() allocate nothing in steady state") {
  SyntheticSource source;
  for (int threads : {1, 2}) {
    DetectorRunner<kS12> runner(Detector<kS12>(ParamScope(source, ""), 80), threads);
    const Image image = picture(200, 150);
    DetectOptions options;
    options.height = 128;
    options.width = 160;
    runner.detect(image, options);  // plans the working memory
    CHECK(allocations_during([&] { runner.detect(image, options); }) == 0);
    const HostTensor input = synthetic::tensor("input", {1, 3, 128, 160});
    const ImageView view = ImageView::chw(input.data.data(), 128, 160, 3);
    runner.forward(view);
    CHECK(allocations_during([&] { runner.forward(view); }) == 0);
    // Timing each layer allocates nothing either, once the timer has seen them all.
    LayerTimer timer;
    runner.set_layer_timer(&timer);
    runner.forward(view);
    CHECK(allocations_during([&] { runner.forward(view); }) == 0);
    CHECK(timer.entries().size() > 20);
  }
}

TEST_CASE("after warm_up(), the first detect() of any picture letterboxed to that size allocates nothing") {
  SyntheticSource source;
  // A resize up, a resize down with another aspect, and one that fits as it is.
  const std::vector<Image> images{picture(200, 150), picture(90, 300), picture(160, 128)};
  for (int threads : {1, 2}) {
    DetectOptions options;
    options.height = 128;
    options.width = 160;
    options.nms.conf_thres = 0.0f;  // every row a candidate: the NMS buffers at their largest
    for (int c = 0; c < 80; c += 2) options.nms.classes.push_back(c);  // a class filter too, half the classes
    DetectorRunner<kS12> cold(Detector<kS12>(ParamScope(source, ""), 80), threads);
    // Without a warm-up the first picture grows the buffers (so the check below can fail).
    std::vector<Detection> expected;
    CHECK(allocations_during([&] { expected = cold.detect(images[0], options); }) > 0);

    for (const Image& image : images) {
      DetectorRunner<kS12> runner(Detector<kS12>(ParamScope(source, ""), 80), threads);
      runner.warm_up(options.height, options.width);
      const std::vector<Detection>* dets = nullptr;
      CHECK(allocations_during([&] { dets = &runner.detect(image, options); }) == 0);
      check_same(*dets, cold.detect(image, options));  // the warm-up changes nothing in the results
    }
  }
}

TEST_CASE("with minimal rectangles, pictures of other shapes reuse the memory warm_up() planned for the full size") {
  SyntheticSource source;
  DetectOptions options;
  options.height = 128;
  options.width = 160;
  options.minimal_rectangle = true;
  // Letterboxed to 96x160 (landscape) and 128x64 (portrait): two network input sizes, both within 128x160.
  const Image landscape = picture(200, 100), portrait = picture(100, 200);
  for (int threads : {1, 2}) {
    DetectorRunner<kS12> runner(Detector<kS12>(ParamScope(source, ""), 80), threads);
    runner.warm_up(options.height, options.width);
    for (int round = 0; round < 2; ++round) {
      CHECK(allocations_during([&] { runner.detect(landscape, options); }) == 0);
      CHECK(allocations_during([&] { runner.detect(portrait, options); }) == 0);
    }
    // The same detections as a runner that planned each size from scratch.
    DetectorRunner<kS12> fresh(Detector<kS12>(ParamScope(source, ""), 80), threads);
    const std::vector<Detection> expected = fresh.detect(portrait, options);
    check_same(runner.detect(portrait, options), expected);
  }
}
