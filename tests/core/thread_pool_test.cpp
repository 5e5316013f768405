// The thread pool runs every task exactly once, in back-to-back jobs (the case
// that breaks a pool whose late workers can see the next job's counter).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <atomic>
#include <vector>

#include "riformer/core/context.hpp"
#include "riformer/core/thread_pool.hpp"

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

TEST_CASE("a context gives each worker its own scratch") {
  riformer::Context ctx(2);
  CHECK(ctx.threads() == 2);
  CHECK(ctx.scratch(0) != ctx.scratch(1));
  CHECK(reinterpret_cast<std::uintptr_t>(ctx.scratch(1)) % 64 == 0);
}

TEST_CASE("bad thread counts are rejected") {
  CHECK_THROWS_AS(riformer::ThreadPool(-1), riformer::Error);
  CHECK_THROWS_AS(riformer::ThreadPool(5000), riformer::Error);
}
