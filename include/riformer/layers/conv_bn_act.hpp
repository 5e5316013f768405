#pragma once
// YOLOv5's Conv: Conv2d(k, stride s, padding k/2, no bias) -> BatchNorm2d
// (eps 1e-3, YOLOv5's value, not PyTorch's 1e-5) -> SiLU. The BatchNorm is
// folded into the convolution at load (w' = w * g / sqrt(var + eps),
// b' = beta - mean * g / sqrt(var + eps)), so at run time it is one
// convolution with a bias + SiLU epilogue.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

#include "riformer/core/context.hpp"
#include "riformer/core/error.hpp"
#include "riformer/core/image_view.hpp"
#include "riformer/io/param_source.hpp"
#include "riformer/kernels/conv2d.hpp"

namespace riformer::layers {

inline constexpr double kYoloBatchNormEps = 1e-3;

struct FoldedConv {
  std::vector<float> weight;  // [cout, cin, k, k]
  std::vector<float> bias;    // [cout]
};

// Folds BatchNorm statistics into the preceding bias-free convolution.
[[nodiscard]] inline FoldedConv fold_batch_norm(const HostTensor& conv_weight, const HostTensor& gamma, const HostTensor& beta,
                                                const HostTensor& mean, const HostTensor& var, double eps) {
  const std::size_t cout = gamma.data.size();
  const std::size_t per_out = conv_weight.data.size() / cout;
  FoldedConv f{std::vector<float>(conv_weight.data.size()), std::vector<float>(cout)};
  for (std::size_t o = 0; o < cout; ++o) {
    const double scale = gamma.data[o] / std::sqrt(static_cast<double>(var.data[o]) + eps);
    for (std::size_t i = 0; i < per_out; ++i)
      f.weight[o * per_out + i] = static_cast<float>(conv_weight.data[o * per_out + i] * scale);
    f.bias[o] = static_cast<float>(beta.data[o] - mean.data[o] * scale);
  }
  return f;
}

template <int Cin, int Cout, int Kernel, int Stride>
class ConvBnSiLU {
  static_assert(Cin > 0 && Cout > 0 && Kernel % 2 == 1 && Stride > 0, "ConvBnSiLU: bad shape");

 public:
  static constexpr int kIn = Cin;
  static constexpr int kOut = Cout;
  static constexpr kernels::ConvGeometry kGeometry{Kernel, Stride, Kernel / 2};

  // Keys: conv.weight [Cout, Cin, K, K]; bn.weight, bn.bias, bn.running_mean, bn.running_var [Cout].
  void load(const ParamScope& p) {
    const HostTensor var = p.get("bn.running_var", {Cout});
    // A variance below zero makes sqrt(var + eps) NaN for every output of the channel.
    if (const auto neg = std::find_if(var.data.begin(), var.data.end(), [](float v) { return v < 0.0f; });
        neg != var.data.end())
      fail(p.source().describe(), ": key '", p.prefix(), "bn.running_var' holds a negative variance, ", *neg,
           " for channel ", neg - var.data.begin(), ": a broken checkpoint");
    const FoldedConv f = fold_batch_norm(p.get("conv.weight", {Cout, Cin, Kernel, Kernel}), p.get("bn.weight", {Cout}),
                                         p.get("bn.bias", {Cout}), p.get("bn.running_mean", {Cout}), var,
                                         kYoloBatchNormEps);
    packed_ = kernels::pack_conv_weights(f.weight.data(), f.bias.data(), Cout, Cin, Kernel);
  }

  [[nodiscard]] static int out_size(int in) { return kGeometry.out_height(in); }

  // in: Cin channels (any pixel stride); out: Cout values per pixel, pixel stride out_stride.
  void forward(const Context& ctx, const ImageView& in, float* out, std::size_t out_stride) const {
    require(in.channels == Cin, "ConvBnSiLU: input has ", in.channels, " channels, expected ", Cin);
    kernels::conv2d<DefaultArch, kernels::kSiluEpilogue>(ctx, in, kGeometry, packed_, out, out_stride,
                                                          {kernels::Activation::silu});
  }

 private:
  kernels::PackedMatrix packed_;
};

}  // namespace riformer::layers
