#pragma once
// Conv2d with bias (PyTorch nn.Conv2d), channels-last output. Shapes are
// compile-time; the weights are packed for the GEMM once, at load.

#include <cstddef>

#include "riformer/core/context.hpp"
#include "riformer/io/param_source.hpp"
#include "riformer/kernels/conv2d.hpp"

namespace riformer::layers {

template <int Cin, int Cout, int Kernel, int Stride, int Pad>
class Conv2d {
  static_assert(Cin > 0 && Cout > 0 && Kernel > 0 && Stride > 0 && Pad >= 0, "Conv2d: bad shape");

 public:
  static constexpr int kIn = Cin;
  static constexpr int kOut = Cout;
  static constexpr kernels::ConvGeometry kGeometry{Kernel, Stride, Pad};

  // Keys: weight [Cout, Cin, Kernel, Kernel], bias [Cout].
  void load(const ParamScope& params) {
    const HostTensor w = params.get("weight", {Cout, Cin, Kernel, Kernel});
    const HostTensor b = params.get("bias", {Cout});
    packed_ = kernels::pack_conv_weights(w.data.data(), b.data.data(), Cout, Cin, Kernel);
  }

  // in: Cin channels; out: (out_h * out_w) pixels of Cout values, pixel stride ldc.
  // nn.Conv2d has no activation: `epilogue` may add a residual and gather
  // stats, and an activation in it is refused.
  void forward(const Context& ctx, const ImageView& in, float* out, std::size_t ldc,
               const kernels::GemmEpilogue& epilogue = {}) const {
    require(in.channels == Cin, "Conv2d: input has ", in.channels, " channels, expected ", Cin);
    kernels::conv2d<DefaultArch, kernels::kLinearEpilogue>(ctx, in, kGeometry, packed_, out, ldc, epilogue);
  }

 private:
  kernels::PackedMatrix packed_;
};

}  // namespace riformer::layers
