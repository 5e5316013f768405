#pragma once
// `riformer bench`: latency of the whole detector and of its parts (letterbox,
// backbone, neck + head, decode, NMS), min and median over repeated runs;
// with --layers also each layer's median (named as in the state_dict).
// Synthetic weights by default: no files needed, and speed does not depend on
// the weights' values.

#include <cstdio>
#include <string>
#include <vector>

#include "cli/args.hpp"
#include "cli/detector_setup.hpp"
#include "cli/resources.hpp"
#include "cli/timing.hpp"
#include "riformer/io/image.hpp"
#include "riformer/io/synthetic.hpp"
#include "riformer/models/riformer/dispatch.hpp"
#include "riformer/pipeline/detector_runner.hpp"

namespace riformer::cli {

inline const std::vector<Option>& bench_options() {
  static const std::vector<Option> options{
      kWeightsOption,
      kArchOption,
      kImageSizeOption,
      {"nc", "N", "classes of the synthetic head (without --weights)", "80"},
      {"threads", "N", "threads to run on (0: all cores)", "1"},
      {"runs", "R", "timed runs after one warm-up run", "10"},
      {"layers", "", "also time each layer of the network (R more runs)", ""},
      {"allow-extra-keys", "", "accept checkpoint keys the detector does not use", ""},
  };
  return options;
}

inline constexpr const char* kBenchSummary = "Times the detector and its parts; synthetic weights unless --weights is given.";

template <class List>
int run_bench(const Parsed& args) {
  DetectorChoice choice = choose_detector(args);
  const std::pair<int, int> size = image_size(args, 640);  // (Clang 14 cannot capture structured bindings)
  const int height = size.first, width = size.second;
  const int threads = thread_count(args);
  const int runs = static_cast<int>(args.integer("runs", 10, 1, 100000));
  const int nc = static_cast<int>(args.integer("nc", 80, 1, 100000));
  require(!args.has("nc") || !args.has("weights"),
          "--nc is for synthetic weights; with --weights the classes come from the checkpoint");

  return with_backbone_spec<List>(choice.arch, [&]<BackboneSpec B>() {
    std::string weights;
    Detector<B> net = make_detector<B>(choice, nc, args.flag("allow-extra-keys"), &weights);
    Context ctx(threads);
    DetectorWorkspace ws;
    // As detection runs it: the head does not read P2.
    plan_memory(height, width, "--imgsz", [&] { net.plan(ws, height, width, /*with_p2=*/false); });

    // A synthetic 1280x720 "camera frame", letterboxed like a real one.
    Image frame{1280, 720, std::vector<std::uint8_t>(1280 * 720 * 3)};
    const HostTensor noise = synthetic::tensor("input", {static_cast<std::int64_t>(frame.rgb.size())});
    for (std::size_t i = 0; i < frame.rgb.size(); ++i) frame.rgb[i] = static_cast<std::uint8_t>(noise.data[i] * 255);
    const LetterboxGeometry g = letterbox_geometry(frame.width, frame.height, width, height);
    Image boxed;
    LetterboxScratch letterbox_scratch;
    std::vector<float> input(static_cast<std::size_t>(height) * width * 3);
    const ImageView view = ImageView::hwc(input.data(), height, width, 3);
    std::vector<float> pred;
    NmsWorkspace nms_ws;
    std::vector<float> nms_row;
    DetectorOutputs out{};

    const Latency pre = measure(runs, [&] {
      letterbox(frame, g, boxed, letterbox_scratch);
      image_to_hwc(boxed, input.data());
    });
    const Latency backbone = measure(runs, [&] { net.run_backbone(ctx, view, ws); });
    const Latency head = measure(runs, [&] { out.levels = net.run_head(ctx, ws); });
    const Latency network = measure(runs, [&] { out = net.run(ctx, view, ws); });
    // Every row decoded, as an exported model's output is (what compare.py puts beside ONNX Runtime).
    pred.resize(decoded_rows(out.levels) * static_cast<std::size_t>(net.num_classes() + 5));
    const Latency decoding = measure(runs, [&] { decode(out.levels, net.num_classes(), pred.data()); });
    // As detect() runs it: only the rows with a confident objectness are decoded, inside NMS.
    const Latency nms = measure(runs, [&] { non_max_suppression(out.levels, net.num_classes(), NmsOptions{}, nms_ws, nms_row); });

    std::printf("arch %s, weights %s, input %dx%d, %d thread%s, %s, %d runs\n", choice.arch.c_str(), weights.c_str(),
                height, width, ctx.threads(), ctx.threads() == 1 ? "" : "s", arch_name(), runs);
    std::printf("%-28s %10s %10s\n", "stage", "min ms", "median ms");
    auto row = [](const char* name, double min, double median) { std::printf("%-28s %10.2f %10.2f\n", name, min, median); };
    row("letterbox 1280x720 frame", pre.min, pre.median);
    row("backbone", backbone.min, backbone.median);
    row("neck + Detect head", head.min, head.median);
    row("network (backbone + head)", network.min, network.median);
    row("decode, every row", decoding.min, decoding.median);
    row("NMS, decoding its rows", nms.min, nms.median);
    row("total (letterbox, net, NMS)", pre.min + network.min + nms.min, pre.median + network.median + nms.median);
    if (args.flag("layers"))
      print_layer_times(runs, [&] { net.run(ctx, view, ws); }, [&](LayerTimer* t) { ctx.set_layer_timer(t); });
    return 0;
  });
}

}  // namespace riformer::cli
