#pragma once
// Deterministic synthetic weights: every parameter computed from its key and
// element index by the counter-based formula of tests/reference/SYNTHETIC.md,
// bit for bit what the PyTorch reference computes. Used by the golden tests
// (the big variants' weights are too large to commit) and as the embedded
// default of the command-line tool, so it runs with no checkpoint at all.

#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>

#include "riformer/io/param_source.hpp"

namespace riformer {

namespace synthetic {

[[nodiscard]] constexpr std::uint32_t fnv1a(std::string_view key) {
  std::uint32_t h = 0x811C9DC5u;
  for (unsigned char b : key) h = (h ^ b) * 0x01000193u;
  return h;
}

[[nodiscard]] constexpr std::uint32_t mix(std::uint32_t x) {
  x ^= x >> 16;
  x *= 0x7FEB352Du;
  x ^= x >> 15;
  x *= 0x846CA68Bu;
  x ^= x >> 16;
  return x;
}

// u(key, i) in [0, 1), exactly representable.
[[nodiscard]] constexpr double uniform(std::uint32_t key_hash, std::uint32_t index) {
  const std::uint32_t bits = mix(key_hash ^ mix(index * 0x9E3779B9u + 0x7F4A7C15u));
  return static_cast<double>(bits >> 8) * (1.0 / 16777216.0);
}

struct Range {
  double lo, hi;
};

[[nodiscard]] inline bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// The value range of a parameter, by the kind its key names (SYNTHETIC.md's table).
[[nodiscard]] inline Range range_for(const std::string& key, const Shape& shape) {
  if (key == "input") return {0.0, 1.0};
  if (ends_with(key, "layer_scale_1") || ends_with(key, "layer_scale_2")) return {0.1, 0.5};
  if (ends_with(key, "token_mixer.affine.weight")) return {0.5, 1.5};
  if (ends_with(key, "token_mixer.affine.bias")) return {-0.2, 0.2};
  if (ends_with(key, "running_mean")) return {-0.2, 0.2};
  if (ends_with(key, "running_var")) return {0.5, 1.5};
  const auto last_dot = key.rfind('.');
  const std::string_view module = last_dot == std::string::npos ? std::string_view{} : std::string_view(key).substr(0, last_dot);
  const std::string_view leaf = std::string_view(key).substr(last_dot == std::string::npos ? 0 : last_dot + 1);
  const std::string_view module_leaf = module.substr(module.rfind('.') == std::string_view::npos ? 0 : module.rfind('.') + 1);
  const bool is_norm = module_leaf.substr(0, 4) == "norm" || module_leaf == "bn";
  if (is_norm && leaf == "weight") return {0.8, 1.2};
  if (is_norm && leaf == "bias") return {-0.2, 0.2};
  if (leaf == "weight" && shape.size() >= 2) {
    double fan_in = 1;
    for (std::size_t i = 1; i < shape.size(); ++i) fan_in *= static_cast<double>(shape[i]);
    const double a = std::sqrt(3.0 / fan_in);
    return {-a, a};
  }
  if (leaf == "bias") return {-0.1, 0.1};
  fail("synthetic weights: unknown parameter kind for key '", key, "' with shape ", to_string(shape));
}

// The tensor the formula gives for `key`.
[[nodiscard]] inline HostTensor tensor(const std::string& key, const Shape& shape) {
  const Range r = range_for(key, shape);
  const std::uint32_t h = fnv1a(key);
  HostTensor t{shape, std::vector<float>(static_cast<std::size_t>(element_count(shape)))};
  for (std::size_t i = 0; i < t.data.size(); ++i) {
    // Two roundings, as Python does: a fused multiply-add (which GCC forms by
    // default in C++ under -march=native) would differ in the last bit.
    volatile double scaled = (r.hi - r.lo) * uniform(h, static_cast<std::uint32_t>(i));
    t.data[i] = static_cast<float>(r.lo + scaled);
  }
  return t;
}

}  // namespace synthetic

// A ParamSource that makes every parameter up from the formula (a
// training-form checkpoint; wrap it in DeployView for the deploy form). It
// holds no YOLOv5 `anchors` buffer (a model then uses its spec's anchors) and
// no BatchNorm `num_batches_tracked` counters.
class SyntheticSource : public ParamSource {
 public:
  HostTensor get(const std::string& key, const Shape& shape) override {
    require(contains(key), "synthetic weights have no key '", key, "'");
    return synthetic::tensor(key, shape);
  }
  [[nodiscard]] bool contains(const std::string& key) const override {
    return key.find("norm_reparam.") == std::string::npos && !synthetic::ends_with(key, "anchors") &&
           !synthetic::ends_with(key, "num_batches_tracked");
  }
  [[nodiscard]] std::string describe() const override { return "synthetic weights"; }
};

}  // namespace riformer
