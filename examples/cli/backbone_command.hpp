#pragma once
// `riformer backbone`: load a checkpoint (or make up synthetic weights), run
// the RIFormer backbone on an input, print the four stage outputs' shapes and
// the latency, and optionally write them as NCHW float32 .npy files for
// comparison with PyTorch.

#include <array>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "cli/args.hpp"
#include "cli/inputs.hpp"
#include "cli/resources.hpp"
#include "cli/timing.hpp"
#include "riformer/core/arch.hpp"
#include "riformer/io/npy.hpp"
#include "riformer/io/safetensors.hpp"
#include "riformer/io/safetensors_source.hpp"
#include "riformer/io/synthetic.hpp"
#include "riformer/models/riformer/backbone.hpp"
#include "riformer/models/riformer/checkpoint.hpp"
#include "riformer/models/riformer/dispatch.hpp"

namespace riformer::cli {

inline const std::vector<Option>& backbone_options() {
  static const std::vector<Option> options{
      {"weights", "FILE", "safetensors checkpoint (tools/export_weights.py makes one); none: synthetic weights", ""},
      {"arch", "NAME", "s12, s24, s36, m36 or m48; default: the checkpoint's", "s12 without --weights"},
      {"input", "FILE", ".npy float32 tensor [1, 3, H, W] (RGB, as the model was trained)", ""},
      {"imgsz", "N", "without --input: a synthetic N x N input", "224"},
      {"height", "H", "without --input: synthetic input height (overrides --imgsz)", ""},
      {"width", "W", "without --input: synthetic input width (overrides --imgsz)", ""},
      {"threads", "N", "threads to run on (0: all cores)", "1"},
      {"runs", "R", "timed runs after one warm-up run", "10"},
      {"layers", "", "also time each layer (R more runs)", ""},
      {"out", "DIR", "write p2.npy ... p5.npy (NCHW float32) into DIR", ""},
      {"allow-extra-keys", "", "accept checkpoint keys the backbone does not use", ""},
  };
  return options;
}

// The files --out gets, one per backbone output in order. The check that --input is not one of them and the writes
// both take the names from here, so the two cannot drift apart.
inline constexpr std::array<std::string_view, 4> kBackboneFiles{"p2.npy", "p3.npy", "p4.npy", "p5.npy"};

inline constexpr const char* kBackboneSummary =
    "Runs the RIFormer backbone and prints its four outputs (strides 4, 8, 16, 32) and latency.";

template <class List>
int run_backbone(const Parsed& args) {
  // Weights: a checkpoint, or the synthetic formula.
  std::optional<SafetensorsFile> file;
  BackboneCheckpointInfo info;
  if (args.has("weights")) {
    file = SafetensorsFile::open(args.text("weights"));
    info = inspect_backbone(*file);
  }
  const std::string arch = file ? checkpoint_arch(args, file->path(), info) : args.text("arch", "s12");

  // Input: a .npy tensor, or the synthetic one.
  HostTensor input;
  std::string input_name;
  if (args.has("input")) {
    for (const char* size : {"imgsz", "height", "width"})
      require(!args.has(size), "--", size, " is for the synthetic input; the size comes from --input");
    NpyArray a = read_npy(args.text("input"));
    (void)npy_image_size(a, args.text("input"));
    if (args.has("out"))
      check_input_kept(args.text("input"), args.text("out"), kBackboneFiles);
    input = {a.shape, std::move(a.data)};
    input_name = args.text("input");
  } else {
    const long size = args.integer("imgsz", 224, kMinInputSize, kMaxInputSide);
    const long h = args.integer("height", size, kMinInputSize, kMaxInputSide);
    const long w = args.integer("width", size, kMinInputSize, kMaxInputSide);
    input = synthetic::tensor("input", {1, 3, h, w});
    input_name = "synthetic";
  }
  const int height = static_cast<int>(input.shape[2]), width = static_cast<int>(input.shape[3]);
  const int threads = thread_count(args);
  const int runs = static_cast<int>(args.integer("runs", 10, 0, 100000));
  require(runs > 0 || !args.flag("layers"), "--layers times R more runs: give --runs 1 or more");

  return with_backbone_spec<List>(arch, [&]<BackboneSpec S>() {
    Stopwatch load_time;
    Backbone<S> net;
    std::string weights_name;
    if (file) {
      check_backbone_topology(info, S, file->path());
      SafetensorsSource source(std::move(*file), LoadOptions{info.prefix, args.flag("allow-extra-keys"), {}});
      net.load(ParamScope(source, info.prefix));
      source.finish();
      weights_name = source.describe() + " (" + (info.deploy_form ? "deploy" : "training") + " form" +
                     (info.prefix.empty() ? "" : ", keys under '" + info.prefix + "'") + ")";
    } else {
      SyntheticSource synthetic;
      net.load(ParamScope(synthetic, ""));
      weights_name = "SYNTHETIC (no --weights given)";
      std::cerr << "WARNING: no --weights: running on deterministic synthetic weights. The outputs only show that the\n"
                   "         network runs; they mean nothing. Convert a trained checkpoint with tools/export_weights.py.\n";
    }
    const double load_ms = load_time.milliseconds();

    BackboneRunner<S> runner(std::move(net), threads);
    plan_memory(height, width, args.has("input") ? "--input" : "--imgsz", [&] { runner.reserve(height, width); });
    const ImageView image = ImageView::chw(input.data.data(), height, width, 3);
    typename Backbone<S>::Outputs outs{};
    const Latency latency = measure(runs, [&] { outs = runner.forward(image); });

    std::printf("arch      %s\nweights   %s, loaded in %.0f ms\ninput     %s [1, 3, %d, %d]\n", arch.c_str(),
                weights_name.c_str(), load_ms, input_name.c_str(), height, width);
    const char* names[] = {"p2", "p3", "p4", "p5"};
    for (std::size_t i = 0; i < outs.size(); ++i)
      std::printf("%-9s [1, %d, %d, %d]  stride %d\n", names[i], outs[i].channels, outs[i].height, outs[i].width, 4 << i);
    std::printf("latency   median %.2f ms, min %.2f ms over %d runs (first run %.2f ms); %d thread%s, %s\n",
                latency.median, latency.min, latency.runs, latency.first, runner.threads(),
                runner.threads() == 1 ? "" : "s", arch_name());
    if (args.flag("layers"))
      print_layer_times(runs, [&] { runner.forward(image); }, [&](LayerTimer* t) { runner.set_layer_timer(t); });

    if (args.has("out")) {
      const std::filesystem::path dir = args.text("out");
      create_output_folder(dir);
      for (std::size_t i = 0; i < outs.size(); ++i) {
        const auto nchw = outs[i].to_nchw();
        const std::string path = (dir / kBackboneFiles[i]).string();
        write_npy(path, nchw.data(), Shape(nchw.shape().begin(), nchw.shape().end()));
        std::printf("wrote     %s\n", path.c_str());
      }
    }
    return 0;
  });
}

}  // namespace riformer::cli
