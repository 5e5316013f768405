// LayerTimer adds the time between consecutive marks to the mark's name, keeps
// the layers in the order of their first mark, and refuses a table overflow.
#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <thread>

#include "riformer/core/context.hpp"
#include "riformer/core/error.hpp"
#include "riformer/core/layer_timer.hpp"
#include "test_util.hpp"

using riformer::LayerTimer;

namespace {
void sleep_ms(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }
}  // namespace

TEST_CASE("each mark adds the time since the previous one to its layer") {
  LayerTimer timer;
  for (int pass = 0; pass < 2; ++pass) {
    timer.start();
    sleep_ms(20);
    timer.mark("slow");
    timer.mark("instant");
    sleep_ms(5);
    timer.mark("fast");
  }
  const auto e = timer.entries();
  REQUIRE(e.size() == 3);
  CHECK(std::string(e[0].name) == "slow");
  CHECK(std::string(e[1].name) == "instant");
  CHECK(std::string(e[2].name) == "fast");
  for (const auto& entry : e) CHECK(entry.marks == 2);
  // Sleeps last at least as long as asked; the upper bounds only catch a
  // clock that keeps running across start() (they allow a busy machine 1 s).
  CHECK(e[0].ms >= 40.0);
  CHECK(e[2].ms >= 10.0);
  CHECK(e[0].ms < 1040.0);
  CHECK(e[1].ms < e[2].ms);
  CHECK(e[1].ms < 1000.0);

  // Names are compared by value, not by pointer.
  const std::string copy = "fast";
  timer.mark(copy.c_str());
  CHECK(timer.entries().size() == 3);
  CHECK(timer.entries()[2].marks == 3);

  timer.clear();
  CHECK(timer.entries().empty());
}

TEST_CASE("start() resets the clock, so time outside a pass is not counted") {
  LayerTimer timer;
  timer.start();
  timer.mark("a");
  sleep_ms(30);  // between passes
  timer.start();
  timer.mark("a");
  CHECK(timer.entries()[0].ms < 25.0);
}

TEST_CASE("a table overflow is a clear error, and what was recorded stays") {
  LayerTimer timer;
  std::string storage[LayerTimer::kMaxLayers + 1];
  for (int i = 0; i <= LayerTimer::kMaxLayers; ++i) storage[i] = "layer." + std::to_string(i);
  for (int i = 0; i < LayerTimer::kMaxLayers; ++i) timer.mark(storage[i].c_str());
  const std::string msg = riformer::testing::error_message([&] { timer.mark(storage[LayerTimer::kMaxLayers].c_str()); });
  CHECK(riformer::testing::contains(msg, "layer.64"));
  CHECK(riformer::testing::contains(msg, "more than 64 layers"));
  CHECK(timer.entries().size() == static_cast<std::size_t>(LayerTimer::kMaxLayers));
}

TEST_CASE("a Context reports to its timer only while one is attached") {
  riformer::Context ctx(1);
  ctx.start_layers();
  ctx.end_layer("ignored");  // no timer: nothing to do, no crash
  LayerTimer timer;
  ctx.set_layer_timer(&timer);
  CHECK(ctx.layer_timer() == &timer);
  ctx.start_layers();
  ctx.end_layer("counted");
  ctx.set_layer_timer(nullptr);
  ctx.end_layer("after");
  REQUIRE(timer.entries().size() == 1);
  CHECK(std::string(timer.entries()[0].name) == "counted");
}
