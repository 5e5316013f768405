// Tests of the safetensors reader and writer: round trips in every float dtype, each
// validation error (the message must name the file and the tensor), and a fuzz-style
// run over hundreds of corrupted files that must only ever load or throw riformer::Error.
#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "riformer/io/half.hpp"
#include "riformer/io/safetensors.hpp"
#include "test_util.hpp"

using namespace riformer;
using riformer::testing::contains;
using riformer::testing::error_message;
using riformer::testing::read_bytes;
using riformer::testing::write_bytes;
namespace fs = std::filesystem;

namespace {

fs::path temp_dir() {
  const fs::path dir = testing::temp_dir() / "riformer_safetensors_test";
  fs::create_directories(dir);
  return dir;
}

std::string temp_path(const std::string& name) { return (temp_dir() / name).string(); }

std::string le64(std::uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((v >> (8 * i)) & 0xFF);
  return s;
}

// A safetensors file from a literal header and data section.
std::string make_file(const std::string& header, const std::string& data) {
  return le64(header.size()) + header + data;
}

std::vector<float> iota_data(std::size_t n, float scale) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = (static_cast<float>(i) - static_cast<float>(n) / 3) * scale;
  return v;
}

std::vector<NamedTensor> sample_tensors() {
  return {
      {"backbone.patch_embed.proj.weight", {4, 3, 2, 2}, iota_data(48, 0.37f)},
      {"backbone.patch_embed.proj.bias", {4}, {1.0f, -2.5f, 1e-3f, 65504.0f}},
      {"scalar", {}, {3.25f}},
      {"empty", {0, 5}, {}},
      {"weird \"name\"\n\xC3\xA9", {2, 1}, {-0.0f, 7.0f}},
  };
}

}  // namespace

TEST_CASE("round trip F32 with metadata, header layout") {
  const std::string path = temp_path("roundtrip_f32.safetensors");
  const auto tensors = sample_tensors();
  const std::map<std::string, std::string> meta{{"format", "pt"}, {"note", "quote\" and \\ and \n"}};
  write_safetensors(path, tensors, meta);

  const std::string bytes = read_bytes(path);
  std::uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  CHECK(n % 8 == 0);                 // padded like the official library
  CHECK(bytes[8] == '{');
  const std::size_t last = bytes.find_last_not_of(' ', 8 + n - 1);
  CHECK(bytes[last] == '}');
  CHECK(8 + n - 1 - last < 8);  // only padding after the JSON

  const SafetensorsFile f = SafetensorsFile::open(path);
  CHECK(f.path() == path);
  CHECK(f.metadata() == meta);
  CHECK(f.data_offset() == 8 + n);
  REQUIRE(f.tensors().size() == tensors.size());
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const TensorInfo& t = f.tensors()[i];
    CHECK(t.name == tensors[i].name);  // header order
    CHECK(t.dtype == DType::F32);
    CHECK(t.dtype_name == "F32");
    CHECK(t.shape == tensors[i].shape);
    CHECK(f.find(t.name) == &t);
    const std::vector<float> values = f.read_float(t);
    REQUIRE(values.size() == tensors[i].data.size());
    for (std::size_t j = 0; j < values.size(); ++j)
      CHECK(std::bit_cast<std::uint32_t>(values[j]) == std::bit_cast<std::uint32_t>(tensors[i].data[j]));
  }
  CHECK(f.find("absent") == nullptr);
  CHECK(f.find("__metadata__") == nullptr);
}

TEST_CASE("round trip F16 and BF16 rounds like float_to_f16 / float_to_bf16") {
  for (DType dtype : {DType::F16, DType::BF16}) {
    const std::string path = temp_path(dtype == DType::F16 ? "roundtrip_f16.safetensors" : "roundtrip_bf16.safetensors");
    const auto tensors = sample_tensors();
    write_safetensors(path, tensors, {}, dtype);
    const SafetensorsFile f = SafetensorsFile::open(path);
    CHECK(f.metadata().empty());
    for (const NamedTensor& src : tensors) {
      const TensorInfo* t = f.find(src.name);
      REQUIRE(t != nullptr);
      CHECK(t->dtype == dtype);
      CHECK(t->dtype_name == (dtype == DType::F16 ? "F16" : "BF16"));
      CHECK(t->end - t->begin == src.data.size() * 2);
      const std::vector<float> values = f.read_float(*t);
      REQUIRE(values.size() == src.data.size());
      for (std::size_t j = 0; j < values.size(); ++j) {
        const float want = dtype == DType::F16 ? f16_to_float(float_to_f16(src.data[j]))
                                               : bf16_to_float(float_to_bf16(src.data[j]));
        CHECK(std::bit_cast<std::uint32_t>(values[j]) == std::bit_cast<std::uint32_t>(want));
      }
    }
  }
}

