#pragma once
// A small, strict JSON parser for the headers of weight files (safetensors).
// Weight files come from outside, so the parser treats its input as hostile: every
// read is bounds-checked, nesting depth and the number of values are limited (so a
// crafted header cannot exhaust the stack or memory), and anything RFC 8259 does not
// allow (trailing garbage, duplicate keys, invalid UTF-8, lone surrogates, leading
// zeros, integers beyond uint64) is an error. Errors are riformer::Error carrying the
// byte offset, so a caller can prefix the file name and the user can find the spot.

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <string>
#include <string_view>
#include <utility>
#include <vector>
#include <algorithm>

#include "riformer/core/error.hpp"

namespace riformer::json {

class Value {
 public:
  // `uint` is a literal without sign, fraction or exponent: exact up to 2^64 - 1, which
  // is what sizes and offsets need. Every other number is a double (`number`).
  enum class Kind : std::uint8_t { null, boolean, uint, number, string, array, object };

  Value() = default;
  static Value make_bool(bool b) { Value v(Kind::boolean); v.bool_ = b; return v; }
  static Value make_uint(std::uint64_t u) { Value v(Kind::uint); v.uint_ = u; return v; }
  static Value make_number(double d) { Value v(Kind::number); v.number_ = d; return v; }
  static Value make_string(std::string s) { Value v(Kind::string); v.string_ = std::move(s); return v; }
  static Value make_array(std::vector<Value> items) {
    Value v(Kind::array);
    v.items_ = std::move(items);
    return v;
  }
  // Keys and values in document order; keys must be unique (the parser guarantees it).
  static Value make_object(std::vector<std::string> keys, std::vector<Value> values) {
    Value v(Kind::object);
    v.keys_ = std::move(keys);
    v.items_ = std::move(values);
    return v;
  }

  [[nodiscard]] Kind kind() const { return kind_; }
  [[nodiscard]] bool is_null() const { return kind_ == Kind::null; }
  [[nodiscard]] bool is_bool() const { return kind_ == Kind::boolean; }
  [[nodiscard]] bool is_uint() const { return kind_ == Kind::uint; }
  [[nodiscard]] bool is_number() const { return kind_ == Kind::uint || kind_ == Kind::number; }
  [[nodiscard]] bool is_string() const { return kind_ == Kind::string; }
  [[nodiscard]] bool is_array() const { return kind_ == Kind::array; }
  [[nodiscard]] bool is_object() const { return kind_ == Kind::object; }

  [[nodiscard]] bool as_bool() const { expect(Kind::boolean); return bool_; }
  [[nodiscard]] std::uint64_t as_uint() const { expect(Kind::uint); return uint_; }
  [[nodiscard]] double as_number() const {
    require(is_number(), "JSON value is ", kind_name(kind_), ", expected a number");
    return kind_ == Kind::uint ? static_cast<double>(uint_) : number_;
  }
  [[nodiscard]] const std::string& as_string() const { expect(Kind::string); return string_; }

  // Array elements, or object values (parallel to keys()).
  [[nodiscard]] const std::vector<Value>& items() const {
    require(is_array() || is_object(), "JSON value is ", kind_name(kind_), ", expected an array or object");
    return items_;
  }
  [[nodiscard]] const std::vector<std::string>& keys() const { expect(Kind::object); return keys_; }
  [[nodiscard]] std::size_t size() const { return items().size(); }
  [[nodiscard]] const Value& operator[](std::size_t i) const {
    const auto& all = items();
    require(i < all.size(), "JSON index ", i, " out of range (size ", all.size(), ")");
    return all[i];
  }
  // Object member by key, nullptr if absent. Linear: objects here are small, and the
  // big one (the header's tensor list) is walked in order instead.
  [[nodiscard]] const Value* find(std::string_view key) const {
    expect(Kind::object);
    for (std::size_t i = 0; i < keys_.size(); ++i)
      if (keys_[i] == key) return &items_[i];
    return nullptr;
  }

  [[nodiscard]] static std::string_view kind_name(Kind k) {
    switch (k) {
      case Kind::null: return "null";
      case Kind::boolean: return "a boolean";
      case Kind::uint: return "an unsigned integer";
      case Kind::number: return "a number";
      case Kind::string: return "a string";
      case Kind::array: return "an array";
      case Kind::object: return "an object";
    }
    return "?";
  }
  [[nodiscard]] std::string_view kind_name() const { return kind_name(kind_); }

