// Tests of the strict JSON parser used for safetensors headers: what it accepts, what
// it must reject (with the byte offset in the message), and its resource limits.
#include <doctest/doctest.h>

#include <string>

#include "riformer/io/json.hpp"

using riformer::Error;
namespace json = riformer::json;

namespace {

// The message of the riformer::Error that parsing `text` throws ("" if none).
std::string parse_error(const std::string& text, const json::Limits& limits = {}) {
  try {
    (void)json::parse(text, limits);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("scalars") {
  CHECK(json::parse("null").is_null());
  CHECK(json::parse("true").as_bool() == true);
  CHECK(json::parse(" false ").as_bool() == false);
  CHECK(json::parse("0").as_uint() == 0);
  CHECK(json::parse("42").as_uint() == 42);
  CHECK(json::parse("18446744073709551615").as_uint() == 18446744073709551615ull);
  CHECK(json::parse("-5").kind() == json::Value::Kind::number);
  CHECK(json::parse("-5").as_number() == -5.0);
  CHECK(json::parse("1.5").as_number() == 1.5);
  CHECK(json::parse("-2.5e3").as_number() == -2500.0);
  CHECK(json::parse("1E-2").as_number() == doctest::Approx(0.01));
  CHECK(json::parse("2e+2").as_number() == 200.0);
  CHECK(json::parse("-0").as_number() == 0.0);
  CHECK(json::parse("\"abc\"").as_string() == "abc");
  CHECK(json::parse("\t\r\n 7 \n").as_uint() == 7);
}

TEST_CASE("containers keep document order") {
  const json::Value v = json::parse(R"({"b": [1, 2, {"x": null}], "a": {}, "c": []})");
  REQUIRE(v.is_object());
  CHECK(v.keys() == std::vector<std::string>{"b", "a", "c"});
  CHECK(v.size() == 3);
  CHECK(v.find("b")->size() == 3);
  CHECK((*v.find("b"))[1].as_uint() == 2);
  CHECK((*v.find("b"))[2].find("x")->is_null());
  CHECK(v.find("a")->is_object());
  CHECK(v.find("a")->size() == 0);
  CHECK(v.find("c")->size() == 0);
  CHECK(v.find("zz") == nullptr);
  CHECK_THROWS_AS((void)v[3], Error);
  CHECK_THROWS_AS((void)v.as_string(), Error);
  CHECK_THROWS_AS((void)json::parse("1").find("a"), Error);
  CHECK_THROWS_AS((void)json::parse("-1").as_uint(), Error);
}

TEST_CASE("string escapes") {
  CHECK(json::parse(R"("\" \\ \/ \b \f \n \r \t")").as_string() == "\" \\ / \b \f \n \r \t");
  CHECK(json::parse(R"("\u0041\u00e9\u20AC")").as_string() == "A\xC3\xA9\xE2\x82\xAC");
  CHECK(json::parse(R"("\u0000")").as_string() == std::string(1, '\0'));
  // Surrogate pair for U+1F600 -> F0 9F 98 80.
  CHECK(json::parse(R"("\ud83d\ude00")").as_string() == "\xF0\x9F\x98\x80");
  CHECK(json::parse(R"("\uDBFF\uDFFF")").as_string() == "\xF4\x8F\xBF\xBF");
  // Raw UTF-8 passes through unchanged.
  CHECK(json::parse("\"h\xC3\xA9llo \xF0\x9F\x98\x80\"").as_string() == "h\xC3\xA9llo \xF0\x9F\x98\x80");
}

TEST_CASE("quote round-trips through parse") {
  const std::string s = std::string("a\"b\\c\nd\x01\x1f") + '\0' + "\xC3\xA9/";
  CHECK(json::parse(json::quote(s)).as_string() == s);
  CHECK(json::quote("x\ny") == "\"x\\ny\"");
}

TEST_CASE("quote replaces ill-formed UTF-8 with U+FFFD, so its output always parses") {
  using riformer::json::valid_utf8;
  CHECK(valid_utf8("caf\xC3\xA9 \xF0\x9F\x98\x80") == "caf\xC3\xA9 \xF0\x9F\x98\x80");  // valid: unchanged
  CHECK(valid_utf8("\xFF\xFE.jpg") == "\xEF\xBF\xBD\xEF\xBF\xBD.jpg");
  CHECK(valid_utf8("a\xE2\x82") == "a\xEF\xBF\xBD");                              // cut short
  CHECK(valid_utf8("\xC0\xAF") == "\xEF\xBF\xBD\xEF\xBF\xBD");                // overlong '/'
  CHECK(valid_utf8("\xED\xA0\x80x") == "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBDx");  // a surrogate
  CHECK(valid_utf8("\xF4\x90\x80\x80") == "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // past U+10FFFF
  for (const char* bytes : {"\xFF", "a\xE2\x82", "\xC0\xAF\x1b[31m", "caf\xC3\xA9"})
    CHECK(json::parse(json::quote(bytes)).as_string() == valid_utf8(bytes));
}

TEST_CASE("invalid documents are rejected with the byte offset") {
  struct Case { const char* text; const char* offset; };
  const Case cases[] = {
      {"", "byte 0"},
      {"   ", "byte 3"},
      {"{", "byte 1"},
      {"[1,]", "byte 3"},
      {"[1 2]", "byte 3"},
      {"{\"a\" 1}", "byte 5"},
      {"{\"a\":1,}", "byte 7"},
      {"{a:1}", "byte 1"},
      {"{\"a\":1} x", "byte 8"},
      {"1 2", "byte 2"},
      {"tru", "byte 0"},
      {"nul", "byte 0"},
      {"True", "byte 0"},
      {"01", "byte 0"},
      {"-", "byte 1"},
      {"1.", "byte 2"},
      {".5", "byte 0"},
      {"1e", "byte 2"},
      {"+1", "byte 0"},
      {"0x10", "byte 1"},
      {"NaN", "byte 0"},
      {"\"abc", "byte 0"},
      {"\"a\\x\"", "byte 3"},
      {"\"a\\u12\"", "byte"},
      {"\"a\\u12g4\"", "byte 6"},
      {"\"\\ud800\"", "byte 1"},
      {"\"\\ud800\\u0041\"", "byte 1"},
      {"\"\\udc00\"", "byte 1"},
      {"\"tab\there\"", "byte 4"},
      {"\"\xC3\"", "byte 1"},          // truncated sequence
      {"\"\xC0\xAF\"", "byte 1"},      // overlong
      {"\"\xED\xA0\x80\"", "byte 1"},  // encoded surrogate
      {"\"\xF5\x80\x80\x80\"", "byte 1"},
      {"\"\x80\"", "byte 1"},
      {"[1]\xEF\xBB\xBF", "byte 3"},
      {"\xEF\xBB\xBF[1]", "byte 0"},  // no BOM
  };
  for (const Case& c : cases) {
    CAPTURE(c.text);
    const std::string msg = parse_error(c.text);
    CHECK(contains(msg, "invalid JSON"));
    CHECK(contains(msg, c.offset));
  }
}

TEST_CASE("duplicate keys are an error") {
  const std::string msg = parse_error(R"({"a": 1, "b": 2, "a": 3})");
  CHECK(contains(msg, "duplicate key \"a\""));
  CHECK(contains(msg, "byte 17"));
  CHECK(parse_error(R"({"x": {"a": 1}, "y": {"a": 1}})").empty());  // same key in different objects is fine
  CHECK(contains(parse_error(R"({"a\u0062": 1, "ab": 2})"), "duplicate key"));  // equal after unescaping
}

TEST_CASE("integer overflow is rejected") {
  CHECK(contains(parse_error("18446744073709551616"), "out of range"));
  CHECK(contains(parse_error("99999999999999999999999"), "out of range"));
  CHECK(contains(parse_error("-18446744073709551616"), "out of range"));
  CHECK(contains(parse_error("[1, 184467440737095516150]"), "byte 4"));
  CHECK(contains(parse_error("1e400"), "out of range"));
}

TEST_CASE("depth limit") {
  auto nested = [](int n) { return std::string(n, '[') + std::string(n, ']'); };
  CHECK(parse_error(nested(64)).empty());
  CHECK(contains(parse_error(nested(65)), "nesting deeper than 64"));
  CHECK(contains(parse_error(nested(100000)), "nesting deeper than 64"));  // no stack overflow
  std::string objects;
  for (int i = 0; i < 70; ++i) objects += "{\"a\":";
  CHECK(contains(parse_error(objects), "nesting deeper"));
  CHECK(contains(parse_error(nested(5), json::Limits{4, 100}), "nesting deeper than 4"));
}

TEST_CASE("value count limit") {
  std::string many = "[";
  for (int i = 0; i < 200; ++i) many += (i ? ",0" : "0");
  many += "]";
  CHECK(parse_error(many, json::Limits{64, 201}).empty());
  CHECK(contains(parse_error(many, json::Limits{64, 200}), "too many values"));
}
