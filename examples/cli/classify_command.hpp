#pragma once
// `riformer classify`: an ImageNet classifier (mmpretrain's RIFormer
// checkpoints, converted by tools/export_weights.py) on images, as
// mmpretrain's test pipeline sees them: short edge resized to 248 (Pillow's
// bicubic), center crop 224, normalized. Prints each image's top-k classes.

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "cli/args.hpp"
#include "cli/inputs.hpp"
#include "cli/resources.hpp"
#include "cli/timing.hpp"
#include "riformer/core/aligned_buffer.hpp"
#include "riformer/core/arch.hpp"
#include "riformer/io/image.hpp"
#include "riformer/io/safetensors.hpp"
#include "riformer/io/synthetic.hpp"
#include "riformer/models/riformer/classifier.hpp"
#include "riformer/models/riformer/classifier_checkpoint.hpp"
#include "riformer/models/riformer/dispatch.hpp"
#include "riformer/postprocess/class_names.hpp"
#include "riformer/postprocess/imagenet_transform.hpp"
#include "riformer/postprocess/top_k.hpp"

namespace riformer::cli {

inline const std::vector<Option>& classify_options() {
  static const std::vector<Option> options{
      {"weights", "FILE",
       "ImageNet classifier checkpoint (.safetensors of an mmpretrain RIFormer, from tools/export_weights.py); "
       "none: synthetic weights",
       ""},
      {"arch", "NAME", "s12, s24, s36, m36 or m48; default: the checkpoint's", "s12 without --weights"},
      {"source", "PATH", "an image (JPEG, PNG, BMP) or a folder of images", ""},
      {"topk", "K", "classes to print per image", "5"},
      {"names", "FILE", "class names, one per line (or a YAML list under names:)", "class numbers"},
      {"threads", "N", "threads to run on (0: all cores)", "1"},
      {"allow-extra-keys", "", "accept checkpoint keys the classifier does not use", ""},
  };
  return options;
}

inline constexpr const char* kClassifySummary =
    "Classifies images with an ImageNet RIFormer (mmpretrain's test pipeline) and prints the top classes.";

template <class List>
int run_classify(const Parsed& args) {
  require(args.has("source"), "--source is required: an image or a folder of images");
  const std::vector<std::filesystem::path> images = list_images(args.text("source"));
  // The variant, read off the checkpoint's header (which also refuses a file without a classification head).
  const std::string arch =
      args.has("weights") ? checkpoint_arch(args, args.text("weights"),
                                            inspect_classifier(SafetensorsFile::open(args.text("weights"))).backbone)
                          : args.text("arch", "s12");
  const int threads = thread_count(args);
  const long topk = args.integer("topk", 5, 1, kMaxClasses);

  return with_backbone_spec<List>(arch, [&]<BackboneSpec S>() {
    std::optional<Classifier<S>> net;
    std::string weights;
    if (args.has("weights")) {
      BackboneLoadOptions options;
      options.allow_extra_keys = args.flag("allow-extra-keys");
      net.emplace(load_classifier<S>(args.text("weights"), options));
      weights = args.text("weights");
    } else {
      SyntheticSource synthetic;
      net.emplace(ParamScope(synthetic, ""), ParamScope(synthetic, "head."), 1000);
      weights = "SYNTHETIC (no --weights given)";
      std::cerr << "WARNING: no --weights: running on deterministic synthetic weights. The classes are MEANINGLESS;\n"
                   "         this only shows that the pipeline runs. Convert an mmpretrain RIFormer checkpoint with\n"
                   "         tools/export_weights.py and pass it with --weights.\n";
    }
    ClassifierRunner<S> runner(std::move(*net), threads);
    const int classes = runner.classes();
    std::vector<std::string> names;
    if (args.has("names")) {
      names = load_class_names(args.text("names"));
      require(static_cast<int>(names.size()) == classes, args.text("names"), " has ", names.size(),
              " class names but the model has ", classes, " classes");
    }
    const ImagenetTransform transform;
    std::printf("arch %s, weights %s, %d classes, input %dx%d (short side to %d, center crop), %d thread%s, %s\n",
                arch.c_str(), weights.c_str(), classes, transform.crop, transform.crop, transform.resize_short,
                runner.threads(), runner.threads() == 1 ? "" : "s", arch_name());
    plan_memory(transform.crop, transform.crop, "input", [&] { runner.reserve(transform.crop, transform.crop); });
    AlignedBuffer input(static_cast<std::size_t>(3) * transform.crop * transform.crop);  // (3, crop, crop)
    PilResizeScratch resize_scratch;  // reused from one image to the next
    double total_preprocess = 0, total_network = 0;
    for (std::size_t i = 0; i < images.size(); ++i) {
      const std::string path = images[i].string();
      const Image image = load_image(path);
      const Stopwatch preprocess;
      imagenet_preprocess(image, input.data(), transform, resize_scratch);
      const double preprocess_ms = preprocess.milliseconds();
      const Stopwatch network;
      const std::vector<ClassScore> top =
          top_k(runner.forward(ImageView::chw(input.data(), transform.crop, transform.crop, 3)), static_cast<int>(topk));
      const double network_ms = network.milliseconds();
      total_preprocess += preprocess_ms;
      total_network += network_ms;
      std::printf("image %zu/%zu %s: %dx%d; preprocess %.1f ms, network %.1f ms\n", i + 1, images.size(), path.c_str(),
                  image.width, image.height, preprocess_ms, network_ms);
      for (const ClassScore& s : top) {
        if (names.empty())
          std::printf("  %6.4f  class %-6d (logit %.4f)\n", s.probability, s.cls, s.logit);
        else
          std::printf("  %6.4f  %-24s (class %d, logit %.4f)\n", s.probability, names[static_cast<std::size_t>(s.cls)].c_str(),
                      s.cls, s.logit);
      }
    }
    const double n = static_cast<double>(images.size());
    std::printf("speed: %.1f ms preprocess, %.1f ms network per image at %dx%d\n", total_preprocess / n,
                total_network / n, transform.crop, transform.crop);
    return 0;
  });
}

}  // namespace riformer::cli
