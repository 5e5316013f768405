#pragma once
// GroupNorm with a single group (PyTorch nn.GroupNorm(1, C), eps 1e-5): the
// mean and variance are taken over the whole C x H x W map of the image, then
// each channel gets its own gain and bias.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>

#include "riformer/core/aligned_buffer.hpp"
#include "riformer/core/context.hpp"
#include "riformer/io/param_source.hpp"
#include "riformer/kernels/channel_affine.hpp"

namespace riformer::layers {

inline constexpr double kGroupNormEps = 1e-5;

struct Moments {
  double mean = 0;
  double variance = 0;  // biased (divided by n), as GroupNorm uses
};

// 1 / sqrt(variance + eps) in double, as the per-channel coefficients need it.
[[nodiscard]] inline double inverse_std(const Moments& m) { return 1.0 / std::sqrt(m.variance + kGroupNormEps); }

// Per-channel sums of a (pixels, channels) feature map, in double: what the
// epilogue of the GEMM that wrote the map gathers, so the GroupNorm that reads
// it needs no pass of its own over memory.
struct ChannelSums {
  double* sum = nullptr;     // (channels): sum over pixels of x[p, c]
  double* sum_sq = nullptr;  // (channels): sum over pixels of x[p, c]^2
  std::size_t pixels = 0;
  int channels = 0;

  void clear() const {
    std::fill(sum, sum + channels, 0.0);
    std::fill(sum_sq, sum_sq + channels, 0.0);
  }
};

// GroupNorm(1)'s moments over the whole map, from its channel sums.
[[nodiscard]] inline Moments moments(const ChannelSums& s) {
  double total = 0, total_sq = 0;
  for (int c = 0; c < s.channels; ++c) total += s.sum[c], total_sq += s.sum_sq[c];
  const double n = static_cast<double>(s.pixels) * s.channels;
  const double mean = total / n;
  return {mean, std::max(0.0, total_sq / n - mean * mean)};
}

template <int C>
class GroupNorm {
 public:
  // Keys: weight [C], bias [C].
  void load(const ParamScope& params) {
    const HostTensor w = params.get("weight", {C});
    const HostTensor b = params.get("bias", {C});
    set(w.data.data(), b.data.data());
  }
  void set(const float* weight, const float* bias) {
    weight_.resize(C);
    bias_.resize(C);
    for (int c = 0; c < C; ++c) weight_[c] = weight[c], bias_[c] = bias[c];
  }

  // y = GroupNorm(x) over `pixels` channels-last pixels, given x's moments
  // (from the ChannelSums its producer gathered); x dense, y with pixel stride
  // y_stride (0: dense); y may alias x when both are dense.
  void apply(const Context& ctx, const Moments& m, const float* x, float* y, std::size_t pixels,
             std::size_t y_stride = 0) const {
    const double rstd = inverse_std(m);
    std::array<float, C> scale, shift;
    for (int c = 0; c < C; ++c) {
      scale[c] = static_cast<float>(weight_[c] * rstd);
      shift[c] = static_cast<float>(bias_[c] - weight_[c] * rstd * m.mean);
    }
    kernels::channel_affine(ctx, x, y, pixels, C, scale.data(), shift.data(), y_stride);
  }

  [[nodiscard]] const float* weight() const { return weight_.data(); }
  [[nodiscard]] const float* bias() const { return bias_.data(); }

 private:
  AlignedBuffer weight_, bias_;
};

}  // namespace riformer::layers
