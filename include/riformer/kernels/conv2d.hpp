#pragma once
// k x k convolution with stride and zero padding, as an im2col tile + GEMM:
// output pixels are processed in tiles whose unrolled patches (one row of
// kernel*kernel*cin values per pixel) fit in L2, and each tile goes through the
// same packed GEMM as the 1x1 convolutions, epilogue included. A 1x1, stride-1,
// unpadded convolution over channels-last input needs no im2col at all.

#include <algorithm>
#include <cstddef>
#include <cstring>

#include "riformer/core/context.hpp"
#include "riformer/core/error.hpp"
#include "riformer/core/image_view.hpp"
#include "riformer/kernels/gemm.hpp"

namespace riformer::kernels {

using riformer::ImageView;

struct ConvGeometry {
  int kernel = 1, stride = 1, pad = 0;

  [[nodiscard]] int out_height(int in_h) const { return (in_h + 2 * pad - kernel) / stride + 1; }
  [[nodiscard]] int out_width(int in_w) const { return (in_w + 2 * pad - kernel) / stride + 1; }
  [[nodiscard]] bool accepts(int in_h, int in_w) const { return in_h + 2 * pad >= kernel && in_w + 2 * pad >= kernel; }
  [[nodiscard]] bool is_pointwise() const { return kernel == 1 && stride == 1 && pad == 0; }
};

// Packs PyTorch conv weights [cout, cin, kernel, kernel] as the (kernel*kernel*cin) x cout
// matrix that multiplies im2col rows (column order: ky, kx, ci).
template <class Arch = DefaultArch>
[[nodiscard]] PackedMatrix pack_conv_weights(const float* w, const float* bias, int cout, int cin, int kernel) {
  const int k = kernel * kernel * cin;
  std::vector<float> kn(static_cast<std::size_t>(k) * cout);
  for (int co = 0; co < cout; ++co)
    for (int ci = 0; ci < cin; ++ci)
      for (int ky = 0; ky < kernel; ++ky)
        for (int kx = 0; kx < kernel; ++kx)
          kn[static_cast<std::size_t>((ky * kernel + kx) * cin + ci) * cout + co] =
              w[((static_cast<std::size_t>(co) * cin + ci) * kernel + ky) * kernel + kx];
  return pack_matrix<Arch>(kn.data(), bias, k, cout);
}

// Unrolls the patches of output pixels [first, first + count) into rows of
// kernel*kernel*cin values (zeros where the patch hangs over the border).
inline void im2col(const ImageView& in, const ConvGeometry& g, int out_w, int first, int count, float* cols) {
  const int cin = in.channels, kk = g.kernel;
  const std::size_t row_len = static_cast<std::size_t>(kk) * kk * cin;
  for (int j = 0; j < count; ++j) {
    const int pixel = first + j, oy = pixel / out_w, ox = pixel % out_w;
    float* row = cols + j * row_len;
    for (int ky = 0; ky < kk; ++ky) {
      const int iy = oy * g.stride - g.pad + ky;
      for (int kx = 0; kx < kk; ++kx) {
        const int ix = ox * g.stride - g.pad + kx;
        float* dst = row + static_cast<std::size_t>(ky * kk + kx) * cin;
        if (iy < 0 || iy >= in.height || ix < 0 || ix >= in.width) {
          std::fill(dst, dst + cin, 0.0f);
        } else if (in.channels_contiguous()) {
          std::memcpy(dst, in.data + iy * in.stride_y + ix * in.stride_x, sizeof(float) * static_cast<std::size_t>(cin));
        } else {
          const float* src = in.data + iy * in.stride_y + ix * in.stride_x;
          for (int c = 0; c < cin; ++c) dst[c] = src[c * in.stride_c];
        }
      }
    }
  }
}

// Floats of scratch conv2d() wants for one im2col tile (none for a pointwise
// convolution over dense channels-last input, which is a plain GEMM).
// Tiles hold about 512 KiB of patches, and at least one pixel.
[[nodiscard]] inline std::size_t conv2d_scratch_floats(const ConvGeometry& g, int cin, int out_pixels,
                                                       bool dense_channels_last_input = true) {
  if (g.is_pointwise() && dense_channels_last_input) return 0;
  const std::size_t row_len = static_cast<std::size_t>(g.kernel) * g.kernel * cin;
  const std::size_t rows = std::clamp<std::size_t>((128 * 1024) / row_len, 1, static_cast<std::size_t>(out_pixels));
  return rows * row_len;
}

// out (channels-last, pixel stride ldc) = epilogue(conv(in, w) + bias).
template <class Arch = DefaultArch>
void conv2d(const Context& ctx, const ImageView& in, const ConvGeometry& g, const PackedMatrix& w, float* out,
            std::size_t ldc, GemmEpilogue epilogue, float* scratch, std::size_t scratch_floats) {
  require(g.accepts(in.height, in.width), "conv2d: a ", in.height, "x", in.width, " input is smaller than the ",
          g.kernel, "x", g.kernel, " kernel with padding ", g.pad);
  const int out_h = g.out_height(in.height), out_w = g.out_width(in.width);
  const int pixels = out_h * out_w;
  if (g.is_pointwise() && in.channels_contiguous() && in.stride_y == static_cast<std::ptrdiff_t>(in.width) * in.stride_x) {
    gemm<Arch>(ctx, pixels, in.data, static_cast<std::size_t>(in.stride_x), w, out, ldc, epilogue);
    return;
  }
  const std::size_t row_len = static_cast<std::size_t>(g.kernel) * g.kernel * in.channels;
  require(w.k == static_cast<int>(row_len), "conv2d: weights expect depth ", w.k, ", patches have ", row_len);
  const int tile = static_cast<int>(std::min<std::size_t>(scratch_floats / row_len, static_cast<std::size_t>(pixels)));
  require(tile >= 1, "conv2d: scratch of ", scratch_floats, " floats cannot hold one ", row_len, "-value patch");
  for (int first = 0; first < pixels; first += tile) {
    const int count = std::min(tile, pixels - first);
    // Unroll the tile's patches in parallel, one slice of pixels per task.
    const int tasks = std::min(ctx.threads(), count);
    ctx.parallel(tasks, [&](int task, int) {
      const int begin = count * task / tasks, end = count * (task + 1) / tasks;
      im2col(in, g, out_w, first + begin, end - begin, scratch + static_cast<std::size_t>(begin) * row_len);
    });
    gemm<Arch>(ctx, count, scratch, row_len, w, out + static_cast<std::size_t>(first) * ldc, ldc, epilogue);
  }
}

}  // namespace riformer::kernels
