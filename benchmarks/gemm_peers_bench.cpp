// The library's GEMM beside its peers, oneDNN's dnnl_sgemm and OpenBLAS's
// cblas_sgemm, on every RIFormer MLP shape (benchmarks/shapes.hpp), row major,
// C = A . B, on 1 and 2 threads. The three are registered shape by shape so
// that a run interleaves them; benchmarks/gemm_compare.py runs this with
// repetitions and prints medians and ratios. oneDNN and OpenBLAS are linked
// only here: the library depends on neither.
//
// OpenBLAS needs OPENBLAS_CORETYPE=SkylakeX on this machine (Debian's build
// otherwise picks SSE3 kernels for an unknown CPU); gemm_compare.py sets it.
#include <benchmark/benchmark.h>
#include <cblas.h>
#include <omp.h>
#include <oneapi/dnnl/dnnl.h>

#include <string>

#include "bench_support.hpp"
#include "riformer/core/context.hpp"
#include "riformer/kernels/gemm.hpp"
#include "shapes.hpp"

extern "C" void openblas_set_num_threads(int);

namespace {

using riformer::bench::GemmShape;

// The three contenders: C (m x n) = A (m x k) . B (k x n), all row major.
void riformer_gemm(benchmark::State& state, const GemmShape& s, int threads, const float* a, const float* b, float* c) {
  riformer::Context ctx(threads);
  const auto packed = riformer::kernels::pack_matrix(b, nullptr, s.k, s.n);  // once, at load, as the network does
  riformer::bench::run_flops(state, 2.0 * s.m * s.k * s.n, threads, [&] {
    riformer::kernels::gemm(ctx, s.m, a, s.k, packed, c, s.n);
    benchmark::DoNotOptimize(c);
  });
}

void onednn_gemm(benchmark::State& state, const GemmShape& s, int threads, const float* a, const float* b, float* c) {
  omp_set_num_threads(threads);
  riformer::bench::run_flops(state, 2.0 * s.m * s.k * s.n, threads, [&] {
    dnnl_sgemm('N', 'N', s.m, s.n, s.k, 1.0f, a, s.k, b, s.n, 0.0f, c, s.n);
    benchmark::DoNotOptimize(c);
  });
}

void openblas_gemm(benchmark::State& state, const GemmShape& s, int threads, const float* a, const float* b, float* c) {
  openblas_set_num_threads(threads);
  riformer::bench::run_flops(state, 2.0 * s.m * s.k * s.n, threads, [&] {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s.m, s.n, s.k, 1.0f, a, s.k, b, s.n, 0.0f, c, s.n);
    benchmark::DoNotOptimize(c);
  });
}

using Contender = void (*)(benchmark::State&, const GemmShape&, int, const float*, const float*, float*);

// Registers "<name>/<shape>/threads:<t>" running `run` on fresh operands of the shape.
void register_gemm(const char* name, Contender run, const GemmShape& shape, int threads) {
  const std::string label = std::string(name) + "/" + shape.name + "/threads:" + std::to_string(threads);
  benchmark::RegisterBenchmark(label.c_str(),
                               [run, shape, threads](benchmark::State& state) {
                                 const auto a = riformer::bench::data(static_cast<std::size_t>(shape.m) * shape.k, "a.weight");
                                 const auto b = riformer::bench::data(static_cast<std::size_t>(shape.k) * shape.n, "b.weight");
                                 auto c = riformer::bench::output(static_cast<std::size_t>(shape.m) * shape.n);
                                 run(state, shape, threads, a.data(), b.data(), c.data());
                               })
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
}

}  // namespace

int main(int argc, char** argv) {
  for (int threads : {1, 2})
    for (const GemmShape& shape : riformer::bench::riformer_mlp_shapes()) {
      register_gemm("riformer", riformer_gemm, shape, threads);
      register_gemm("onednn", onednn_gemm, shape, threads);
      register_gemm("openblas", openblas_gemm, shape, threads);
    }
  return riformer::bench::run_benchmarks(argc, argv);
}
