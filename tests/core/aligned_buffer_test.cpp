// AlignedBuffer: zero-filled and aligned at every size, its storage kept when
// it shrinks (so working memory planned for a large input serves smaller ones
// without allocating), a moved-from buffer left empty but usable, and the
// process's total held within physical memory.
#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <utility>

#include "riformer/core/aligned_buffer.hpp"
#include "test_util.hpp"

using riformer::AlignedBuffer;
namespace buffer_detail = riformer::buffer_detail;
namespace testing = riformer::testing;

namespace {
bool all_zero(const AlignedBuffer& b) {
  for (std::size_t i = 0; i < b.size(); ++i)
    if (b[i] != 0.0f) return false;
  return true;
}
bool aligned(const AlignedBuffer& b) {
  return reinterpret_cast<std::uintptr_t>(b.data()) % riformer::kBufferAlignment == 0;
}
void fill(AlignedBuffer& b, float v) {
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = v;
}
}  // namespace

TEST_CASE("resize zero-fills, keeps the storage when shrinking and reallocates only to grow") {
  AlignedBuffer b(1000);
  CHECK(b.size() == 1000);
  CHECK(b.capacity() == 1000);
  CHECK(aligned(b));
  CHECK(all_zero(b));
  fill(b, 3.0f);
  const float* storage = b.data();

  b.resize(333);  // smaller: same storage, contents dropped
  CHECK(b.size() == 333);
  CHECK(b.capacity() == 1000);
  CHECK(b.data() == storage);
  CHECK(all_zero(b));

  fill(b, 5.0f);
  b.resize(1000);  // back to what it held: still no allocation, all zero again
  CHECK(b.data() == storage);
  CHECK(all_zero(b));

  b.resize(1001);  // past the capacity: new storage
  CHECK(b.capacity() == 1001);
  CHECK(aligned(b));
  CHECK(all_zero(b));

  b.resize(0);
  CHECK(b.size() == 0);
  CHECK(b.capacity() == 1001);
}

TEST_CASE("copies copy the values; a moved-from buffer is empty and can be resized") {
  AlignedBuffer a(17);
  for (std::size_t i = 0; i < a.size(); ++i) a[i] = static_cast<float>(i) + 0.5f;
  AlignedBuffer copy = a;
  REQUIRE(copy.size() == 17);
  CHECK(copy.data() != a.data());
  for (std::size_t i = 0; i < a.size(); ++i) CHECK(copy[i] == a[i]);

  AlignedBuffer moved = std::move(a);
  CHECK(moved.size() == 17);
  CHECK(moved[16] == 16.5f);
  CHECK(a.size() == 0);  // NOLINT(bugprone-use-after-move): the moved-from state is what is tested
  CHECK(a.capacity() == 0);
  CHECK(a.data() == nullptr);
  a.resize(8);  // needs new storage, not the one that moved away
  CHECK(a.data() != nullptr);
  CHECK(a.data() != moved.data());
  CHECK(all_zero(a));

  AlignedBuffer target(4);
  target = std::move(moved);
  CHECK(target.size() == 17);
  CHECK(target[0] == 0.5f);
  CHECK(moved.size() == 0);  // NOLINT(bugprone-use-after-move)
  moved.resize(3);
  CHECK(all_zero(moved));
}

TEST_CASE("the process's buffers are counted, and may not outgrow physical memory") {
  const std::size_t before = buffer_detail::held_bytes().load();
  {
    AlignedBuffer a(1000);
    CHECK(buffer_detail::held_bytes().load() == before + 4000);
    a.resize(10);  // keeps its storage
    CHECK(buffer_detail::held_bytes().load() == before + 4000);
    AlignedBuffer b = a;  // a copy holds its own, of the copied size
    CHECK(buffer_detail::held_bytes().load() == before + 4040);
    AlignedBuffer c = std::move(a);
    CHECK(buffer_detail::held_bytes().load() == before + 4040);
    c = std::move(b);  // c's first storage goes
    CHECK(buffer_detail::held_bytes().load() == before + 40);
  }
  CHECK(buffer_detail::held_bytes().load() == before);

  const std::size_t ram = buffer_detail::physical_memory_bytes();
  REQUIRE(ram < std::numeric_limits<std::size_t>::max() / 2);  // known on the machines this runs on
  AlignedBuffer too_big;
  const std::string msg = testing::error_message([&] { too_big.resize(ram / sizeof(float) + 1); });
  CHECK(testing::contains(msg, "of working memory"));
  CHECK(testing::contains(msg, "MiB of RAM"));
  CHECK(too_big.size() == 0);
  CHECK(buffer_detail::held_bytes().load() == before);
  CHECK_THROWS_AS(too_big.resize(std::numeric_limits<std::size_t>::max() / 2), riformer::Error);
}
