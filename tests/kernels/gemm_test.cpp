// The packed GEMM against its scalar twin, over sizes that are not multiples
// of any tile (rows past MR, columns past NR, depths around KC), strided
// operands, every epilogue, and one and two threads.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
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

void check_gemm(const Context& ctx, Case s, rk::Activation act, bool accumulate, std::uint32_t seed) {
  const std::size_t lda = s.k + 3, ldc = s.n + 5;  // strided rows: a slice of a wider buffer
  const auto a = random_vector(s.m * lda, seed);
  const auto b = random_vector(static_cast<std::size_t>(s.k) * s.n, seed + 1);
  const auto bias = random_vector(s.n, seed + 2);
  const auto c0 = random_vector(s.m * ldc, seed + 3);  // the residual, and the sentinel in the gaps
  std::vector<float> fast = c0, slow = c0;

  const auto packed = rk::pack_matrix(b.data(), bias.data(), s.k, s.n);
  rk::gemm(ctx, s.m, a.data(), lda, packed, fast.data(), ldc, {act, accumulate});
  rk::reference::gemm(s.m, s.n, s.k, a.data(), lda, b.data(), bias.data(), act, accumulate, slow.data(), ldc);

  const double tol = 2e-6 * s.k + 1e-5;
  for (int i = 0; i < s.m; ++i) {
    for (int j = 0; j < s.n; ++j) {
      const double d = std::abs(fast[i * ldc + j] - slow[i * ldc + j]);
      if (!(d <= tol)) {
        FAIL_CHECK("m=" << s.m << " k=" << s.k << " n=" << s.n << " act=" << int(act) << " acc=" << accumulate
                        << " at (" << i << "," << j << "): " << fast[i * ldc + j] << " vs " << slow[i * ldc + j]);
        return;
      }
    }
    for (std::size_t j = s.n; j < ldc; ++j) REQUIRE(fast[i * ldc + j] == c0[i * ldc + j]);  // gaps untouched
  }
}

}  // namespace

TEST_CASE("gemm matches the scalar twin on awkward sizes") {
  const Case cases[] = {{1, 1, 1},   {7, 3, 5},     {13, 17, 31},  {14, 64, 32},  {15, 64, 33},  {49, 255, 64},
                        {29, 256, 100}, {30, 257, 16}, {196, 600, 96}, {225, 40, 320}, {3, 1030, 48}, {300, 64, 1}};
  for (int threads : {1, 2}) {
    Context ctx(threads);
    std::uint32_t seed = 1;
    for (const Case& s : cases)
      for (auto act : {rk::Activation::none, rk::Activation::gelu, rk::Activation::silu})
        for (bool accumulate : {false, true}) check_gemm(ctx, s, act, accumulate, seed += 10);
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
  rk::reference::gemm(m, n, k, a.data(), k, b.data(), nullptr, rk::Activation::none, false, ref.data(), n);
  CHECK(riformer::testing::max_abs_diff(c.data(), ref.data(), m * n) < 1e-5);
}

TEST_CASE("pack_matrix rejects empty matrices") {
  const float x = 1;
  CHECK_THROWS_AS(rk::pack_matrix(&x, nullptr, 0, 4), riformer::Error);
}
