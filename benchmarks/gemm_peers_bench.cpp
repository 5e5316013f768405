// The peers of the GEMM benchmark: oneDNN's dnnl_sgemm and OpenBLAS's
// cblas_sgemm on exactly the shapes of kernels_bench (RIFormer's MLPs), row
// major, C = A . B, on 1 and 2 threads. Linked only here: the library depends
// on neither.
//
//   benchmarks/run_kernels.sh    (sets OPENBLAS_CORETYPE=SkylakeX: Debian's
//                                 OpenBLAS otherwise picks SSE3 kernels here)
#include <benchmark/benchmark.h>
#include <cblas.h>
#include <omp.h>
#include <oneapi/dnnl/dnnl.h>

#include <cstdio>
#include <thread>
#include <vector>

#include "peak.hpp"
#include "riformer/io/synthetic.hpp"
#include "shapes.hpp"

extern "C" void openblas_set_num_threads(int);

namespace {

double g_peak[3] = {0, 0, 0};

// Deterministic values in [-1, 1): the speed of a kernel does not depend on them.
std::vector<float> data(std::size_t n, const char* key) {
  std::vector<float> v(n);
  const std::uint32_t seed = riformer::synthetic::fnv1a(key);
  for (std::size_t i = 0; i < n; ++i)
    v[i] = static_cast<float>(2 * riformer::synthetic::uniform(seed, static_cast<std::uint32_t>(i)) - 1);
  return v;
}

template <class Multiply>
void run(benchmark::State& state, Multiply multiply) {
  const auto shape = riformer::bench::riformer_mlp_shapes()[static_cast<std::size_t>(state.range(0))];
  const int threads = static_cast<int>(state.range(1));
  state.SetLabel(shape.name);
  const auto a = data(static_cast<std::size_t>(shape.m) * shape.k, "a.weight");
  const auto b = data(static_cast<std::size_t>(shape.k) * shape.n, "b.weight");
  std::vector<float> c(static_cast<std::size_t>(shape.m) * shape.n);
  for (auto _ : state) {
    multiply(shape, threads, a.data(), b.data(), c.data());
    benchmark::DoNotOptimize(c.data());
  }
  const double flops = 2.0 * shape.m * shape.k * shape.n;
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  if (g_peak[threads] > 0)
    state.counters["%peak"] = benchmark::Counter(flops * 1e-9 / g_peak[threads] * 100, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_OneDnnSgemm(benchmark::State& state) {
  run(state, [](const riformer::bench::GemmShape& s, int threads, const float* a, const float* b, float* c) {
    omp_set_num_threads(threads);
    dnnl_sgemm('N', 'N', s.m, s.n, s.k, 1.0f, a, s.k, b, s.n, 0.0f, c, s.n);
  });
}

void BM_OpenBlasSgemm(benchmark::State& state) {
  run(state, [](const riformer::bench::GemmShape& s, int threads, const float* a, const float* b, float* c) {
    openblas_set_num_threads(threads);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s.m, s.n, s.k, 1.0f, a, s.k, b, s.n, 0.0f, c, s.n);
  });
}

void gemm_args(benchmark::internal::Benchmark* b) {
  const int n = static_cast<int>(riformer::bench::riformer_mlp_shapes().size());
  for (int threads : {1, 2})
    for (int i = 0; i < n; ++i) b->Args({i, threads});
}
BENCHMARK(BM_OneDnnSgemm)->Apply(gemm_args)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_OpenBlasSgemm)->Apply(gemm_args)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) {
  for (int t = 1; t <= 2; ++t) g_peak[t] = riformer::bench::best_fma_peak_gflops(t);
  std::printf("FMA peak measured now: %.1f GFLOP/s (1 thread), %.1f GFLOP/s (2 threads)\n", g_peak[1], g_peak[2]);
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