 private:
  explicit Value(Kind k) : kind_(k) {}
  void expect(Kind k) const {
    require(kind_ == k, "JSON value is ", kind_name(kind_), ", expected ", kind_name(k));
  }

  Kind kind_ = Kind::null;
  bool bool_ = false;
  std::uint64_t uint_ = 0;
  double number_ = 0;
  std::string string_;
  std::vector<std::string> keys_;
  std::vector<Value> items_;  // array elements or object values
};

struct Limits {
  std::size_t max_depth = 64;           // nested arrays/objects; guards the recursion
  std::size_t max_values = 1'000'000;   // total values; a Value is ~100 bytes, so ~100 MB at most
};

namespace detail {

class Parser {
 public:
  Parser(std::string_view text, const Limits& limits) : text_(text), limits_(limits) {}

  Value parse_document() {
    skip_ws();
    Value v = parse_value(0);
    skip_ws();
    if (pos_ != text_.size()) error("unexpected trailing characters after the JSON value");
    return v;
  }

 private:
  [[noreturn]] void error(std::string_view what) const { error_at(pos_, what); }
  [[noreturn]] void error_at(std::size_t at, std::string_view what) const {
    fail("invalid JSON at byte ", at, ": ", what);
  }

  [[nodiscard]] bool at_end() const { return pos_ >= text_.size(); }
  [[nodiscard]] char peek() const { return at_end() ? '\0' : text_[pos_]; }

  void skip_ws() {
    while (!at_end()) {
      char c = text_[pos_];
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
      ++pos_;
    }
  }

  void expect_literal(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) error("invalid literal");
    pos_ += word.size();
  }

  void count_value() {
    if (++values_ > limits_.max_values) error(riformer::detail::concat("too many values (limit ", limits_.max_values, ")"));
  }

  Value parse_value(std::size_t depth) {
    count_value();
    if (at_end()) error("unexpected end of input, expected a value");
    switch (text_[pos_]) {
      case '{': return parse_object(depth + 1);
      case '[': return parse_array(depth + 1);
      case '"': return Value::make_string(parse_string());
      case 't': expect_literal("true"); return Value::make_bool(true);
      case 'f': expect_literal("false"); return Value::make_bool(false);
      case 'n': expect_literal("null"); return Value();
      default: break;
    }
    char c = text_[pos_];
    if (c == '-' || (c >= '0' && c <= '9')) return parse_number();
    error("unexpected character, expected a value");
  }

  void check_depth(std::size_t depth) {
    if (depth > limits_.max_depth) error(riformer::detail::concat("nesting deeper than ", limits_.max_depth));
  }

  Value parse_array(std::size_t depth) {
    check_depth(depth);
    ++pos_;  // '['
    std::vector<Value> items;
    skip_ws();
    if (peek() == ']') { ++pos_; return Value::make_array(std::move(items)); }
    for (;;) {
      skip_ws();
      items.push_back(parse_value(depth));
      skip_ws();
      if (at_end()) error("unexpected end of input inside an array");
      char c = text_[pos_++];
      if (c == ']') break;
      if (c != ',') error_at(pos_ - 1, "expected ',' or ']' in an array");
    }
    return Value::make_array(std::move(items));
  }

  Value parse_object(std::size_t depth) {
    check_depth(depth);
    ++pos_;  // '{'
    std::vector<std::string> keys;
    std::vector<std::size_t> key_offsets;
    std::vector<Value> values;
    skip_ws();
    if (peek() == '}') { ++pos_; return Value::make_object({}, {}); }
    for (;;) {
      skip_ws();
      if (peek() != '"') error("expected a string key in an object");
      key_offsets.push_back(pos_);
      keys.push_back(parse_string());
      skip_ws();
      if (peek() != ':') error("expected ':' after an object key");
      ++pos_;
      skip_ws();
      values.push_back(parse_value(depth));
      skip_ws();
      if (at_end()) error("unexpected end of input inside an object");
      char c = text_[pos_++];
      if (c == '}') break;
      if (c != ',') error_at(pos_ - 1, "expected ',' or '}' in an object");
    }
    // Duplicate keys make "which one wins" implementation-defined; reject them.
    std::vector<std::size_t> order(keys.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      return keys[a] != keys[b] ? keys[a] < keys[b] : a < b;
    });
    for (std::size_t i = 1; i < order.size(); ++i)
      if (keys[order[i]] == keys[order[i - 1]])
        error_at(key_offsets[order[i]], riformer::detail::concat("duplicate key \"", printable(keys[order[i]]), "\""));
    return Value::make_object(std::move(keys), std::move(values));
  }

