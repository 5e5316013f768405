#pragma once
// Reading the golden fixtures' tensors and metadata beyond what the library's
// loaders need: stored bytes of any dtype (read_float converts floats only),
// float tensors of a required dtype, comma-separated metadata lists, and the
// synthetic test input checked against the sum PyTorch recorded.

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "riformer/io/safetensors.hpp"
#include "riformer/io/synthetic.hpp"

namespace riformer::testing {

// "a,b,c" -> {"a", "b", "c"} for separator ','.
inline std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string part; std::getline(in, part, sep);) out.push_back(part);
  return out;
}

// "1,2,3" -> {1, 2, 3}.
inline std::vector<int> ints(const std::string& s) {
  std::vector<int> out;
  for (const std::string& p : split(s, ',')) out.push_back(std::stoi(p));
  return out;
}

// Tensor `name`'s stored bytes, which must be of `dtype` ("U8", "I32", ...).
inline std::vector<std::uint8_t> read_raw(const SafetensorsFile& f, const std::string& name, const std::string& dtype) {
  const TensorInfo* t = f.find(name);
  REQUIRE_MESSAGE(t != nullptr, "missing tensor ", name);
  REQUIRE(t->dtype_name == dtype);
  std::vector<std::uint8_t> out(t->end - t->begin);
  std::ifstream in(f.path(), std::ios::binary);
  in.seekg(static_cast<std::streamoff>(f.data_offset() + t->begin));
  in.read(reinterpret_cast<char*>(out.data()), static_cast<std::streamsize>(out.size()));
  REQUIRE(in.good());
  return out;
}

// Tensor `name`, stored as F32.
inline std::vector<float> read_f32(const SafetensorsFile& f, const std::string& name) {
  const TensorInfo* t = f.find(name);
  REQUIRE_MESSAGE(t != nullptr, "missing tensor ", name);
  REQUIRE(t->dtype_name == "F32");
  return f.read_float(*t);
}

// The synthetic input [1, 3, h, w] (tests/reference/SYNTHETIC.md), checked against
// the sum PyTorch recorded in the fixture's "input_sum": a formula mismatch shows
// up here, not as a mysterious output difference. Exact: every value is a
// multiple of 2^-24 in [0, 1), so the double sum is exact in any order.
inline HostTensor synthetic_input(const SafetensorsFile& golden, int h, int w) {
  HostTensor input = synthetic::tensor("input", {1, 3, h, w});
  double sum = 0;
  for (float v : input.data) sum += v;
  REQUIRE(sum == std::stod(golden.metadata().at("input_sum")));
  return input;
}

}  // namespace riformer::testing
