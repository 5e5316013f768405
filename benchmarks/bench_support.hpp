#pragma once
// What the Google Benchmark programs share: deterministic input data, the FMA
// peak measured at start-up, and GFLOP/s and percent-of-peak counters.

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <thread>

#include "peak.hpp"
#include "riformer/core/aligned_buffer.hpp"
#include "riformer/io/synthetic.hpp"

namespace riformer::bench {

// Deterministic values in [-1, 1): the speed of a kernel does not depend on
// them. 64-byte aligned, as the network's own buffers are.
inline AlignedBuffer data(std::size_t n, const char* key) {
  AlignedBuffer v(n);
  const std::uint32_t seed = synthetic::fnv1a(key);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<float>(2 * synthetic::uniform(seed, static_cast<std::uint32_t>(i)) - 1);
  return v;
}

// A kernel's output, 64-byte aligned as the network's buffers are. From a
// std::vector (16 bytes past a cache line, as glibc places large blocks) each
// 64-byte row segment straddles two lines, and the GEMMs that write much and
// compute little slowed down 10-20%, the library and oneDNN alike (Xeon,
// 2026-12-02, 1 thread: 25600 x 96 x 384 at 135 against 162 GFLOP/s, oneDNN
// 139 against 169).
inline AlignedBuffer output(std::size_t n) { return AlignedBuffer(n); }

// The FMA peak of 1 and 2 threads (GFLOP/s; index = threads), measured once by
// measure_peaks() at the start of the program, in the same run as the kernels.
inline double g_peak[3] = {0, 0, 0};

inline void measure_peaks() {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int t = 1; t <= std::min(cores, 2); ++t) g_peak[t] = best_fma_peak_gflops(t);
  std::printf("FMA peak measured now: %.1f GFLOP/s (1 thread), %.1f GFLOP/s (2 threads)\n", g_peak[1], g_peak[2]);
}

// The main() of a benchmark program: the FMA peak first, then every registered benchmark.
inline int run_benchmarks(int argc, char** argv) {
  measure_peaks();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

// Runs `body` once per benchmark iteration and reports GFLOP/s and percent of
// the FMA peak of `threads` threads. The loop is timed here (wall clock) so
// that both are plain numbers rather than Google Benchmark's per-second rates.
template <class Body>
void run_flops(benchmark::State& state, double flops_per_iteration, int threads, Body&& body) {
  const auto start = std::chrono::steady_clock::now();
  for (auto _ : state) body();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double gflops = flops_per_iteration * static_cast<double>(state.iterations()) / seconds * 1e-9;
  state.counters["GFLOP/s"] = gflops;
  if (threads >= 1 && threads <= 2 && g_peak[threads] > 0) state.counters["%peak"] = 100 * gflops / g_peak[threads];
}

}  // namespace riformer::bench
