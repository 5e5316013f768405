#pragma once
// What the detector subcommands share: which variant to run (--arch, the
// checkpoint's metadata, or its shapes), and loading it from --weights or,
// without one, from the synthetic formula, saying so loudly.

#include <iostream>
#include <optional>
#include <string>

#include "cli/args.hpp"
#include "cli/inputs.hpp"
#include "riformer/io/safetensors.hpp"
#include "riformer/io/safetensors_source.hpp"
#include "riformer/io/synthetic.hpp"
#include "riformer/models/riformer/checkpoint.hpp"
#include "riformer/models/yolov5/checkpoint.hpp"
#include "riformer/models/yolov5/detector.hpp"

namespace riformer::cli {

inline const Option kWeightsOption{"weights", "FILE",
                                   "detector checkpoint (.safetensors from tools/export_weights.py); none: synthetic weights", ""};
inline const Option kImageSizeOption{"imgsz", "H [W]", "network input size, multiples of 32", "640", /*multiple=*/true};
inline const Option kArchOption{"arch", "NAME", "s12, s24, s36, m36 or m48; default: the checkpoint's", "s12 without --weights"};

struct DetectorChoice {
  std::string arch;
  std::optional<SafetensorsFile> file;
  DetectorCheckpointInfo info;
};

[[nodiscard]] inline DetectorChoice choose_detector(const Parsed& args) {
  DetectorChoice c;
  if (!args.has("weights")) {
    c.arch = args.text("arch", "s12");
    return c;
  }
  c.file = SafetensorsFile::open(args.text("weights"));
  c.info = inspect_detector(*c.file);
  c.arch = checkpoint_arch(args, c.file->path(), c.info.backbone);
  return c;
}

// Loads the chosen detector; `description` receives a line saying where the weights came from.
template <BackboneSpec B>
[[nodiscard]] Detector<B> make_detector(DetectorChoice& c, int synthetic_nc, bool allow_extra_keys, std::string* description) {
  Detector<B> net;
  if (c.file) {
    check_backbone_topology(c.info.backbone, B, c.file->path());
    SafetensorsSource source(std::move(*c.file), LoadOptions{c.info.prefix, allow_extra_keys, {}});
    c.file.reset();
    net.load(ParamScope(source, c.info.prefix), c.info.nc);
    source.finish();
    *description = source.describe() + " (" + std::to_string(c.info.nc) + " classes, " +
                   (c.info.backbone.deploy_form ? "deploy" : "training") + "-form backbone)";
  } else {
    SyntheticSource synthetic;
    net.load(ParamScope(synthetic, ""), synthetic_nc);
    *description = "SYNTHETIC, " + std::to_string(synthetic_nc) + " classes (no --weights given)";
    std::cerr << "WARNING: no --weights: running on deterministic synthetic weights. Boxes and scores are\n"
                 "         MEANINGLESS; this only shows that the pipeline runs. Convert a trained YOLOv5-RIFormer\n"
                 "         checkpoint with tools/export_weights.py and pass it with --weights.\n";
  }
  return net;
}

// --imgsz H [W] (one value: square), each a positive multiple of 32.
inline std::pair<int, int> image_size(const Parsed& args, int fallback) {
  const std::vector<long> v = args.integers("imgsz", 32, kMaxInputSide);
  require(v.size() <= 2, "--imgsz takes one value (square) or two (height width)");
  const int h = v.empty() ? fallback : static_cast<int>(v[0]);
  const int w = v.size() == 2 ? static_cast<int>(v[1]) : h;
  for (int s : {h, w})
    require(s % 32 == 0, "--imgsz ", s, " is not a multiple of 32, the detector's largest stride (try ", s / 32 * 32, " or ",
            (s / 32 + 1) * 32, ")");
  return {h, w};
}

}  // namespace riformer::cli
