#pragma once
// Feature maps at the API edge. Inside, activations are channels-last float
// arrays in planned workspace memory; users see them as FeatureMap views
// (no copy) and can turn one into an xtensor in PyTorch's NCHW layout. This is
// the one place the library includes xtensor: containers at the edge, raw
// pointers in the kernels.

#include <cstddef>

#include <xtensor/xadapt.hpp>
#include <xtensor/xtensor.hpp>

namespace riformer {

// A channels-last (H, W, C) view of one image's features; valid until the next
// forward() of the model that produced it. Pixels are pixel_stride floats apart
// (more than C when the map is a slice of a wider, concatenated buffer).
struct FeatureMap {
  const float* data = nullptr;
  int height = 0, width = 0, channels = 0;
  std::size_t pixel_stride = 0;  // 0: dense (= channels)

  [[nodiscard]] std::size_t stride() const { return pixel_stride ? pixel_stride : static_cast<std::size_t>(channels); }
  [[nodiscard]] float at(int y, int x, int c) const { return data[(static_cast<std::size_t>(y) * width + x) * stride() + c]; }
  [[nodiscard]] std::size_t size() const { return static_cast<std::size_t>(height) * width * channels; }

  // A copy as [1, C, H, W], the layout PyTorch returns.
  [[nodiscard]] xt::xtensor<float, 4> to_nchw() const {
    xt::xtensor<float, 4> out({1, static_cast<std::size_t>(channels), static_cast<std::size_t>(height),
                               static_cast<std::size_t>(width)});
    float* dst = out.data();
    const std::size_t plane = static_cast<std::size_t>(height) * width;
    for (std::size_t p = 0; p < plane; ++p)
      for (int c = 0; c < channels; ++c) dst[c * plane + p] = data[p * stride() + c];
    return out;
  }

  // A no-copy (H, W, C) xtensor view (strided when the map is a slice).
  [[nodiscard]] auto as_xtensor() const {
    const std::array<std::size_t, 3> shape{static_cast<std::size_t>(height), static_cast<std::size_t>(width),
                                           static_cast<std::size_t>(channels)};
    const std::array<std::size_t, 3> strides{static_cast<std::size_t>(width) * stride(), stride(), 1};
    const std::size_t span = height && width ? (static_cast<std::size_t>(height) * width - 1) * stride() + channels : 0;
    return xt::adapt(data, span, xt::no_ownership(), shape, strides);
  }
};

}  // namespace riformer
