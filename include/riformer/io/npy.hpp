#pragma once
// NumPy .npy files: how reference activations from the PyTorch model reach the tests,
// and how our outputs go back for comparison in Python. Only what that exchange needs:
// little-endian float arrays in C order ('<f4'; '<f8' and '<f2' are converted to float
// on reading). The header is a Python dict literal; it is parsed strictly rather than
// evaluated, and sizes are checked against the file before anything is allocated, so a
// corrupt file is a riformer::Error naming the file, never a crash or a huge allocation.

#include <bit>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "riformer/core/error.hpp"
#include "riformer/io/file.hpp"
#include "riformer/io/half.hpp"
#include "riformer/io/param_source.hpp"

namespace riformer {

static_assert(std::endian::native == std::endian::little,
              ".npy '<f4' data is read by memcpy; a big-endian host needs byte swaps");

struct NpyArray {
  Shape shape;
  std::vector<float> data;  // element_count(shape) values, C order
};

namespace npy_detail {

inline constexpr std::string_view magic = "\x93NUMPY";
inline constexpr std::uint64_t max_header_bytes = 1u << 20;  // numpy itself refuses > 10000 by default
inline constexpr std::uint64_t max_elements = std::uint64_t{1} << 62;

using file_detail::read_exact;
using file_detail::regular_file_size;

struct Header {
  std::string descr;
  bool fortran_order = false;
  Shape shape;
};

// Strict parser of the header dict, e.g. "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }".
class HeaderParser {
 public:
  HeaderParser(std::string_view text, const std::string& path) : text_(text), path_(path) {}

  Header parse() {
    Header h;
    bool have_descr = false, have_order = false, have_shape = false;
    skip_ws();
    expect('{');
    for (;;) {
      skip_ws();
      if (peek() == '}') break;
      const std::string key = parse_string();
      skip_ws();
      expect(':');
      skip_ws();
      if (key == "descr") {
        if (have_descr) error("duplicate key 'descr'");
        have_descr = true;
        h.descr = parse_string();
      } else if (key == "fortran_order") {
        if (have_order) error("duplicate key 'fortran_order'");
        have_order = true;
        h.fortran_order = parse_bool();
      } else if (key == "shape") {
        if (have_shape) error("duplicate key 'shape'");
        have_shape = true;
        h.shape = parse_shape();
      } else {
        error("unexpected key '" + key + "'");
      }
      skip_ws();
      if (peek() == ',') { ++pos_; continue; }
      if (peek() != '}') error("expected ',' or '}'");
    }
    ++pos_;  // '}'
    skip_ws();
    if (pos_ != text_.size()) error("unexpected characters after the header dict");
    if (!have_descr || !have_order || !have_shape) error("header must have keys 'descr', 'fortran_order' and 'shape'");
    return h;
  }

 private:
  [[noreturn]] void error(const std::string& what) const {
    fail(path_, ": invalid .npy header at byte ", pos_, " of the header: ", what);
  }
  [[nodiscard]] char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  void expect(char c) {
    if (peek() != c) error(std::string("expected '") + c + "'");
    ++pos_;
  }
  void skip_ws() {
    while (peek() == ' ' || peek() == '\t' || peek() == '\n') ++pos_;
  }
  std::string parse_string() {
    const char q = peek();
    if (q != '\'' && q != '"') error("expected a quoted string");
    ++pos_;
    std::string out;
    for (;;) {
      if (pos_ >= text_.size()) error("unterminated string");
      const char c = text_[pos_++];
      if (c == q) return out;
      if (c == '\\' || static_cast<unsigned char>(c) < 0x20) error("unsupported character in a string");
      out += c;
    }
  }
  bool parse_bool() {
    if (text_.substr(pos_, 4) == "True") { pos_ += 4; return true; }
    if (text_.substr(pos_, 5) == "False") { pos_ += 5; return false; }
    error("expected True or False");
  }
  Shape parse_shape() {
    expect('(');
    Shape shape;
    std::uint64_t count = 1;
    bool trailing_comma = false;
    for (;;) {
      skip_ws();
      if (peek() == ')') break;
      if (peek() < '0' || peek() > '9') error("expected a non-negative integer in the shape");
      std::uint64_t d = 0;
      while (peek() >= '0' && peek() <= '9') {
        const auto digit = static_cast<std::uint64_t>(peek() - '0');
        if (d > (max_elements - digit) / 10) error("dimension too large");
        d = d * 10 + digit;
        ++pos_;
      }
      if (peek() == 'L') ++pos_;  // Python 2 long literals in old files
      if (d != 0 && count > max_elements / d) error("element count overflows (shape too large)");
      count *= d;
      shape.push_back(static_cast<std::int64_t>(d));
      skip_ws();
      trailing_comma = peek() == ',';
      if (trailing_comma) { ++pos_; continue; }
      if (peek() != ')') error("expected ',' or ')' in the shape");
    }
    // "(3)" is the integer 3 in Python, not a tuple.
    if (shape.size() == 1 && !trailing_comma) error("a one-element shape must be written (n,)");
    ++pos_;  // ')'
    return shape;
  }

