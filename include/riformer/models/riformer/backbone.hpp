#pragma once
// The RIFormer backbone as a type: Backbone<kS12> has its stages, widths and
// depths fixed at compile time (blocks of a stage in a std::array, the four
// differently-shaped stages in a tuple), and runs on any input size of at
// least 3x3 pixels, planned once per size.
//
//   patch_embed.proj      Conv 7x7/4           (H, W, 3)      -> (h0, w0, d0)
//   network.0             d0-blocks x depth0   (h0, w0, d0)
//   network.1.proj        Conv 3x3/2           (h0, w0, d0)   -> (h1, w1, d1)
//   network.2 ... network.6                    likewise for stages 1..3
//   norm0, norm2, norm4, norm6                 GroupNorm of each returned stage

#include <array>
#include <cstddef>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <xtensor/xtensor.hpp>

#include "riformer/core/address_sanitizer.hpp"
#include "riformer/core/aligned_buffer.hpp"
#include "riformer/core/carved_span.hpp"
#include "riformer/core/context.hpp"
#include "riformer/core/error.hpp"
#include "riformer/core/feature_map.hpp"
#include "riformer/core/image_view.hpp"
#include "riformer/io/param_source.hpp"
#include "riformer/kernels/channels_last.hpp"
#include "riformer/kernels/gemm.hpp"
#include "riformer/layers/conv2d.hpp"
#include "riformer/layers/group_norm.hpp"
#include "riformer/models/riformer/block.hpp"
#include "riformer/models/riformer/spec.hpp"

namespace riformer {

// Where a returned stage's output goes.
enum class StageOutput {
  own,       // a buffer of the workspace
  external,  // the caller points ws.outputs[i] (and output_stride[i]) at memory of its own
  skip,      // not computed: the caller does not need it (its FeatureMap comes back empty)
};

// Working memory of a backbone for one input size: one allocation, carved into
// the buffers forward() needs. Planned by Backbone::plan(); forward() itself
// allocates nothing. Move-only: its pointers point into its own memory.
struct BackboneWorkspace {
  BackboneWorkspace() = default;
  BackboneWorkspace(BackboneWorkspace&&) = default;
  BackboneWorkspace& operator=(BackboneWorkspace&&) = default;

  int height = 0, width = 0;     // input size it was planned for
  std::array<int, 4> stage_h{}, stage_w{};
  AlignedBuffer memory;
  CarvedSpan carving;  // memory's buffers, with (under AddressSanitizer) poisoned gaps between them
  std::array<float*, 2> stream{};  // residual stream, ping-pong between stages: (h, w, d)
  float* hidden = nullptr;         // MLP hidden activations of the unfused stages: (h, w, d * ratio)
  std::vector<double> channel_sums;  // sum and sum of squares per channel of the stream: 2 x max d
  std::vector<double> stats_scratch;  // per-row-block partial sums of the GEMM epilogues
  std::array<float*, 4> outputs{};  // returned stage outputs: (h, w, d), pixels output_stride[i] apart
  std::array<std::size_t, 4> output_stride{};
  std::array<StageOutput, 4> placement{};
  // stream[0], stream[1] and hidden, one contiguous span: dead once run()
  // returns, so a caller may use it for its own work until the next run().
  float* reusable = nullptr;
  std::size_t reusable_size = 0;
};

template <BackboneSpec S>
class Backbone {
  static_assert(S.valid(), "BackboneSpec: every depth, dim and mlp ratio must be >= 1, and one output returned");

  template <int I>
  using Stage = std::array<RIFormerBlock<S.dims[I], S.hidden(I)>, S.depths[I]>;
  template <int I>
  using Downsample = layers::Conv2d<S.dims[I], S.dims[I + 1], 3, 2, 1>;
  using Stem = layers::Conv2d<3, S.dims[0], 7, 4, 2>;

 public:
  static constexpr BackboneSpec kSpec = S;
  static constexpr int kNumOutputs = S.num_outputs();
  // The returned stages, in order (channels-last views into the workspace).
  using Outputs = std::array<FeatureMap, kNumOutputs>;

  Backbone() = default;
  explicit Backbone(const ParamScope& params) { load(params); }

  // Reads every parameter by its state_dict key below `params`' prefix (either
  // checkpoint form), checking shapes, and folds and packs them.
  void load(const ParamScope& params) {
    stem_.load(params.sub("patch_embed").sub("proj"));
    unroll4([&](auto I) {
      auto& blocks = std::get<I>(stages_);
      for (std::size_t j = 0; j < blocks.size(); ++j)
        blocks[j].load(params.sub("network").sub(std::to_string(2 * I)).sub(std::to_string(j)));
      if constexpr (I < 3) std::get<I>(downsamples_).load(params.sub("network").sub(std::to_string(2 * I + 1)).sub("proj"));
      if constexpr (S.outputs[I]) std::get<I>(norms_).load(params.sub("norm" + std::to_string(2 * I)));
    });
  }

