#pragma once
// What AddressSanitizer is told about memory the library divides itself.
// ASan checks each allocation as a whole: a workspace is one allocation cut
// into many buffers, and a buffer that shrinks keeps a tail nobody may use, so
// an overrun into the next buffer or into that tail would go unseen. In a
// build with ASan (tools/test_sanitizers.sh) such memory is marked poisoned
// and any access to it is reported like a heap overflow; in every other build
// these functions do nothing and the gaps between buffers are zero floats, so
// the layout and the speed are those of the plain build.

#include <cstddef>

#include "riformer/core/arch.hpp"

// GCC says so with __SANITIZE_ADDRESS__, Clang through __has_feature.
#if defined(__SANITIZE_ADDRESS__)
#define RIFORMER_ADDRESS_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RIFORMER_ADDRESS_SANITIZER 1
#endif
#endif

#if defined(RIFORMER_ADDRESS_SANITIZER)
#include <sanitizer/asan_interface.h>
#endif

namespace riformer {

#if defined(RIFORMER_ADDRESS_SANITIZER)
inline constexpr bool kAddressSanitizer = true;
#else
inline constexpr bool kAddressSanitizer = false;
#endif

// Floats between two buffers carved from one allocation: one aligned block
// (64 bytes) that ASan reports any access to; none without ASan.
inline constexpr std::size_t kRedzoneFloats = kAddressSanitizer ? kBufferAlignment / sizeof(float) : 0;

// [p, p + n) becomes unusable (poison) or usable again (unpoison).
inline void poison_floats([[maybe_unused]] const float* p, [[maybe_unused]] std::size_t n) {
#if defined(RIFORMER_ADDRESS_SANITIZER)
  if (n) ASAN_POISON_MEMORY_REGION(p, n * sizeof(float));
#endif
}
inline void unpoison_floats([[maybe_unused]] const float* p, [[maybe_unused]] std::size_t n) {
#if defined(RIFORMER_ADDRESS_SANITIZER)
  if (n) ASAN_UNPOISON_MEMORY_REGION(p, n * sizeof(float));
#endif
}

// Whether an access to p would be reported (always false without ASan); for tests.
[[nodiscard]] inline bool is_poisoned([[maybe_unused]] const float* p) {
#if defined(RIFORMER_ADDRESS_SANITIZER)
  return __asan_address_is_poisoned(p) != 0;
#else
  return false;
#endif
}

}  // namespace riformer
