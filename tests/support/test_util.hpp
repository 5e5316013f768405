#pragma once
// Small helpers shared by the tests: deterministic random data, error
// measures, and a check that an exception's message names what it should.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "riformer/core/error.hpp"

namespace riformer::testing {

inline std::vector<float> random_vector(std::size_t n, std::uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

inline double max_abs_diff(const float* a, const float* b, std::size_t n) {
  double m = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double d = std::abs(static_cast<double>(a[i]) - b[i]);
    if (!(d <= m)) m = d;  // NaN propagates as the maximum
  }
  return m;
}

inline double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  return max_abs_diff(a.data(), b.data(), a.size());
}

// Runs f, requires a riformer::Error, and returns its message.
inline std::string error_message(const std::function<void()>& f) {
  try {
    f();
  } catch (const riformer::Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    FAIL("expected riformer::Error, got std::exception: " << e.what());
  }
  FAIL("expected riformer::Error, nothing was thrown");
  return {};
}

inline bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Where a test may write files: Bazel's per-test directory, else the system temp dir.
inline std::filesystem::path temp_dir() {
  if (const char* dir = std::getenv("TEST_TMPDIR")) return dir;
  return std::filesystem::temp_directory_path();
}

// Writes bytes to a file, replacing it; reads a whole file back.
inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

inline std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A file under the repository root (tests run from Bazel's runfiles tree or the checkout).
inline std::filesystem::path repo_file(const std::string& relative) {
  for (const char* base : {".", "..", "../..", "riformer"}) {
    std::filesystem::path p = std::filesystem::path(base) / relative;
    if (std::filesystem::exists(p)) return p;
  }
  if (const char* src = std::getenv("TEST_SRCDIR")) {
    std::filesystem::path p = std::filesystem::path(src) / "riformer" / relative;
    if (std::filesystem::exists(p)) return p;
  }
  FAIL("test data file not found: " << relative);
  return {};
}

}  // namespace riformer::testing
