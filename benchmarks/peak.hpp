#pragma once
// The machine's FP32 FMA peak, measured rather than looked up: each thread runs
// independent fused multiply-adds on enough vector accumulators to hide the FMA
// latency (2 FMA units x 4-cycle latency = 8 in flight), for a fixed time: 16
// with 32 vector registers, 12 with 16, which must also hold the two operands
// (16 there spilled: an AVX2 build on a Zen 5 read 117 GFLOP/s, less than its
// own network ran at). Percent-of-peak figures in the benchmarks divide by
// this number, measured in the same run.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include <xsimd/xsimd.hpp>

#include "riformer/core/arch.hpp"

namespace riformer::bench {

// GFLOP/s (2 per FMA lane) of `threads` threads for `seconds`.
inline double fma_peak_gflops(int threads, double seconds = 0.3) {
  using B = xsimd::batch<float, DefaultArch>;
  constexpr int kAccumulators = vector_registers<DefaultArch>() >= 32 ? 16 : 12;
  std::atomic<long long> total_fmas{0};
  std::vector<std::thread> pool;
  const auto start = std::chrono::steady_clock::now();
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&] {
      B acc[kAccumulators];
      for (int i = 0; i < kAccumulators; ++i) acc[i] = B(1.0f + 1e-3f * static_cast<float>(i));
      const B a(0.999999f), b(1e-7f);
      long long iterations = 0;
      while (std::chrono::steady_clock::now() - start < std::chrono::duration<double>(seconds)) {
        for (int rep = 0; rep < 1024; ++rep)
          for (int i = 0; i < kAccumulators; ++i) acc[i] = fmadd(acc[i], a, b);
        iterations += 1024;
      }
      float sink = 0;
      for (int i = 0; i < kAccumulators; ++i) sink += xsimd::hadd(acc[i]);
      if (sink == 42.0f) iterations++;  // keeps the loop observable
      total_fmas += iterations * kAccumulators * static_cast<long long>(B::size);
    });
  for (auto& t : pool) t.join();
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return 2.0 * static_cast<double>(total_fmas.load()) / elapsed / 1e9;
}

// The best of a few measurements (the machine may be busy for part of one).
inline double best_fma_peak_gflops(int threads, int tries = 3) {
  double best = 0;
  for (int i = 0; i < tries; ++i) best = std::max(best, fma_peak_gflops(threads));
  return best;
}

}  // namespace riformer::bench
