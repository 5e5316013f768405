// im2col + GEMM convolution against the direct scalar convolution: the stem
// (7x7/4 on CHW input), the downsamples (3x3/2), same-size 3x3 and pointwise
// convolutions, odd sizes, borders, many chunks, column sums, two threads;
// the tiles that read channels-last patches in place against im2col's; and
// deep convolutions on few pixels, whose depth runs in slices of kernel rows.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "riformer/kernels/conv2d.hpp"
#include "test_util.hpp"

namespace rk = riformer::kernels;
using riformer::Context;
using riformer::ImageView;
using riformer::testing::random_vector;

namespace {

struct Case {
  int cin, cout, kernel, stride, pad, h, w;
  bool planar;  // CHW input (the user's tensor) instead of HWC
};

void check_conv(const Context& ctx, const Case& s, std::uint32_t seed) {
  const rk::ConvGeometry g{s.kernel, s.stride, s.pad};
  const int oh = g.out_height(s.h), ow = g.out_width(s.w);
  const auto input = random_vector(static_cast<std::size_t>(s.h) * s.w * s.cin, seed);
  const auto w = random_vector(static_cast<std::size_t>(s.cout) * s.cin * s.kernel * s.kernel, seed + 1);
  const auto bias = random_vector(s.cout, seed + 2);
  const ImageView in = s.planar ? ImageView::chw(input.data(), s.h, s.w, s.cin) : ImageView::hwc(input.data(), s.h, s.w, s.cin);

  const std::size_t pixels = static_cast<std::size_t>(oh) * ow;
  std::vector<float> fast(pixels * s.cout), slow(fast.size());
  std::vector<double> sum(s.cout), sum_sq(s.cout), scratch(rk::conv2d_stats_scratch_doubles(oh * ow, s.cout));
  const auto packed = rk::pack_conv_weights(w.data(), bias.data(), s.cout, s.cin, s.kernel);
  rk::conv2d(ctx, in, g, packed, fast.data(), s.cout,
             {rk::Activation::silu, false, nullptr, nullptr, {sum.data(), sum_sq.data(), scratch.data()}});
  rk::reference::conv2d(in.data, s.h, s.w, s.cin, in.stride_y, in.stride_x, in.stride_c, w.data(), bias.data(), s.cout,
                        s.kernel, s.stride, s.pad, rk::Activation::silu, slow.data(), s.cout);
  INFO("cin=" << s.cin << " cout=" << s.cout << " k=" << s.kernel << "/" << s.stride << " pad " << s.pad << " input "
              << s.h << "x" << s.w << (s.planar ? " CHW" : " HWC"));
  CHECK(riformer::testing::max_abs_diff(fast, slow) < 1e-4);
  for (int c = 0; c < s.cout; ++c) {  // the column sums of what was written
    double want = 0, want_sq = 0;
    for (std::size_t p = 0; p < pixels; ++p) want += fast[p * s.cout + c], want_sq += double(fast[p * s.cout + c]) * fast[p * s.cout + c];
    CHECK(std::abs(sum[c] - want) <= 1e-6 * (1 + std::abs(want)) * pixels);
    CHECK(std::abs(sum_sq[c] - want_sq) <= 1e-6 * (1 + want_sq));
  }
}

// The same image, channels-first: what a CHW input of the same values holds.
std::vector<float> to_chw(const std::vector<float>& hwc, int h, int w, int cin) {
  std::vector<float> chw(hwc.size());
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < cin; ++c)
        chw[(static_cast<std::size_t>(c) * h + y) * w + x] = hwc[(static_cast<std::size_t>(y) * w + x) * cin + c];
  return chw;
}

// How many of the MR-pixel tiles of a convolution read their patches in place.
int tiles_in_place(const ImageView& in, const rk::ConvGeometry& g, int out_w, int pixels) {
  constexpr int MR = rk::GemmTiles<riformer::DefaultArch>::MR;
  int count = 0;
  for (int p = 0; p < pixels; p += MR) count += rk::patches_in_place(in, g, out_w, p, std::min(MR, pixels - p)) != nullptr;
  return count;
}

}  // namespace

