#pragma once
// An input image addressed through strides: element (y, x, c) is at
// data[y * stride_y + x * stride_x + c * stride_c]. One type covers the user's
// CHW tensors (PyTorch layout) and channels-last images and activations.
// Convolutions read any of them; channels-last is their fast path, so the
// backbone interleaves other layouts once before its stem.

#include <cstddef>

namespace riformer {

struct ImageView {
  const float* data = nullptr;
  int height = 0, width = 0, channels = 0;
  std::ptrdiff_t stride_y = 0, stride_x = 0, stride_c = 0;

  // Channels-last, pixels pixel_stride floats apart (0: dense, = c; more when
  // the image is a slice of a wider, concatenated buffer).
  [[nodiscard]] static ImageView hwc(const float* data, int h, int w, int c, std::ptrdiff_t pixel_stride = 0) {
    const std::ptrdiff_t px = pixel_stride ? pixel_stride : c;
    return {data, h, w, c, static_cast<std::ptrdiff_t>(w) * px, px, 1};
  }
  // Planar, as one image of a PyTorch NCHW tensor.
  [[nodiscard]] static ImageView chw(const float* data, int h, int w, int c) {
    return {data, h, w, c, w, 1, static_cast<std::ptrdiff_t>(h) * w};
  }
  [[nodiscard]] bool channels_contiguous() const { return stride_c == 1; }
};

}  // namespace riformer
