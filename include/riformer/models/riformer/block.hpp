#pragma once
// One RIFormer block at inference:
//
//   x' = x + ls1 * norm_reparam(x)              token mixer, re-parameterized
//   y  = x' + ls2 * fc2(GELU(fc1(norm2(x'))))   MLP of 1x1 convolutions
//
// Folded at load: ls1 into norm_reparam's gain and bias, ls2 into fc2.
// At run time both GroupNorms come from channel sums, not from passes over
// memory: the sums of x arrive from whatever wrote x (the previous block's
// fc2, a patch embedding); x' = x * s1 + t1 is per channel, so its sums follow
// from x's in closed form; norm2(x') = x * a + b is applied while fc1 packs
// its input; and fc2's epilogue adds the residual x * s1 + t1 and gathers the
// sums of y for the next block. The whole block is two GEMMs (fused into one
// pass with the hidden tile kept in cache where the weights fit there).

#include <algorithm>
#include <array>
#include <cstddef>

#include "riformer/core/aligned_buffer.hpp"
#include "riformer/core/context.hpp"
#include "riformer/io/param_source.hpp"
#include "riformer/kernels/fused_mlp.hpp"
#include "riformer/kernels/gemm.hpp"
#include "riformer/layers/group_norm.hpp"
#include "riformer/layers/pointwise.hpp"
#include "riformer/models/riformer/reparam.hpp"

namespace riformer {

template <int C, int Hidden>
class RIFormerBlock {
  static_assert(C > 0 && Hidden > 0, "RIFormerBlock: channels must be positive");

 public:
  // Whether the MLP runs as one fused pass (hidden tile in cache) or as two
  // GEMMs through a hidden buffer, a block of rows at a time (so that buffer
  // stays a few MB whatever the image size).
  static constexpr bool kFusedMlp = kernels::fused_mlp_worthwhile(C, Hidden, C);
  static constexpr int kUnfusedBlockRows = 2048;
  // Row stride of the hidden buffer: Hidden, or a little more where rows of
  // Hidden floats would alias in L1 (2048, 3072: see kernels::unaliased_stride).
  static constexpr std::size_t kHiddenStride = kernels::unaliased_stride(Hidden);

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

  // Doubles of stats scratch and floats of hidden buffer forward() needs for `pixels`.
  [[nodiscard]] static std::size_t stats_scratch_doubles(int pixels) {
    return kFusedMlp ? kernels::fused_mlp_stats_scratch_doubles(pixels, C, Hidden, C)
                     : kernels::gemm_stats_scratch_doubles(std::min(pixels, kUnfusedBlockRows), C);
  }
  [[nodiscard]] static std::size_t hidden_floats(int pixels) {
    if (kFusedMlp && kIsSimd<DefaultArch>) return 0;
    return static_cast<std::size_t>(kFusedMlp ? pixels : std::min(pixels, kUnfusedBlockRows)) * kHiddenStride;
  }

  // x: (pixels, C), updated in place; `sums` holds x's channel sums on entry
  // and the result's on return. hidden: hidden_floats(pixels) floats.
  void forward(const Context& ctx, float* x, const layers::ChannelSums& sums, float* hidden, double* stats_scratch) const {
    const std::size_t pixels = sums.pixels;
    const double n = static_cast<double>(pixels);
    // x' = x + ls1 * norm_reparam(x) = x * s1 + t1, with norm_reparam's moments from x's sums.
    const layers::Moments m1 = layers::moments(sums);
    const double rstd1 = layers::inverse_std(m1);
    std::array<float, C> s1, t1, a2, b2;
    for (int c = 0; c < C; ++c) {
      s1[c] = static_cast<float>(1.0 + mixer_gain_[c] * rstd1);
      t1[c] = static_cast<float>(mixer_bias_[c] - mixer_gain_[c] * rstd1 * m1.mean);
      // The sums of x' in closed form: sum(s x + t) = s S + n t; sum((s x + t)^2) = s^2 Q + 2 s t S + n t^2.
      const double s = s1[c], t = t1[c], sum = sums.sum[c], sq = sums.sum_sq[c];
      sums.sum[c] = s * sum + n * t;
      sums.sum_sq[c] = s * s * sq + 2 * s * t * sum + n * t * t;
    }
    // norm2(x') = x' * g + h = x * (s1 g) + (t1 g + h), folded into fc1's input packing.
    const layers::Moments m2 = layers::moments(sums);
    const double rstd2 = layers::inverse_std(m2);
    for (int c = 0; c < C; ++c) {
      const double g = norm2_.weight()[c] * rstd2, h = norm2_.bias()[c] - g * m2.mean;
      a2[c] = static_cast<float>(s1[c] * g);
      b2[c] = static_cast<float>(t1[c] * g + h);
    }
    // y = x * s1 + t1 + ls2 * fc2(GELU(fc1(x * a2 + b2))), gathering y's sums.
    sums.clear();
    const kernels::GemmPrologue norm2{a2.data(), b2.data()};
    const kernels::GemmEpilogue residual{kernels::Activation::none, true, s1.data(), t1.data(),
                                         {sums.sum, sums.sum_sq, stats_scratch}};
    const int rows = static_cast<int>(pixels);
    if constexpr (kFusedMlp) {
      kernels::fused_mlp<DefaultArch, kernels::kOnlyGelu, kernels::kLinearEpilogue>(
          ctx, rows, x, C, norm2, fc1_, kernels::Activation::gelu, fc2_, x, C, residual, hidden);
    } else {
      for (int i0 = 0; i0 < rows; i0 += kUnfusedBlockRows) {
        const int n = std::min(kUnfusedBlockRows, rows - i0);
        float* xb = x + static_cast<std::size_t>(i0) * C;
        kernels::gemm<DefaultArch, kernels::kGeluEpilogue>(ctx, n, xb, C, fc1_, hidden, kHiddenStride,
                                                           {kernels::Activation::gelu}, norm2);  // hidden: (n, Hidden)
        kernels::gemm<DefaultArch, kernels::kLinearEpilogue>(ctx, n, hidden, kHiddenStride, fc2_, xb, C,
                                                             residual);  // x rows: (n, C)
      }
    }
  }

 private:
  AlignedBuffer mixer_gain_, mixer_bias_;  // ls1 * norm_reparam.{weight, bias}: (C)
  layers::GroupNorm<C> norm2_;
  kernels::PackedMatrix fc1_;  // (C -> Hidden)
  kernels::PackedMatrix fc2_;  // (Hidden -> C), rows scaled by ls2
};

}  // namespace riformer
