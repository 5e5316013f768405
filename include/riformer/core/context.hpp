#pragma once
// What every kernel receives besides its operands: the threads to run on and
// each thread's scratch memory. Both are made once, when the Context is built;
// kernels never allocate. Models also report the end of each layer here, for
// an optional LayerTimer.

#include <memory>
#include <vector>

#include "riformer/core/address_sanitizer.hpp"
#include "riformer/core/aligned_buffer.hpp"
#include "riformer/core/error.hpp"
#include "riformer/core/layer_timer.hpp"
#include "riformer/core/thread_pool.hpp"

namespace riformer {

class Context {
 public:
  // Floats of scratch memory each thread owns (512 KiB: a packed block of
  // activations for the GEMM, or a row tile of a fused MLP, sized for L2).
  static constexpr std::size_t kScratchFloats = 128 * 1024;

  // threads = 1 runs everything on the calling thread and starts no thread.
  explicit Context(int threads = 1) {
    if (threads != 1) pool_ = std::make_unique<ThreadPool>(threads);
    scratch_.resize(static_cast<std::size_t>(this->threads()));
    for (auto& s : scratch_) s.resize(kScratchFloats);
  }

  [[nodiscard]] int threads() const { return pool_ ? pool_->size() : 1; }

  // Calls fn(task, worker) for every task in [0, tasks); worker < threads().
  template <class Fn>
  void parallel(int tasks, Fn&& fn) const {
    if (pool_) {
      pool_->run(tasks, std::forward<Fn>(fn));
    } else {
      for (int t = 0; t < tasks; ++t) fn(t, 0);
    }
  }

  // The worker's private scratch, 64-byte aligned, of which the caller will
  // use `floats`: at most kScratchFloats (more is a riformer::Error, not an
  // overrun). Under AddressSanitizer the rest is poisoned until the next
  // call, so a kernel running past what it asked for is reported.
  [[nodiscard]] float* scratch(int worker, std::size_t floats) const {
    require(floats <= kScratchFloats, "kernel scratch: ", floats, " floats asked for, a thread has ", kScratchFloats);
    float* s = scratch_[static_cast<std::size_t>(worker)].data();
    unpoison_floats(s, floats);
    poison_floats(s + floats, kScratchFloats - floats);
    return s;
  }

  // Per-layer timing of the passes run with this context (null: none). The
  // timer must outlive its use here; the Context does not own it.
  void set_layer_timer(LayerTimer* timer) { timer_ = timer; }
  [[nodiscard]] LayerTimer* layer_timer() const { return timer_; }

  // For the models: a pass begins, and the layer `name` (a literal) has ended.
  void start_layers() const {
    if (timer_) timer_->start();
  }
  void end_layer(const char* name) const {
    if (timer_) timer_->mark(name);
  }

 private:
  LayerTimer* timer_ = nullptr;
  std::unique_ptr<ThreadPool> pool_;
  mutable std::vector<AlignedBuffer> scratch_;
};

}  // namespace riformer
