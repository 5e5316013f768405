// End-to-end speed per variant and input size: the backbone alone and the
// whole detector network (backbone + neck + Detect head + decode), on 1 and 2
// threads, synthetic weights. The backbone's GFLOP/s counts its convolutions'
// multiply-adds (x2), %peak divides by the FMA peak measured at start-up.
//
//   bazel run //benchmarks:network_bench -- [--benchmark_filter=Detector/s12]
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "bench_support.hpp"
#include "riformer/riformer.hpp"

namespace {

using namespace riformer;

// Multiply-adds of the backbone's convolutions for an input of side `size`.
double backbone_flops(const BackboneSpec& s, int size) {
  const std::array<int, 4> sides = stage_sizes(size);
  double macs = static_cast<double>(sides[0]) * sides[0] * s.dims[0] * 3 * 49;  // stem
  for (int i = 0; i < 4; ++i) {
    const double pixels = static_cast<double>(sides[i]) * sides[i];
    macs += s.depths[i] * pixels * 2.0 * s.dims[i] * s.hidden(i);                            // fc1 + fc2
    if (i < 3) macs += static_cast<double>(sides[i + 1]) * sides[i + 1] * s.dims[i + 1] * s.dims[i] * 9;  // downsample
  }
  return 2 * macs;
}

template <BackboneSpec S>
void BM_Backbone(benchmark::State& state) {
  const int size = static_cast<int>(state.range(0)), threads = static_cast<int>(state.range(1));
  SyntheticSource source;
  BackboneRunner<S> runner(Backbone<S>(ParamScope(source, "")), threads);
  std::vector<float> image(static_cast<std::size_t>(size) * size * 3, 0.5f);
  const ImageView view = ImageView::hwc(image.data(), size, size, 3);
  runner.forward(view);
  riformer::bench::run_flops(state, backbone_flops(S, size), threads, [&] { benchmark::DoNotOptimize(runner.forward(view)); });
}

template <BackboneSpec S>
void BM_Detector(benchmark::State& state) {
  const int size = static_cast<int>(state.range(0)), threads = static_cast<int>(state.range(1));
  SyntheticSource source;
  DetectorRunner<S> runner(Detector<S>(ParamScope(source, ""), 80), threads);
  std::vector<float> image(static_cast<std::size_t>(size) * size * 3, 0.5f);
  const ImageView view = ImageView::hwc(image.data(), size, size, 3);
  runner.forward(view);
  runner.decode_last();
  for (auto _ : state) {
    runner.forward(view);
    benchmark::DoNotOptimize(runner.decode_last().data());
  }
}

void sizes(benchmark::internal::Benchmark* b) {
  for (int size : {224, 320, 640})
    for (int threads : {1, 2}) b->Args({size, threads});
}

#define RIFORMER_NETWORK_BENCHMARKS(spec, name)                                                                      \
  BENCHMARK(BM_Backbone<spec>)->Name("Backbone/" name)->Apply(sizes)->UseRealTime()->Unit(benchmark::kMillisecond); \
  BENCHMARK(BM_Detector<spec>)->Name("Detector/" name)->Apply(sizes)->UseRealTime()->Unit(benchmark::kMillisecond);

RIFORMER_NETWORK_BENCHMARKS(kS12, "s12")
RIFORMER_NETWORK_BENCHMARKS(kS24, "s24")
RIFORMER_NETWORK_BENCHMARKS(kS36, "s36")
RIFORMER_NETWORK_BENCHMARKS(kM36, "m36")
RIFORMER_NETWORK_BENCHMARKS(kM48, "m48")

}  // namespace

int main(int argc, char** argv) { return riformer::bench::run_benchmarks(argc, argv); }
