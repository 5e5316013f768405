#pragma once
// Where model parameters come from at load time. A model's load code asks a
// ParamSource for each parameter by its PyTorch state_dict key and expected shape;
// the source (a safetensors file, the synthetic generator, a listing of names)
// answers with float data or throws riformer::Error naming the key. Because every
// model names its parameters only through this interface, the same load code
// serves loading, synthesizing and listing: one visitor names every weight.

#include <cstdint>
#include <string>
#include <vector>

#include "riformer/core/error.hpp"

namespace riformer {

using Shape = std::vector<std::int64_t>;

[[nodiscard]] inline std::string to_string(const Shape& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  s += "]";
  return s;
}

// Elements of a tensor of this shape; an Error for negative dimensions or a
// count past 2^62 (shapes can come from untrusted files).
[[nodiscard]] inline std::int64_t element_count(const Shape& shape) {
  constexpr std::int64_t kMax = std::int64_t{1} << 62;
  std::int64_t n = 1;
  for (std::int64_t d : shape) {
    require(d >= 0 && (d == 0 || n <= kMax / d), "tensor shape ", to_string(shape), " is negative or too large");
    n *= d;
  }
  return n;
}

// A parameter as the model receives it at load time: float32, PyTorch layout.
struct HostTensor {
  Shape shape;
  std::vector<float> data;  // element_count(shape) values, C order
};

class ParamSource {
 public:
  virtual ~ParamSource() = default;
  // The tensor stored under `key` (full key, prefix included), converted to float.
  // Throws riformer::Error naming the source and the key when it is missing or
  // when its shape differs from `shape`.
  virtual HostTensor get(const std::string& key, const Shape& shape) = 0;
  // Whether `key` (full key) is present; used to detect the checkpoint form.
  [[nodiscard]] virtual bool contains(const std::string& key) const = 0;
  // For messages: "weights.safetensors", "synthetic weights", ...
  [[nodiscard]] virtual std::string describe() const = 0;
};

// A view of a ParamSource below a key prefix: scope.get("fc1.weight", ...) asks the
// source for prefix + "fc1.weight". Scopes nest with sub().
class ParamScope {
 public:
  ParamScope(ParamSource& source, std::string prefix) : source_(&source), prefix_(std::move(prefix)) {}

  [[nodiscard]] HostTensor get(const std::string& name, const Shape& shape) const {
    return source_->get(prefix_ + name, shape);
  }
  [[nodiscard]] bool contains(const std::string& name) const { return source_->contains(prefix_ + name); }
  [[nodiscard]] ParamScope sub(const std::string& name) const { return {*source_, prefix_ + name + "."}; }
  [[nodiscard]] const std::string& prefix() const { return prefix_; }
  [[nodiscard]] ParamSource& source() const { return *source_; }

 private:
  ParamSource* source_;
  std::string prefix_;
};

}  // namespace riformer