TEST_CASE("reading a file written by hand, with other dtypes") {
  const std::string path = temp_path("handmade.safetensors");
  std::string data;
  const float f32[2] = {1.5f, -2.0f};
  data.append(reinterpret_cast<const char*>(f32), 8);              // [0, 8)
  data.append(le64(12345));                                         // [8, 16) I64
  const std::uint16_t h[3] = {0x3C00, 0xC000, 0x7C00};              // 1, -2, inf
  data.append(reinterpret_cast<const char*>(h), 6);                 // [16, 22) F16
  const std::uint16_t b[1] = {0x3F80};
  data.append(reinterpret_cast<const char*>(b), 2);                 // [22, 24) BF16
  const std::string header = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                             R"("n":{"shape":[],"dtype":"I64","data_offsets":[8,16],"extra":"ignored"},)"
                             R"("h":{"dtype":"F16","shape":[1,3],"data_offsets":[16,22]},)"
                             R"("__metadata__":{},)"
                             R"("b":{"dtype":"BF16","shape":[1],"data_offsets":[22,24]}})";
  write_bytes(path, make_file(header, data));
  const SafetensorsFile f = SafetensorsFile::open(path);
  REQUIRE(f.tensors().size() == 4);
  CHECK(f.tensors()[1].name == "n");
  CHECK(f.tensors()[1].dtype == DType::other);
  CHECK(f.tensors()[1].dtype_name == "I64");
  CHECK(f.read_float(*f.find("a")) == std::vector<float>{1.5f, -2.0f});
  const auto hv = f.read_float(*f.find("h"));
  CHECK(hv[0] == 1.0f);
  CHECK(hv[1] == -2.0f);
  CHECK(std::isinf(hv[2]));
  CHECK(f.read_float(*f.find("b")) == std::vector<float>{1.0f});

  const std::string msg = error_message([&] { (void)f.read_float(*f.find("n")); });
  CHECK(contains(msg, path));
  CHECK(contains(msg, "'n'"));
  CHECK(contains(msg, "I64"));

  TensorInfo forged = *f.find("a");
  forged.end = 1000;
  CHECK(contains(error_message([&] { (void)f.read_float(forged); }), "not a tensor of this file"));
}

