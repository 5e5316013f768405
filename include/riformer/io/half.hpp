#pragma once
// Conversions between float and the 16-bit float formats checkpoints are stored in
// (IEEE float16 and bfloat16). Widening is exact for every bit pattern, including
// subnormals, infinities and NaN payloads; narrowing rounds to nearest, ties to even,
// exactly as PyTorch's .half() / .bfloat16() do, so files we write match theirs.
// Done with integer arithmetic so the result does not depend on the FPU rounding mode
// or on compiler flags like -ffast-math.

#include <bit>
#include <cstdint>

namespace riformer {

[[nodiscard]] inline float f16_to_float(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t exponent = (h >> 10) & 0x1Fu;
  std::uint32_t mantissa = h & 0x3FFu;
  std::uint32_t bits = 0;
  if (exponent == 0x1F) {
    bits = sign | 0x7F800000u | (mantissa << 13);  // inf, or NaN keeping its payload
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112u) << 23) | (mantissa << 13);  // rebias 15 -> 127
  } else if (mantissa == 0) {
    bits = sign;  // signed zero
  } else {
    // Subnormal half: mantissa * 2^-24. Every one is a normal float; shift the leading
    // one into the implicit position and lower the exponent accordingly.
    std::uint32_t e = 113;  // exponent field of 2^-14, the scale of mantissa bit 10
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      --e;
    }
    bits = sign | (e << 23) | ((mantissa & 0x3FFu) << 13);
  }
  return std::bit_cast<float>(bits);
}

[[nodiscard]] inline float bf16_to_float(std::uint16_t b) {
  // bfloat16 is the upper half of a float32, so widening is a shift.
  return std::bit_cast<float>(static_cast<std::uint32_t>(b) << 16);
}

[[nodiscard]] inline std::uint16_t float_to_f16(float f) {
  const std::uint32_t x = std::bit_cast<std::uint32_t>(f);
  const auto sign = static_cast<std::uint16_t>((x >> 16) & 0x8000u);
  const std::uint32_t abs = x & 0x7FFFFFFFu;
  if (abs > 0x7F800000u) {
    // NaN: keep the top payload bits and force the quiet bit so it stays a NaN.
    return static_cast<std::uint16_t>(sign | 0x7E00u | ((abs >> 13) & 0x3FFu));
  }
  // 0x477FF000 is 65520, halfway between the largest half (65504, odd mantissa) and
  // 2^16; ties-to-even sends it and everything above to infinity.
  if (abs >= 0x477FF000u) return static_cast<std::uint16_t>(sign | 0x7C00u);
  if (abs < 0x38800000u) {
    // Below 2^-14: the result is a half subnormal (units of 2^-24) or zero.
    const std::uint32_t e = abs >> 23;
    if (e < 102) return sign;  // < 2^-25 (half the smallest subnormal): rounds to zero
    const std::uint32_t mantissa = (abs & 0x7FFFFFu) | 0x800000u;
    const std::uint32_t shift = 126 - e;  // 14..24
    std::uint32_t q = mantissa >> shift;
    const std::uint32_t rest = mantissa & ((1u << shift) - 1);
    const std::uint32_t half = 1u << (shift - 1);
    if (rest > half || (rest == half && (q & 1u))) ++q;  // may carry into the smallest normal: correct
    return static_cast<std::uint16_t>(sign | q);
  }
  // Normal range: rebias the exponent (127 -> 15) and drop 13 mantissa bits. A carry
  // out of the mantissa correctly bumps the exponent.
  const std::uint32_t rebased = abs - 0x38000000u;
  std::uint32_t q = rebased >> 13;
  const std::uint32_t rest = rebased & 0x1FFFu;
  if (rest > 0x1000u || (rest == 0x1000u && (q & 1u))) ++q;
  return static_cast<std::uint16_t>(sign | q);
}

[[nodiscard]] inline std::uint16_t float_to_bf16(float f) {
  const std::uint32_t x = std::bit_cast<std::uint32_t>(f);
  if ((x & 0x7FFFFFFFu) > 0x7F800000u) {
    // NaN: truncating could clear every payload bit left and yield infinity.
    return static_cast<std::uint16_t>((x >> 16) | 0x0040u);
  }
  // Adding 0x7FFF plus the lowest kept bit rounds ties to even; overflow into the
  // exponent (up to infinity) is the correct rounding result.
  const std::uint32_t rounded = x + 0x7FFFu + ((x >> 16) & 1u);
  return static_cast<std::uint16_t>(rounded >> 16);
}

}  // namespace riformer
