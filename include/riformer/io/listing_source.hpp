#pragma once
// A ParamSource that records what a model asks for: every key with its shape,
// in load order. Loading a model from it lists the model's parameters (the
// names a checkpoint must have), which tools and tests use to write complete
// checkpoints or to compare a file's keys with a model's.

#include <string>
#include <utility>
#include <vector>

#include "riformer/io/param_source.hpp"

namespace riformer {

class ListingSource : public ParamSource {
 public:
  // deploy_form: answer as a deploy-form checkpoint (norm_reparam) instead of a training-form one.
  explicit ListingSource(bool deploy_form = false) : deploy_form_(deploy_form) {}

  HostTensor get(const std::string& key, const Shape& shape) override {
    entries_.emplace_back(key, shape);
    // Ones, not zeros: any folding arithmetic done at load (1 / sqrt(var + eps)) stays finite.
    return {shape, std::vector<float>(static_cast<std::size_t>(element_count(shape)), 1.0f)};
  }
  [[nodiscard]] bool contains(const std::string& key) const override {
    const bool deploy_key = key.find("norm_reparam.") != std::string::npos;
    const bool training_key = key.find(".norm1.") != std::string::npos || key.find("token_mixer.") != std::string::npos;
    if (key.ends_with("anchors") || key.ends_with("num_batches_tracked")) return false;
    return deploy_form_ ? !training_key : !deploy_key;
  }
  [[nodiscard]] std::string describe() const override { return "parameter listing"; }

  // (key, shape) of every parameter asked for, in order.
  [[nodiscard]] const std::vector<std::pair<std::string, Shape>>& entries() const { return entries_; }

 private:
  bool deploy_form_;
  std::vector<std::pair<std::string, Shape>> entries_;
};

}  // namespace riformer