TEST_CASE("header validation errors name the file and the key") {
  struct Case {
    const char* what;
    std::string file;
    const char* key;     // must appear in the message ("" for file-level errors)
    const char* reason;  // must appear in the message
  };
  const std::string f8(8, '\0');
  auto entry = [](const std::string& key, const std::string& body) { return "{\"" + key + "\":" + body + "}"; };
  const std::string padded_header = entry("w", R"({"dtype":"F32","shape":[1],"data_offsets":[0,4]})") + "  ";
  const std::vector<Case> cases = {
      {"empty file", "", "", "too short"},
      {"5 bytes", "abcde", "", "too short"},
      {"length only, header missing", le64(16), "", "exceeds the file size"},
      {"length beyond the file", le64(100) + "{}", "", "exceeds the file size"},
      {"absurd length", le64(200ull << 20) + "{}", "", "absurd"},
      {"huge length", le64(~0ull) + "{}", "", "absurd"},
      {"zero length", le64(0), "", "not valid JSON"},
      {"not JSON", make_file("{\"a\": ", ""), "", "not valid JSON"},
      {"trailing garbage", make_file("{} x", ""), "", "not valid JSON"},
      {"not an object", make_file("[1, 2]", ""), "", "expected a JSON object"},
      {"duplicate key", make_file(R"({"w":{"dtype":"F32","shape":[],"data_offsets":[0,4]},"w":{}})", f8), "",
       "duplicate key"},
      {"entry not an object", make_file(entry("w", "[1]"), ""), "'w'", "expected an object"},
      {"missing dtype", make_file(entry("w", R"({"shape":[1],"data_offsets":[0,4]})"), f8), "'w'", "\"dtype\""},
      {"missing shape", make_file(entry("w", R"({"dtype":"F32","data_offsets":[0,4]})"), f8), "'w'", "\"shape\""},
      {"missing offsets", make_file(entry("w", R"({"dtype":"F32","shape":[1]})"), f8), "'w'", "\"data_offsets\""},
      {"dtype not a string", make_file(entry("w", R"({"dtype":32,"shape":[1],"data_offsets":[0,4]})"), f8), "'w'",
       "\"dtype\" is an unsigned integer"},
      {"unknown dtype", make_file(entry("w", R"({"dtype":"F17","shape":[1],"data_offsets":[0,4]})"), f8), "'w'",
       "unknown dtype 'F17'"},
      {"lowercase dtype", make_file(entry("w", R"({"dtype":"f32","shape":[1],"data_offsets":[0,4]})"), f8), "'w'",
       "unknown dtype"},
      {"shape not an array", make_file(entry("w", R"({"dtype":"F32","shape":4,"data_offsets":[0,4]})"), f8), "'w'",
       "\"shape\" is"},
      {"negative dim", make_file(entry("w", R"({"dtype":"F32","shape":[-1],"data_offsets":[0,4]})"), f8), "'w'",
       "negative"},
      {"fractional dim", make_file(entry("w", R"({"dtype":"F32","shape":[1.5],"data_offsets":[0,4]})"), f8), "'w'",
       "not an integer"},
      {"string dim", make_file(entry("w", R"({"dtype":"F32","shape":["1"],"data_offsets":[0,4]})"), f8), "'w'",
       "shape entry is a string"},
      {"absurd dim", make_file(entry("w", R"({"dtype":"F32","shape":[0, 9223372036854775808],"data_offsets":[0,0]})"), ""),
       "'w'", "absurd"},
      {"count overflow", make_file(entry("w", R"({"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]})"), f8),
       "'w'", "overflow"},
      {"offsets one number", make_file(entry("w", R"({"dtype":"F32","shape":[1],"data_offsets":[4]})"), f8), "'w'",
       "[begin, end]"},
      {"offsets three numbers", make_file(entry("w", R"({"dtype":"F32","shape":[1],"data_offsets":[0,4,8]})"), f8), "'w'",
       "[begin, end]"},
      {"offsets strings", make_file(entry("w", R"({"dtype":"F32","shape":[1],"data_offsets":["0","4"]})"), f8), "'w'",
       "[begin, end]"},
      {"offsets negative", make_file(entry("w", R"({"dtype":"F32","shape":[1],"data_offsets":[-4,0]})"), f8), "'w'",
       "[begin, end]"},
      {"offsets not array", make_file(entry("w", R"({"dtype":"F32","shape":[1],"data_offsets":{}})"), f8), "'w'",
       "[begin, end]"},
      {"begin > end", make_file(entry("w", R"({"dtype":"F32","shape":[0],"data_offsets":[4,0]})"), f8), "'w'",
       "begin > end"},
      {"size mismatch", make_file(entry("w", R"({"dtype":"F32","shape":[2],"data_offsets":[0,4]})"), f8), "'w'",
       "needs 2 x 32 bits"},
      {"size mismatch f16", make_file(entry("w", R"({"dtype":"F16","shape":[2],"data_offsets":[0,8]})"), f8), "'w'",
       "span 8 bytes"},
      {"sub-byte dtype odd count", make_file(entry("w", R"({"dtype":"F4","shape":[3],"data_offsets":[0,2]})"), f8), "'w'",
       "needs 3 x 4 bits"},
      {"end beyond data", make_file(entry("w", R"({"dtype":"F32","shape":[4],"data_offsets":[0,16]})"), f8), "'w'",
       "beyond the data section"},
      {"huge offsets", make_file(entry("w", R"({"dtype":"U8","shape":[1],"data_offsets":[18446744073709551614,18446744073709551615]})"), f8),
       "'w'", "beyond the data section"},
      {"overlap", make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                            R"("b":{"dtype":"F16","shape":[2],"data_offsets":[2,6]}})", f8),
       "'b'", "overlap"},
      {"identical ranges", make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                                     R"("b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", f8),
       "'a'", "overlap"},
      {"gap between tensors", make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                                        R"("b":{"dtype":"F16","shape":[1],"data_offsets":[6,8]}})", f8),
       "'b'", "a gap of 2 bytes"},
      {"first tensor not at 0", make_file(entry("w", R"({"dtype":"F32","shape":[1],"data_offsets":[4,8]})"), f8), "'w'",
       "the data starts at 0"},
      {"bytes after the last tensor", make_file(entry("w", R"({"dtype":"F32","shape":[1],"data_offsets":[0,4]})"), f8),
       "", "tensors end at byte 4"},
      // A header length one short still parses (its padding is a space) but
      // would read every tensor a byte early.
      {"header length one short", le64(padded_header.size() - 1) + padded_header + std::string(4, '\0'), "",
       "tensors end at byte 4"},
      {"metadata not an object", make_file(R"({"__metadata__":["x"]})", ""), "__metadata__", "expected an object"},
      {"metadata value not a string", make_file(R"({"__metadata__":{"epoch":3}})", ""), "'epoch'", "expected a string"},
      {"metadata nested", make_file(R"({"__metadata__":{"a":{"b":"c"}}})", ""), "'a'", "expected a string"},
  };
  int i = 0;
  for (const Case& c : cases) {
    CAPTURE(c.what);
    const std::string path = temp_path("bad_" + std::to_string(i++) + ".safetensors");
    write_bytes(path, c.file);
    const std::string msg = error_message([&] { (void)SafetensorsFile::open(path); });
    CAPTURE(msg);
    CHECK(contains(msg, path));
    CHECK(contains(msg, c.key));
    CHECK(contains(msg, c.reason));
  }
}

