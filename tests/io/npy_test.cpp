// Tests of the .npy reader and writer: round trips, the byte layout numpy expects,
// other float dtypes, strict header parsing and corrupt files.
#include <doctest/doctest.h>

#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "riformer/io/half.hpp"
#include "riformer/io/npy.hpp"
#include "test_util.hpp"

using namespace riformer;
using riformer::testing::contains;
using riformer::testing::error_message;
using riformer::testing::read_bytes;
using riformer::testing::write_bytes;
namespace fs = std::filesystem;

namespace {

std::string temp_path(const std::string& name) {
  const fs::path dir = testing::temp_dir() / "riformer_npy_test";
  fs::create_directories(dir);
  return (dir / name).string();
}

// A version 1.0 file with the given dict (padded like numpy) and raw data.
std::string npy_v1(std::string dict, const std::string& data) {
  while ((10 + dict.size() + 1) % 64 != 0) dict += ' ';
  dict += '\n';
  std::string s = "\x93NUMPY";
  s += '\x01';
  s += '\0';
  s += static_cast<char>(dict.size() & 0xFF);
  s += static_cast<char>(dict.size() >> 8);
  return s + dict + data;
}

template <class T>
std::string raw(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

}  // namespace

TEST_CASE("round trip, several ranks") {
  const std::vector<Shape> shapes = {{}, {0}, {5}, {2, 3}, {1, 3, 4, 2}, {3, 0, 2}};
  for (const Shape& shape : shapes) {
    CAPTURE(to_string(shape));
    std::vector<float> data(static_cast<std::size_t>(element_count(shape)));
    for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<float>(i) * 0.25f - 1.0f;
    const std::string path = temp_path("rt.npy");
    write_npy(path, data.data(), shape);
    const NpyArray a = read_npy(path);
    CHECK(a.shape == shape);
    CHECK(a.data == data);
  }
}

TEST_CASE("writer output is what numpy writes") {
  const std::string path = temp_path("layout.npy");
  const float data[6] = {1, 2, 3, 4, 5, 6};
  write_npy(path, data, {2, 3});
  const std::string bytes = read_bytes(path);
  REQUIRE(bytes.size() == 128 + 24);
  CHECK(bytes.substr(0, 8) == std::string("\x93NUMPY\x01\x00", 8));
  const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  CHECK(bytes.substr(8, 2) == std::string("\x76\x00", 2));  // header length 118: data starts at byte 128
  CHECK(bytes.substr(10, dict.size()) == dict);
  CHECK(bytes.find_first_not_of(' ', 10 + dict.size()) == 127);
  CHECK(bytes[127] == '\n');
  write_npy(path, data, {6});
  CHECK(contains(read_bytes(path), "'shape': (6,), }"));
  write_npy(path, data, {});
  CHECK(contains(read_bytes(path), "'shape': (), }"));
  CHECK(contains(error_message([&] { write_npy(path, data, {-1}); }), "negative"));
  CHECK(contains(error_message([&] { write_npy(path, data, {1ll << 40, 1ll << 40}); }), "too large"));
  CHECK(contains(error_message([&] { write_npy(path, nullptr, {2}); }), path));
  const std::string bad_dir = temp_path("no_such_dir/x.npy");
  CHECK(contains(error_message([&] { write_npy(bad_dir, data, {1}); }), bad_dir));
}

TEST_CASE("f8 and f2 are converted; header variants are accepted") {
  const std::string path = temp_path("dtypes.npy");
  write_bytes(path, npy_v1("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", raw<double>({1.5, -1e300, 0.1})));
  NpyArray a = read_npy(path);
  CHECK(a.data[0] == 1.5f);
  CHECK(std::isinf(a.data[1]));
  CHECK(a.data[2] == 0.1f);

  write_bytes(path, npy_v1("{'descr': '<f2', 'fortran_order': False, 'shape': (2, 1), }",
                           raw<std::uint16_t>({0x3C00, 0xC000})));
  a = read_npy(path);
  CHECK(a.shape == Shape{2, 1});
  CHECK(a.data == std::vector<float>{1.0f, -2.0f});

  // Key order, double quotes, no trailing comma, Python 2 longs.
  write_bytes(path, npy_v1("{\"shape\": (2L, 1L), \"fortran_order\": False, \"descr\": \"<f4\"}", raw<float>({7, 8})));
  a = read_npy(path);
  CHECK(a.shape == Shape{2, 1});
  CHECK(a.data == std::vector<float>{7, 8});

  // Version 2.0: 4-byte header length.
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }";
  while ((12 + dict.size() + 1) % 64 != 0) dict += ' ';
  dict += '\n';
  std::string v2 = std::string("\x93NUMPY\x02\x00", 8);
  v2 += static_cast<char>(dict.size());
  v2 += std::string(3, '\0');
  write_bytes(path, v2 + dict + raw<float>({4.5f}));
  CHECK(read_npy(path).data == std::vector<float>{4.5f});
}

