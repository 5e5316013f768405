// The packed GEMM against its scalar twin, over sizes that are not multiples
// of any tile (rows past MR, columns past NR, depths around KC), strided
// operands, every epilogue (activations, plain and scaled residuals, column
// sums) and the affine prologue, on one and two threads.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "riformer/kernels/gemm.hpp"
#include "test_util.hpp"

namespace rk = riformer::kernels;
using riformer::Context;
using riformer::testing::random_vector;

namespace {

struct Case {
  int m, k, n;
};

struct Variant {
  rk::Activation act;
  bool accumulate, scaled_residual, prologue, stats;
};

void check_gemm(const Context& ctx, Case s, const Variant& v, std::uint32_t seed) {
  const std::size_t lda = s.k + 3, ldc = s.n + 5;  // strided rows: a slice of a wider buffer
  const auto a = random_vector(s.m * lda, seed);
  const auto b = random_vector(static_cast<std::size_t>(s.k) * s.n, seed + 1);
  const auto bias = random_vector(s.n, seed + 2);
  const auto c0 = random_vector(s.m * ldc, seed + 3);  // the residual, and the sentinel in the gaps
  const auto in_scale = random_vector(s.k, seed + 4, 0.5f, 1.5f), in_shift = random_vector(s.k, seed + 5);
  const auto res_scale = random_vector(s.n, seed + 6, 0.5f, 1.5f), res_shift = random_vector(s.n, seed + 7);
  std::vector<float> fast = c0, slow = c0;
  std::vector<double> sum(s.n, 0.5), sum_sq(s.n, 0.25), ref_sum = sum, ref_sum_sq = sum_sq;  // stats add to what is there
  std::vector<double> scratch(rk::gemm_stats_scratch_doubles(s.m, s.n));

  const auto packed = rk::pack_matrix(b.data(), bias.data(), s.k, s.n);
  rk::GemmEpilogue ep{v.act, v.accumulate, v.scaled_residual ? res_scale.data() : nullptr,
                      v.scaled_residual ? res_shift.data() : nullptr};
  if (v.stats) ep.stats = {sum.data(), sum_sq.data(), scratch.data()};
  const rk::GemmPrologue pro = v.prologue ? rk::GemmPrologue{in_scale.data(), in_shift.data()} : rk::GemmPrologue{};
  rk::gemm(ctx, s.m, a.data(), lda, packed, fast.data(), ldc, ep, pro);

  rk::reference::GemmOptions o{pro.scale, pro.shift, v.act, v.accumulate, ep.residual_scale, ep.residual_shift,
                               v.stats ? ref_sum.data() : nullptr, v.stats ? ref_sum_sq.data() : nullptr};
  rk::reference::gemm(s.m, s.n, s.k, a.data(), lda, b.data(), bias.data(), slow.data(), ldc, o);

  INFO("m=" << s.m << " k=" << s.k << " n=" << s.n << " act=" << int(v.act) << " accumulate=" << v.accumulate
            << " scaled=" << v.scaled_residual << " prologue=" << v.prologue << " stats=" << v.stats);
  const double tol = 2e-6 * s.k + 1e-5;
  for (int i = 0; i < s.m; ++i) {
    for (int j = 0; j < s.n; ++j) {
      const double d = std::abs(fast[i * ldc + j] - slow[i * ldc + j]);
      if (!(d <= tol)) {
        FAIL_CHECK("at (" << i << "," << j << "): " << fast[i * ldc + j] << " vs " << slow[i * ldc + j]);
        return;
      }
    }
    for (std::size_t j = s.n; j < ldc; ++j) REQUIRE(fast[i * ldc + j] == c0[i * ldc + j]);  // gaps untouched
  }
  if (v.stats)
    for (int j = 0; j < s.n; ++j) {
      // The sums are of the values written, so they agree as well as those do.
      CHECK(std::abs(sum[j] - ref_sum[j]) <= tol * s.m);
      CHECK(std::abs(sum_sq[j] - ref_sum_sq[j]) <= tol * s.m * (1 + std::abs(ref_sum_sq[j]) / s.m));
    }
}

}  // namespace

