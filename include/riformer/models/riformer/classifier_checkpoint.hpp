#pragma once
// Loading an ImageNet classifier (mmpretrain's ImageClassifier, as
// tools/export_weights.py writes it: "backbone." and "head.fc.*" keys) from a
// safetensors checkpoint: the backbone as load_backbone finds and checks it,
// then the head next to it, its class count read off head.fc.weight.

#include <cstdint>
#include <optional>
#include <string>

#include "riformer/core/error.hpp"
#include "riformer/io/safetensors.hpp"
#include "riformer/io/safetensors_source.hpp"
#include "riformer/models/riformer/checkpoint.hpp"
#include "riformer/models/riformer/classifier.hpp"

namespace riformer {

struct ClassifierCheckpointInfo {
  BackboneCheckpointInfo backbone;
  std::string root;  // the prefix of the whole model: "" for mmpretrain's "backbone." and "head."
  int classes = 0;   // rows of head.fc.weight
};

// Reads where the backbone and the head live and the class count, from the header only.
[[nodiscard]] inline ClassifierCheckpointInfo inspect_classifier(const SafetensorsFile& file,
                                                                std::optional<std::string> prefix = {}) {
  ClassifierCheckpointInfo info;
  info.backbone = inspect_backbone(file, std::move(prefix));
  const std::string& p = info.backbone.prefix;
  constexpr std::string_view kBackbone = "backbone.";
  info.root = p.ends_with(kBackbone) ? p.substr(0, p.size() - kBackbone.size()) : p;
  const std::string key = info.root + "head.fc.weight";
  const TensorInfo* w = file.find(key);
  require(w != nullptr, file.path(), ": no key '", key,
          "': not an ImageNet classifier checkpoint (a backbone or detector checkpoint has no classification head;"
          " load it with load_backbone or load_detector)");
  const std::int64_t d3 = info.backbone.spec.dims[3];
  require(w->shape.size() == 2 && w->shape[0] >= 1 && w->shape[0] <= kMaxClasses && w->shape[1] == d3, file.path(),
          ": '", key, "' has shape ", to_string(w->shape), ", expected [classes, ", d3, "] with 1 to ", kMaxClasses,
          " classes");
  require(info.backbone.spec.outputs[3], file.path(), ": no key '", p,
          "norm6.weight': the classifier pools the normalized last stage");
  info.classes = static_cast<int>(w->shape[0]);
  return info;
}

// Loads Classifier<S> from a safetensors checkpoint in either backbone form.
// Every key under the model's prefix must be used (LoadOptions::allow_extra_keys
// relaxes that); a backbone of another variant is an error naming both.
template <BackboneSpec S>
[[nodiscard]] Classifier<S> load_classifier(const std::string& path, const BackboneLoadOptions& options = {}) {
  SafetensorsFile file = SafetensorsFile::open(path);
  const ClassifierCheckpointInfo info = inspect_classifier(file, options.prefix);
  check_backbone_topology(info.backbone, S, path);
  SafetensorsSource source(std::move(file), LoadOptions{info.root, options.allow_extra_keys, options.allow_non_finite});
  Classifier<S> net(ParamScope(source, info.backbone.prefix), ParamScope(source, info.root + "head."), info.classes);
  source.finish();
  return net;
}

}  // namespace riformer