  // Sizes `ws` for a height x width input (allocates only if something
  // changed). `placement` says where each returned stage goes (a detector
  // points P3 and P4 into its concatenation buffers, so nothing is copied
  // there, and skips P2, which its head does not read).
  void plan(BackboneWorkspace& ws, int height, int width,
            std::array<StageOutput, 4> placement = {StageOutput::own, StageOutput::own, StageOutput::own,
                                                    StageOutput::own}) const {
    require(height >= kMinInputSize && width >= kMinInputSize, "RIFormer backbone: input of ", height, "x", width,
            " is too small; it needs at least ", kMinInputSize, "x", kMinInputSize, " pixels");
    if (ws.height == height && ws.width == width && ws.placement == placement && ws.memory.size()) return;
    const std::array<int, 4> hs = stage_sizes(height), wsz = stage_sizes(width);
    // A stream buffer also holds the input interleaved to channels-last (see run()).
    std::size_t stream = align_floats(static_cast<std::size_t>(height) * width * 3), hidden = 0;
    std::size_t stats = kernels::gemm_stats_scratch_doubles(hs[0] * wsz[0], S.dims[0]);  // the stem's
    int widest = 0;
    std::array<std::size_t, 4> out{};
    unroll4([&](auto I) {
      using Block = typename Stage<I>::value_type;
      const int pixels = hs[I] * wsz[I];
      stream = std::max(stream, align_floats(static_cast<std::size_t>(pixels) * S.dims[I]));
      hidden = std::max(hidden, align_floats(Block::hidden_floats(pixels)));
      stats = std::max(stats, Block::stats_scratch_doubles(pixels));
      widest = std::max(widest, S.dims[I]);
      if constexpr (I < 3) stats = std::max(stats, kernels::conv2d_stats_scratch_doubles(hs[I + 1] * wsz[I + 1], S.dims[I + 1]));
      if constexpr (S.outputs[I])
        out[I] = placement[I] == StageOutput::own ? align_floats(static_cast<std::size_t>(pixels) * S.dims[I]) : 0;
    });
    ws.channel_sums.assign(2 * static_cast<std::size_t>(widest), 0.0);
    ws.stats_scratch.assign(stats, 0.0);
    const auto footprint = [](std::size_t n) { return n ? CarvedSpan::footprint(n) : 0; };
    const std::size_t working = 2 * footprint(stream) + footprint(hidden);
    std::size_t total = working;
    for (std::size_t o : out) total += footprint(o);

    ws.memory.resize(total);
    ws.carving.reset(ws.memory.data(), total);
    ws.stream = {ws.carving.take(stream), ws.carving.take(stream)};
    ws.hidden = hidden ? ws.carving.take(hidden) : nullptr;
    ws.reusable = ws.stream[0];
    ws.reusable_size = working;
    for (int i = 0; i < 4; ++i) {
      ws.outputs[i] = out[i] ? ws.carving.take(out[i]) : nullptr;
      ws.output_stride[i] = static_cast<std::size_t>(S.dims[i]);
    }
    ws.carving.arm();
    ws.height = height;
    ws.width = width;
    ws.placement = placement;
    ws.stage_h = hs;
    ws.stage_w = wsz;
  }

