// The thread pool runs every task exactly once, in back-to-back jobs (the case
// that breaks a pool whose late workers can see the next job's counter).
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "riformer/core/context.hpp"
#include "riformer/core/thread_pool.hpp"
#include "test_util.hpp"

TEST_CASE("every task runs exactly once, on a worker index below the pool size") {
  for (int threads : {1, 2, 3, 8}) {
    riformer::ThreadPool pool(threads);
    for (int job = 0; job < 2000; ++job) {
      const int tasks = 1 + job % 17;
      std::vector<std::atomic<int>> runs(tasks);
      std::atomic<bool> bad_worker{false};
      pool.run(tasks, [&](int task, int worker) {
        runs[task].fetch_add(1);
        if (worker < 0 || worker >= threads) bad_worker = true;
      });
      for (int t = 0; t < tasks; ++t) REQUIRE(runs[t].load() == 1);
      REQUIRE_FALSE(bad_worker.load());
    }
  }
}

TEST_CASE("each thread runs its own range front to back, then takes others' tasks from their backs") {
  // Task t of a job runs on worker worker_of[t] as that worker's order[t]-th
  // task. The first half's tasks are slow, so the second thread, done early,
  // takes some of them (when the machine lets it run at all).
  for (int threads : {2, 3}) {
    riformer::ThreadPool pool(threads);
    for (int job = 0; job < 20; ++job) {
      const int tasks = 24 + job;
      std::vector<int> worker_of(tasks, -1), order(tasks, -1);
      std::vector<std::atomic<int>> done_by(threads);
      pool.run(tasks, [&](int task, int worker) {
        worker_of[task] = worker;
        order[task] = done_by[worker].fetch_add(1);
        if (task < tasks / 2) std::this_thread::sleep_for(std::chrono::microseconds(200));
      });
      for (int w = 0; w < threads; ++w) {
        const int begin = riformer::ThreadPool::range_begin(w, tasks, threads);
        const int end = riformer::ThreadPool::range_begin(w + 1, tasks, threads);
        // w's own tasks: a prefix of its range, run first and in order.
        int own = 0;
        while (begin + own < end && worker_of[begin + own] == w) {
          REQUIRE(order[begin + own] == own);
          ++own;
        }
        for (int t = begin + own; t < end; ++t) REQUIRE(worker_of[t] != w);
        // The rest of w's range went to other threads, from its back: each ran
        // them in descending order.
        for (int t = begin + own; t + 1 < end; ++t)
          if (worker_of[t] == worker_of[t + 1]) REQUIRE(order[t] > order[t + 1]);
      }
    }
  }
}

TEST_CASE("idle_share models that schedule") {
  const auto unit = [](int) { return 1.0; };
  CHECK(riformer::ThreadPool::idle_share(8, 2, unit) == 0.0);
  CHECK(riformer::ThreadPool::idle_share(3, 2, unit) == doctest::Approx(0.25));  // 2 + 1 of 4 slots
  CHECK(riformer::ThreadPool::idle_share(5, 1, unit) == 0.0);
  // A short last task: thread 1 owns tasks 2 and 3 (1 + 0.5), thread 0 tasks 0
  // and 1 (2): thread 1 waits 0.5 of the 2 units, as task 1 is taken by then.
  const auto short_last = [](int t) { return t == 3 ? 0.5 : 1.0; };
  CHECK(riformer::ThreadPool::idle_share(4, 2, short_last) == doctest::Approx(1.0 - 3.5 / 4.0));
  // A slow first range is shared out from its back. Thread 0 runs tasks 0 and
  // 1 (4 units); thread 1 runs its tasks 3, 4, 5 (3 units), then takes task 2
  // from thread 0's back (5 in all).
  const auto slow_front = [](int t) { return t < 3 ? 2.0 : 1.0; };
  CHECK(riformer::ThreadPool::idle_share(6, 2, slow_front) == doctest::Approx(1.0 - 9.0 / 10.0));
  // Past the simulated thread counts, by task count: 7 tasks on 100 threads.
  CHECK(riformer::ThreadPool::idle_share(7, 100, unit) == doctest::Approx(0.93));
}

TEST_CASE("a job of too many tasks is refused on several threads") {
  riformer::ThreadPool pool(2);
  CHECK_THROWS_AS(pool.run(riformer::ThreadPool::kMaxTasks + 1, [](int, int) {}), riformer::Error);
  std::atomic<long long> sum{0};
  pool.run(riformer::ThreadPool::kMaxTasks, [&](int task, int) { sum.fetch_add(task, std::memory_order_relaxed); });
  const long long n = riformer::ThreadPool::kMaxTasks;
  CHECK(sum.load() == n * (n - 1) / 2);
}

TEST_CASE("a context gives each worker its own scratch") {
  riformer::Context ctx(2);
  CHECK(ctx.threads() == 2);
  CHECK(ctx.scratch(0, 16) != ctx.scratch(1, 16));
  CHECK(reinterpret_cast<std::uintptr_t>(ctx.scratch(1, 16)) % 64 == 0);
  CHECK(ctx.scratch(0, riformer::Context::kScratchFloats) == ctx.scratch(0, 1));  // the same memory, whatever the size
}

TEST_CASE("asking for more scratch than a thread has is an error, not an overrun") {
  riformer::Context ctx(1);
  const std::string msg = riformer::testing::error_message([&] { (void)ctx.scratch(0, riformer::Context::kScratchFloats + 1); });
  CHECK(riformer::testing::contains(msg, "floats asked for, a thread has"));
}

TEST_CASE("under AddressSanitizer the scratch past what was asked for is poisoned until asked for again") {
  if (!riformer::kAddressSanitizer) {
    MESSAGE("not an AddressSanitizer build: nothing is poisoned, nothing to check");
    return;
  }
  riformer::Context ctx(1);
  float* s = ctx.scratch(0, 100);
  CHECK_FALSE(riformer::is_poisoned(s + 99));
  CHECK(riformer::is_poisoned(s + 100));
  CHECK(riformer::is_poisoned(s + riformer::Context::kScratchFloats - 1));
  s = ctx.scratch(0, riformer::Context::kScratchFloats);
  CHECK_FALSE(riformer::is_poisoned(s + 100));
  CHECK_FALSE(riformer::is_poisoned(s + riformer::Context::kScratchFloats - 1));
}

TEST_CASE("bad thread counts are rejected") {
  CHECK_THROWS_AS(riformer::ThreadPool(-1), riformer::Error);
  CHECK_THROWS_AS(riformer::ThreadPool(5000), riformer::Error);
}
