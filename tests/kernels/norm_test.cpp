// Moments and channel affine against their scalar twins: lengths around the
// vector and chunk sizes, a large mean next to a small spread (the residual
// stream late in a deep network), in-place and out-of-place, two threads.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "riformer/kernels/norm.hpp"
#include "test_util.hpp"

namespace rk = riformer::kernels;
using riformer::Context;
using riformer::testing::random_vector;

TEST_CASE("moments match the two-pass double reference") {
  for (int threads : {1, 2}) {
    Context ctx(threads);
    for (std::size_t n : {1u, 7u, 16u, 1023u, 1025u, 49u * 320u, 100003u, 160u * 160u * 64u}) {
      for (float offset : {0.0f, 50.0f}) {
        auto x = random_vector(n, static_cast<std::uint32_t>(n), -1.0f, 1.0f);
        for (auto& v : x) v += offset;
        const auto fast = rk::moments(ctx, x.data(), n);
        const auto slow = rk::reference::moments(x.data(), n);
        INFO("n=" << n << " offset=" << offset << " threads=" << threads);
        CHECK(std::abs(fast.mean - slow.mean) <= 1e-6 * (1 + std::abs(slow.mean)));
        CHECK(std::abs(fast.variance - slow.variance) <= 1e-5 * slow.variance + 1e-12);
      }
    }
  }
}

TEST_CASE("channel_affine matches the scalar twin, in place and not") {
  for (int threads : {1, 2}) {
    Context ctx(threads);
    for (int channels : {1, 3, 17, 64, 100}) {
      for (std::size_t rows : {1u, 5u, 333u, 3000u}) {
        const auto x = random_vector(rows * channels, 3);
        const auto scale = random_vector(channels, 4), shift = random_vector(channels, 5);
        std::vector<float> fast(x.size()), slow(x.size()), in_place = x;
        rk::channel_affine(ctx, x.data(), fast.data(), rows, channels, scale.data(), shift.data());
        rk::channel_affine(ctx, in_place.data(), in_place.data(), rows, channels, scale.data(), shift.data());
        rk::reference::channel_affine(x.data(), slow.data(), rows, channels, scale.data(), shift.data());
        INFO("rows=" << rows << " channels=" << channels);
        CHECK(riformer::testing::max_abs_diff(fast, slow) < 1e-6);
        CHECK(riformer::testing::max_abs_diff(in_place, slow) < 1e-6);
      }
    }
  }
}
