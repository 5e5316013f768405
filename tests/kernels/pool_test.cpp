// Separable max pooling and nearest 2x upsampling against their scalar twins,
// on odd sizes, with channel slices of wider buffers (pixel strides), and
// with one and two threads.
#include <doctest/doctest.h>

#include <vector>

#include "riformer/kernels/pool.hpp"
#include "riformer/kernels/reference.hpp"
#include "test_util.hpp"

namespace rk = riformer::kernels;
using riformer::Context;
using riformer::testing::random_vector;

TEST_CASE("max_pool_same matches the direct window max, borders clipped") {
  struct Case {
    int h, w, c, kernel, in_stride, out_stride;
  };
  const Case cases[] = {{1, 1, 1, 5, 1, 1},   {2, 3, 7, 5, 7, 7},      {20, 20, 128, 5, 128, 512},
                        {7, 5, 17, 5, 40, 21}, {13, 11, 33, 3, 33, 33}, {9, 4, 16, 7, 64, 48}};
  for (int threads : {1, 2}) {
    Context ctx(threads);
    for (const Case& s : cases) {
      const std::size_t pixels = static_cast<std::size_t>(s.h) * s.w;
      const auto in = random_vector(pixels * s.in_stride, 11, -3.0f, 3.0f);
      std::vector<float> fast(pixels * s.out_stride, 42.0f), slow = fast;
      std::vector<float> scratch(rk::max_pool_scratch_floats(s.h, s.w, s.c));
      rk::max_pool_same(ctx, in.data(), s.in_stride, s.h, s.w, s.c, s.kernel, fast.data(), s.out_stride, scratch.data());
      rk::reference::max_pool_same(in.data(), s.in_stride, s.h, s.w, s.c, s.kernel, slow.data(), s.out_stride);
      INFO(s.h << "x" << s.w << "x" << s.c << " kernel " << s.kernel << " strides " << s.in_stride << "/" << s.out_stride);
      CHECK(fast == slow);  // a max is exact: bit-equal, gaps between slices untouched
    }
  }
}

TEST_CASE("upsample_nearest_2x copies every pixel to its 2x2 block, into a slice") {
  // c = 7 runs only the scalar tail on AVX2 and AVX-512; c = 37 runs whole
  // vectors and then a tail on every target.
  for (int threads : {1, 2})
    for (int c : {7, 37}) {
      CAPTURE(threads);
      CAPTURE(c);
      Context ctx(threads);
      const int h = 3, w = 5, in_stride = c + 2, out_stride = c + 5;
      const auto in = random_vector(static_cast<std::size_t>(h) * w * in_stride, 5);
      std::vector<float> out(static_cast<std::size_t>(4) * h * w * out_stride, -1.0f);
      rk::upsample_nearest_2x(ctx, in.data(), in_stride, h, w, c, out.data(), out_stride);
      for (int y = 0; y < 2 * h; ++y)
        for (int x = 0; x < 2 * w; ++x)
          for (int k = 0; k < out_stride; ++k) {
            const float got = out[(static_cast<std::size_t>(y) * 2 * w + x) * out_stride + k];
            const float want = k < c ? in[(static_cast<std::size_t>(y / 2) * w + x / 2) * in_stride + k] : -1.0f;
            REQUIRE(got == want);
          }
    }
}