  std::string_view text_;
  const std::string& path_;
  std::size_t pos_ = 0;
};

}  // namespace npy_detail

// Writes a '<f4' C-order .npy (format version 1.0, or 2.0 if the header needs it).
inline void write_npy(const std::string& path, const float* data, const Shape& shape) {
  // Count without element_count(): an absurd shape must not overflow a signed product.
  std::uint64_t count = 1;
  for (std::int64_t d : shape) {
    require(d >= 0, path, ": negative dimension in shape ", to_string(shape));
    const auto dim = static_cast<std::uint64_t>(d);
    require(dim == 0 || count <= npy_detail::max_elements / dim, path, ": shape ", to_string(shape), " is too large");
    count *= dim;
  }
  require(count == 0 || data != nullptr, path, ": write_npy given no data for shape ", to_string(shape));
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) dict += ", ";
    dict += std::to_string(shape[i]);
  }
  dict += shape.size() == 1 ? ",), }" : "), }";
  // numpy pads so that the data starts at a multiple of 64 bytes; the header ends in '\n'.
  const bool v2 = dict.size() + 1 + 10 > 65535;
  const std::size_t prefix_len = v2 ? 12 : 10;
  const std::size_t total = ((prefix_len + dict.size() + 1 + 63) / 64) * 64;
  dict.append(total - prefix_len - dict.size() - 1, ' ');
  dict += '\n';

  std::string prefix(npy_detail::magic);
  prefix += static_cast<char>(v2 ? 2 : 1);
  prefix += '\0';
  const std::size_t len_bytes = v2 ? 4 : 2;
  for (std::size_t i = 0; i < len_bytes; ++i) prefix += static_cast<char>((dict.size() >> (8 * i)) & 0xFF);

  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  require(out.is_open(), path, ": cannot open file for writing");
  out.write(prefix.data(), static_cast<std::streamsize>(prefix.size()));
  out.write(dict.data(), static_cast<std::streamsize>(dict.size()));
  if (count > 0) out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(count * sizeof(float)));
  out.close();
  require(!out.fail(), path, ": write failed (disk full or not writable?)");
}

[[nodiscard]] inline NpyArray read_npy(const std::string& path) {
  using npy_detail::read_exact;
  const std::uint64_t file_size = npy_detail::regular_file_size(path);
  require(file_size >= 10, path, ": file is ", file_size, " bytes, too short for a .npy file");
  std::ifstream in(path, std::ios::binary);
  require(in.is_open(), path, ": cannot open file for reading");

  unsigned char pre[12] = {};
  read_exact(in, path, 0, reinterpret_cast<char*>(pre), 10, "magic");
  require(std::memcmp(pre, npy_detail::magic.data(), 6) == 0, path, ": not a .npy file (bad magic)");
  const unsigned major = pre[6];
  require(major >= 1 && major <= 3, path, ": unsupported .npy format version ", major, ".", unsigned{pre[7]});
  std::uint64_t header_len = 0, header_start = 10;
  if (major == 1) {
    header_len = pre[8] | (std::uint64_t{pre[9]} << 8);
  } else {
    require(file_size >= 12, path, ": file too short for a version ", major, " .npy header");
    read_exact(in, path, 10, reinterpret_cast<char*>(pre + 10), 2, "header length");
    for (int i = 11; i >= 8; --i) header_len = (header_len << 8) | pre[i];
    header_start = 12;
  }
  require(header_len <= npy_detail::max_header_bytes, path, ": .npy header length ", header_len, " is absurd");
  require(header_len <= file_size - header_start, path, ": .npy header length ", header_len,
          " exceeds the file size (", file_size, " bytes); truncated?");
  std::string header(header_len, '\0');
  read_exact(in, path, header_start, header.data(), header_len, "header");
  require(!header.empty() && header.back() == '\n', path, ": .npy header does not end with a newline");

  const npy_detail::Header h = npy_detail::HeaderParser(std::string_view(header).substr(0, header_len - 1), path).parse();
  require(!h.fortran_order, path, ": Fortran-order arrays are not supported; save with np.ascontiguousarray");
  std::uint64_t item = 0;
  if (h.descr == "<f4") item = 4;
  else if (h.descr == "<f8") item = 8;
  else if (h.descr == "<f2") item = 2;
  else fail(path, ": unsupported dtype '", h.descr, "' (supported: '<f4', '<f8', '<f2')");

  const auto count = static_cast<std::uint64_t>(element_count(h.shape));  // <= 2^62, checked by the parser
  const std::uint64_t data_start = header_start + header_len;
  const std::uint64_t available = file_size - data_start;
  require(count <= available / item && count * item == available, path, ": shape ", to_string(h.shape), " x ",
          h.descr, " needs ", count, " elements but the file has ", available, " data bytes (",
          available / item, " elements); truncated or corrupt");

  NpyArray out{h.shape, std::vector<float>(count)};
  if (item == 4) {
    read_exact(in, path, data_start, reinterpret_cast<char*>(out.data.data()), available, "data");
  } else if (item == 8) {
    std::vector<double> raw(count);
    read_exact(in, path, data_start, reinterpret_cast<char*>(raw.data()), available, "data");
    for (std::uint64_t i = 0; i < count; ++i) out.data[i] = static_cast<float>(raw[i]);
  } else {
    std::vector<std::uint16_t> raw(count);
    read_exact(in, path, data_start, reinterpret_cast<char*>(raw.data()), available, "data");
    for (std::uint64_t i = 0; i < count; ++i) out.data[i] = f16_to_float(raw[i]);
  }
  return out;
}

}  // namespace riformer
