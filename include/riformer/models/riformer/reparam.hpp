#pragma once
// Structural re-parameterization of the RIFormer token mixer (MODEL.md section 1).
// Training form: x + ls1 * (affine(norm1(x)) - norm1(x)), with affine a
// per-channel w*x + b. Since norm1 is itself per-channel affine after
// normalization, the whole branch is one GroupNorm with folded gain and bias:
// mmpretrain's switch_to_deploy, done here in float32 the same way.

#include <string>
#include <vector>

#include "riformer/io/param_source.hpp"

namespace riformer {

struct FoldedNorm {
  std::vector<float> weight, bias;
};

// norm_reparam.weight = norm1.weight * (affine.weight - 1)
// norm_reparam.bias   = norm1.bias * (affine.weight - 1) + affine.bias
[[nodiscard]] inline FoldedNorm fold_token_mixer(const HostTensor& norm1_weight, const HostTensor& norm1_bias,
                                                 const HostTensor& affine_weight, const HostTensor& affine_bias) {
  const std::size_t c = norm1_weight.data.size();
  FoldedNorm f{std::vector<float>(c), std::vector<float>(c)};
  for (std::size_t i = 0; i < c; ++i) {
    const float g = affine_weight.data[i] - 1.0f;
    f.weight[i] = norm1_weight.data[i] * g;
    // Multiply, then add, each rounded (as PyTorch computes it), not fused.
    volatile float scaled_bias = norm1_bias.data[i] * g;
    f.bias[i] = scaled_bias + affine_bias.data[i];
  }
  return f;
}

// Presents a training-form checkpoint as its deploy form: `X.norm_reparam.*`
// is folded on request from the source's `X.norm1.*` and `X.token_mixer.*`,
// which in turn disappear. Lets tests and tools produce deploy-form weights from
// any source, with the same arithmetic as switch_to_deploy.
class DeployView : public ParamSource {
 public:
  explicit DeployView(ParamSource& training) : inner_(&training) {}

  HostTensor get(const std::string& key, const Shape& shape) override {
    require(contains(key), describe(), ": no key '", key, "'");
    const auto at = key.find("norm_reparam.");
    if (at == std::string::npos) return inner_->get(key, shape);
    const std::string block = key.substr(0, at);
    const FoldedNorm f = fold_token_mixer(inner_->get(block + "norm1.weight", shape), inner_->get(block + "norm1.bias", shape),
                                          inner_->get(block + "token_mixer.affine.weight", {shape.at(0), 1, 1, 1}),
                                          inner_->get(block + "token_mixer.affine.bias", shape));
    return {shape, key.ends_with("weight") ? f.weight : f.bias};
  }

  [[nodiscard]] bool contains(const std::string& key) const override {
    if (key.find(".norm1.") != std::string::npos || key.find("token_mixer.") != std::string::npos) return false;
    const auto at = key.find("norm_reparam.");
    if (at == std::string::npos) return inner_->contains(key);
    return inner_->contains(key.substr(0, at) + "norm1." + key.substr(at + 13));
  }

  [[nodiscard]] std::string describe() const override { return inner_->describe() + " (as deploy form)"; }

 private:
  ParamSource* inner_;
};

}  // namespace riformer
