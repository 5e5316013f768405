#pragma once
// RIFormer topology as data: one constexpr BackboneSpec per variant, used as a
// template argument (Backbone<kS12>), so every stage's width, depth and MLP
// size is a compile-time constant of the generated code. Users can declare
// their own spec with other depths, widths or ratios.

#include <array>
#include <string_view>

namespace riformer {

struct BackboneSpec {
  std::array<int, 4> depths;                            // blocks per stage
  std::array<int, 4> dims;                              // channels per stage
  std::array<int, 4> mlp_ratios{4, 4, 4, 4};            // MLP hidden = dims * ratio
  std::array<bool, 4> outputs{true, true, true, true};  // which stages are returned (norm0, norm2, norm4, norm6)

  [[nodiscard]] constexpr int hidden(int stage) const { return dims[stage] * mlp_ratios[stage]; }
  [[nodiscard]] constexpr int num_outputs() const {
    int n = 0;
    for (bool o : outputs) n += o;
    return n;
  }
  [[nodiscard]] constexpr bool valid() const {
    for (int s = 0; s < 4; ++s)
      if (depths[s] < 1 || dims[s] < 1 || mlp_ratios[s] < 1) return false;
    return num_outputs() > 0;
  }
  constexpr bool operator==(const BackboneSpec&) const = default;
};

// The published variants (MODEL.md section 1).
inline constexpr BackboneSpec kS12{{2, 2, 6, 2}, {64, 128, 320, 512}};
inline constexpr BackboneSpec kS24{{4, 4, 12, 4}, {64, 128, 320, 512}};
inline constexpr BackboneSpec kS36{{6, 6, 18, 6}, {64, 128, 320, 512}};
inline constexpr BackboneSpec kM36{{6, 6, 18, 6}, {96, 192, 384, 768}};
inline constexpr BackboneSpec kM48{{8, 8, 24, 8}, {96, 192, 384, 768}};

struct NamedBackboneSpec {
  std::string_view name;
  BackboneSpec spec;
};
inline constexpr std::array<NamedBackboneSpec, 5> kBackboneSpecs{
    {{"s12", kS12}, {"s24", kS24}, {"s36", kS36}, {"m36", kM36}, {"m48", kM48}}};

// "s12" ... "m48" for a published topology (whatever its outputs), else "custom".
[[nodiscard]] constexpr std::string_view spec_name(const BackboneSpec& spec) {
  for (const auto& named : kBackboneSpecs)
    if (named.spec.depths == spec.depths && named.spec.dims == spec.dims && named.spec.mlp_ratios == spec.mlp_ratios)
      return named.name;
  return "custom";
}

// Stage resolutions, fixed by the stem (7x7, stride 4, pad 2) and the
// downsamples (3x3, stride 2, pad 1). Any input of at least 3x3 is accepted.
inline constexpr int kMinInputSize = 3;
[[nodiscard]] constexpr int stem_size(int input) { return (input + 2 * 2 - 7) / 4 + 1; }
[[nodiscard]] constexpr int downsampled_size(int size) { return (size + 2 * 1 - 3) / 2 + 1; }
[[nodiscard]] constexpr std::array<int, 4> stage_sizes(int input) {
  std::array<int, 4> s{stem_size(input), 0, 0, 0};
  for (int i = 1; i < 4; ++i) s[i] = downsampled_size(s[i - 1]);
  return s;
}

}  // namespace riformer
