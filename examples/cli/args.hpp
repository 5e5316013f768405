#pragma once
// A declarative command-line parser: each subcommand lists its options (name,
// help, default), and gets parsing, validation and its --help text from the
// list. Mistakes are riformer::Error with the valid choices in the message.

#include <cctype>
#include <charconv>
#include <cstdlib>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "riformer/core/error.hpp"

namespace riformer::cli {

struct Option {
  std::string name;           // without the leading "--"
  std::string value_name;     // e.g. "N", "FILE"; empty for a flag
  std::string help;
  std::string default_value;  // shown in --help; empty: none
  bool multiple = false;      // takes one or more numbers: --classes 0 2 5
};

class Parsed {
 public:
  [[nodiscard]] bool has(const std::string& name) const { return values_.count(name) > 0; }
  [[nodiscard]] bool flag(const std::string& name) const { return has(name); }

  [[nodiscard]] std::string text(const std::string& name, const std::string& fallback = "") const {
    auto it = values_.find(name);
    return it == values_.end() || it->second.empty() ? fallback : it->second.front();
  }

  [[nodiscard]] long integer(const std::string& name, long fallback, long min, long max) const {
    if (!has(name)) return fallback;
    return parse_integer(name, text(name), min, max);
  }

  [[nodiscard]] double number(const std::string& name, double fallback, double min, double max) const {
    if (!has(name)) return fallback;
    const std::string s = text(name);
    char* end = nullptr;
    const double v = std::strtod(s.c_str(), &end);
    require(!s.empty() && end == s.c_str() + s.size(), "--", name, " expects a number, got '", s, "'");
    require(v >= min && v <= max, "--", name, " must be between ", min, " and ", max, ", got ", s);
    return v;
  }

  [[nodiscard]] std::vector<long> integers(const std::string& name, long min, long max) const {
    std::vector<long> out;
    if (auto it = values_.find(name); it != values_.end())
      for (const auto& s : it->second) out.push_back(parse_integer(name, s, min, max));
    return out;
  }

  std::map<std::string, std::vector<std::string>> values_;

 private:
  static long parse_integer(const std::string& name, const std::string& s, long min, long max) {
    long v = 0;
    const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    require(ec == std::errc() && ptr == s.data() + s.size(), "--", name, " expects a whole number, got '", s, "'");
    require(v >= min && v <= max, "--", name, " must be between ", min, " and ", max, ", got ", v);
    return v;
  }
};

[[nodiscard]] inline std::string usage(std::string_view command, std::string_view summary,
                                       const std::vector<Option>& options) {
  std::ostringstream out;
  out << "usage: riformer " << command << " [options]\n\n" << summary << "\n\noptions:\n";
  for (const Option& o : options) {
    std::string left = "  --" + o.name + (o.value_name.empty() ? "" : " " + o.value_name + (o.multiple ? " ..." : ""));
    out << left << std::string(left.size() < 30 ? 30 - left.size() : 1, ' ') << o.help;
    if (!o.default_value.empty()) out << " (default: " << o.default_value << ")";
    out << "\n";
  }
  out << "  --help                      this text\n";
  return out.str();
}

// Whether `s` starts like a number ("5", "-1", ".5"), as a multi-valued option's values do.
[[nodiscard]] inline bool looks_like_number(std::string_view s) {
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
  if (!s.empty() && s[0] == '.') s.remove_prefix(1);
  return !s.empty() && std::isdigit(static_cast<unsigned char>(s[0]));
}

// Parses argv[first..argc) against `options`. --name value, --name=value and
// flags; a multi-valued option takes its values after one --name.
[[nodiscard]] inline Parsed parse(const std::vector<Option>& options, int argc, char** argv, int first) {
  Parsed parsed;
  auto find = [&](std::string_view name) -> const Option* {
    for (const Option& o : options)
      if (o.name == name) return &o;
    return nullptr;
  };
  for (int i = first; i < argc; ++i) {
    std::string_view arg = argv[i];
    require(arg.starts_with("--") && arg.size() > 2, "unexpected argument '", arg, "' (options start with --; see --help)");
    arg.remove_prefix(2);
    std::optional<std::string> inline_value;
    if (auto eq = arg.find('='); eq != std::string_view::npos) {
      inline_value = std::string(arg.substr(eq + 1));
      arg = arg.substr(0, eq);
    }
    const Option* o = find(arg);
    if (!o) {
      std::string names;
      for (const Option& opt : options) names += " --" + opt.name;
      fail("unknown option --", arg, "; this command takes:", names);
    }
    // Given twice, one value would silently win (or, multi-valued, --imgsz 64 --imgsz 96 read as 64x96).
    require(!parsed.has(o->name), "--", o->name, " given twice",
            o->multiple ? "; list all its values after one --" + o->name : "");
    auto& slot = parsed.values_[o->name];
    if (o->value_name.empty()) {
      require(!inline_value, "--", o->name, " is a flag and takes no value");
      continue;
    }
    if (inline_value) {
      slot.push_back(*inline_value);
      continue;
    }
    while (i + 1 < argc && !std::string_view(argv[i + 1]).starts_with("--")) {
      // After the first value, a word is a stray argument (--imgsz 64 extra, -v), not a bad number.
      if (!slot.empty() && !looks_like_number(argv[i + 1])) break;
      slot.emplace_back(argv[++i]);
      if (!o->multiple) break;
    }
    require(!slot.empty(), "--", o->name, " needs a value (", o->value_name, ")");
  }
  return parsed;
}

}  // namespace riformer::cli
