#pragma once
// Buffers handed out one after another from a span of floats (a workspace's
// single allocation, or a part of one), each starting aligned and followed by
// a gap of kRedzoneFloats. Under AddressSanitizer, while the span is armed,
// everything from a buffer's last float to the next buffer (its alignment
// padding and the gap) is poisoned, so that a kernel running past the end of
// its buffer is reported instead of silently writing into the next one. Other
// builds have no gap.
//
// Memory used for one purpose and then another (a backbone's dead working
// memory, which a detector's neck reuses) is carved twice; each user arms its
// own carving before it runs, which first makes the whole span usable again.

#include <cstddef>
#include <vector>

#include "riformer/core/address_sanitizer.hpp"
#include "riformer/core/aligned_buffer.hpp"
#include "riformer/core/error.hpp"

namespace riformer {

class CarvedSpan {
 public:
  // Floats a buffer of n floats takes from the span, gap included.
  [[nodiscard]] static constexpr std::size_t footprint(std::size_t n) { return align_floats(n) + kRedzoneFloats; }

  // Starts carving [begin, begin + size) anew (begin aligned); poisons nothing yet.
  void reset(float* begin, std::size_t size) {
    begin_ = next_ = begin;
    size_ = size;
    gaps_.clear();
  }

  // The next buffer of n floats. Planning code sizes the span with
  // footprint(), so running out is a bug in it, reported as an error.
  [[nodiscard]] float* take(std::size_t n) {
    const std::size_t used = static_cast<std::size_t>(next_ - begin_);
    require(footprint(n) <= size_ - used, "workspace: a buffer of ", n, " floats does not fit in the ", size_ - used,
            " floats left of the span planned");
    float* buffer = next_;
    next_ += footprint(n);
    if constexpr (kRedzoneFloats > 0) gaps_.push_back({buffer + n, footprint(n) - n});  // (its alignment padding too)
    return buffer;
  }

  // The whole span usable, then every gap poisoned.
  void arm() const {
    disarm();
    for (const Gap& gap : gaps_) poison_floats(gap.begin, gap.size);
  }
  // The whole span usable (its gaps too).
  void disarm() const { unpoison_floats(begin_, size_); }

  [[nodiscard]] float* begin() const { return begin_; }
  [[nodiscard]] std::size_t size() const { return size_; }

 private:
  float* begin_ = nullptr;
  float* next_ = nullptr;
  std::size_t size_ = 0;
  struct Gap {
    const float* begin;
    std::size_t size;
  };
  std::vector<Gap> gaps_;  // from each buffer's end to the next one's start; none without ASan
};

}  // namespace riformer
