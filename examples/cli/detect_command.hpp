#pragma once
// `riformer detect`: YOLOv5 detect.py's job with its flag names. Images (one
// file or a folder) in; annotated images, optional YOLO label files and a
// JSON file of detections out; detections and stage times printed.

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "cli/args.hpp"
#include "cli/detector_setup.hpp"
#include "cli/resources.hpp"
#include "cli/timing.hpp"
#include "riformer/io/image.hpp"
#include "riformer/io/json.hpp"
#include "riformer/models/riformer/dispatch.hpp"
#include "riformer/pipeline/detector_runner.hpp"
#include "riformer/postprocess/class_names.hpp"
#include "riformer/postprocess/draw.hpp"

namespace riformer::cli {

inline const std::vector<Option>& detect_options() {
  static const std::vector<Option> options{
      kWeightsOption,
      kArchOption,
      {"source", "PATH", "an image (JPEG, PNG, BMP) or a folder of images", ""},
      {"out", "DIR", "where annotated images, labels/ and detections.json go", "runs/detect"},
      kImageSizeOption,
      {"rect", "", "pad only to a multiple of 32 (YOLOv5 detect.py's minimal rectangle), not to the full size", ""},
      {"conf-thres", "X", "confidence threshold", "0.25"},
      {"iou-thres", "X", "NMS IoU threshold", "0.45"},
      {"max-det", "N", "maximum detections per image", "300"},
      {"classes", "C", "keep only these class indices, e.g. --classes 0 2", "", true},
      {"agnostic-nms", "", "class-agnostic NMS", ""},
      {"names", "FILE", "class names, one per line (or a YOLOv5 data yaml)", "COCO's 80"},
      {"save-txt", "", "write YOLO-format labels (class cx cy w h, normalized) to DIR/labels/", ""},
      {"save-conf", "", "with --save-txt: append the confidence to each label line", ""},
      {"json", "", "write DIR/detections.json", ""},
      {"nosave", "", "do not write annotated images", ""},
      {"threads", "N", "threads to run on (0: all cores)", "1"},
      {"allow-extra-keys", "", "accept checkpoint keys the detector does not use", ""},
  };
  return options;
}

inline constexpr const char* kDetectSummary = "Detects objects in images (YOLOv5 detect.py's flags) and draws them.";

inline std::vector<std::string> class_names_for(const Parsed& args, int nc) {
  if (args.has("names")) {
    std::vector<std::string> names = load_class_names(args.text("names"));
    require(static_cast<int>(names.size()) == nc, args.text("names"), " has ", names.size(), " class names but the model has ",
            nc, " classes");
    return names;
  }
  if (nc == static_cast<int>(coco_class_names().size())) return coco_class_names();
  std::vector<std::string> names;
  for (int i = 0; i < nc; ++i) names.push_back("class" + std::to_string(i));
  return names;
}

inline NmsOptions nms_options(const Parsed& args, int nc) {
  NmsOptions o;
  o.conf_thres = static_cast<float>(args.number("conf-thres", 0.25, 0.0, 1.0));
  o.iou_thres = static_cast<float>(args.number("iou-thres", 0.45, 0.0, 1.0));
  o.max_det = static_cast<int>(args.integer("max-det", 300, 1, 100000));
  o.agnostic = args.flag("agnostic-nms");
  for (long c : args.integers("classes", 0, 1 << 20)) {
    require(c < nc, "--classes ", c, ": the model has only ", nc, " classes (0 ... ", nc - 1, ")");
    o.classes.push_back(static_cast<int>(c));
  }
  return o;
}

inline std::string summarize(const std::vector<Detection>& dets, const std::vector<std::string>& names) {
  std::map<int, int> counts;
  for (const Detection& d : dets) ++counts[d.cls];
  std::string s = std::to_string(dets.size()) + (dets.size() == 1 ? " detection" : " detections");
  if (!counts.empty()) {
    s += " (";
    bool first = true;
    for (auto [cls, n] : counts) {
      s += (first ? "" : ", ") + std::to_string(n) + " " + names[static_cast<std::size_t>(cls)];
      first = false;
    }
    s += ")";
  }
  return s;
}

inline void write_labels(const std::filesystem::path& path, const std::vector<Detection>& dets, const Image& image,
                         bool with_conf) {
  std::ofstream out(path);
  require(out.good(), path.string(), ": cannot write");
  char line[160];
  for (const Detection& d : dets) {
    const double w = image.width, h = image.height;
    int n = std::snprintf(line, sizeof line, "%d %.6f %.6f %.6f %.6f", d.cls, (d.x1 + d.x2) / 2 / w, (d.y1 + d.y2) / 2 / h,
                          (d.x2 - d.x1) / w, (d.y2 - d.y1) / h);
    if (with_conf) std::snprintf(line + n, sizeof line - static_cast<std::size_t>(n), " %.6f", d.conf);
    out << line << "\n";
  }
  require(out.good(), path.string(), ": write failed");
}

// A number for detections.json: JSON has no NaN or infinity, so those are null
// (weights that overflow the float range can make a box NaN, in PyTorch too).
[[nodiscard]] inline std::string json_number(float v, const char* format = "%.2f") {
  if (!std::isfinite(v)) return "null";
  char text[64];
  std::snprintf(text, sizeof text, format, static_cast<double>(v));
  return text;
}

inline std::string detections_json(const std::string& image_path, const Image& image, const std::vector<Detection>& dets,
                                   const std::vector<std::string>& names) {
  std::ostringstream j;
  j << "{\"image\": " << json::quote(image_path) << ", \"width\": " << image.width
    << ", \"height\": " << image.height << ", \"detections\": [";
  for (std::size_t i = 0; i < dets.size(); ++i) {
    const Detection& d = dets[i];
    char box[128];
    std::snprintf(box, sizeof box, "[%s, %s, %s, %s]", json_number(d.x1).c_str(), json_number(d.y1).c_str(),
                  json_number(d.x2).c_str(), json_number(d.y2).c_str());
    j << (i ? ", " : "") << "{\"class\": " << d.cls
      << ", \"name\": " << json::quote(names[static_cast<std::size_t>(d.cls)])
      << ", \"confidence\": " << json_number(d.conf, "%g") << ", \"box\": " << box << "}";
  }
  j << "]}";
  return j.str();
}

// Where detect writes an image's annotated copy and its labels.
inline std::filesystem::path annotated_path(const std::filesystem::path& out_dir, const std::filesystem::path& image) {
  std::filesystem::path saved = out_dir / image.filename();
  if (!is_image_path(saved)) saved += ".jpg";  // an image file without an image extension
  return saved;
}

inline std::filesystem::path labels_path(const std::filesystem::path& out_dir, const std::filesystem::path& image) {
  return out_dir / "labels" / image.stem().concat(".txt");
}

// Refuses, before the slow part, outputs that would silently destroy data: an
// annotated copy over its own input (--out is the source folder), or two
// inputs writing one file (a.jpg and a.png both write labels/a.txt).
inline void check_outputs(const std::vector<std::filesystem::path>& images, const std::filesystem::path& out_dir,
                          const Parsed& args) {
  auto same_file = [](const std::filesystem::path& p) {  // ./a.jpg, a symlinked folder: one file
    std::error_code ec;
    std::filesystem::path canonical = std::filesystem::weakly_canonical(p, ec);
    return ec ? p : canonical;
  };
  std::map<std::filesystem::path, std::filesystem::path> inputs, writers;  // key: the file; value: the input as given
  for (const std::filesystem::path& image : images) inputs.emplace(same_file(image), image);
  auto claim = [&](const std::filesystem::path& output, const std::filesystem::path& image) {
    const std::filesystem::path file = same_file(output);
    if (auto it = inputs.find(file); it != inputs.end())
      fail("writing '", output.string(), "' would overwrite the input image '", it->second.string(),
           "'; choose another --out");
    std::error_code ec;  // a hard link to its own input has another path but is the same file
    if (std::filesystem::equivalent(output, image, ec))
      fail("writing '", output.string(), "' would overwrite the input image '", image.string(),
           "' (the same file under another name); choose another --out");
    const auto [it, fresh] = writers.emplace(file, image);
    require(fresh, "'", it->second.string(), "' and '", image.string(), "' would both write '", output.string(),
            "'; rename one of them");
  };
  for (const std::filesystem::path& image : images) {
    if (!args.flag("nosave")) claim(annotated_path(out_dir, image), image);
    if (args.flag("save-txt")) claim(labels_path(out_dir, image), image);
  }
}

template <class List>
int run_detect(const Parsed& args) {
  require(args.has("source"), "--source is required: an image or a folder of images");
  const std::vector<std::filesystem::path> images = list_images(args.text("source"));
  DetectorChoice choice = choose_detector(args);
  const std::pair<int, int> size = image_size(args, 640);  // (Clang 14 cannot capture structured bindings)
  const int height = size.first, width = size.second;
  const int threads = thread_count(args);
  const std::filesystem::path out_dir = args.text("out", "runs/detect");
  require(!args.flag("save-conf") || args.flag("save-txt"),
          "--save-conf adds the confidence to --save-txt's labels; give both");
  check_outputs(images, out_dir, args);

  return with_backbone_spec<List>(choice.arch, [&]<BackboneSpec B>() {
    std::string weights;
    DetectorRunner<B> runner(make_detector<B>(choice, 80, args.flag("allow-extra-keys"), &weights), threads);
    const int nc = runner.num_classes();
    const std::vector<std::string> names = class_names_for(args, nc);
    DetectOptions options;
    options.height = height;
    options.width = width;
    options.minimal_rectangle = args.flag("rect");
    options.nms = nms_options(args, nc);
    const bool save_images = !args.flag("nosave");
    create_output_folder(out_dir);
    if (args.flag("save-txt")) create_output_folder(out_dir / "labels");

    std::printf("arch %s, weights %s, input %dx%d, %d thread%s, %s\n", choice.arch.c_str(), weights.c_str(), height, width,
                runner.threads(), runner.threads() == 1 ? "" : "s", arch_name());
    {  // with --rect each image's input size is at most this one, whose memory serves it
      Stopwatch warm;
      plan_memory(height, width, "--imgsz", [&] { runner.warm_up(height, width); });
      std::printf("warm-up %.0f ms (plans and first touches the working memory)\n", warm.milliseconds());
    }
    DetectTimings total;
    std::vector<std::string> json_entries;
    for (std::size_t i = 0; i < images.size(); ++i) {
      const std::string path = images[i].string();
      Image image = load_image(path);
      DetectTimings t;
      const std::vector<Detection>& dets = runner.detect(image, options, &t);
      total.preprocess += t.preprocess;
      total.network += t.network;
      total.nms += t.nms;
      std::printf("image %zu/%zu %s: %dx%d, %s; preprocess %.1f ms, network %.1f ms, NMS %.1f ms\n", i + 1, images.size(),
                  path.c_str(), image.width, image.height, summarize(dets, names).c_str(), t.preprocess, t.network, t.nms);
      for (const Detection& d : dets)
        std::printf("  %-14s %.3f  [%.1f, %.1f, %.1f, %.1f]\n", names[static_cast<std::size_t>(d.cls)].c_str(), d.conf, d.x1,
                    d.y1, d.x2, d.y2);
      if (args.flag("save-txt")) write_labels(labels_path(out_dir, images[i]), dets, image, args.flag("save-conf"));
      if (args.flag("json")) json_entries.push_back(detections_json(path, image, dets, names));
      if (save_images) {
        draw_detections(image, dets, names);
        save_image(annotated_path(out_dir, images[i]).string(), image);
      }
    }
    const double n = static_cast<double>(images.size());
    std::printf("speed: %.1f ms preprocess, %.1f ms network, %.1f ms NMS per image at %s%dx%d\n", total.preprocess / n,
                total.network / n, total.nms / n, options.minimal_rectangle ? "up to " : "", height, width);
    if (args.flag("json")) {
      const std::filesystem::path json_path = out_dir / "detections.json";
      std::ofstream out(json_path);
      out << "[\n";
      for (std::size_t i = 0; i < json_entries.size(); ++i) out << "  " << json_entries[i] << (i + 1 < json_entries.size() ? ",\n" : "\n");
      out << "]\n";
      require(out.good(), json_path.string(), ": write failed");
    }
    if (save_images || args.flag("save-txt") || args.flag("json")) std::printf("results saved to %s\n", out_dir.string().c_str());
    return 0;
  });
}

}  // namespace riformer::cli
