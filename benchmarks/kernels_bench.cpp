// Per-kernel speed: the GEMM on every RIFormer MLP shape, the k x k
// convolutions of the network, and the memory-bound kernels, on 1 and 2
// threads. GEMMs and convolutions report GFLOP/s and percent of the FMA peak
// measured at start-up (same threads, same run); memory-bound kernels report
// bytes moved per second.
//
//   bazel run //benchmarks:kernels_bench -- [--benchmark_filter=Gemm]
#include <benchmark/benchmark.h>

#include <cstring>
#include <vector>

#include "bench_support.hpp"
#include "riformer/core/context.hpp"
#include "riformer/kernels/activation.hpp"
#include "riformer/kernels/channel_affine.hpp"
#include "riformer/kernels/channels_last.hpp"
#include "riformer/kernels/conv2d.hpp"
#include "riformer/kernels/gemm.hpp"
#include "riformer/kernels/gemm_microkernel.hpp"
#include "riformer/kernels/pool.hpp"
#include "shapes.hpp"

namespace rk = riformer::kernels;
using riformer::Context;
using riformer::ImageView;

namespace {

using riformer::bench::data;
using riformer::bench::run_flops;

void BM_Gemm(benchmark::State& state) {
  const auto shape = riformer::bench::riformer_mlp_shapes()[static_cast<std::size_t>(state.range(0))];
  const int threads = static_cast<int>(state.range(1));
  state.SetLabel(shape.name);
  Context ctx(threads);
  const auto a = data(static_cast<std::size_t>(shape.m) * shape.k, "a.weight");
  const auto b = data(static_cast<std::size_t>(shape.k) * shape.n, "b.weight");
  const auto packed = rk::pack_matrix(b.data(), nullptr, shape.k, shape.n);
  auto c = riformer::bench::output(static_cast<std::size_t>(shape.m) * shape.n);
  run_flops(state, 2.0 * shape.m * shape.k * shape.n, threads, [&] {
    rk::gemm(ctx, shape.m, a.data(), shape.k, packed, c.data(), shape.n);
    benchmark::DoNotOptimize(c.data());
  });
}

void gemm_args(benchmark::internal::Benchmark* b) {
  const int n = static_cast<int>(riformer::bench::riformer_mlp_shapes().size());
  for (int threads : {1, 2})
    for (int i = 0; i < n; ++i) b->Args({i, threads});
}
BENCHMARK(BM_Gemm)->Apply(gemm_args)->UseRealTime()->Unit(benchmark::kMillisecond);

// The ceiling of every GEMM above: one MR x NR micro tile over depth k with
// its operands (MR rows of A, one packed panel of B) in L1, repeated. The gap
// between this and BM_Gemm is what the memory hierarchy and the epilogues cost.
void BM_MicroTile(benchmark::State& state) {
  using Arch = riformer::DefaultArch;
  constexpr int MR = rk::GemmTiles<Arch>::MR, NR = rk::GemmTiles<Arch>::NR;
  const int k = static_cast<int>(state.range(0));
  const auto a = data(static_cast<std::size_t>(MR) * k, "a.weight");
  const auto b = data(static_cast<std::size_t>(k) * NR, "b.weight");
  const auto packed = rk::pack_matrix(b.data(), nullptr, k, NR);  // one panel, zero bias
  auto c = riformer::bench::output(static_cast<std::size_t>(MR) * NR);
  const rk::detail::TileFinish finish{packed.bias.data()};
  run_flops(state, 2.0 * MR * NR * k, 1, [&] {
    rk::detail::micro_tile<Arch, rk::Activation::none, false>(k, a.data(), static_cast<std::size_t>(k), MR, packed.panel(0),
                                                              c.data(), NR, NR, rk::detail::TileStart::zero, finish);
    benchmark::DoNotOptimize(c.data());
  });
}
BENCHMARK(BM_MicroTile)->Arg(64)->Arg(128)->Arg(320)->Arg(512)->UseRealTime()->Unit(benchmark::kMicrosecond);

// k x k convolutions of the network at 640x640 input.
struct ConvCase {
  int cin, cout, kernel, stride, pad, side;
  bool planar;  // CHW input (a user's [1, 3, H, W] tensor) instead of channels-last
  const char* name;
};
const ConvCase kConvs[] = {
    {3, 64, 7, 4, 2, 640, true, "stem 7x7/4 3->64, CHW"},
    {3, 64, 7, 4, 2, 640, false, "stem 7x7/4 3->64, HWC (detector)"},
    {64, 128, 3, 2, 1, 160, false, "downsample 3x3/2 64->128"},
    {320, 512, 3, 2, 1, 40, false, "downsample 3x3/2 320->512"},
    {32, 32, 3, 1, 1, 80, false, "YOLO bottleneck 3x3 32->32"},
    {64, 64, 3, 2, 1, 80, false, "YOLO 3x3/2 64->64"},
    {128, 128, 3, 2, 1, 40, false, "YOLO 3x3/2 128->128"},
};

void BM_Conv(benchmark::State& state) {
  const ConvCase& cc = kConvs[state.range(0)];
  const int threads = static_cast<int>(state.range(1));
  state.SetLabel(cc.name);
  Context ctx(threads);
  const rk::ConvGeometry g{cc.kernel, cc.stride, cc.pad};
  const int out = g.out_height(cc.side);
  const auto in = data(static_cast<std::size_t>(cc.side) * cc.side * cc.cin, "input");
  const auto w = data(static_cast<std::size_t>(cc.cout) * cc.cin * cc.kernel * cc.kernel, "w.weight");
  const auto packed = rk::pack_conv_weights(w.data(), nullptr, cc.cout, cc.cin, cc.kernel);
  auto y = riformer::bench::output(static_cast<std::size_t>(out) * out * cc.cout);
  const ImageView view = cc.planar ? ImageView::chw(in.data(), cc.side, cc.side, cc.cin)
                                    : ImageView::hwc(in.data(), cc.side, cc.side, cc.cin);
  run_flops(state, 2.0 * out * out * cc.cout * cc.cin * cc.kernel * cc.kernel, threads, [&] {
    rk::conv2d(ctx, view, g, packed, y.data(), cc.cout, {rk::Activation::silu});
    benchmark::DoNotOptimize(y.data());
  });
}
BENCHMARK(BM_Conv)->ArgsProduct({{0, 1, 2, 3, 4, 5, 6}, {1, 2}})->UseRealTime()->Unit(benchmark::kMillisecond);

void report_bytes(benchmark::State& state, double bytes_per_iteration) {
  state.counters["GB/s"] = benchmark::Counter(bytes_per_iteration * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// Stage 0 of S12 at 640x640: 160 x 160 pixels x 64 channels.
constexpr std::size_t kPixels = 160 * 160;
constexpr int kChannels = 64;

// The ceiling of the memory-bound kernels below: the same bytes as
// BM_ChannelAffine (one stage-0 tensor read, one written) copied with
// memcpy, split over the threads as the kernels split their rows. Their GB/s
// over this one's, from the same run, is how near the bandwidth they are.
void BM_Copy(benchmark::State& state) {
  Context ctx(static_cast<int>(state.range(0)));
  const auto x = data(kPixels * kChannels, "input");
  auto y = riformer::bench::output(x.size());
  const int parts = ctx.threads();
  for (auto _ : state) {
    ctx.parallel(parts, [&](int part, int) {
      const std::size_t begin = x.size() * part / parts, end = x.size() * (part + 1) / parts;
      std::memcpy(y.data() + begin, x.data() + begin, (end - begin) * sizeof(float));
    });
    benchmark::DoNotOptimize(y.data());
  }
  report_bytes(state, 2.0 * x.size() * sizeof(float));
}
BENCHMARK(BM_Copy)->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMicrosecond);

void BM_ChannelAffine(benchmark::State& state) {
  Context ctx(static_cast<int>(state.range(0)));
  const auto x = data(kPixels * kChannels, "input");
  auto y = riformer::bench::output(x.size());
  std::vector<float> scale(kChannels, 1.1f), shift(kChannels, 0.1f);
  for (auto _ : state) {
    rk::channel_affine(ctx, x.data(), y.data(), kPixels, kChannels, scale.data(), shift.data());
    benchmark::DoNotOptimize(y.data());
  }
  report_bytes(state, 2.0 * x.size() * sizeof(float));
}
BENCHMARK(BM_ChannelAffine)->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMicrosecond);

template <rk::Activation Act>
void BM_Activation(benchmark::State& state) {
  using B = xsimd::batch<float, riformer::DefaultArch>;
  auto x = data(kPixels * 4 * kChannels, "input");  // fc1's output at stage 0
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = x[i] * 8 - 4;
  auto y = riformer::bench::output(x.size());
  for (auto _ : state) {
    for (std::size_t i = 0; i + B::size <= x.size(); i += B::size)
      rk::activate<Act>(B::load_unaligned(x.data() + i)).store_unaligned(y.data() + i);
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["Gvalues/s"] = benchmark::Counter(x.size() * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_Activation<rk::Activation::gelu>)->Name("BM_Gelu")->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Activation<rk::Activation::silu>)->Name("BM_Silu")->UseRealTime()->Unit(benchmark::kMicrosecond);

void BM_MaxPool5(benchmark::State& state) {  // SPPF at 640: 20 x 20 x 256
  Context ctx(static_cast<int>(state.range(0)));
  const int h = 20, w = 20, c = 256;
  const auto x = data(static_cast<std::size_t>(h) * w * c, "input");
  auto y = riformer::bench::output(x.size()), scratch = riformer::bench::output(rk::max_pool_scratch_floats(h, w, c));
  for (auto _ : state) {
    rk::max_pool_same(ctx, x.data(), c, h, w, c, 5, y.data(), c, scratch.data());
    benchmark::DoNotOptimize(y.data());
  }
  report_bytes(state, 4.0 * x.size() * sizeof(float));
}
BENCHMARK(BM_MaxPool5)->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMicrosecond);

// The neck at 640: 40 x 40 x 128 -> 80 x 80, either dense (slice 1) or, as in
// the network, into the first half of a concatenation twice as wide (slice 2).
void BM_Upsample2x(benchmark::State& state) {
  Context ctx(static_cast<int>(state.range(0)));
  const int h = 40, w = 40, c = 128;
  const std::size_t out_stride = static_cast<std::size_t>(c) * state.range(1);
  const auto x = data(static_cast<std::size_t>(h) * w * c, "input");
  auto y = riformer::bench::output(4 * static_cast<std::size_t>(h) * w * out_stride);
  for (auto _ : state) {
    rk::upsample_nearest_2x(ctx, x.data(), c, h, w, c, y.data(), out_stride);
    benchmark::DoNotOptimize(y.data());
  }
  report_bytes(state, 5.0 * x.size() * sizeof(float));
}
BENCHMARK(BM_Upsample2x)
    ->ArgsProduct({{1, 2}, {1, 2}})
    ->ArgNames({"threads", "slice"})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

void BM_ChannelsLast(benchmark::State& state) {  // a [1, 3, 640, 640] tensor interleaved before the stem
  Context ctx(static_cast<int>(state.range(0)));
  const int side = 640;
  const auto x = data(3 * static_cast<std::size_t>(side) * side, "input");
  auto y = riformer::bench::output(x.size());
  for (auto _ : state) {
    rk::to_channels_last(ctx, ImageView::chw(x.data(), side, side, 3), y.data());
    benchmark::DoNotOptimize(y.data());
  }
  report_bytes(state, 2.0 * x.size() * sizeof(float));
}
BENCHMARK(BM_ChannelsLast)->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMicrosecond);

}  // namespace

int main(int argc, char** argv) { return riformer::bench::run_benchmarks(argc, argv); }
