// Tests of the float16 / bfloat16 conversions: widening exhaustively against the
// textbook formula, narrowing against a brute-force nearest-value search.
#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>

#include "riformer/io/half.hpp"

using namespace riformer;

namespace {

// (-1)^s * 2^(e - bias) * (1 + m / 2^mbits), subnormals 2^(1 - bias) * (m / 2^mbits).
double reference_value(std::uint16_t bits, int exponent_bits, int mantissa_bits) {
  const int bias = (1 << (exponent_bits - 1)) - 1;
  const int sign = bits >> 15;
  const int e = (bits >> mantissa_bits) & ((1 << exponent_bits) - 1);
  const int m = bits & ((1 << mantissa_bits) - 1);
  double v;
  if (e == (1 << exponent_bits) - 1)
    v = m == 0 ? std::numeric_limits<double>::infinity() : std::numeric_limits<double>::quiet_NaN();
  else if (e == 0)
    v = std::ldexp(static_cast<double>(m), 1 - bias - mantissa_bits);
  else
    v = std::ldexp(static_cast<double>(m + (1 << mantissa_bits)), e - bias - mantissa_bits);
  return sign ? -v : v;
}

void check_widening(std::uint16_t h, float got, double want) {
  if (std::isnan(want)) {
    CHECK(std::isnan(got));
    CHECK(std::signbit(got) == static_cast<bool>(h >> 15));
  } else {
    CHECK(static_cast<double>(got) == want);
    CHECK(std::signbit(got) == static_cast<bool>(h >> 15));  // includes -0
  }
}

// Nearest representable value of a 16-bit format to `x`, ties to the even bit pattern,
// by search over all finite patterns of the same sign (slow, but obviously right).
template <class Widen>
std::uint16_t reference_narrow(float x, Widen widen, std::uint16_t max_finite, double overflow_threshold) {
  const std::uint16_t sign = std::signbit(x) ? 0x8000 : 0;
  const double a = std::fabs(static_cast<double>(x));
  if (std::isinf(x) || a >= overflow_threshold) return sign | static_cast<std::uint16_t>(max_finite + 1);
  // Binary search over magnitudes: patterns 0..max_finite are increasing in value.
  std::uint32_t lo = 0, hi = max_finite;
  while (lo < hi) {
    const std::uint32_t mid = (lo + hi + 1) / 2;
    if (static_cast<double>(widen(static_cast<std::uint16_t>(mid))) <= a) lo = mid; else hi = mid - 1;
  }
  std::uint32_t best = lo;
  if (lo < max_finite) {
    const double below = a - widen(static_cast<std::uint16_t>(lo));
    const double above = static_cast<double>(widen(static_cast<std::uint16_t>(lo + 1))) - a;
    if (above < below || (above == below && (lo & 1))) best = lo + 1;
  }
  return static_cast<std::uint16_t>(sign | best);
}

}  // namespace

TEST_CASE("f16_to_float is exact for all 65536 patterns") {
  for (std::uint32_t h = 0; h < 65536; ++h) {
    const auto bits = static_cast<std::uint16_t>(h);
    check_widening(bits, f16_to_float(bits), reference_value(bits, 5, 10));
  }
  CHECK(f16_to_float(0x3C00) == 1.0f);
  CHECK(f16_to_float(0x7BFF) == 65504.0f);
  CHECK(f16_to_float(0x0001) == std::ldexp(1.0f, -24));
  CHECK(f16_to_float(0x03FF) == std::ldexp(1023.0f, -24));
  CHECK(std::isinf(f16_to_float(0xFC00)));
}

TEST_CASE("bf16_to_float is exact for all 65536 patterns") {
  for (std::uint32_t b = 0; b < 65536; ++b) {
    const auto bits = static_cast<std::uint16_t>(b);
    check_widening(bits, bf16_to_float(bits), reference_value(bits, 8, 7));
  }
  CHECK(bf16_to_float(0x3F80) == 1.0f);
}

TEST_CASE("narrowing inverts widening for every non-NaN pattern") {
  for (std::uint32_t h = 0; h < 65536; ++h) {
    const auto bits = static_cast<std::uint16_t>(h);
    const float f16 = f16_to_float(bits);
    const float b16 = bf16_to_float(bits);
    if (std::isnan(f16)) {
      CHECK(std::isnan(f16_to_float(float_to_f16(f16))));
    } else {
      CHECK(float_to_f16(f16) == bits);
    }
    if (std::isnan(b16)) {
      CHECK(std::isnan(bf16_to_float(float_to_bf16(b16))));
    } else {
      CHECK(float_to_bf16(b16) == bits);
    }
  }
}

