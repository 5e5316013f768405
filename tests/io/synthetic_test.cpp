// The C++ synthetic-weight formula against the numbers the Python one prints
// (`python3 tests/reference/synthetic.py --selftest`): both must agree bit for
// bit, or the golden tests compare different networks.
#include <doctest/doctest.h>

#include <bit>
#include <cstdint>
#include <string>
#include <vector>

#include "riformer/io/synthetic.hpp"
#include "riformer/models/riformer/reparam.hpp"

using namespace riformer;

namespace {

std::vector<std::uint32_t> first_bits(ParamSource& source, const std::string& key, const Shape& shape) {
  const HostTensor t = source.get(key, shape);
  std::vector<std::uint32_t> bits;
  for (int i = 0; i < 4; ++i) bits.push_back(std::bit_cast<std::uint32_t>(t.data[i]));
  return bits;
}

using Bits = std::vector<std::uint32_t>;

}  // namespace

TEST_CASE("hash building blocks") {
  CHECK(synthetic::fnv1a("") == 0x811C9DC5u);
  CHECK(synthetic::fnv1a("input") == 0xF9D86F7Bu);
  const std::uint32_t h = synthetic::fnv1a("input");
  CHECK(synthetic::mix(h ^ synthetic::mix(0u * 0x9E3779B9u + 0x7F4A7C15u)) == 0x49197DB3u);
  CHECK(synthetic::mix(h ^ synthetic::mix(3u * 0x9E3779B9u + 0x7F4A7C15u)) == 0x6048150Cu);
}

TEST_CASE("values per parameter kind match the Python formula bit for bit") {
  SyntheticSource s;
  CHECK(first_bits(s, "input", {1, 3, 64, 96}) == Bits{0x3E9232FA, 0x3EA2E4E2, 0x3E7E0734, 0x3EC0902A});
  CHECK(first_bits(s, "network.0.0.mlp.fc1.weight", {256, 64, 1, 1}) == Bits{0xBE05C5AB, 0xBE028F2E, 0xBD835EB7, 0xBE42941A});
  CHECK(first_bits(s, "network.0.0.mlp.fc1.bias", {256}) == Bits{0x3D25A093, 0x3BE663B3, 0x3CAA7ECD, 0xBD2E8A00});
  CHECK(first_bits(s, "network.0.0.layer_scale_1", {64}) == Bits{0x3E415895, 0x3E949E5E, 0x3E51DAB8, 0x3E9E4022});
  CHECK(first_bits(s, "network.0.0.token_mixer.affine.weight", {64, 1, 1, 1}) ==
        Bits{0x3F44DCCA, 0x3F712EF5, 0x3F8C8194, 0x3FB2A436});
  CHECK(first_bits(s, "network.0.0.token_mixer.affine.bias", {64}) == Bits{0xBC17C980, 0xBD6B90DA, 0xBD815EED, 0xBDF2F090});
  CHECK(first_bits(s, "network.0.0.norm1.weight", {64}) == Bits{0x3F86D5D7, 0x3F8C08A9, 0x3F69C2BC, 0x3F742324});
  CHECK(first_bits(s, "norm0.weight", {64}) == Bits{0x3F5E980C, 0x3F800A45, 0x3F5803E6, 0x3F8FEE39});
  CHECK(first_bits(s, "model.1.cv1.bn.running_var", {128}) == Bits{0x3F9E73F2, 0x3F77CC3C, 0x3F4E036C, 0x3F473ACD});
  CHECK(first_bits(s, "model.0.network.0.1.mlp.fc1.weight", {256, 64, 1, 1}) ==
        Bits{0x3E236FEF, 0x3D205EC6, 0xBE1E057F, 0xBE5C5604});
}

TEST_CASE("the deploy form folds exactly as switch_to_deploy does in float32") {
  SyntheticSource training;
  DeployView deploy(training);
  CHECK(first_bits(deploy, "network.0.0.norm_reparam.weight", {64}) == Bits{0xBE792EA2, 0xBD81AD25, 0x3DB6B731, 0x3EC12DDC});
  CHECK(first_bits(deploy, "network.0.0.norm_reparam.bias", {64}) == Bits{0xBCAEF508, 0xBD779211, 0xBD6A81B7, 0xBDD683DA});
  CHECK_FALSE(deploy.contains("network.0.0.norm1.weight"));
  CHECK(deploy.contains("network.0.0.norm_reparam.weight"));
  CHECK_FALSE(training.contains("network.0.0.norm_reparam.weight"));
}

TEST_CASE("an unknown parameter kind is an error, not a guess") {
  SyntheticSource s;
  CHECK_THROWS_AS(s.get("model.16.anchors", {3, 3, 2}), riformer::Error);
}