TEST_CASE("gemm matches the scalar twin on awkward sizes, every epilogue and prologue") {
  // Both tile orders: rows outer for a short depth (up to 292 with AVX-512,
  // 682 with AVX2), e.g. {225, 40, 320}, and panels outer beyond it, e.g.
  // {196, 600, 96} and {50, 1030, 160}, whose first panel fetches each next
  // tile's rows. The last two have weights over kCachedWeightBytes, whose next
  // panels are fetched ahead: by the second tile of a panel (the last tile,
  // in the first panel), and by the only tile of 9 rows; {50, 1030, 160} is
  // one row chunk of four tiles, so from its second panel on every tile
  // fetches a share of the next (the spread fetch, in groups of depth steps).
  // {50, 3000, 100} and {100, 2100, 40} split their depth in slices (two and
  // three with AVX-512's tile; one row chunk each) where the epilogue has no
  // activation and there is no prologue.
  const Case cases[] = {{1, 1, 1},     {7, 3, 5},     {13, 17, 31},   {14, 64, 32},    {15, 64, 33},  {49, 255, 64},
                        {29, 256, 100}, {30, 257, 16}, {196, 600, 96}, {225, 40, 320}, {3, 1030, 48}, {300, 64, 1},
                        {50, 1030, 160}, {9, 2100, 70}, {50, 3000, 100}, {100, 2100, 40}};
  if constexpr (riformer::kIsSimd<riformer::DefaultArch>) {
    CHECK(rk::gemm_depth_slices(50, 1030, false) == 1);
    CHECK(rk::gemm_depth_slices(50, 3000, false) > 1);
    CHECK(rk::gemm_depth_slices(100, 2100, false) > 1);
  }
  const Variant variants[] = {
      {rk::Activation::none, false, false, false, false}, {rk::Activation::gelu, false, false, false, false},
      {rk::Activation::silu, false, false, false, false}, {rk::Activation::none, true, false, false, false},
      {rk::Activation::gelu, true, false, false, false},  {rk::Activation::silu, true, false, false, false},
      {rk::Activation::none, true, true, false, true},    {rk::Activation::gelu, true, true, true, true},
      {rk::Activation::gelu, false, false, true, false},  {rk::Activation::none, false, false, false, true},
  };
  for (int threads : {1, 2}) {
    Context ctx(threads);
    std::uint32_t seed = 1;
    for (const Case& s : cases)
      for (const Variant& v : variants) check_gemm(ctx, s, v, seed += 10);
  }
}

TEST_CASE("rows whose stride aliases in L1 (a multiple of 4 KiB) go through the copy path correctly") {
  for (int threads : {1, 2}) {
    Context ctx(threads);
    const int m = 45, k = 700, n = 100;
    const std::size_t lda = 2048;  // 8 KiB rows
    const auto a = random_vector(m * lda, 31), b = random_vector(k * n, 32), bias = random_vector(n, 33);
    const auto packed = rk::pack_matrix(b.data(), bias.data(), k, n);
    std::vector<float> fast(m * n), slow(m * n);
    rk::gemm(ctx, m, a.data(), lda, packed, fast.data(), n, {rk::Activation::gelu});
    rk::reference::gemm(m, n, k, a.data(), lda, b.data(), bias.data(), slow.data(), n, {nullptr, nullptr, rk::Activation::gelu});
    CHECK(riformer::testing::max_abs_diff(fast, slow) < 2e-3);
    CHECK(rk::rows_alias_in_l1(lda));
    CHECK_FALSE(rk::rows_alias_in_l1(rk::unaliased_stride(lda)));
  }
}

TEST_CASE("depth slices of aliasing rows copy a shorter last slice at its own, longer, unaliased stride") {
  // 2079 deep in two slices: 1040 (a stride that does not alias) and 1039
  // (one that does: copied at 1055). The scratch asked for must cover the longer.
  const int m = 50, k = 2079, n = 100;
  const std::size_t lda = 4096;
  if constexpr (riformer::kIsSimd<riformer::DefaultArch> && rk::GemmTiles<riformer::DefaultArch>::MR == 14) {
    REQUIRE(rk::gemm_depth_slices(m, k, true) == 2);
  }
  REQUIRE(rk::gemm_slice_depth(k, 2) == 1040);
  CHECK_FALSE(rk::rows_alias_in_l1(1040));
  CHECK(rk::rows_alias_in_l1(1039));
  const auto a = random_vector(m * lda, 51), b = random_vector(static_cast<std::size_t>(k) * n, 52);
  const auto bias = random_vector(n, 53);
  const auto packed = rk::pack_matrix(b.data(), bias.data(), k, n);
  for (int threads : {1, 2}) {
    Context ctx(threads);
    std::vector<float> fast(m * n), slow(m * n);
    rk::gemm(ctx, m, a.data(), lda, packed, fast.data(), n);
    rk::reference::gemm(m, n, k, a.data(), lda, b.data(), bias.data(), slow.data(), n, {});
    CHECK(riformer::testing::max_abs_diff(fast, slow) < 2e-6 * k + 1e-5);
  }
}