TEST_CASE("valid edge cases load") {
  // Empty header object; empty tensors, which take no bytes but still sit in the sequence.
  const std::string path = temp_path("edge.safetensors");
  write_bytes(path, make_file("{}", ""));
  CHECK(SafetensorsFile::open(path).tensors().empty());
  write_bytes(path, make_file("  {}  ", ""));
  CHECK(SafetensorsFile::open(path).tensors().empty());
  write_bytes(path, make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                              R"("e":{"dtype":"F32","shape":[3,0],"data_offsets":[8,8]},)"
                              R"("u":{"dtype":"U8","shape":[1],"data_offsets":[8,9]}})",
                              std::string(9, '\0')));
  const SafetensorsFile f = SafetensorsFile::open(path);
  CHECK(f.read_float(*f.find("e")).empty());
  CHECK(f.read_float(*f.find("a")) == std::vector<float>{0.0f, 0.0f});
}

TEST_CASE("missing file and non-regular files") {
  const std::string missing = temp_path("does_not_exist.safetensors");
  const std::string msg = error_message([&] { (void)SafetensorsFile::open(missing); });
  CHECK(contains(msg, missing));
  CHECK(contains(msg, "cannot open"));
  const std::string dir = temp_dir().string();
  CHECK(contains(error_message([&] { (void)SafetensorsFile::open(dir); }), "not a regular file"));
}

TEST_CASE("truncation after open is detected when reading") {
  const std::string path = temp_path("truncated_later.safetensors");
  write_safetensors(path, sample_tensors());
  const SafetensorsFile f = SafetensorsFile::open(path);
  fs::resize_file(path, fs::file_size(path) - 4);
  const TensorInfo& last = f.tensors().back();
  const std::string msg = error_message([&] { (void)f.read_float(last); });
  CHECK(contains(msg, path));
  CHECK(contains(msg, last.name.substr(0, 5)));
  CHECK(contains(msg, "truncated"));
  CHECK(f.read_float(f.tensors().front()).size() == 48);  // earlier tensors are still intact
  fs::remove(path);
  CHECK(contains(error_message([&] { (void)f.read_float(f.tensors().front()); }), "cannot open"));
}

