#pragma once
// Where a forward pass spends its time, layer by layer. The models mark the
// end of each layer with the name of its PyTorch module ("network.4",
// "model.13"); a LayerTimer attached to the Context adds the wall time since
// the previous mark to that name. The table is fixed in size, so timing
// allocates nothing; with no timer attached a mark is one null check.
//
//   LayerTimer timer;
//   ctx.set_layer_timer(&timer);
//   net.run(ctx, image, ws);
//   for (const auto& e : timer.entries()) std::printf("%s %.2f ms\n", e.name, e.ms);

#include <chrono>
#include <cstring>
#include <span>

#include "riformer/core/error.hpp"

namespace riformer {

class LayerTimer {
 public:
  // More than any model here marks in one pass (the S12 detector: 25).
  static constexpr int kMaxLayers = 64;

  struct Entry {
    const char* name = nullptr;
    double ms = 0;   // total over the marks since clear()
    int marks = 0;   // how many times the layer ended
  };

  // Starts the clock: the next mark's time is counted from here. The models
  // call it where a pass begins.
  void start() { last_ = Clock::now(); }

  // Ends the layer `name` (a string that outlives the timer, e.g. a literal):
  // adds the time since the previous mark or start() to its entry, appending
  // the entry on its first mark.
  void mark(const char* name) {
    const Clock::time_point now = Clock::now();
    Entry& e = find_or_add(name);
    e.ms += std::chrono::duration<double, std::milli>(now - last_).count();
    ++e.marks;
    last_ = now;
  }

  // The layers in the order of their first mark.
  [[nodiscard]] std::span<const Entry> entries() const { return {entries_, static_cast<std::size_t>(count_)}; }

  void clear() { count_ = 0; }

 private:
  using Clock = std::chrono::steady_clock;

  Entry& find_or_add(const char* name) {
    for (int i = 0; i < count_; ++i)
      if (entries_[i].name == name || std::strcmp(entries_[i].name, name) == 0) return entries_[i];
    require(count_ < kMaxLayers, "LayerTimer: more than ", kMaxLayers, " layers marked; cannot add '", name, "'");
    entries_[count_] = Entry{name, 0, 0};
    return entries_[count_++];
  }

  Entry entries_[kMaxLayers];
  int count_ = 0;
  Clock::time_point last_ = Clock::now();
};

}  // namespace riformer
