#pragma once
// A small fork-join thread pool for the kernels. The caller's thread always takes
// part, so a pool of one thread is just a loop: no thread is started, nothing is
// locked, nothing is allocated (the embedded, single-core case). run() does not
// allocate either: the job is passed as a function pointer and a context pointer.
//
// A forward pass is a burst of a few hundred short parallel regions, and waking
// a sleeping thread costs tens of microseconds (more in a virtual machine). So
// idle workers spin for a while before they sleep, and the caller spins while
// it waits for the last task: between two regions of a burst nobody sleeps.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "riformer/core/error.hpp"

namespace riformer {

class ThreadPool {
 public:
  // threads = total threads including the caller's; 0 means all hardware threads.
  explicit ThreadPool(int threads = 1) {
    if (threads == 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    require(threads >= 1 && threads <= 1024, "thread count must be between 1 and 1024, got ", threads);
    size_ = threads;
    workers_.reserve(static_cast<std::size_t>(threads - 1));
    for (int i = 1; i < threads; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
  }
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;
  ~ThreadPool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
      stopping_flag_ = true;
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
  }

  [[nodiscard]] int size() const { return size_; }

  // How long an idle worker spins for the next job before it sleeps, and how
  // long the caller spins for the last task before it sleeps.
  static constexpr std::chrono::microseconds kSpin{1000};

  // Calls fn(task, worker) for every task in [0, tasks), spread over the pool's
  // threads (worker in [0, size()), 0 being the caller), and returns when all are
  // done. fn must not throw.
  template <class Fn>
  void run(int tasks, Fn&& fn) {
    if (tasks <= 0) return;
    if (size_ == 1 || tasks == 1) {
      for (int t = 0; t < tasks; ++t) fn(t, 0);
      return;
    }
    using F = std::remove_reference_t<Fn>;
    Job job;
    job.fn = [](void* ctx, int task, int worker) { (*static_cast<F*>(ctx))(task, worker); };
    job.context = const_cast<void*>(static_cast<const void*>(&fn));
    job.tasks = tasks;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      job.generation = generation_.load(std::memory_order_relaxed) + 1;
      job_ = job;
      pending_.store(tasks, std::memory_order_relaxed);
      counter_.store(job.generation << 32, std::memory_order_release);
      generation_.store(job.generation, std::memory_order_release);
    }
    wake_.notify_all();
    work_on(job, 0);
    if (!spin_until([this] { return pending_.load(std::memory_order_acquire) == 0; })) {
      std::unique_lock<std::mutex> lock(mutex_);
      done_.wait(lock, [this] { return pending_.load(std::memory_order_acquire) == 0; });
    }
  }

 private:
  struct Job {
    void (*fn)(void*, int, int) = nullptr;
    void* context = nullptr;
    int tasks = 0;
    std::uint64_t generation = 0;
  };

  // Claims tasks of `job` until none is left. The counter holds the job's
  // generation (mod 2^32) in its high half, so a thread still looping on an
  // older job can never claim (or skip) a task of a newer one.
  void work_on(const Job& job, int worker) {
    std::uint64_t seen = counter_.load(std::memory_order_acquire);
    for (;;) {
      if ((seen >> 32) != (job.generation & 0xffffffffu) || static_cast<int>(seen & 0xffffffffu) >= job.tasks) return;
      if (!counter_.compare_exchange_weak(seen, seen + 1, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
      job.fn(job.context, static_cast<int>(seen & 0xffffffffu), worker);
      if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        std::lock_guard<std::mutex> lock(mutex_);
        done_.notify_all();
      }
      seen = counter_.load(std::memory_order_acquire);
    }
  }

  // Spins until ready() or kSpin has passed; returns ready().
  template <class Ready>
  static bool spin_until(Ready ready) {
    const auto deadline = std::chrono::steady_clock::now() + kSpin;
    for (int i = 1;; ++i) {
      if (ready()) return true;
      if (i % 64 == 0 && std::chrono::steady_clock::now() > deadline) return ready();
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
    }
  }

  void worker_loop(int worker) {
    std::uint64_t seen = 0;
    for (;;) {
      Job job;
      spin_until([&] { return generation_.load(std::memory_order_acquire) != seen || stopping_flag_.load(); });
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return stopping_ || generation_.load(std::memory_order_relaxed) != seen; });
        if (stopping_) return;
        seen = generation_.load(std::memory_order_relaxed);
        job = job_;
      }
      work_on(job, worker);
    }
  }

  int size_ = 1;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  std::atomic<std::uint64_t> generation_{0};  // of the last job published; written under mutex_
  bool stopping_ = false;
  std::atomic<bool> stopping_flag_{false};     // stopping_, readable while spinning
  Job job_;
  std::atomic<std::uint64_t> counter_{0};
  std::atomic<int> pending_{0};
};

}  // namespace riformer