  // Keys go into error messages; keep control bytes out of them and keep them short.
  static std::string printable(const std::string& s) {
    std::string out;
    for (char c : s.substr(0, 80)) out += (static_cast<unsigned char>(c) < 0x20) ? '?' : c;
    return s.size() > 80 ? out + "..." : out;
  }

  unsigned parse_hex4() {
    if (text_.size() - pos_ < 4) error("truncated \\u escape");
    unsigned v = 0;
    for (int i = 0; i < 4; ++i) {
      char c = text_[pos_++];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= static_cast<unsigned>(c - '0');
      else if (c >= 'a' && c <= 'f') v |= static_cast<unsigned>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') v |= static_cast<unsigned>(c - 'A' + 10);
      else error_at(pos_ - 1, "invalid hex digit in \\u escape");
    }
    return v;
  }

  static void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  // Copies one well-formed UTF-8 sequence starting at pos_ (lead byte >= 0x80).
  void copy_utf8(std::string& out) {
    const std::size_t start = pos_;
    auto byte = [&](std::size_t i) -> unsigned {
      return start + i < text_.size() ? static_cast<unsigned char>(text_[start + i]) : 0u;
    };
    unsigned b0 = byte(0);
    std::size_t len = 0;
    unsigned lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (b0 >= 0xC2 && b0 <= 0xDF) len = 2;
    else if (b0 == 0xE0) { len = 3; lo = 0xA0; }
    else if (b0 >= 0xE1 && b0 <= 0xEC) len = 3;
    else if (b0 == 0xED) { len = 3; hi = 0x9F; }  // no UTF-16 surrogates
    else if (b0 >= 0xEE && b0 <= 0xEF) len = 3;
    else if (b0 == 0xF0) { len = 4; lo = 0x90; }
    else if (b0 >= 0xF1 && b0 <= 0xF3) len = 4;
    else if (b0 == 0xF4) { len = 4; hi = 0x8F; }  // nothing beyond U+10FFFF
    else error("invalid UTF-8 in a string");
    if (byte(1) < lo || byte(1) > hi) error_at(start, "invalid UTF-8 in a string");
    for (std::size_t i = 2; i < len; ++i)
      if (byte(i) < 0x80 || byte(i) > 0xBF) error_at(start, "invalid UTF-8 in a string");
    out.append(text_.substr(start, len));
    pos_ = start + len;
  }

