#pragma once
// A small fork-join thread pool for the kernels. The caller's thread always takes
// part, so a pool of one thread is just a loop: no thread is started, nothing is
// locked, nothing is allocated (the embedded, single-core case). run() does not
// allocate either: the job is passed as a function pointer and a context pointer.

#include <algorithm>
#include <atomic>
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
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
  }

  [[nodiscard]] int size() const { return size_; }

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
      job.generation = ++generation_;
      job_ = job;
      pending_.store(tasks, std::memory_order_relaxed);
      counter_.store(job.generation << 32, std::memory_order_release);
    }
    wake_.notify_all();
    work_on(job, 0);
    // Jobs are short: spin a little before blocking on the last task.
    for (int spin = 0; pending_.load(std::memory_order_acquire) != 0; ++spin) {
      if (spin > 2048) {
        std::unique_lock<std::mutex> lock(mutex_);
        done_.wait(lock, [this] { return pending_.load(std::memory_order_acquire) == 0; });
        break;
      }
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
  // generation in its high half, so a thread still looping on an older job can
  // never claim (or skip) a task of a newer one.
  void work_on(const Job& job, int worker) {
    std::uint64_t seen = counter_.load(std::memory_order_acquire);
    for (;;) {
      if ((seen >> 32) != job.generation || static_cast<int>(seen & 0xffffffffu) >= job.tasks) return;
      if (!counter_.compare_exchange_weak(seen, seen + 1, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
      job.fn(job.context, static_cast<int>(seen & 0xffffffffu), worker);
      if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        std::lock_guard<std::mutex> lock(mutex_);
        done_.notify_all();
      }
      seen = counter_.load(std::memory_order_acquire);
    }
  }

  void worker_loop(int worker) {
    std::uint64_t seen = 0;
    for (;;) {
      Job job;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return stopping_ || generation_ != seen; });
        if (stopping_) return;
        seen = generation_;
        job = job_;
      }
      work_on(job, worker);
    }
  }

  int size_ = 1;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  std::uint64_t generation_ = 0;
  bool stopping_ = false;
  Job job_;
  std::atomic<std::uint64_t> counter_{0};
  std::atomic<int> pending_{0};
};

}  // namespace riformer
