#pragma once
// An owning, cache-line aligned float array. All weights and all working memory
// live in these; a buffer is sized once (at load or when the input size changes)
// and never grows inside forward(). It keeps its storage when resized to no
// more than it has held, so working memory planned for the largest input serves
// every smaller one without allocating (or faulting in fresh pages) again.
//
// The buffers of a process together may not outgrow the machine's physical
// memory: an input too large for it is a riformer::Error at planning time,
// not an allocation that succeeds (Linux overcommits) and then gets the process
// killed while the buffer is zero-filled.
//
// Under AddressSanitizer the storage past size() (kept from a larger size) is
// poisoned, so a kernel reading or writing past the end of a shrunk buffer is
// reported as if the buffer had been allocated at its size.

#include <atomic>
#include <cstddef>
#include <cstring>
#include <limits>
#include <memory>
#include <new>
#include <utility>

#if __has_include(<unistd.h>)
#include <unistd.h>
#endif

#include "riformer/core/address_sanitizer.hpp"
#include "riformer/core/arch.hpp"
#include "riformer/core/error.hpp"

namespace riformer {

namespace buffer_detail {

// Bytes of RAM in the machine; the largest size_t where the system cannot tell.
[[nodiscard]] inline std::size_t physical_memory_bytes() {
#if defined(_SC_PHYS_PAGES) && defined(_SC_PAGE_SIZE)
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  if (pages > 0 && page > 0 && static_cast<unsigned long>(pages) <= std::numeric_limits<std::size_t>::max() / page)
    return static_cast<std::size_t>(pages) * static_cast<std::size_t>(page);
#endif
  return std::numeric_limits<std::size_t>::max();
}

// Bytes held by all AlignedBuffers of the process.
[[nodiscard]] inline std::atomic<std::size_t>& held_bytes() {
  static std::atomic<std::size_t> held{0};
  return held;
}

}  // namespace buffer_detail

class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  explicit AlignedBuffer(std::size_t size) { resize(size); }

  AlignedBuffer(const AlignedBuffer& other) : AlignedBuffer(other.size_) {
    if (size_) std::memcpy(data(), other.data(), size_ * sizeof(float));
  }
  AlignedBuffer& operator=(const AlignedBuffer& other) {
    if (this != &other) {
      resize(other.size_);
      if (size_) std::memcpy(data(), other.data(), size_ * sizeof(float));
    }
    return *this;
  }
  // A moved-from buffer is empty, with no storage.
  AlignedBuffer(AlignedBuffer&& other) noexcept
      : storage_(std::move(other.storage_)),
        size_(std::exchange(other.size_, 0)),
        capacity_(std::exchange(other.capacity_, 0)) {}
  AlignedBuffer& operator=(AlignedBuffer&& other) noexcept {
    if (this != &other) {
      release();
      storage_ = std::move(other.storage_);
      size_ = std::exchange(other.size_, 0);
      capacity_ = std::exchange(other.capacity_, 0);
    }
    return *this;
  }
  ~AlignedBuffer() { release(); }

  // Zero-filled; the previous contents are dropped. Allocates only to grow
  // past capacity(). Throws riformer::Error if the process's buffers would
  // then hold more than the machine's physical memory.
  void resize(std::size_t size) {
    if (size > capacity_) {
      require(size <= std::numeric_limits<std::size_t>::max() / sizeof(float), "AlignedBuffer: ", size,
              " floats cannot be addressed");
      const std::size_t others = buffer_detail::held_bytes().load() - capacity_ * sizeof(float);
      const std::size_t ram = buffer_detail::physical_memory_bytes();
      require(size * sizeof(float) <= ram && others <= ram - size * sizeof(float), "cannot take ",
              size * sizeof(float) >> 20, " MiB of working memory: with the ", others >> 20,
              " MiB already held that is more than this machine's ", ram >> 20,
              " MiB of RAM (a smaller input needs less)");
      release();
      storage_.reset(static_cast<float*>(::operator new[](size * sizeof(float), std::align_val_t{kBufferAlignment})));
      capacity_ = size;
      buffer_detail::held_bytes() += capacity_ * sizeof(float);
    }
    size_ = size;
    unpoison_floats(storage_.get(), size_);
    poison_floats(storage_.get() + size_, capacity_ - size_);
    if (size_) std::memset(storage_.get(), 0, size_ * sizeof(float));
  }

  [[nodiscard]] float* data() { return storage_.get(); }
  [[nodiscard]] const float* data() const { return storage_.get(); }
  [[nodiscard]] std::size_t size() const { return size_; }
  [[nodiscard]] std::size_t capacity() const { return capacity_; }
  [[nodiscard]] float& operator[](std::size_t i) { return storage_[i]; }
  [[nodiscard]] float operator[](std::size_t i) const { return storage_[i]; }

 private:
  void release() {
    unpoison_floats(storage_.get(), capacity_);  // (the allocator's memory again)
    buffer_detail::held_bytes() -= capacity_ * sizeof(float);
    storage_.reset();
    size_ = capacity_ = 0;
  }

  struct AlignedDelete {
    void operator()(float* p) const { ::operator delete[](p, std::align_val_t{kBufferAlignment}); }
  };
  std::unique_ptr<float[], AlignedDelete> storage_;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
};

// Rounds a float count up so that consecutive sub-buffers stay aligned.
[[nodiscard]] constexpr std::size_t align_floats(std::size_t n) {
  constexpr std::size_t step = kBufferAlignment / sizeof(float);
  return (n + step - 1) / step * step;
}

}  // namespace riformer
