// to_channels_last against direct element access through the view's strides:
// planar RGB (the interleaving fast path) and other channel counts, slices of
// wider channels-last buffers, odd sizes, one and two threads.
#include <doctest/doctest.h>

#include <cstddef>
#include <vector>

#include "riformer/kernels/channels_last.hpp"
#include "test_util.hpp"

namespace rk = riformer::kernels;
using riformer::Context;
using riformer::ImageView;
using riformer::testing::random_vector;

namespace {

// What to_channels_last must write: element (y, x, c) of the view at y*w*c + x*c + c.
std::vector<float> gather(const ImageView& in) {
  std::vector<float> out;
  for (int y = 0; y < in.height; ++y)
    for (int x = 0; x < in.width; ++x)
      for (int c = 0; c < in.channels; ++c) out.push_back(in.data[y * in.stride_y + x * in.stride_x + c * in.stride_c]);
  return out;
}

}  // namespace

TEST_CASE("to_channels_last copies every layout to dense (h, w, c)") {
  struct Case {
    int h, w, c;
    bool planar;
    int pixel_stride;  // channels-last only: 0 is dense
  };
  const Case cases[] = {{1, 1, 3, true, 0},   {5, 7, 3, true, 0},   {17, 1, 3, true, 0},  {33, 29, 3, true, 0},
                        {9, 16, 1, true, 0},  {6, 11, 4, true, 0},  {7, 13, 3, false, 5}, {10, 3, 2, false, 0},
                        {19, 23, 3, false, 8}};
  for (int threads : {1, 2}) {
    Context ctx(threads);
    for (const Case& s : cases) {
      const std::size_t stride = s.planar || !s.pixel_stride ? s.c : s.pixel_stride;
      const auto data = random_vector(static_cast<std::size_t>(s.h) * s.w * stride, 5, -2.0f, 2.0f);
      const ImageView in = s.planar ? ImageView::chw(data.data(), s.h, s.w, s.c)
                                    : ImageView::hwc(data.data(), s.h, s.w, s.c, s.pixel_stride);
      const std::size_t n = static_cast<std::size_t>(s.h) * s.w * s.c;
      std::vector<float> out(n + 4, 42.0f);  // 4 guard values after the image
      rk::to_channels_last(ctx, in, out.data());
      INFO(s.h << "x" << s.w << "x" << s.c << (s.planar ? " CHW" : " HWC") << " pixel stride " << s.pixel_stride
               << ", " << threads << " threads");
      CHECK(std::vector<float>(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(n)) == gather(in));
      CHECK(std::vector<float>(out.end() - 4, out.end()) == std::vector<float>(4, 42.0f));
      CHECK(rk::is_dense_channels_last(in) == (!s.planar && s.pixel_stride == 0));
    }
  }
}

TEST_CASE("only dense channels-last views skip the copy") {
  std::vector<float> buffer(4 * 5 * 3);
  CHECK(rk::is_dense_channels_last(ImageView::hwc(buffer.data(), 4, 5, 3)));
  CHECK(rk::is_dense_channels_last(ImageView::hwc(buffer.data(), 4, 5, 3, 3)));
  CHECK_FALSE(rk::is_dense_channels_last(ImageView::hwc(buffer.data(), 4, 5, 2, 3)));  // a slice
  CHECK_FALSE(rk::is_dense_channels_last(ImageView::chw(buffer.data(), 4, 5, 3)));
}