  // Runs the backbone on one 3-channel image (any layout ImageView can
  // describe); `ws` must have been planned for its size. Allocates nothing.
  Outputs run(const Context& ctx, const ImageView& image, BackboneWorkspace& ws) const {
    require(image.channels == 3, "RIFormer backbone: the input must have 3 channels, got ", image.channels);
    require(ws.height == image.height && ws.width == image.width, "RIFormer backbone: workspace planned for ", ws.height,
            "x", ws.width, ", input is ", image.height, "x", image.width);
    ws.carving.arm();  // (the caller may have used the working memory since the last run)
    Outputs outputs{};
    int next_output = 0;
    int current = 0;  // which stream buffer holds x
    // The channel sums of x, gathered by whatever wrote x, feed the next GroupNorm.
    layers::ChannelSums sums{ws.channel_sums.data(), ws.channel_sums.data() + ws.channel_sums.size() / 2,
                             static_cast<std::size_t>(ws.stage_h[0]) * ws.stage_w[0], S.dims[0]};
    auto with_sums = [&] {
      sums.clear();
      return kernels::GemmEpilogue{kernels::Activation::none, false, nullptr, nullptr,
                                   {sums.sum, sums.sum_sq, ws.stats_scratch.data()}};
    };
    // Layer names for a LayerTimer, as in the state_dict.
    static constexpr const char* kStageNames[] = {"network.0", "network.2", "network.4", "network.6"};
    static constexpr const char* kDownsampleNames[] = {"network.1", "network.3", "network.5"};
    static constexpr const char* kNormNames[] = {"norm0", "norm2", "norm4", "norm6"};
    ctx.start_layers();
    // The stem reads channels-last patches in place; any other layout (a
    // PyTorch CHW tensor) is interleaved first, into the stream buffer the
    // first downsample writes only after the stem.
    ImageView stem_input = image;
    if (!kernels::is_dense_channels_last(image)) {
      kernels::to_channels_last(ctx, image, ws.stream[1]);  // (H, W, 3)
      stem_input = ImageView::hwc(ws.stream[1], image.height, image.width, 3);
    }
    // x = patch_embed(image): (h0, w0, d0)
    stem_.forward(ctx, stem_input, ws.stream[0], S.dims[0], with_sums());
    ctx.end_layer("patch_embed");
    unroll4([&](auto I) {
      constexpr int C = S.dims[I];
      const int h = ws.stage_h[I], w = ws.stage_w[I];
      float* x = ws.stream[current];
      sums.pixels = static_cast<std::size_t>(h) * w;
      sums.channels = C;
      for (const auto& block : std::get<I>(stages_)) block.forward(ctx, x, sums, ws.hidden, ws.stats_scratch.data());  // x: (h, w, C)
      ctx.end_layer(kStageNames[I]);
      if constexpr (S.outputs[I]) {
        if (ws.placement[I] == StageOutput::skip) {
          outputs[next_output++] = FeatureMap{};
        } else {
          require(ws.outputs[I] != nullptr, "RIFormer backbone: no output buffer for stage ", int(I));
          std::get<I>(norms_).apply(ctx, layers::moments(sums), x, ws.outputs[I], sums.pixels, ws.output_stride[I]);  // out: (h, w, C)
          outputs[next_output++] = FeatureMap{ws.outputs[I], h, w, C, ws.output_stride[I]};
          ctx.end_layer(kNormNames[I]);
        }
      }
      if constexpr (I < 3) {
        // x' = network.{2I+1}.proj(x): (h, w, C) -> (h', w', C'), with the next stage's sums
        sums.channels = S.dims[I + 1];
        std::get<I>(downsamples_).forward(ctx, ImageView::hwc(x, h, w, C), ws.stream[1 - current], S.dims[I + 1],
                                          with_sums());
        ctx.end_layer(kDownsampleNames[I]);
        current = 1 - current;
      }
    });
    unpoison_floats(ws.reusable, ws.reusable_size);  // dead now: the caller's to use (see `reusable`)
    return outputs;
  }

 private:
  template <class F>
  static void unroll4(F&& f) {
    kernels::detail::unroll<4>(std::forward<F>(f));
  }

  template <std::size_t... I>
  static auto make_downsamples(std::index_sequence<I...>) -> std::tuple<Downsample<I>...>;
  template <std::size_t... I>
  static auto make_norms(std::index_sequence<I...>) -> std::tuple<layers::GroupNorm<S.dims[I]>...>;

  Stem stem_;
  std::tuple<Stage<0>, Stage<1>, Stage<2>, Stage<3>> stages_;
  decltype(make_downsamples(std::make_index_sequence<3>{})) downsamples_;
  decltype(make_norms(std::make_index_sequence<4>{})) norms_;  // only the returned stages' are loaded
};

// A backbone with its own threads and workspace: what most users hold.
template <BackboneSpec S>
class BackboneRunner {
 public:
  using Outputs = typename Backbone<S>::Outputs;

  explicit BackboneRunner(Backbone<S> net, int threads = 1) : net_(std::move(net)), ctx_(threads) {}

  [[nodiscard]] const Backbone<S>& network() const { return net_; }
  [[nodiscard]] int threads() const { return ctx_.threads(); }
  void set_threads(int threads) {
    LayerTimer* timer = ctx_.layer_timer();
    ctx_ = Context(threads);
    ctx_.set_layer_timer(timer);
  }
  // Times each layer of the following forward() calls into `timer` (null: stop).
  void set_layer_timer(LayerTimer* timer) { ctx_.set_layer_timer(timer); }

  // Plans memory for an input size ahead of the first forward().
  void reserve(int height, int width) { net_.plan(ws_, height, width); }

  // image: one image in any layout ImageView describes. The outputs stay valid
  // until the next forward().
  Outputs forward(const ImageView& image) {
    net_.plan(ws_, image.height, image.width);
    return net_.run(ctx_, image, ws_);
  }

  // input: [1, 3, H, W] float, PyTorch's layout.
  Outputs forward(const xt::xtensor<float, 4>& input) {
    const auto& s = input.shape();
    require(s[0] == 1 && s[1] == 3, "RIFormer backbone: expected an input of shape [1, 3, H, W], got [", s[0], ", ", s[1],
            ", ", s[2], ", ", s[3], "]");
    return forward(ImageView::chw(input.data(), static_cast<int>(s[2]), static_cast<int>(s[3]), 3));
  }

 private:
  Backbone<S> net_;
  Context ctx_;
  BackboneWorkspace ws_;
};

}  // namespace riformer