TEST_CASE("writer errors") {
  const std::string path = temp_path("writer_errors.safetensors");
  CHECK(contains(error_message([&] { write_safetensors(path, {{"a", {2, 2}, {1.0f}}}); }), "'a'"));
  CHECK(contains(error_message([&] { write_safetensors(path, {{"a", {-1}, {}}}); }), "negative"));
  CHECK(contains(error_message([&] { write_safetensors(path, {{"a", {1ll << 40, 1ll << 40}, {}}}); }), "too large"));
  CHECK(contains(error_message([&] { write_safetensors(path, {{"a", {1}, {1}}, {"a", {1}, {2}}}); }), "duplicate"));
  CHECK(contains(error_message([&] { write_safetensors(path, {{"__metadata__", {1}, {1}}}); }), "reserved"));
  CHECK(contains(error_message([&] { write_safetensors(path, {}, {}, DType::other); }), "F32, F16 and BF16"));
  const std::string bad = (temp_dir() / "no_such_dir" / "x.safetensors").string();
  const std::string msg = error_message([&] { write_safetensors(bad, {{"a", {1}, {1}}}); });
  CHECK(contains(msg, bad));
  // No tensors at all is a valid (empty) file.
  write_safetensors(path, {});
  CHECK(SafetensorsFile::open(path).tensors().empty());
}

