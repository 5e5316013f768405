#pragma once
// An owning, cache-line aligned float array. All weights and all working memory
// live in these; a buffer is sized once (at load or when the input size changes)
// and never grows inside forward(). It keeps its storage when resized to no
// more than it has held, so working memory planned for the largest input serves
// every smaller one without allocating (or faulting in fresh pages) again.

#include <cstddef>
#include <cstring>
#include <memory>
#include <new>
#include <utility>

#include "riformer/core/arch.hpp"

namespace riformer {

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
    storage_ = std::move(other.storage_);
    size_ = std::exchange(other.size_, 0);
    capacity_ = std::exchange(other.capacity_, 0);
    return *this;
  }

  // Zero-filled; the previous contents are dropped. Allocates only to grow
  // past capacity().
  void resize(std::size_t size) {
    if (size > capacity_) {
      storage_.reset(static_cast<float*>(::operator new[](size * sizeof(float), std::align_val_t{kBufferAlignment})));
      capacity_ = size;
    }
    size_ = size;
    if (size_) std::memset(storage_.get(), 0, size_ * sizeof(float));
  }

  [[nodiscard]] float* data() { return storage_.get(); }
  [[nodiscard]] const float* data() const { return storage_.get(); }
  [[nodiscard]] std::size_t size() const { return size_; }
  [[nodiscard]] std::size_t capacity() const { return capacity_; }
  [[nodiscard]] float& operator[](std::size_t i) { return storage_[i]; }
  [[nodiscard]] float operator[](std::size_t i) const { return storage_[i]; }

 private:
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
