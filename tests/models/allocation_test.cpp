// forward() allocates nothing once the working memory is planned: a counting
// global operator new around steady-state calls of the backbone, the detector
// network and the whole image-to-boxes pipeline.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "riformer/io/synthetic.hpp"
#include "riformer/models/riformer/backbone.hpp"
#include "riformer/models/yolov5/detector.hpp"
#include "riformer/pipeline/detector_runner.hpp"

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

TEST_CASE("detector network and the whole detect() allocate nothing in steady state") {
  SyntheticSource source;
  for (int threads : {1, 2}) {
    DetectorRunner<kS12> runner(Detector<kS12>(ParamScope(source, ""), 80), threads);
    Image image{200, 150, std::vector<std::uint8_t>(200 * 150 * 3, 90)};
    for (std::size_t i = 0; i < image.rgb.size(); ++i) image.rgb[i] = static_cast<std::uint8_t>(i * 7919 % 251);
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
