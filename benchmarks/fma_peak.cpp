// Prints the FP32 FMA peak of this machine for 1 .. N threads (the ceiling the
// kernel benchmarks are measured against).
#include <cstdio>
#include <thread>

#include "peak.hpp"

int main() {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::printf("FP32 FMA peak, %s (%d floats per vector)\n", riformer::arch_name(), riformer::vector_floats<riformer::DefaultArch>());
  for (int t = 1; t <= cores; ++t) std::printf("%d thread%s: %.1f GFLOP/s\n", t, t == 1 ? " " : "s", riformer::bench::best_fma_peak_gflops(t));
  return 0;
}
