// The smallest program that embeds the library: include the headers, load a
// backbone, run it on a [1, 3, H, W] tensor. Builds without Bazel:
//
//   g++ -std=c++20 -O3 -march=native -Iinclude examples/embed_backbone.cpp -pthread
//   ./a.out [weights.safetensors]
//
// With no checkpoint it makes up synthetic weights, so it runs anywhere.
#include <cstdio>

#include <riformer/riformer.hpp>

int main(int argc, char** argv) try {
  using namespace riformer;

  // A Backbone<kS12> is RIFormer-S12 compiled for this CPU; weights are folded
  // (re-parameterized) and packed once, here.
  Backbone<kS12> net;
  if (argc > 1) {
    net = load_backbone<kS12>(argv[1]);
  } else {
    SyntheticSource synthetic;
    net.load(ParamScope(synthetic, ""));
  }

  // The runner owns the threads and the working memory (planned per input size).
  BackboneRunner<kS12> runner(std::move(net), /*threads=*/1);
  xt::xtensor<float, 4> image = xt::ones<float>({1, 3, 224, 224}) * 0.5f;  // [1, 3, H, W], RGB in [0, 1]
  const auto outputs = runner.forward(image);  // 4 stages, strides 4 ... 32

  for (const FeatureMap& f : outputs) std::printf("[1, %d, %d, %d]\n", f.channels, f.height, f.width);
  const auto p5 = outputs[3].to_nchw();  // an xtensor [1, 512, 7, 7] copy
  std::printf("p5[0, 0, 0, 0] = %f\n", p5(0, 0, 0, 0));
  return 0;
} catch (const riformer::Error& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 2;
}
