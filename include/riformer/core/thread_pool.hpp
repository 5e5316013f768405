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
//
// Each thread owns a contiguous range of the tasks and runs it in order; a
// thread whose range is done takes tasks from the back of another's. Kernels
// number their tasks by rows, so every thread streams through one block of
// rows, where the hardware prefetcher follows it, and finds in its own cache
// the rows it wrote in the previous layer. (Handed out in turn, tasks had the
// two threads of a 25600 x 64 x 256 GEMM alternate 112-row chunks: 268
// GFLOP/s against 335 now, most likely because each core's prefetcher ran on
// into the other's rows.)
// idle_share() models this schedule for kernels that choose their task split.

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
    ranges_ = std::vector<Range>(static_cast<std::size_t>(threads));
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

  // Tasks one run() may have.
  static constexpr int kMaxTasks = (1 << 20) - 1;

  // The first task of thread w's own range (w in [0, threads]; w = threads
  // gives `tasks`): the ranges split [0, tasks) as evenly as they can.
  [[nodiscard]] static int range_begin(int w, int tasks, int threads) {
    return static_cast<int>(static_cast<long long>(tasks) * w / threads);
  }

  // The share of thread time left idle when `tasks` tasks, task t costing
  // cost(t), run on `threads` threads as run() schedules them, from a
  // simulation in which each thread claims its next task when it is free.
  // Past 64 threads it counts tasks alone (every task as costly).
  template <class Cost>
  [[nodiscard]] static double idle_share(int tasks, int threads, Cost cost) {
    if (tasks <= 0 || threads <= 1) return 0.0;
    constexpr int kMaxSimulated = 64;
    if (threads > kMaxSimulated) {
      const int rounds = (tasks + threads - 1) / threads;
      return static_cast<double>(rounds * threads - tasks) / (rounds * threads);
    }
    double busy[kMaxSimulated] = {}, total = 0;
    int front[kMaxSimulated], back[kMaxSimulated];
    for (int w = 0; w < threads; ++w) front[w] = range_begin(w, tasks, threads), back[w] = range_begin(w + 1, tasks, threads);
    for (int done = 0; done < tasks; ++done) {
      const int w = static_cast<int>(std::min_element(busy, busy + threads) - busy);
      int task = front[w] < back[w] ? front[w]++ : -1;
      for (int v = 1; task < 0; ++v) {  // some range still has tasks: done < tasks
        const int victim = (w + v) % threads;
        if (front[victim] < back[victim]) task = --back[victim];
      }
      busy[w] += cost(task);
      total += cost(task);
    }
    return 1.0 - total / (threads * *std::max_element(busy, busy + threads));
  }

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
    require(tasks <= kMaxTasks, "thread pool: ", tasks, " tasks in one job, at most ", kMaxTasks);
    using F = std::remove_reference_t<Fn>;
    Job job;
    job.fn = [](void* ctx, int task, int worker) { (*static_cast<F*>(ctx))(task, worker); };
    job.context = const_cast<void*>(static_cast<const void*>(&fn));
    {
      std::lock_guard<std::mutex> lock(mutex_);
      job.generation = generation_.load(std::memory_order_relaxed) + 1;
      job_ = job;
      pending_.store(tasks, std::memory_order_relaxed);
      for (int w = 0; w < size_; ++w) {
        const std::uint64_t range = pack(job.generation, range_begin(w, tasks, size_), range_begin(w + 1, tasks, size_));
        ranges_[static_cast<std::size_t>(w)].value.store(range, std::memory_order_relaxed);
      }
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
    std::uint64_t generation = 0;
  };

  // A range of tasks [front, back) of one job, in one word: the job's generation
  // (mod 2^24) in the top bits, so that a thread still looping on an older job
  // can never claim (or skip) a task of a newer one.
  static constexpr std::uint64_t kIndexBits = 20, kIndexMask = (1u << kIndexBits) - 1, kGenerationMask = (1u << 24) - 1;
  static std::uint64_t pack(std::uint64_t generation, int front, int back) {
    return ((generation & kGenerationMask) << (2 * kIndexBits)) | (static_cast<std::uint64_t>(front) << kIndexBits) |
           static_cast<std::uint64_t>(back);
  }

  // Takes the next task of thread r's range for `job`: its first (r's own
  // thread) or its last (a thread whose own range is done). -1 if none is left.
  int claim(int r, const Job& job, bool from_back) {
    std::atomic<std::uint64_t>& range = ranges_[static_cast<std::size_t>(r)].value;
    std::uint64_t seen = range.load(std::memory_order_acquire);
    for (;;) {
      const int front = static_cast<int>((seen >> kIndexBits) & kIndexMask), back = static_cast<int>(seen & kIndexMask);
      if ((seen >> (2 * kIndexBits)) != (job.generation & kGenerationMask) || front >= back) return -1;
      const std::uint64_t next = pack(job.generation, from_back ? front : front + 1, from_back ? back - 1 : back);
      if (range.compare_exchange_weak(seen, next, std::memory_order_acq_rel, std::memory_order_acquire))
        return from_back ? back - 1 : front;
    }
  }

  // Runs tasks of `job`, its own range first, then the others' from their backs, until none is left.
  void work_on(const Job& job, int worker) {
    for (;;) {
      int task = claim(worker, job, false);
      for (int v = 1; task < 0 && v < size_; ++v) task = claim((worker + v) % size_, job, true);
      if (task < 0) return;
      job.fn(job.context, task, worker);
      if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        std::lock_guard<std::mutex> lock(mutex_);
        done_.notify_all();
      }
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
  struct alignas(64) Range {  // one cache line each: threads claim from their own without contention
    std::atomic<std::uint64_t> value{0};
  };
  std::vector<Range> ranges_;  // one per thread
  std::atomic<int> pending_{0};
};

}  // namespace riformer
