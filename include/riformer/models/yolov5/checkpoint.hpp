#pragma once
// Loading the detector from a safetensors checkpoint (tools/export_weights.py
// writes one from a YOLOv5 .pt): keys `model.N.*` as YOLOv5 names them. The
// backbone topology is read off model.0's shapes and checked against the type
// being built; the number of classes is read off the Detect convolutions.

#include <optional>
#include <string>

#include "riformer/core/error.hpp"
#include "riformer/io/safetensors.hpp"
#include "riformer/io/safetensors_source.hpp"
#include "riformer/models/riformer/checkpoint.hpp"
#include "riformer/models/yolov5/detector.hpp"
#include "riformer/models/yolov5/spec.hpp"

namespace riformer {

struct DetectorCheckpointInfo {
  std::string prefix;                // before "model.0.": usually ""
  BackboneCheckpointInfo backbone;   // model.0's topology and form
  int nc = 0;                        // classes, from model.16.m.0.weight
};

[[nodiscard]] inline DetectorCheckpointInfo inspect_detector(const SafetensorsFile& file) {
  DetectorCheckpointInfo info;
  info.prefix = find_prefix(file, "model.0.patch_embed.proj.weight");
  info.backbone = inspect_backbone(file, info.prefix + "model.0.");
  const std::string key = info.prefix + "model.16.m.0.weight";
  const TensorInfo* detect = file.find(key);
  require(detect != nullptr, file.path(), ": missing key '", key,
          "': a RIFormer backbone without the YOLOv5 head? (run it with `riformer backbone`)");
  require(detect->shape.size() == 4 && detect->shape[0] % kAnchorsPerLevel == 0 &&
              detect->shape[0] / kAnchorsPerLevel > 5 && detect->shape[0] <= kMaxChannels,
          file.path(), ": '", key, "' has shape ", to_string(detect->shape), ", expected [3 * (nc + 5), C, 1, 1]");
  info.nc = static_cast<int>(detect->shape[0] / kAnchorsPerLevel - 5);
  if (auto it = file.metadata().find("nc"); it != file.metadata().end())
    require(it->second == std::to_string(info.nc), file.path(), ": metadata says nc=", it->second, " but '", key,
            "' has shape ", to_string(detect->shape), " (nc=", info.nc, ")");
  return info;
}

struct DetectorLoadOptions {
  bool allow_extra_keys = false;                 // keys under the prefix the detector does not use
  bool allow_non_finite = false;                 // load NaN/Inf weights instead of refusing them
};

// Loads Detector<B, H> from a YOLOv5-RIFormer checkpoint in either RIFormer form.
template <BackboneSpec B, YoloHeadSpec H = kYoloV5SeedHead>
[[nodiscard]] Detector<B, H> load_detector(const std::string& path, const DetectorLoadOptions& options = {}) {
  SafetensorsFile file = SafetensorsFile::open(path);
  const DetectorCheckpointInfo info = inspect_detector(file);
  check_backbone_topology(info.backbone, B, path);
  SafetensorsSource source(std::move(file),
                           LoadOptions{info.prefix, options.allow_extra_keys, options.allow_non_finite});
  Detector<B, H> net(ParamScope(source, info.prefix), info.nc);
  source.finish();
  return net;
}

}  // namespace riformer