TEST_CASE("rows too deep for the copy path (14 x 10256 floats: more than the scratch) are read in place") {
  // Once copied all the same, past the end of the worker's scratch (an
  // AddressSanitizer build reported the heap overflow).
  const int m = 14, k = 10240, n = 128;  // 4 panels: split in two groups on one thread, which takes the copy path
  const auto a = random_vector(static_cast<std::size_t>(m) * k, 41), b = random_vector(static_cast<std::size_t>(k) * n, 42);
  const auto bias = random_vector(n, 43);
  REQUIRE(rk::rows_alias_in_l1(k));
  CHECK(m * rk::unaliased_stride(k) > Context::kScratchFloats);
  const auto packed = rk::pack_matrix(b.data(), bias.data(), k, n);
  for (rk::Activation act : {rk::Activation::none, rk::Activation::gelu}) {
    Context ctx(1);
    std::vector<float> fast(m * n), slow(m * n);
    rk::gemm(ctx, m, a.data(), k, packed, fast.data(), n, {act});
    rk::reference::gemm(m, n, k, a.data(), k, b.data(), bias.data(), slow.data(), n, {nullptr, nullptr, act});
    INFO("activation " << int(act));
    CHECK(riformer::testing::max_abs_diff(fast, slow) < 2e-6 * k + 1e-5);
  }
}

TEST_CASE("column sums do not depend on the thread count") {
  // 3000 rows: many chunks; 784 x 512: few chunks, whose panels are split on 2
  // threads; 400 rows of depth 512: four chunks, the last one short, so the
  // panels are split on 2 threads to balance them; 100 rows of depth 2100:
  // one chunk, its depth in slices, its panels split on 2 threads.
  for (Case s : {Case{3000, 64, 96}, Case{784, 128, 512}, Case{400, 512, 256}, Case{100, 2100, 200}}) {
    CAPTURE(s.m);
    const auto a = random_vector(s.m * s.k, 1), b = random_vector(s.k * s.n, 2);
    const auto packed = rk::pack_matrix(b.data(), nullptr, s.k, s.n);
    std::vector<double> s1(s.n), q1(s.n), s2(s.n), q2(s.n), scratch(rk::gemm_stats_scratch_doubles(s.m, s.n));
    std::vector<float> c1(s.m * s.n), c2(s.m * s.n);
    rk::gemm(Context(1), s.m, a.data(), s.k, packed, c1.data(), s.n, rk::GemmEpilogue{.stats = {s1.data(), q1.data(), scratch.data()}});
    rk::gemm(Context(2), s.m, a.data(), s.k, packed, c2.data(), s.n, rk::GemmEpilogue{.stats = {s2.data(), q2.data(), scratch.data()}});
    CHECK(c1 == c2);
    CHECK(s1 == s2);
    CHECK(q1 == q2);
  }
}

