// The channel affine that applies GroupNorms against its scalar twin: odd
// channel counts and row counts, in place, into a strided slice, two threads.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "riformer/kernels/channel_affine.hpp"
#include "riformer/kernels/reference.hpp"
#include "test_util.hpp"

namespace rk = riformer::kernels;
using riformer::Context;
using riformer::testing::random_vector;

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
        // Into every other pixel slot of a buffer twice as wide: the gaps stay untouched.
        std::vector<float> wide(2 * x.size(), 9.0f), wide_ref = wide;
        rk::channel_affine(ctx, x.data(), wide.data(), rows, channels, scale.data(), shift.data(), 2 * channels);
        rk::reference::channel_affine(x.data(), wide_ref.data(), rows, channels, scale.data(), shift.data(), 2 * channels);
        CHECK(riformer::testing::max_abs_diff(wide, wide_ref) < 1e-6);
      }
    }
  }
}