TEST_CASE("fuzz: corrupted files load or throw riformer::Error, nothing else") {
  // A base file with several dtypes (F32, F16, BF16, I64, U8), metadata and an empty tensor.
  std::string data;
  const std::vector<float> w = iota_data(24, 0.5f);
  data.append(reinterpret_cast<const char*>(w.data()), w.size() * 4);          // [0, 96)
  for (int i = 0; i < 6; ++i) {
    const std::uint16_t h = float_to_f16(static_cast<float>(i) - 2.5f);
    data.append(reinterpret_cast<const char*>(&h), 2);                          // [96, 108)
  }
  for (int i = 0; i < 4; ++i) {
    const std::uint16_t b = float_to_bf16(static_cast<float>(i) * 1e30f);
    data.append(reinterpret_cast<const char*>(&b), 2);                          // [108, 116)
  }
  data.append(le64(7));                                                          // [116, 124)
  data.append("\x01\x02\x03\x04", 4);                                            // [124, 128)
  const std::string header =
      R"({"__metadata__":{"format":"pt","epoch":"300"},)"
      R"("backbone.w":{"dtype":"F32","shape":[2,3,4],"data_offsets":[0,96]},)"
      R"("backbone.h":{"dtype":"F16","shape":[6],"data_offsets":[96,108]},)"
      R"("backbone.b":{"dtype":"BF16","shape":[2,2],"data_offsets":[108,116]},)"
      R"("backbone.bn.num_batches_tracked":{"dtype":"I64","shape":[],"data_offsets":[116,124]},)"
      R"("mask":{"dtype":"U8","shape":[4],"data_offsets":[124,128]},)"
      R"("empty":{"dtype":"F32","shape":[0,7],"data_offsets":[128,128]}})";
  const std::string base = make_file(header, data);
  const std::string base_path = temp_path("fuzz_base.safetensors");
  write_bytes(base_path, base);
  REQUIRE(SafetensorsFile::open(base_path).tensors().size() == 6);

  const std::size_t header_begin = 8, header_end = 8 + header.size();
  const std::vector<std::string> dtypes = {"F32", "F16", "BF16", "I64", "U8", "BOOL", "F64", "F4", "F17", "", "f32"};
  std::mt19937_64 rng(0x5AFE7E45);
  auto uniform = [&](std::size_t lo, std::size_t hi) {  // inclusive
    return std::uniform_int_distribution<std::size_t>(lo, hi)(rng);
  };
  // Rewrites the header (keeping the length field consistent) and the data.
  auto with_header = [&](const std::string& h) { return le64(h.size()) + h + data; };

  const std::string path = temp_path("fuzz.safetensors");
  int loaded = 0, rejected = 0, read_ok = 0, read_rejected = 0;
  const int iterations = 600;
  for (int iter = 0; iter < iterations; ++iter) {
    std::string bytes = base;
    std::string h = header;
    const int kind = iter % 8;
    switch (kind) {
      case 0: {  // flip random bits in the header
        const std::size_t flips = uniform(1, 4);
        for (std::size_t k = 0; k < flips; ++k)
          bytes[uniform(header_begin, header_end - 1)] ^= static_cast<char>(1u << uniform(0, 7));
        break;
      }
      case 1: {  // corrupt the length field: random byte, small delta, or wild value
        const std::size_t mode = uniform(0, 2);
        std::uint64_t len = header.size();
        if (mode == 0) bytes[uniform(0, 7)] = static_cast<char>(uniform(0, 255));
        if (mode == 1) bytes.replace(0, 8, le64(len + uniform(0, 16) - 8));
        if (mode == 2) bytes.replace(0, 8, le64(std::uniform_int_distribution<std::uint64_t>()(rng)));
        break;
      }
      case 2:  // truncate anywhere
        bytes.resize(uniform(0, bytes.size() - 1));
        break;
      case 3: {  // change digits (offsets and shapes)
        const std::size_t edits = uniform(1, 3);
        for (std::size_t k = 0; k < edits; ++k) {
          std::size_t pos;
          do pos = uniform(0, h.size() - 1); while (h[pos] < '0' || h[pos] > '9');
          h[pos] = static_cast<char>('0' + uniform(0, 9));
        }
        bytes = with_header(h);
        break;
      }
      case 4: {  // swap a dtype string
        std::vector<std::size_t> at;
        for (std::size_t p = h.find("\"dtype\":\""); p != std::string::npos; p = h.find("\"dtype\":\"", p + 1))
          at.push_back(p + 9);
        const std::size_t begin = at[uniform(0, at.size() - 1)];
        const std::size_t end = h.find('"', begin);
        h.replace(begin, end - begin, dtypes[uniform(0, dtypes.size() - 1)]);
        bytes = with_header(h);
        break;
      }
      case 5: {  // insert or delete characters in the header
        const std::string alphabet = "{}[],:\"0123456789-. \\eE";
        const std::size_t edits = uniform(1, 3);
        for (std::size_t k = 0; k < edits; ++k) {
          const std::size_t pos = uniform(0, h.size() - 1);
          if (uniform(0, 1)) h.insert(pos, 1, alphabet[uniform(0, alphabet.size() - 1)]);
          else h.erase(pos, 1);
        }
        bytes = with_header(h);
        break;
      }
      case 6: {  // replace a number with an extreme one
        const std::vector<std::string> numbers = {"0", "18446744073709551615", "18446744073709551616", "-1",
                                                  "4611686018427387904", "1e3", "0.5", "99999999999", "128"};
        std::vector<std::size_t> starts;
        for (std::size_t p = 1; p < h.size(); ++p)
          if (h[p] >= '0' && h[p] <= '9' && (h[p - 1] == '[' || h[p - 1] == ',')) starts.push_back(p);
        const std::size_t begin = starts[uniform(0, starts.size() - 1)];
        std::size_t end = begin;
        while (h[end] >= '0' && h[end] <= '9') ++end;
        h.replace(begin, end - begin, numbers[uniform(0, numbers.size() - 1)]);
        bytes = with_header(h);
        break;
      }
      case 7: {  // random bytes anywhere in the file, including the data section
        const std::size_t flips = uniform(1, 8);
        for (std::size_t k = 0; k < flips; ++k) bytes[uniform(0, bytes.size() - 1)] = static_cast<char>(uniform(0, 255));
        break;
      }
    }
    write_bytes(path, bytes);
    CAPTURE(iter);
    CAPTURE(kind);
    try {
      const SafetensorsFile f = SafetensorsFile::open(path);
      ++loaded;
      for (const TensorInfo& t : f.tensors()) {
        try {
          const std::vector<float> v = f.read_float(t);
          CHECK(static_cast<std::int64_t>(v.size()) == element_count(t.shape));
          ++read_ok;
        } catch (const Error& e) {
          CHECK(contains(e.what(), path));
          ++read_rejected;
        }
      }
    } catch (const Error& e) {
      CHECK(contains(e.what(), path));
      ++rejected;
    } catch (const std::exception& e) {
      FAIL("unexpected exception type: " << e.what());
    } catch (...) {
      FAIL("unexpected non-std exception");
    }
  }
  MESSAGE("fuzz: ", loaded, " loaded, ", rejected, " rejected; reads: ", read_ok, " ok, ", read_rejected, " rejected");
  CHECK(loaded + rejected == iterations);
  CHECK(loaded > 20);     // the corruptions are not all fatal...
  CHECK(rejected > 200);  // ...and most are caught
  CHECK(read_rejected > 0);
}