TEST_CASE("split_columns covers every panel once and shares tasks out evenly") {
  struct SplitCase {
    int chunks, panels, threads, groups;  // groups: the column groups expected
    double last_share = 1.0;              // the last chunk's rows over a full chunk's
  };
  for (const SplitCase t : {SplitCase{28, 8, 2, 1},           // many chunks, even: rows only
                            SplitCase{7, 16, 2, 2},           // 7 tasks on 2 threads would idle one for 1/8 of the time
                            SplitCase{7, 16, 1, 1},           // one thread: never split
                            SplitCase{1, 96, 2, 4},           // a single chunk: panels split for both threads
                            SplitCase{1, 3, 2, 3},            // fewer panels than wanted groups
                            SplitCase{229, 8, 2, 1},          // odd but many: the idle share is small
                            SplitCase{4, 24, 2, 2, 16 / 28.0},  // M = 100 in chunks of 28: 56 rows against 44
                            SplitCase{4, 24, 1, 1, 16 / 28.0},  // the same on one thread: nothing to balance
                            SplitCase{15, 24, 2, 1, 8 / 28.0},  // M = 400 in chunks of 28: 204 against 196
                            SplitCase{7, 16, 100, 16, 0.5}})   // more threads than are simulated: counted by tasks
  {
    CAPTURE(t.chunks);
    CAPTURE(t.panels);
    CAPTURE(t.last_share);
    const rk::detail::Split s = rk::detail::split_columns(t.chunks, t.panels, t.threads, t.last_share);
    CHECK(s.column_groups == t.groups);
    // Groups of panels_per_group consecutive panels cover [0, panels) exactly.
    CHECK(s.panels_per_group * (s.column_groups - 1) < t.panels);
    CHECK(s.panels_per_group * s.column_groups >= t.panels);
  }
}

TEST_CASE("gemm leaves rows outside m alone") {
  Context ctx(1);
  const int m = 5, k = 9, n = 20;
  const auto a = random_vector(m * k, 7);
  const auto b = random_vector(k * n, 8);
  const auto packed = rk::pack_matrix(b.data(), nullptr, k, n);
  std::vector<float> c((m + 2) * n, 42.0f);
  rk::gemm(ctx, m, a.data(), k, packed, c.data(), n);
  for (int i = m * n; i < (m + 2) * n; ++i) CHECK(c[i] == 42.0f);
  std::vector<float> ref(m * n);
  rk::reference::gemm(m, n, k, a.data(), k, b.data(), nullptr, ref.data(), n);
  CHECK(riformer::testing::max_abs_diff(c.data(), ref.data(), m * n) < 1e-5);
}

TEST_CASE_TEMPLATE("a call compiled for some epilogues gives the same bits, and refuses the others", Arch,
                   riformer::DefaultArch, xsimd::unavailable) {
  Context ctx(2);
  const int m = 37, k = 45, n = 70;
  const auto a = random_vector(m * k, 11);
  const auto b = random_vector(k * n, 12), bias = random_vector(n, 13);
  const auto c0 = random_vector(m * n, 14);
  const auto packed = rk::pack_matrix<Arch>(b.data(), bias.data(), k, n);
  auto run = [&](auto gemm, const rk::GemmEpilogue& ep) {
    std::vector<float> c = c0;
    gemm(ep, c.data());
    return c;
  };
  auto any = [&](const rk::GemmEpilogue& ep, float* c) { rk::gemm<Arch>(ctx, m, a.data(), k, packed, c, n, ep); };
  auto silu = [&](const rk::GemmEpilogue& ep, float* c) {
    rk::gemm<Arch, rk::kSiluEpilogue>(ctx, m, a.data(), k, packed, c, n, ep);
  };
  auto linear = [&](const rk::GemmEpilogue& ep, float* c) {
    rk::gemm<Arch, rk::kLinearEpilogue>(ctx, m, a.data(), k, packed, c, n, ep);
  };
  CHECK(run(silu, {rk::Activation::silu}) == run(any, {rk::Activation::silu}));
  CHECK(run(linear, {rk::Activation::none, true}) == run(any, {rk::Activation::none, true}));
  CHECK(run(linear, {rk::Activation::none, true}) != c0);

  using riformer::testing::contains, riformer::testing::error_message;
  std::vector<float> c = c0;
  CHECK(contains(error_message([&] { silu({rk::Activation::gelu}, c.data()); }),
                 "activation GELU was not compiled in for this call site"));
  CHECK(contains(error_message([&] { silu({rk::Activation::silu, true}, c.data()); }),
                 "a residual added after the SiLU activation was not compiled in"));
  CHECK(contains(error_message([&] { linear({rk::Activation::silu}, c.data()); }), "activation SiLU was not compiled in"));
  CHECK(contains(error_message([&] { any({static_cast<rk::Activation>(7)}, c.data()); }), "activation unknown"));
  CHECK(c == c0);  // refused before writing anything
}

TEST_CASE("pack_matrix rejects empty matrices") {
  const float x = 1;
  CHECK_THROWS_AS(rk::pack_matrix(&x, nullptr, 0, 4), riformer::Error);
}
