#pragma once
// An owning, cache-line aligned float array. All weights and all working memory
// live in these; a buffer is sized once (at load or when the input size changes)
// and never grows inside forward().

#include <cstddef>
#include <cstring>
#include <memory>
#include <new>

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
  AlignedBuffer(AlignedBuffer&&) noexcept = default;
  AlignedBuffer& operator=(AlignedBuffer&&) noexcept = default;

  // Zero-filled; the previous contents are dropped.
  void resize(std::size_t size) {
    storage_.reset(size ? static_cast<float*>(::operator new[](size * sizeof(float), std::align_val_t{kBufferAlignment}))
                        : nullptr);
    size_ = size;
    if (size_) std::memset(storage_.get(), 0, size_ * sizeof(float));
  }

  [[nodiscard]] float* data() { return storage_.get(); }
  [[nodiscard]] const float* data() const { return storage_.get(); }
  [[nodiscard]] std::size_t size() const { return size_; }
  [[nodiscard]] float& operator[](std::size_t i) { return storage_[i]; }
  [[nodiscard]] float operator[](std::size_t i) const { return storage_[i]; }

 private:
  struct AlignedDelete {
    void operator()(float* p) const { ::operator delete[](p, std::align_val_t{kBufferAlignment}); }
  };
  std::unique_ptr<float[], AlignedDelete> storage_;
  std::size_t size_ = 0;
};

// Rounds a float count up so that consecutive sub-buffers stay aligned.
[[nodiscard]] constexpr std::size_t align_floats(std::size_t n) {
  constexpr std::size_t step = kBufferAlignment / sizeof(float);
  return (n + step - 1) / step * step;
}

}  // namespace riformer