TEST_CASE("conv2d matches the direct scalar convolution") {
  const Case cases[] = {
      {3, 64, 7, 4, 2, 31, 45, true},     // stem, odd size
      {3, 16, 7, 4, 2, 3, 3, true},       // smallest input the stem takes
      {3, 24, 7, 4, 2, 64, 96, false},    // stem on HWC input
      {5, 7, 3, 2, 1, 9, 10, false},      // downsample, odd channels
      {16, 33, 3, 2, 1, 1, 1, false},     // 1x1 input: all border
      {16, 33, 3, 1, 1, 7, 7, false},     // YOLO 3x3 same-size
      {20, 40, 3, 1, 1, 53, 41, false},   // many chunks
      {4, 8, 1, 1, 0, 5, 6, false},       // pointwise on HWC: straight GEMM
      {4, 8, 1, 1, 0, 5, 6, true},        // pointwise on CHW: through im2col
      {64, 128, 3, 2, 1, 20, 30, false},
  };
  for (int threads : {1, 2}) {
    Context ctx(threads);
    std::uint32_t seed = 100;
    for (const Case& s : cases) check_conv(ctx, s, seed += 7);
  }
}

TEST_CASE("conv2d reads channel slices of wider buffers and writes into slices") {
  // The detector's concatenations: input pixels 50 floats apart (a 20-channel
  // slice), output pixels 45 apart; the gaps must stay untouched.
  Context ctx(2);
  for (int kernel : {1, 3}) {
    const rk::ConvGeometry g{kernel, 1, kernel / 2};
    const int h = 9, w = 7, cin = 20, cout = 33, in_stride = 50, out_stride = 45;
    const auto buffer = random_vector(static_cast<std::size_t>(h) * w * in_stride, 3);
    const ImageView in = ImageView::hwc(buffer.data() + 10, h, w, cin, in_stride);
    const auto wts = random_vector(static_cast<std::size_t>(cout) * cin * kernel * kernel, 4);
    const auto packed = rk::pack_conv_weights(wts.data(), nullptr, cout, cin, kernel);
    std::vector<float> fast(static_cast<std::size_t>(h) * w * out_stride, 7.0f), slow = fast;
    rk::conv2d(ctx, in, g, packed, fast.data(), out_stride);
    rk::reference::conv2d(in.data, h, w, cin, in.stride_y, in.stride_x, in.stride_c, wts.data(), nullptr, cout, kernel, 1,
                          kernel / 2, rk::Activation::none, slow.data(), out_stride);
    INFO("kernel " << kernel);
    CHECK(riformer::testing::max_abs_diff(fast, slow) < 1e-4);
  }
}