TEST_CASE("narrowing rounds to nearest even at every midpoint") {
  // The exact midpoint between consecutive half values is representable as a float.
  for (std::uint32_t h = 0; h < 0x7BFF; ++h) {
    const double lo = f16_to_float(static_cast<std::uint16_t>(h));
    const double hi = f16_to_float(static_cast<std::uint16_t>(h + 1));
    const auto mid = static_cast<float>((lo + hi) / 2);
    REQUIRE(static_cast<double>(mid) == (lo + hi) / 2);
    const std::uint16_t even = (h & 1) ? static_cast<std::uint16_t>(h + 1) : static_cast<std::uint16_t>(h);
    CHECK(float_to_f16(mid) == even);
    CHECK(float_to_f16(-mid) == (even | 0x8000));
    CHECK(float_to_f16(std::nextafter(mid, 0.0f)) == h);
    CHECK(float_to_f16(std::nextafter(mid, 1e9f)) == h + 1);
  }
  for (std::uint32_t b = 0; b < 0x7F7F; ++b) {
    const double lo = bf16_to_float(static_cast<std::uint16_t>(b));
    const double hi = bf16_to_float(static_cast<std::uint16_t>(b + 1));
    const auto mid = static_cast<float>((lo + hi) / 2);
    REQUIRE(static_cast<double>(mid) == (lo + hi) / 2);
    const std::uint16_t even = (b & 1) ? static_cast<std::uint16_t>(b + 1) : static_cast<std::uint16_t>(b);
    CHECK(float_to_bf16(mid) == even);
  }
}

TEST_CASE("narrowing edge cases") {
  CHECK(float_to_f16(65504.0f) == 0x7BFF);
  CHECK(float_to_f16(65519.99f) == 0x7BFF);
  CHECK(float_to_f16(65520.0f) == 0x7C00);  // tie with 2^16 goes to even = infinity
  CHECK(float_to_f16(1e10f) == 0x7C00);
  CHECK(float_to_f16(-std::numeric_limits<float>::infinity()) == 0xFC00);
  CHECK(float_to_f16(std::ldexp(1.0f, -25)) == 0x0000);  // tie between 0 and the smallest subnormal
  CHECK(float_to_f16(std::nextafter(std::ldexp(1.0f, -25), 1.0f)) == 0x0001);
  CHECK(float_to_f16(-std::ldexp(1.0f, -26)) == 0x8000);
  CHECK(float_to_f16(std::numeric_limits<float>::denorm_min()) == 0);
  CHECK(float_to_f16(-0.0f) == 0x8000);
  CHECK(float_to_f16(std::ldexp(1023.5f, -24)) == 0x0400);  // subnormal rounds up into the normals
  const float nan_payload = std::bit_cast<float>(0x7F800001u);  // payload only in the low bits
  CHECK(std::isnan(f16_to_float(float_to_f16(nan_payload))));
  CHECK(std::isnan(bf16_to_float(float_to_bf16(nan_payload))));
  CHECK(std::isnan(bf16_to_float(float_to_bf16(-std::numeric_limits<float>::quiet_NaN()))));
  CHECK(float_to_bf16(std::numeric_limits<float>::max()) == 0x7F80);  // rounds up to infinity
  CHECK(float_to_bf16(1.0f) == 0x3F80);
}

TEST_CASE("narrowing matches a brute-force nearest search on random floats") {
  std::mt19937 rng(20240611);
  std::uniform_int_distribution<std::uint32_t> any;
  // The overflow thresholds: halfway between the largest finite value and the next power.
  const double f16_overflow = 65520.0;
  const double bf16_overflow = std::ldexp(2.0 - std::ldexp(1.0, -8), 127);
  for (int i = 0; i < 200000; ++i) {
    std::uint32_t bits = any(rng);
    // Bias half the samples towards the half-precision range, where the cases are.
    if (i & 1) bits = (bits & 0x80FFFFFFu) | ((100u + (bits >> 24) % 45u) << 23);
    const float x = std::bit_cast<float>(bits);
    if (std::isnan(x)) continue;
    CAPTURE(bits);
    CHECK(float_to_f16(x) == reference_narrow(x, f16_to_float, 0x7BFF, f16_overflow));
    CHECK(float_to_bf16(x) == reference_narrow(x, bf16_to_float, 0x7F7F, bf16_overflow));
  }
}