TEST_CASE("errors name the file") {
  const std::string ok_dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
  const std::string two = raw<float>({1, 2});
  struct Case { const char* what; std::string bytes; const char* reason; };
  std::string big_len = npy_v1(ok_dict, two);
  big_len[8] = '\xFF';
  big_len[9] = '\xFF';
  std::string v2_huge = std::string("\x93NUMPY\x02\x00", 8) + std::string("\xFF\xFF\xFF\x7F", 4) + "{}";
  std::string no_newline = npy_v1(ok_dict, two);
  no_newline[127] = ' ';
  const std::vector<Case> cases = {
      {"empty", "", "too short"},
      {"short", "\x93NUMPY", "too short"},
      {"bad magic", std::string("\x93NUMPZ\x01\x00\x00\x00", 10), "bad magic"},
      {"version 4", std::string("\x93NUMPY\x04\x00\x00\x00", 10), "version 4"},
      {"header beyond file", big_len, "exceeds the file size"},
      {"absurd header", v2_huge, "absurd"},
      {"v2 truncated length", std::string("\x93NUMPY\x02\x00\x00\x00", 10), "too short"},
      {"no newline", no_newline, "newline"},
      {"fortran", npy_v1("{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }", two), "Fortran"},
      {"big endian", npy_v1("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", two), "'>f4'"},
      {"int dtype", npy_v1("{'descr': '<i8', 'fortran_order': False, 'shape': (1,), }", raw<float>({1, 2})), "'<i8'"},
      {"missing key", npy_v1("{'descr': '<f4', 'shape': (2,), }", two), "'fortran_order'"},
      {"unknown key", npy_v1("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", two), "'x'"},
      {"duplicate key", npy_v1("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", two),
       "duplicate"},
      {"not a dict", npy_v1("['<f4']", two), "expected '{'"},
      {"(n) is not a tuple", npy_v1("{'descr': '<f4', 'fortran_order': False, 'shape': (2), }", two), "(n,)"},
      {"negative dim", npy_v1("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", two), "non-negative"},
      {"dim overflow", npy_v1("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", two),
       "too large"},
      {"count overflow", npy_v1("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", two),
       "overflow"},
      {"bool as string", npy_v1("{'descr': '<f4', 'fortran_order': 'False', 'shape': (2,), }", two), "True or False"},
      {"trailing text", npy_v1("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), } x", two), "after the header"},
      {"unterminated string", npy_v1("{'descr: '<f4', 'fortran_order': False, 'shape': (2,), }", two), "header"},
      {"truncated data", npy_v1(ok_dict, two.substr(0, 7)), "truncated"},
      {"extra data", npy_v1(ok_dict, two + "xx"), "data bytes"},
      {"huge shape, small file", npy_v1("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000, 1000), }", two),
       "truncated"},
  };
  int i = 0;
  for (const Case& c : cases) {
    CAPTURE(c.what);
    const std::string path = temp_path("bad_" + std::to_string(i++) + ".npy");
    write_bytes(path, c.bytes);
    const std::string msg = error_message([&] { (void)read_npy(path); });
    CAPTURE(msg);
    CHECK(contains(msg, path));
    CHECK(contains(msg, c.reason));
  }
  const std::string missing = temp_path("missing.npy");
  CHECK(contains(error_message([&] { (void)read_npy(missing); }), missing));
  CHECK(contains(error_message([&] { (void)read_npy(fs::path(missing).parent_path().string()); }), "not a regular file"));
}

TEST_CASE("fuzz: corrupted .npy files load or throw riformer::Error") {
  const std::vector<float> data = {1, 2, 3, 4, 5, 6};
  const std::string base_path = temp_path("fuzz_base.npy");
  write_npy(base_path, data.data(), {2, 3});
  const std::string base = read_bytes(base_path);
  std::mt19937 rng(77);
  auto uniform = [&](std::size_t lo, std::size_t hi) { return std::uniform_int_distribution<std::size_t>(lo, hi)(rng); };
  const std::string path = temp_path("fuzz.npy");
  int loaded = 0, rejected = 0;
  for (int iter = 0; iter < 400; ++iter) {
    std::string bytes = base;
    if (iter % 3 == 0) {
      bytes.resize(uniform(0, bytes.size() - 1));
    } else {
      const std::size_t flips = uniform(1, 4);
      for (std::size_t k = 0; k < flips; ++k) bytes[uniform(0, bytes.size() - 1)] = static_cast<char>(uniform(0, 255));
    }
    write_bytes(path, bytes);
    CAPTURE(iter);
    try {
      const NpyArray a = read_npy(path);
      CHECK(static_cast<std::int64_t>(a.data.size()) == element_count(a.shape));
      ++loaded;
    } catch (const Error& e) {
      CHECK(contains(e.what(), path));
      ++rejected;
    } catch (...) {
      FAIL("unexpected exception type");
    }
  }
  MESSAGE("npy fuzz: ", loaded, " loaded, ", rejected, " rejected");
  CHECK(rejected > 200);
}