  std::string parse_string() {
    const std::size_t start = pos_;
    ++pos_;  // opening quote
    std::string out;
    for (;;) {
      if (at_end()) error_at(start, "unterminated string");
      const auto c = static_cast<unsigned char>(text_[pos_]);
      if (c == '"') { ++pos_; return out; }
      if (c < 0x20) error("unescaped control character in a string");
      if (c >= 0x80) { copy_utf8(out); continue; }
      if (c != '\\') { out += static_cast<char>(c); ++pos_; continue; }
      ++pos_;
      if (at_end()) error_at(start, "unterminated string");
      const char e = text_[pos_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          const std::size_t esc = pos_ - 2;
          std::uint32_t cp = parse_hex4();
          if (cp >= 0xDC00 && cp <= 0xDFFF) error_at(esc, "lone low surrogate in \\u escape");
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (text_.substr(pos_, 2) != "\\u") error_at(esc, "high surrogate not followed by a low surrogate");
            pos_ += 2;
            const std::uint32_t low = parse_hex4();
            if (low < 0xDC00 || low > 0xDFFF) error_at(esc, "high surrogate not followed by a low surrogate");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          }
          append_utf8(out, cp);
          break;
        }
        default: error_at(pos_ - 1, "invalid escape character");
      }
    }
  }

  Value parse_number() {
    const std::size_t start = pos_;
    auto digit = [&] { return !at_end() && text_[pos_] >= '0' && text_[pos_] <= '9'; };
    bool negative = false, integral = true;
    if (peek() == '-') { negative = true; ++pos_; }
    if (!digit()) error("expected a digit");
    if (text_[pos_] == '0') {
      ++pos_;
      if (digit()) error_at(start, "leading zeros are not allowed");
    } else {
      while (digit()) ++pos_;
    }
    if (peek() == '.') {
      integral = false;
      ++pos_;
      if (!digit()) error("expected a digit after '.'");
      while (digit()) ++pos_;
    }
    if (peek() == 'e' || peek() == 'E') {
      integral = false;
      ++pos_;
      if (peek() == '+' || peek() == '-') ++pos_;
      if (!digit()) error("expected a digit in the exponent");
      while (digit()) ++pos_;
    }
    const std::string_view literal = text_.substr(start, pos_ - start);
    if (integral) {
      std::uint64_t u = 0;
      const std::string_view digits = literal.substr(negative ? 1 : 0);
      auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), u);
      if (ec == std::errc::result_out_of_range) error_at(start, "integer out of range (beyond 64 bits)");
      if (ec != std::errc() || end != digits.data() + digits.size()) error_at(start, "invalid integer");
      if (!negative) return Value::make_uint(u);
      return Value::make_number(-static_cast<double>(u));
    }
    double d = 0;
    auto [end, ec] = std::from_chars(literal.data(), literal.data() + literal.size(), d);
    if (ec == std::errc::result_out_of_range) error_at(start, "number out of range");
    if (ec != std::errc() || end != literal.data() + literal.size()) error_at(start, "invalid number");
    return Value::make_number(d);
  }

  std::string_view text_;
  Limits limits_;
  std::size_t pos_ = 0;
  std::size_t values_ = 0;
};

}  // namespace detail

// Parses exactly one JSON value (surrounded by optional whitespace) from `text`.
// Throws riformer::Error "invalid JSON at byte N: ..." on any deviation from RFC 8259
// or when `limits` are exceeded.
[[nodiscard]] inline Value parse(std::string_view text, const Limits& limits = {}) {
  return detail::Parser(text, limits).parse_document();
}

// `s` with each ill-formed UTF-8 sequence replaced by U+FFFD (the byte ranges
// the parser accepts). File names are bytes: "\xff.jpg" is a valid name.
[[nodiscard]] inline std::string valid_utf8(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size();) {
    const auto lead = static_cast<unsigned char>(s[i]);
    const int tail = lead < 0x80 ? 0 : lead < 0xC2 ? -1 : lead < 0xE0 ? 1 : lead < 0xF0 ? 2 : lead < 0xF5 ? 3 : -1;
    // The second byte's range rules out overlong forms, surrogates and code points past U+10FFFF.
    const unsigned lo = lead == 0xE0 ? 0xA0 : lead == 0xF0 ? 0x90 : 0x80;
    const unsigned hi = lead == 0xED ? 0x9F : lead == 0xF4 ? 0x8F : 0xBF;
    int n = 1;  // bytes of the sequence that are well formed so far
    for (; n <= tail && i + static_cast<std::size_t>(n) < s.size(); ++n) {
      const auto c = static_cast<unsigned char>(s[i + static_cast<std::size_t>(n)]);
      if (c < (n == 1 ? lo : 0x80) || c > (n == 1 ? hi : 0xBF)) break;
    }
    if (n == tail + 1) out.append(s.substr(i, static_cast<std::size_t>(n)));
    else out += "\xEF\xBF\xBD";  // U+FFFD for the lead byte and the continuation bytes that fit it
    i += static_cast<std::size_t>(n);
  }
  return out;
}

// `s` as a JSON string literal (with quotes). Control characters are escaped and
// ill-formed UTF-8 becomes U+FFFD, so the result is always valid JSON.
[[nodiscard]] inline std::string quote(std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out = "\"";
  for (char ch : valid_utf8(s)) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += hex[c >> 4];
          out += hex[c & 15];
        } else {
          out += ch;
        }
    }
  }
  return out + "\"";
}

}  // namespace riformer::json
