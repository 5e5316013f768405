#pragma once
// Loading a backbone from a safetensors checkpoint: find where its keys live
// (bare, "backbone." of an mmpretrain classifier, "model.0." of the detector),
// read its topology off the tensor shapes, check it against the model being
// built (a wrong variant is a clear error naming expected and found shapes,
// not a garbage forward pass), then load every parameter through the model's
// own visitor and refuse keys nobody asked for.

#include <charconv>
#include <cstdint>
#include <optional>
#include <sstream>
#include <string>

#include "riformer/core/error.hpp"
#include "riformer/io/json.hpp"
#include "riformer/io/safetensors.hpp"
#include "riformer/io/safetensors_source.hpp"
#include "riformer/models/riformer/backbone.hpp"
#include "riformer/models/riformer/spec.hpp"

namespace riformer {

// What a checkpoint holds, read from its header only.
struct BackboneCheckpointInfo {
  std::string prefix;         // key prefix of the backbone: "", "backbone.", "model.0.", ...
  BackboneSpec spec{};        // topology read off the tensor shapes
  std::string metadata_arch;  // __metadata__["arch"], if any
  bool deploy_form = false;   // norm_reparam (deploy) rather than norm1 + token_mixer (training)
};

[[nodiscard]] inline std::string describe_spec(const BackboneSpec& s) {
  std::ostringstream out;
  auto list = [&](const std::array<int, 4>& a) { out << a[0] << "," << a[1] << "," << a[2] << "," << a[3]; };
  out << (spec_name(s) == "custom" ? std::string_view("custom topology") : spec_name(s)) << " (depths ";
  list(s.depths);
  out << ", dims ";
  list(s.dims);
  out << ", mlp ratios ";
  list(s.mlp_ratios);
  out << ")";
  return out.str();
}

// More channels than any RIFormer variant has by far (M48: 768 x 4); beyond it a
// shape is corrupt, and would not fit the int the topology is kept in.
inline constexpr std::int64_t kMaxChannels = std::int64_t{1} << 20;

namespace checkpoint_detail {

// Blocks are counted up to the first missing one; a key of a later block means
// one in the middle is missing, not a shorter custom topology.
inline void require_no_block_after(const SafetensorsFile& file, const std::string& stage, int depth) {
  for (const TensorInfo& t : file.tensors()) {
    if (!t.name.starts_with(stage)) continue;
    int block = -1;
    const char* first = t.name.data() + stage.size();
    const auto [end, ec] = std::from_chars(first, t.name.data() + t.name.size(), block);
    if (ec == std::errc() && *end == '.' && block > depth)
      fail(file.path(), ": block ", stage, depth, " is missing (no key '", stage, depth,
           ".mlp.fc1.weight') but the file has block ", stage, block, ": an incomplete checkpoint");
  }
}

}  // namespace checkpoint_detail

// Reads the backbone topology off the tensor shapes. `prefix`: where the keys
// live; found from the file when not given.
[[nodiscard]] inline BackboneCheckpointInfo inspect_backbone(const SafetensorsFile& file,
                                                            std::optional<std::string> prefix = {}) {
  BackboneCheckpointInfo info;
  info.prefix = prefix ? *prefix : find_prefix(file, "patch_embed.proj.weight");
  const std::string& p = info.prefix;
  const TensorInfo* stem = file.find(p + "patch_embed.proj.weight");
  require(stem != nullptr, file.path(), ": missing key '", p, "patch_embed.proj.weight': not a RIFormer checkpoint?");
  require(stem->shape.size() == 4 && stem->shape[1] == 3 && stem->shape[2] == 7 && stem->shape[3] == 7, file.path(),
          ": '", stem->name, "' has shape ", to_string(stem->shape), ", expected [d0, 3, 7, 7]");
  for (int s = 0; s < 4; ++s) {
    const std::string stage = p + "network." + std::to_string(2 * s) + ".";
    int depth = 0;
    while (const TensorInfo* fc1 = file.find(stage + std::to_string(depth) + ".mlp.fc1.weight")) {
      require(fc1->shape.size() == 4 && fc1->shape[2] == 1 && fc1->shape[3] == 1 && fc1->shape[1] > 0, file.path(), ": '",
              fc1->name, "' has shape ", to_string(fc1->shape), ", expected [hidden, dim, 1, 1]");
      const auto dim = fc1->shape[1], hidden = fc1->shape[0];
      // Bounded before the casts to int below (a shape with a zero takes no bytes, so any size fits in a file).
      require(hidden > 0 && hidden <= kMaxChannels && dim <= kMaxChannels, file.path(), ": '", fc1->name,
              "' has shape ", to_string(fc1->shape), ": not a RIFormer MLP (channels must be in 1..", kMaxChannels,
              ")");
      require(hidden % dim == 0, file.path(), ": '", fc1->name, "' has shape ", to_string(fc1->shape),
              ": the MLP ratio ", hidden, "/", dim, " is not a whole number");
      if (depth == 0) {
        info.spec.dims[s] = static_cast<int>(dim);
        info.spec.mlp_ratios[s] = static_cast<int>(hidden / dim);
      } else {
        require(dim == info.spec.dims[s] && hidden == info.spec.dims[s] * info.spec.mlp_ratios[s], file.path(), ": '",
                fc1->name, "' has shape ", to_string(fc1->shape), ", unlike the first block of its stage");
      }
      ++depth;
    }
    require(depth > 0, file.path(), ": stage ", s, " has no blocks (no key '", stage, "0.mlp.fc1.weight')");
    checkpoint_detail::require_no_block_after(file, stage, depth);
    info.spec.depths[s] = depth;
    info.spec.outputs[s] = file.find(p + "norm" + std::to_string(2 * s) + ".weight") != nullptr;
  }
  info.deploy_form = file.find(p + "network.0.0.norm_reparam.weight") != nullptr;
  if (auto it = file.metadata().find("arch"); it != file.metadata().end()) info.metadata_arch = it->second;
  return info;
}

// Throws unless the checkpoint's topology (and its metadata arch, if any) is `expected`'s.
inline void check_backbone_topology(const BackboneCheckpointInfo& info, const BackboneSpec& expected,
                                    const std::string& path) {
  const std::string_view name = spec_name(expected);
  const bool metadata_ok = info.metadata_arch.empty() || info.metadata_arch == name ||
                           (info.metadata_arch == "custom" && name == "custom");
  const bool shapes_ok = info.spec.depths == expected.depths && info.spec.dims == expected.dims &&
                         info.spec.mlp_ratios == expected.mlp_ratios;
  if (metadata_ok && shapes_ok) return;
  if (shapes_ok)
    fail(path, ": its tensors have the shapes of ", describe_spec(expected), ", but its metadata says arch ",
         json::quote(info.metadata_arch), ": a mislabelled file? (correct or remove __metadata__[\"arch\"])");
  fail(path, ": the checkpoint holds a ", describe_spec(info.spec),
       info.metadata_arch.empty() ? std::string() : " with metadata arch " + json::quote(info.metadata_arch),
       ", but the model expects ", describe_spec(expected));
}

struct BackboneLoadOptions {
  std::optional<std::string> prefix;  // default: found from the file
  bool allow_extra_keys = false;      // keys under the prefix the model does not use
  bool allow_non_finite = false;      // load NaN/Inf weights instead of refusing them
};

// Loads Backbone<S> from a safetensors checkpoint in either form.
template <BackboneSpec S>
[[nodiscard]] Backbone<S> load_backbone(const std::string& path, const BackboneLoadOptions& options = {}) {
  SafetensorsFile file = SafetensorsFile::open(path);
  const BackboneCheckpointInfo info = inspect_backbone(file, options.prefix);
  check_backbone_topology(info, S, path);
  SafetensorsSource source(std::move(file),
                           LoadOptions{info.prefix, options.allow_extra_keys, options.allow_non_finite});
  Backbone<S> net(ParamScope(source, info.prefix));
  source.finish();
  return net;
}

}  // namespace riformer
