// The vector activations against double-precision truth, densely over the
// range where they are not yet their asymptotes.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>

#include "riformer/kernels/activation.hpp"

namespace rk = riformer::kernels;
using Arch = riformer::DefaultArch;

namespace {

// Largest of |f(x) - truth(x)| / scale(x) over x in [-20, 20) in steps of 1e-3.
template <class VectorF>
double worst_error(VectorF f, const std::function<double(double)>& truth, const std::function<double(double)>& scale) {
  using B = xsimd::batch<float, Arch>;
  double worst = 0;
  alignas(64) float in[B::size], out[B::size];
  for (int step = -20000; step < 20000; step += B::size) {
    for (std::size_t i = 0; i < B::size; ++i) in[i] = static_cast<float>((step + static_cast<int>(i)) * 1e-3);
    f(B::load_aligned(in)).store_aligned(out);
    for (std::size_t i = 0; i < B::size; ++i)
      worst = std::max(worst, std::abs(out[i] - truth(in[i])) / scale(in[i]));
  }
  return worst;
}

double exact_gelu(double x) { return 0.5 * x * std::erfc(-x / std::sqrt(2.0)); }
double exact_silu(double x) { return x / (1.0 + std::exp(-x)); }

}  // namespace

TEST_CASE("vector erf, GELU and SiLU against double precision") {
  if constexpr (riformer::kIsSimd<Arch>) {
    using B = xsimd::batch<float, Arch>;
    // erf relative to its value; GELU and SiLU relative to max(1, |x|), since
    // 1 + erf(x) cancels for very negative x in any float implementation
    // (PyTorch's included) and only the absolute error is meaningful there.
    // GELU's erf term, erf(x / sqrt 2) / 2, as erf at u = x / sqrt 2 (u in [-14.1, 14.1]).
    const auto half_erf = [](double x) { return 0.5 * std::erf(x / std::sqrt(2.0)); };
    const double erf_err = worst_error([](B x) { return rk::half_erf_of_x_over_sqrt2(x); }, half_erf,
                                       [&](double x) { return std::max(1e-30, std::abs(half_erf(x))); });
    // exp over its whole normal range, relative to its value.
    double exp_err = 0;
    for (double x0 = -87.0; x0 < 88.0; x0 += 0.0007 * B::size) {
      alignas(64) float in[B::size], out[B::size];
      for (std::size_t i = 0; i < B::size; ++i) in[i] = static_cast<float>(x0 + 0.0007 * i);
      rk::exp(B::load_aligned(in)).store_aligned(out);
      for (std::size_t i = 0; i < B::size; ++i)
        exp_err = std::max(exp_err, std::abs(out[i] - std::exp(double(in[i]))) / std::exp(double(in[i])));
    }
    MESSAGE("exp relative " << exp_err);
    CHECK(exp_err < 1e-6);
    const auto unit = [](double x) { return std::max(1.0, std::abs(x)); };
    const double gelu_err = worst_error([](B x) { return rk::gelu(x); }, exact_gelu, unit);
    const double silu_err = worst_error([](B x) { return rk::silu(x); }, exact_silu, unit);
    MESSAGE("erf relative " << erf_err << ", gelu " << gelu_err << ", silu " << silu_err);
    CHECK(erf_err < 1e-6);
    CHECK(gelu_err < 1e-6);
    CHECK(silu_err < 1e-6);
  }
}

TEST_CASE("scalar GELU is the exact erf form, not the tanh approximation") {
  // At x = 1 the erf form gives 0.8413447...; the tanh approximation 0.8411920.
  CHECK(rk::gelu(1.0f) == doctest::Approx(exact_gelu(1.0)).epsilon(1e-7));
  CHECK(rk::gelu(-3.0f) == doctest::Approx(exact_gelu(-3.0)).epsilon(1e-5));
  CHECK(rk::silu(2.0f) == doctest::Approx(exact_silu(2.0)).epsilon(1e-7));
}
