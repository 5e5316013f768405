// Writes a complete detector checkpoint (every key and shape a Detector<arch>
// loads, values from the synthetic formula) as a safetensors file: a stand-in
// for a trained one where only its size and layout matter (memory and load-time
// measurements).
//
//   synthetic_checkpoint ARCH NC OUT.safetensors
#include <charconv>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "riformer/riformer.hpp"

int main(int argc, char** argv) try {
  using namespace riformer;
  if (argc != 4) {
    std::fprintf(stderr, "usage: synthetic_checkpoint ARCH NC OUT.safetensors\n");
    return 2;
  }
  const std::string arch = argv[1], out = argv[3];
  int nc = 0;
  const std::string_view nc_text = argv[2];
  const auto [end, ec] = std::from_chars(nc_text.data(), nc_text.data() + nc_text.size(), nc);
  require(ec == std::errc() && end == nc_text.data() + nc_text.size() && nc >= 1 && nc <= 100000,
          "NC must be a whole number of classes in 1..100000, got '", nc_text, "'");
  ListingSource listing;
  with_backbone_spec(arch, [&]<BackboneSpec S>() { Detector<S> probe(ParamScope(listing, ""), nc); });
  std::vector<NamedTensor> tensors;
  for (const auto& [key, shape] : listing.entries()) tensors.push_back({key, shape, synthetic::tensor(key, shape).data});
  write_safetensors(out, tensors, {{"arch", arch}, {"nc", std::to_string(nc)}, {"format", "yolov5-riformer"}});
  std::printf("wrote %s: %zu tensors\n", out.c_str(), tensors.size());
  return 0;
} catch (const riformer::Error& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 2;
}
