#pragma once
// One RIFormer block at inference, with every per-channel factor folded at load:
//
//   x = x + ls1 * norm_reparam(x)                  token mixer, re-parameterized
//   x = x + ls2 * fc2(GELU(fc1(norm2(x))))        MLP of 1x1 convolutions
//
// ls1 goes into norm_reparam's gain and bias, ls2 into fc2's weights and bias,
// so forward() is: moments + one channel affine, moments + one channel affine,
// and two GEMMs with fused epilogues (bias + GELU; bias + residual add).

#include <array>
#include <cstddef>

#include "riformer/core/aligned_buffer.hpp"
#include "riformer/core/context.hpp"
#include "riformer/io/param_source.hpp"
#include "riformer/kernels/gemm.hpp"
#include "riformer/kernels/norm.hpp"
#include "riformer/layers/group_norm.hpp"
#include "riformer/layers/pointwise.hpp"
#include "riformer/models/riformer/reparam.hpp"

namespace riformer {

template <int C, int Hidden>
class RIFormerBlock {
  static_assert(C > 0 && Hidden > 0, "RIFormerBlock: channels must be positive");

 public:
  // Either checkpoint form: norm_reparam.* (deploy) or norm1.* + token_mixer.affine.*
  // (training, folded here). Both need layer_scale_{1,2}, norm2.*, mlp.fc{1,2}.*.
  void load(const ParamScope& p) {
    FoldedNorm mixer;
    if (p.contains("norm_reparam.weight")) {
      mixer.weight = p.get("norm_reparam.weight", {C}).data;
      mixer.bias = p.get("norm_reparam.bias", {C}).data;
    } else {
      mixer = fold_token_mixer(p.get("norm1.weight", {C}), p.get("norm1.bias", {C}),
                               p.get("token_mixer.affine.weight", {C, 1, 1, 1}), p.get("token_mixer.affine.bias", {C}));
    }
    const HostTensor ls1 = p.get("layer_scale_1", {C});
    const HostTensor ls2 = p.get("layer_scale_2", {C});
    mixer_gain_.resize(C);
    mixer_bias_.resize(C);
    for (int c = 0; c < C; ++c) {
      mixer_gain_[c] = ls1.data[c] * mixer.weight[c];
      mixer_bias_[c] = ls1.data[c] * mixer.bias[c];
    }
    norm2_.load(p.sub("norm2"));
    const ParamScope mlp = p.sub("mlp");
    fc1_ = layers::pack_pointwise(mlp.get("fc1.weight", {Hidden, C, 1, 1}), mlp.get("fc1.bias", {Hidden}).data, Hidden, C);
    fc2_ = layers::pack_pointwise(mlp.get("fc2.weight", {C, Hidden, 1, 1}), mlp.get("fc2.bias", {C}).data, C, Hidden,
                                  ls2.data);
  }

  // x: pixels x C, updated in place. normed (pixels x C) and hidden
  // (pixels x Hidden) are scratch.
  void forward(const Context& ctx, float* x, std::size_t pixels, float* normed, float* hidden) const {
    // x += ls1 * norm_reparam(x) == x * (1 + g * rstd) + (b - g * rstd * mean), g and b already scaled by ls1.
    const kernels::Moments m = kernels::moments(ctx, x, pixels * C);
    const double rstd = layers::inverse_std(m);
    std::array<float, C> scale, shift;
    for (int c = 0; c < C; ++c) {
      scale[c] = static_cast<float>(1.0 + mixer_gain_[c] * rstd);
      shift[c] = static_cast<float>(mixer_bias_[c] - mixer_gain_[c] * rstd * m.mean);
    }
    kernels::channel_affine(ctx, x, x, pixels, C, scale.data(), shift.data());

    norm2_.forward(ctx, x, normed, pixels);                                      // normed: (pixels, C)
    kernels::gemm(ctx, static_cast<int>(pixels), normed, C, fc1_, hidden, Hidden,  // hidden: (pixels, Hidden)
                  {kernels::Activation::gelu, false});
    kernels::gemm(ctx, static_cast<int>(pixels), hidden, Hidden, fc2_, x, C,       // x: (pixels, C) += ls2 * fc2
                  {kernels::Activation::none, true});
  }

 private:
  AlignedBuffer mixer_gain_, mixer_bias_;  // ls1 * norm_reparam.{weight, bias}: (C)
  layers::GroupNorm<C> norm2_;
  kernels::PackedMatrix fc1_;  // (C -> Hidden)
  kernels::PackedMatrix fc2_;  // (Hidden -> C), rows scaled by ls2
};

}  // namespace riformer
