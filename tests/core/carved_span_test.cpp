// CarvedSpan: buffers handed out in order, aligned, a footprint apart, with no
// gap at all in a plain build (the layout the benchmarks measured) and, under
// AddressSanitizer, a poisoned gap after each buffer while the span is armed.
#include <doctest/doctest.h>

#include <cstdint>
#include <string>

#include "riformer/core/aligned_buffer.hpp"
#include "riformer/core/carved_span.hpp"
#include "test_util.hpp"

using riformer::AlignedBuffer;
using riformer::CarvedSpan;
using riformer::is_poisoned;
using riformer::kAddressSanitizer;
using riformer::kRedzoneFloats;

namespace {
bool aligned(const float* p) { return reinterpret_cast<std::uintptr_t>(p) % riformer::kBufferAlignment == 0; }
}  // namespace

TEST_CASE("buffers follow one another, aligned, one footprint apart") {
  const std::size_t sizes[] = {1, 17, 64, 1000};
  std::size_t total = 0;
  for (std::size_t n : sizes) total += CarvedSpan::footprint(n);
  AlignedBuffer memory(total);
  CarvedSpan span;
  span.reset(memory.data(), memory.size());
  const float* expected = memory.data();
  for (std::size_t n : sizes) {
    const float* b = span.take(n);
    INFO("a buffer of " << n << " floats");
    CHECK(b == expected);
    CHECK(aligned(b));
    expected += CarvedSpan::footprint(n);
  }
  CHECK(expected == memory.data() + memory.size());
}

TEST_CASE("a plain build has no gaps: the same layout as buffers packed end to end") {
  if (kAddressSanitizer) {
    CHECK(kRedzoneFloats == riformer::kBufferAlignment / sizeof(float));
    return;
  }
  CHECK(kRedzoneFloats == 0);
  for (std::size_t n : {1, 15, 16, 17, 4096}) CHECK(CarvedSpan::footprint(n) == riformer::align_floats(n));
}

TEST_CASE("a buffer larger than what is left of the span is an error, not an overrun") {
  AlignedBuffer memory(CarvedSpan::footprint(100));
  CarvedSpan span;
  span.reset(memory.data(), memory.size());
  CHECK(span.take(50) == memory.data());
  const std::string msg = riformer::testing::error_message([&] { (void)span.take(60); });
  CHECK(riformer::testing::contains(msg, "a buffer of 60 floats does not fit"));
}

TEST_CASE("under AddressSanitizer the gaps are poisoned while armed, never the buffers") {
  if (!kAddressSanitizer) {
    MESSAGE("not an AddressSanitizer build: nothing is poisoned, nothing to check");
    return;
  }
  AlignedBuffer memory(CarvedSpan::footprint(20) + CarvedSpan::footprint(16));
  CarvedSpan span;
  span.reset(memory.data(), memory.size());
  float* a = span.take(20);
  float* b = span.take(16);
  span.arm();
  CHECK_FALSE(is_poisoned(a));
  CHECK_FALSE(is_poisoned(a + 19));
  CHECK(is_poisoned(a + 20));  // a's alignment padding is not a's either
  CHECK(is_poisoned(b - 1));   // the last float of a's gap
  CHECK_FALSE(is_poisoned(b));
  CHECK_FALSE(is_poisoned(b + 15));
  CHECK(is_poisoned(b + 16));
  span.disarm();
  CHECK_FALSE(is_poisoned(a + 20));
  CHECK_FALSE(is_poisoned(b - 1));
  CHECK_FALSE(is_poisoned(b + 16));
  span.arm();
  CHECK(is_poisoned(b - 1));
  span.disarm();  // (AlignedBuffer gives the memory back usable either way)
}

TEST_CASE("under AddressSanitizer a shrunk AlignedBuffer's tail is poisoned until it grows again") {
  if (!kAddressSanitizer) {
    MESSAGE("not an AddressSanitizer build: nothing is poisoned, nothing to check");
    return;
  }
  AlignedBuffer b(1000);
  CHECK_FALSE(is_poisoned(b.data() + 999));
  b.resize(100);
  CHECK_FALSE(is_poisoned(b.data() + 99));
  CHECK(is_poisoned(b.data() + 100));
  CHECK(is_poisoned(b.data() + 999));
  b.resize(1000);
  CHECK_FALSE(is_poisoned(b.data() + 100));
  CHECK_FALSE(is_poisoned(b.data() + 999));
}