TEST_CASE("tiles that read channels-last patches in place give the bits of the unrolled ones") {
  // The same image as HWC (tiles away from the border read it in place) and
  // as CHW (every patch unrolled by im2col): the same products in the same
  // order, so the same bits, column sums included, with tiles of both kinds
  // in one chunk, rows of them crossing output rows, and short last tiles.
  const Case cases[] = {
      {3, 64, 7, 4, 2, 96, 256, false},   // the stem
      {3, 40, 7, 4, 2, 61, 123, false},   // odd sizes, a ragged last panel
      {64, 96, 3, 2, 1, 40, 60, false},   // a downsample
      {5, 7, 3, 2, 1, 33, 71, false},     // odd channels
      {16, 33, 3, 1, 1, 19, 37, false},   // stride 1
  };
  for (int threads : {1, 2}) {
    Context ctx(threads);
    std::uint32_t seed = 500;
    for (const Case& s : cases) {
      INFO("cin=" << s.cin << " cout=" << s.cout << " k=" << s.kernel << "/" << s.stride << " input " << s.h << "x" << s.w
                  << ", " << threads << " threads");
      const rk::ConvGeometry g{s.kernel, s.stride, s.pad};
      const int ow = g.out_width(s.w), pixels = g.out_height(s.h) * ow;
      const auto hwc = random_vector(static_cast<std::size_t>(s.h) * s.w * s.cin, seed += 3);
      const auto chw = to_chw(hwc, s.h, s.w, s.cin);
      const ImageView in_place = ImageView::hwc(hwc.data(), s.h, s.w, s.cin);
      const ImageView unrolled = ImageView::chw(chw.data(), s.h, s.w, s.cin);
      constexpr int MR = rk::GemmTiles<riformer::DefaultArch>::MR;
      const int read_in_place = tiles_in_place(in_place, g, ow, pixels);
      CHECK(read_in_place > 0);  // both kinds of tile are exercised
      CHECK(read_in_place < (pixels + MR - 1) / MR);

      const auto w = random_vector(static_cast<std::size_t>(s.cout) * s.cin * s.kernel * s.kernel, seed + 1);
      const auto bias = random_vector(s.cout, seed + 2);
      const auto packed = rk::pack_conv_weights(w.data(), bias.data(), s.cout, s.cin, s.kernel);
      std::vector<float> a(static_cast<std::size_t>(pixels) * s.cout), b(a.size());
      std::vector<double> sum_a(s.cout), sq_a(s.cout), sum_b(s.cout), sq_b(s.cout);
      std::vector<double> scratch(rk::conv2d_stats_scratch_doubles(pixels, s.cout));
      rk::conv2d(ctx, in_place, g, packed, a.data(), s.cout,
                 {rk::Activation::silu, false, nullptr, nullptr, {sum_a.data(), sq_a.data(), scratch.data()}});
      rk::conv2d(ctx, unrolled, g, packed, b.data(), s.cout,
                 {rk::Activation::silu, false, nullptr, nullptr, {sum_b.data(), sq_b.data(), scratch.data()}});
      CHECK(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
      CHECK(sum_a == sum_b);
      CHECK(sq_a == sq_b);
    }
  }
}

TEST_CASE("deep convolutions on few pixels run their depth in slices of kernel rows, with the same result") {
  // Patches too deep for a chunk of more than half the pixels are cut into
  // slices of whole kernel rows (conv2d_depth_slices): each slice unrolls or
  // reads in place only its rows, the partial sums go through the output.
  // Against the direct scalar convolution, without an activation (the only
  // epilogue that slices), plain and with a scaled residual, column sums
  // included; and HWC (tiles read in place and unrolled, side by side)
  // against CHW (all unrolled) to the bit.
  // How many slices depends on the tile height (14 rows with AVX-512 and
  // GCC, 10 with Clang, 6 with AVX2 and SSE); the cases marked sliced are
  // deep enough to slice with each, the others slice with some.
  constexpr int MR = rk::GemmTiles<riformer::DefaultArch>::MR;
  struct SlicedCase {
    Case c;
    bool sliced_on_every_target;
  };
  const SlicedCase cases[] = {
      {{520, 80, 3, 2, 1, 30, 34, false}, true},  // 255 pixels, depth 4680: weights > 512 KB, a ragged last panel
      {{92, 24, 7, 1, 3, 20, 40, false}, true},   // 7x7/1, depth 4508; tiles in place
      {{64, 24, 7, 1, 3, 20, 40, false}, false},  // AVX-512: slices of 2, 2, 2 and 1 kernel rows (Clang: 3, 3, 1)
      {{401, 17, 3, 2, 1, 13, 17, false}, false}, // 63 pixels: one short chunk, odd channels
  };
  int sliced = 0;
  for (const SlicedCase& sliced_case : cases) {
    const Case& s = sliced_case.c;  // (a reference, not a structured binding: Clang 14's INFO could not capture that)
    const rk::ConvGeometry g{s.kernel, s.stride, s.pad};
    const int ow = g.out_width(s.w), pixels = g.out_height(s.h) * ow;
    INFO("cin=" << s.cin << " cout=" << s.cout << " k=" << s.kernel << "/" << s.stride << " input " << s.h << "x" << s.w);
    const int slices = rk::conv2d_depth_slices(pixels, g, s.cin);
    if (sliced_case.sliced_on_every_target) REQUIRE(slices > 1);
    sliced += slices > 1;
    const auto hwc = random_vector(static_cast<std::size_t>(s.h) * s.w * s.cin, 900 + s.cin);
    const auto chw = to_chw(hwc, s.h, s.w, s.cin);
    const ImageView in_place = ImageView::hwc(hwc.data(), s.h, s.w, s.cin);
    const ImageView unrolled = ImageView::chw(chw.data(), s.h, s.w, s.cin);
    if (s.stride == 1) {  // these cases have tiles of both kinds
      const int read_in_place = tiles_in_place(in_place, g, ow, pixels);
      CHECK(read_in_place > 0);
      CHECK(read_in_place < (pixels + MR - 1) / MR);
    }
    const auto w = random_vector(static_cast<std::size_t>(s.cout) * s.cin * s.kernel * s.kernel, 901 + s.cin);
    const auto bias = random_vector(s.cout, 902 + s.cin);
    const auto res_scale = random_vector(s.cout, 903 + s.cin), res_shift = random_vector(s.cout, 904 + s.cin);
    const auto residual = random_vector(static_cast<std::size_t>(pixels) * s.cout, 905 + s.cin);
    const auto packed = rk::pack_conv_weights(w.data(), bias.data(), s.cout, s.cin, s.kernel);
    std::vector<float> want(residual.size());
    rk::reference::conv2d(hwc.data(), s.h, s.w, s.cin, in_place.stride_y, in_place.stride_x, in_place.stride_c, w.data(),
                          bias.data(), s.cout, s.kernel, s.stride, s.pad, rk::Activation::none, want.data(), s.cout);
    for (int threads : {1, 2}) {
      Context ctx(threads);
      for (bool add_residual : {false, true}) {
        const std::string epilogue_name = add_residual ? "scaled residual" : "plain";
        INFO(threads << " threads, " << epilogue_name);
        std::vector<float> a = residual, b = residual;
        std::vector<double> sum_a(s.cout), sq_a(s.cout), sum_b(s.cout), sq_b(s.cout);
        std::vector<double> scratch(rk::conv2d_stats_scratch_doubles(pixels, s.cout));
        auto epilogue = [&](std::vector<double>& sum, std::vector<double>& sq) {
          return rk::GemmEpilogue{rk::Activation::none, add_residual, add_residual ? res_scale.data() : nullptr,
                                  add_residual ? res_shift.data() : nullptr, {sum.data(), sq.data(), scratch.data()}};
        };
        rk::conv2d(ctx, in_place, g, packed, a.data(), s.cout, epilogue(sum_a, sq_a));
        rk::conv2d(ctx, unrolled, g, packed, b.data(), s.cout, epilogue(sum_b, sq_b));
        CHECK(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
        CHECK(sum_a == sum_b);
        CHECK(sq_a == sq_b);
        std::vector<float> expected = want;
        if (add_residual)
          for (std::size_t i = 0; i < expected.size(); ++i) {
            const std::size_t c = i % static_cast<std::size_t>(s.cout);
            expected[i] += residual[i] * res_scale[c] + res_shift[c];
          }
        // Sums of up to 4680 products: float rounding grows with the values (up to ~20 here).
        float largest = 0;
        for (float v : expected) largest = std::max(largest, std::abs(v));
        CHECK(riformer::testing::max_abs_diff(a, expected) < 1e-5f * (1 + largest));
        for (int c = 0; c < s.cout; ++c) {  // the column sums of what was written
          double total = 0, total_sq = 0;
          for (int p = 0; p < pixels; ++p) {
            const double v = a[static_cast<std::size_t>(p) * s.cout + c];
            total += v, total_sq += v * v;
          }
          CHECK(std::abs(sum_a[c] - total) <= 1e-6 * (1 + std::abs(total)) * pixels);
          CHECK(std::abs(sq_a[c] - total_sq) <= 1e-6 * (1 + total_sq));
        }
      }
    }
  }
  CHECK(sliced >= 2);
}

TEST_CASE("conv2d rejects inputs smaller than its kernel") {
  Context ctx;
  const rk::ConvGeometry g{7, 4, 2};
  const auto w = random_vector(3 * 3 * 49, 1);
  const auto packed = rk::pack_conv_weights(w.data(), nullptr, 3, 3, 7);
  std::vector<float> in(2 * 2 * 3), out(16);
  const std::string msg =
      riformer::testing::error_message([&] { rk::conv2d(ctx, ImageView::chw(in.data(), 2, 2, 3), g, packed, out.data(), 3); });
  CHECK(riformer::testing::contains(msg, "2x2"));
}

TEST_CASE_TEMPLATE("a conv2d compiled for SiLU gives the same bits, and refuses another activation", Arch,
                   riformer::DefaultArch, xsimd::unavailable) {
  Context ctx(2);
  const rk::ConvGeometry g{3, 2, 1};
  const int h = 23, w = 30, cin = 16, cout = 40;
  const auto in = random_vector(static_cast<std::size_t>(h) * w * cin, 41);
  const auto wt = random_vector(static_cast<std::size_t>(cout) * cin * 9, 42), bias = random_vector(cout, 43);
  const auto packed = rk::pack_conv_weights<Arch>(wt.data(), bias.data(), cout, cin, 3);
  const std::size_t outputs = static_cast<std::size_t>(g.out_height(h)) * g.out_width(w) * cout;
  const ImageView image = ImageView::hwc(in.data(), h, w, cin);
  std::vector<float> any(outputs), named(outputs, 7.0f);
  rk::conv2d<Arch>(ctx, image, g, packed, any.data(), cout, {rk::Activation::silu});
  rk::conv2d<Arch, rk::kSiluEpilogue>(ctx, image, g, packed, named.data(), cout, {rk::Activation::silu});
  CHECK(named == any);

  std::vector<float> out(outputs, 7.0f);
  const std::string msg = riformer::testing::error_message(
      [&] { rk::conv2d<Arch, rk::kSiluEpilogue>(ctx, image, g, packed, out.data(), cout, {}); });
  CHECK(riformer::testing::contains(msg, "activation none was not compiled in"));
  CHECK(std::all_of(out.begin(), out.end(), [](float v) { return v == 7.0f; }));
}
