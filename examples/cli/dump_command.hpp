#pragma once
// `riformer dump`: every intermediate a user needs to check parity with
// PyTorch, as float32 .npy files: the backbone's P2..P5 (NCHW), the raw Detect
// maps before the sigmoid ([1, 3, ny, nx, nc + 5]), the decoded predictions
// ([1, N, nc + 5]) and the NMS rows ([K, 6]: x1, y1, x2, y2, conf, class, in
// input pixels), for an input tensor that is already letterboxed.

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "cli/args.hpp"
#include "cli/inputs.hpp"
#include "cli/detect_command.hpp"
#include "cli/detector_setup.hpp"
#include "cli/resources.hpp"
#include "riformer/io/npy.hpp"
#include "riformer/models/riformer/dispatch.hpp"
#include "riformer/pipeline/detector_runner.hpp"

namespace riformer::cli {

inline const std::vector<Option>& dump_options() {
  static const std::vector<Option> options{
      kWeightsOption,
      kArchOption,
      {"input", "FILE", ".npy float32 [1, 3, H, W] RGB in [0, 1], letterboxed (H, W multiples of 32)", ""},
      {"out", "DIR", "where the .npy files go", ""},
      {"conf-thres", "X", "confidence threshold of nms.npy", "0.25"},
      {"iou-thres", "X", "NMS IoU threshold of nms.npy", "0.45"},
      {"max-det", "N", "maximum rows of nms.npy", "300"},
      {"classes", "C", "keep only these class indices in nms.npy", "", true},
      {"agnostic-nms", "", "class-agnostic NMS for nms.npy", ""},
      {"threads", "N", "threads to run on (0: all cores)", "1"},
      {"allow-extra-keys", "", "accept checkpoint keys the detector does not use", ""},
  };
  return options;
}

// The files dump writes into --out: P2-P5, the Detect maps of levels 0..2, the predictions, the NMS rows. The check
// that --input is not one of them and the writes both take the names from here, so the two cannot drift apart.
inline constexpr std::array<std::string_view, 9> kDumpFiles{
    "p2.npy", "p3.npy", "p4.npy", "p5.npy", "head0.npy", "head1.npy", "head2.npy", "pred.npy", "nms.npy"};
static_assert(kDumpFiles.size() == 4 + kDetectLevels + 2, "kDumpFiles: one name per file written");

inline constexpr const char* kDumpSummary = "Writes P2-P5, the Detect maps, predictions and NMS rows as .npy, for parity checks.";

template <class List>
int run_dump(const Parsed& args) {
  require(args.has("input") && args.has("out"), "--input and --out are required");
  NpyArray x = read_npy(args.text("input"));
  const std::pair<int, int> size = npy_image_size(x, args.text("input"));  // (Clang 14 cannot capture structured bindings)
  const int h = size.first, w = size.second;
  check_input_kept(args.text("input"), args.text("out"), kDumpFiles);
  DetectorChoice choice = choose_detector(args);
  const std::filesystem::path dir = args.text("out");
  create_output_folder(dir);

  return with_backbone_spec<List>(choice.arch, [&]<BackboneSpec B>() {
    std::string weights;
    DetectorRunner<B> runner(make_detector<B>(choice, 80, args.flag("allow-extra-keys"), &weights), thread_count(args));
    const int nc = runner.num_classes();
    const DetectorOutputs& out = runner.forward(ImageView::chw(x.data.data(), h, w, 3));
    auto save = [&](std::string_view name, const float* data, const Shape& shape) {
      const std::string path = (dir / name).string();
      write_npy(path, data, shape);
      std::printf("wrote %-40s %s\n", path.c_str(), to_string(shape).c_str());
    };
    for (int i = 0; i < 4; ++i) {
      const auto nchw = out.backbone[i].to_nchw();
      save(kDumpFiles[i], nchw.data(), Shape(nchw.shape().begin(), nchw.shape().end()));
    }
    std::vector<float> head;
    for (int l = 0; l < kDetectLevels; ++l) {
      const DetectLevel& level = out.levels[l];
      head.resize(static_cast<std::size_t>(3) * level.ny * level.nx * (nc + 5));
      raw_head(level, nc, head.data());
      save(kDumpFiles[4 + l], head.data(), {1, 3, level.ny, level.nx, nc + 5});
    }
    const std::vector<float>& pred = runner.decode_last();
    const auto rows = static_cast<std::int64_t>(pred.size() / static_cast<std::size_t>(nc + 5));
    save(kDumpFiles[4 + kDetectLevels], pred.data(), {1, rows, nc + 5});
    const std::vector<Detection>& dets = runner.nms_last(nms_options(args, nc));
    std::vector<float> table;
    for (const Detection& d : dets) table.insert(table.end(), {d.x1, d.y1, d.x2, d.y2, d.conf, static_cast<float>(d.cls)});
    save(kDumpFiles.back(), table.data(), {static_cast<std::int64_t>(dets.size()), 6});
    std::printf("arch %s, weights %s, input %dx%d, %zu detections\n", choice.arch.c_str(), weights.c_str(), h, w, dets.size());
    return 0;
  });
}

}  // namespace riformer::cli
