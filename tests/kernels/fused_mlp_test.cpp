// The fused two-layer MLP against two scalar GEMMs: prologue, GELU between the
// layers, in-place scaled residual and column sums, row counts around the tile
// size, widths that leave ragged panels, one and two threads.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "riformer/kernels/fused_mlp.hpp"
#include "test_util.hpp"

namespace rk = riformer::kernels;
using riformer::Context;
using riformer::testing::random_vector;

namespace {

void check_fused(const Context& ctx, int m, int k, int h, std::uint32_t seed) {
  const auto x0 = random_vector(static_cast<std::size_t>(m) * k, seed);
  const auto w1 = random_vector(static_cast<std::size_t>(k) * h, seed + 1, -0.3f, 0.3f);
  const auto b1 = random_vector(h, seed + 2);
  const auto w2 = random_vector(static_cast<std::size_t>(h) * k, seed + 3, -0.2f, 0.2f);
  const auto b2 = random_vector(k, seed + 4);
  const auto in_scale = random_vector(k, seed + 5, 0.5f, 1.5f), in_shift = random_vector(k, seed + 6);
  const auto res_scale = random_vector(k, seed + 7, 0.5f, 1.5f), res_shift = random_vector(k, seed + 8);
  const auto p1 = rk::pack_matrix(w1.data(), b1.data(), k, h);
  const auto p2 = rk::pack_matrix(w2.data(), b2.data(), h, k);

  // fast: in place, out = x * res_scale + res_shift + gelu(x' W1 + b1) W2 + b2, with column sums
  std::vector<float> fast = x0;
  std::vector<double> sum(k), sum_sq(k), scratch(rk::fused_mlp_stats_scratch_doubles(m, k, h, k));
  rk::GemmEpilogue ep{rk::Activation::none, true, res_scale.data(), res_shift.data(), {sum.data(), sum_sq.data(), scratch.data()}};
  rk::fused_mlp(ctx, m, fast.data(), k, {in_scale.data(), in_shift.data()}, p1, rk::Activation::gelu, p2, fast.data(), k, ep);

  std::vector<float> hidden(static_cast<std::size_t>(m) * h), slow = x0;
  std::vector<double> ref_sum(k), ref_sum_sq(k);
  rk::reference::gemm(m, h, k, x0.data(), k, w1.data(), b1.data(), hidden.data(), h,
                      {in_scale.data(), in_shift.data(), rk::Activation::gelu});
  rk::reference::gemm(m, k, h, hidden.data(), h, w2.data(), b2.data(), slow.data(), k,
                      {nullptr, nullptr, rk::Activation::none, true, res_scale.data(), res_shift.data(), ref_sum.data(),
                       ref_sum_sq.data()});
  INFO("m=" << m << " k=" << k << " h=" << h << " threads=" << ctx.threads());
  CHECK(riformer::testing::max_abs_diff(fast, slow) < 1e-4);
  for (int j = 0; j < k; ++j) {
    CHECK(std::abs(sum[j] - ref_sum[j]) <= 1e-4 * m);
    CHECK(std::abs(sum_sq[j] - ref_sum_sq[j]) <= 1e-4 * (m + ref_sum_sq[j]));
  }
}

}  // namespace

TEST_CASE("fused MLP equals two separate GEMMs") {
  for (int threads : {1, 2}) {
    Context ctx(threads);
    std::uint32_t seed = 1;
    const int tile = rk::fused_mlp_tile_rows(64, 256);
    for (int m : {1, 13, tile - 1, tile, tile + 1, 3 * tile + 5}) check_fused(ctx, m, 64, 256, seed += 9);
    check_fused(ctx, 100, 96, 384, seed += 9);
    check_fused(ctx, 77, 40, 120, seed += 9);  // ragged panels in both layers
    check_fused(ctx, 50, 128, 512, seed += 9);
  }
}

TEST_CASE("fusing is only chosen where the weights stay in cache") {
  CHECK(rk::fused_mlp_worthwhile(64, 256, 64));
  CHECK(rk::fused_mlp_worthwhile(128, 512, 128));
  CHECK_FALSE(rk::fused_mlp_worthwhile(320, 1280, 320));
}

TEST_CASE("a fused MLP compiled for GELU and a linear output gives the same bits, and refuses the others") {
  Context ctx(2);
  const int m = 45, k = 64, h = 256;
  const auto x0 = random_vector(static_cast<std::size_t>(m) * k, 31);
  const auto w1 = random_vector(static_cast<std::size_t>(k) * h, 32, -0.3f, 0.3f);
  const auto w2 = random_vector(static_cast<std::size_t>(h) * k, 33, -0.2f, 0.2f);
  const auto p1 = rk::pack_matrix(w1.data(), nullptr, k, h);
  const auto p2 = rk::pack_matrix(w2.data(), nullptr, h, k);
  auto run = [&](auto mlp, rk::Activation act1, rk::GemmEpilogue ep) {
    std::vector<float> y = x0;
    mlp(act1, ep, y.data());
    return y;
  };
  auto any = [&](rk::Activation act1, const rk::GemmEpilogue& ep, float* y) {
    rk::fused_mlp(ctx, m, y, k, {}, p1, act1, p2, y, k, ep);
  };
  auto named = [&](rk::Activation act1, const rk::GemmEpilogue& ep, float* y) {
    rk::fused_mlp<riformer::DefaultArch, rk::kOnlyGelu, rk::kLinearEpilogue>(ctx, m, y, k, {}, p1, act1, p2, y, k, ep);
  };
  const rk::GemmEpilogue residual{rk::Activation::none, true};
  CHECK(run(named, rk::Activation::gelu, residual) == run(any, rk::Activation::gelu, residual));
  CHECK(run(named, rk::Activation::gelu, residual) != x0);

  std::vector<float> y = x0;
  using riformer::testing::contains, riformer::testing::error_message;
  CHECK(contains(error_message([&] { named(rk::Activation::silu, residual, y.data()); }), "activation SiLU was not compiled"));
  CHECK(contains(error_message([&] { named(rk::Activation::gelu, {rk::Activation::gelu}, y.data()); }),
                 "activation GELU was not compiled"));
  CHECK(y == x0);

  // The scalar target (no SIMD), which runs two gemm() calls, refuses the same.
  std::vector<float> hidden(static_cast<std::size_t>(m) * h);
  const auto q1 = rk::pack_matrix<xsimd::unavailable>(w1.data(), nullptr, k, h);
  const auto q2 = rk::pack_matrix<xsimd::unavailable>(w2.data(), nullptr, h, k);
  auto scalar = [&](rk::Activation act1, const rk::GemmEpilogue& ep) {
    rk::fused_mlp<xsimd::unavailable, rk::kOnlyGelu, rk::kLinearEpilogue>(ctx, m, y.data(), k, {}, q1, act1, q2, y.data(),
                                                                         k, ep, hidden.data());
  };
  CHECK(contains(error_message([&] { scalar(rk::Activation::silu, residual); }), "activation SiLU was not compiled"));
  CHECK(contains(error_message([&] { scalar(rk::Activation::gelu, {rk::Activation::gelu}); }),
                 "activation GELU was not compiled"));
  CHECK(y == x0);
  scalar(rk::Activation::gelu, residual);
  CHECK(riformer::testing::max_abs_diff(y, run(named, rk::Activation::gelu, residual)) < 1e-4);
}
