#pragma once
// Wall-clock timing for the command-line tool: repeated runs, min and median,
// since the machines this runs on (shared CI boxes, laptops) are noisy.

#include <algorithm>
#include <chrono>
#include <vector>

namespace riformer::cli {

class Stopwatch {
 public:
  Stopwatch() : start_(std::chrono::steady_clock::now()) {}
  [[nodiscard]] double milliseconds() const {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  std::chrono::steady_clock::time_point start_;
};

struct Latency {
  double first = 0, min = 0, median = 0;
  int runs = 0;
};

// The median of `times` (sorted in place); 0 for none.
inline double median(std::vector<double>& times) {
  if (times.empty()) return 0;
  std::sort(times.begin(), times.end());
  const std::size_t n = times.size();
  return n % 2 ? times[n / 2] : 0.5 * (times[n / 2 - 1] + times[n / 2]);
}

// Times `runs` calls of f after one untimed warm-up call (reported as `first`).
template <class F>
Latency measure(int runs, F&& f) {
  Latency l;
  Stopwatch warm;
  f();
  l.first = warm.milliseconds();
  std::vector<double> times;
  for (int i = 0; i < runs; ++i) {
    Stopwatch s;
    f();
    times.push_back(s.milliseconds());
  }
  l.runs = runs;
  if (times.empty()) {
    l.min = l.median = l.first;
    return l;
  }
  l.median = median(times);
  l.min = times.front();
  return l;
}

}  // namespace riformer::cli
