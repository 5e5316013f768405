#pragma once
// Wall-clock timing for the command-line tool: repeated runs, min and median,
// since the machines this runs on (shared CI boxes, laptops) are noisy; and
// the per-layer table of --layers.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <vector>

#include "riformer/core/layer_timer.hpp"

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

// Runs `pass` `runs` times with a LayerTimer attached (attach(&timer), and
// attach(nullptr) after) and prints each layer's median time and its share of
// the sum of the medians.
template <class Pass, class Attach>
void print_layer_times(int runs, Pass&& pass, Attach&& attach) {
  LayerTimer timer;
  attach(&timer);
  std::vector<const char*> names;
  std::vector<std::vector<double>> times;
  for (int r = 0; r < runs; ++r) {
    timer.clear();
    pass();
    for (const LayerTimer::Entry& e : timer.entries()) {
      const auto it = std::find_if(names.begin(), names.end(), [&](const char* n) { return std::strcmp(n, e.name) == 0; });
      const std::size_t i = static_cast<std::size_t>(it - names.begin());
      if (it == names.end()) {
        names.push_back(e.name);
        times.emplace_back();
      }
      times[i].push_back(e.ms);
    }
  }
  attach(nullptr);
  std::vector<double> medians;
  for (auto& t : times) medians.push_back(median(t));
  double sum = 0;
  for (double m : medians) sum += m;
  std::printf("\n%-28s %10s %10s\n", "layer", "median ms", "share");
  for (std::size_t i = 0; i < names.size(); ++i)
    std::printf("%-28s %10.3f %9.1f%%\n", names[i], medians[i], sum > 0 ? 100 * medians[i] / sum : 0.0);
  std::printf("%-28s %10.3f\n", "sum of the layers' medians", sum);
}

}  // namespace riformer::cli
