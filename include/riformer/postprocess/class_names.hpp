#pragma once
// Class names for labelling detections: the 80 COCO names in YOLOv5's order
// (data/coco.yaml, what every pretrained YOLOv5 checkpoint predicts), or names
// read from a file for a custom-trained detector: a plain list (one name per
// line, as darknet's .names files) or the `names:` entry of a YOLOv5 dataset
// yaml in its three spellings. This is not a YAML parser: it reads exactly
// those shapes and refuses anything else with an error naming the file and
// line, rather than guessing and labelling boxes wrongly.

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "riformer/core/error.hpp"
#include "riformer/io/file.hpp"

namespace riformer {

[[nodiscard]] inline const std::vector<std::string>& coco_class_names() {
  static const std::vector<std::string> names = {
      "person",        "bicycle",      "car",           "motorcycle",    "airplane",     "bus",
      "train",         "truck",        "boat",          "traffic light", "fire hydrant", "stop sign",
      "parking meter", "bench",        "bird",          "cat",           "dog",          "horse",
      "sheep",         "cow",          "elephant",      "bear",          "zebra",        "giraffe",
      "backpack",      "umbrella",     "handbag",       "tie",           "suitcase",     "frisbee",
      "skis",          "snowboard",    "sports ball",   "kite",          "baseball bat", "baseball glove",
      "skateboard",    "surfboard",    "tennis racket", "bottle",        "wine glass",   "cup",
      "fork",          "knife",        "spoon",         "bowl",          "banana",       "apple",
      "sandwich",      "orange",       "broccoli",      "carrot",        "hot dog",      "pizza",
      "donut",         "cake",         "chair",         "couch",         "potted plant", "bed",
      "dining table",  "toilet",       "tv",            "laptop",        "mouse",        "remote",
      "keyboard",      "cell phone",   "microwave",     "oven",          "toaster",      "sink",
      "refrigerator",  "book",         "clock",         "vase",          "scissors",     "teddy bear",
      "hair drier",    "toothbrush"};
  return names;
}

namespace class_names_detail {

inline constexpr std::uint64_t max_file_bytes = 16u << 20;  // a names file is a few KB

[[nodiscard]] inline std::string_view trim(std::string_view s) {
  const auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; };
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// A file and line for messages, formatted only when a message is built: a check per item stays cheap.
struct Where {
  const std::string& path;
  std::size_t line;  // 1-based
};
inline std::ostream& operator<<(std::ostream& out, const Where& where) {
  return out << where.path << ":" << where.line;
}

// PyYAML refuses a tab outside quotes and comments ("found character '\t' that cannot start any token"), also where
// YAML 1.2 would take it for a blank; in indentation any YAML refuses it.
[[nodiscard]] inline bool has_tab(std::string_view text) { return text.find('\t') != std::string_view::npos; }
inline constexpr const char* tab_error = ": a tab outside quotes and comments, which YAML refuses; use spaces";

[[nodiscard]] inline std::size_t indentation(std::string_view line) {
  std::size_t i = 0;
  while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
  return i;
}

// Whether each character of a scalar is inside quotes, quoted as YAML does: '...', where a quote inside is doubled
// (''), and "...", where a backslash escapes the next character. A quote opens one only as the scalar's first
// non-blank character (elsewhere, as in it's, it is an ordinary character); a doubled '' closes the quote and opens
// it again at once. Without this a quoted ']', ',' or '#' would end a list, an item or a line.
struct QuoteTracker {
  char quote = 0;         // the open quote, or 0 outside quotes
  bool escaped = false;
  bool at_start = true;   // only blanks so far: a quote here opens the scalar
  bool reopen = false;    // a ' just closed: another ' right after it is a doubled '' and reopens it

  // Feeds the next character; true if it is a quote mark or quoted text, false if it is outside quotes.
  bool feed(char c) {
    if (!quote) {
      const bool opens = (at_start && (c == '\'' || c == '"')) || (reopen && c == '\'');
      at_start = at_start && (c == ' ' || c == '\t');
      reopen = false;
      if (!opens) return false;
      quote = c;
    } else if (escaped) {
      escaped = false;
    } else if (quote == '"' && c == '\\') {
      escaped = true;
    } else if (c == quote) {
      reopen = quote == '\'';
      quote = 0;
    }
    return true;
  }
};

[[nodiscard]] inline bool is_comment_start(std::string_view line, std::size_t i) {
  return line[i] == '#' && (i == 0 || line[i - 1] == ' ' || line[i - 1] == '\t');
}

// A scalar (what follows 'names:', '- ' or 'N: ') without a trailing `# comment`: a '#' outside quotes that starts
// it or follows whitespace, as in YAML.
[[nodiscard]] inline std::string_view strip_comment(std::string_view text) {
  QuoteTracker quotes;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (!quotes.quote && is_comment_start(text, i)) return text.substr(0, i);
    quotes.feed(text[i]);
  }
  return text;
}

// A scalar: trimmed, and unquoted as YAML reads it ('' in single quotes is one quote; \" \\ and \/ in double quotes
// are those characters). Other backslash escapes are refused rather than decoded: they stand for control characters
// or code points, and a name is printed as it is. Empty, an unbalanced quote or text after the closing quote is an
// error, and so is an unquoted name YAML would not read as its text (`flow`: an item of a [...] list).
[[nodiscard]] inline std::string scalar(std::string_view raw, const Where& where, bool flow) {
  const std::string_view s = trim(raw);
  const bool quoted = !s.empty() && (s.front() == '\'' || s.front() == '"');
  const auto tabs = [](std::string_view text) { return std::count(text.begin(), text.end(), '\t'); };
  require(tabs(raw) == (quoted ? tabs(s) : 0), where, tab_error);  // only inside the quotes
  std::string name;
  if (quoted) {
    const char quote = s.front();
    std::size_t i = 1;
    for (; i < s.size(); ++i) {
      const char c = s[i];
      if (quote == '\'' && c == '\'' && i + 1 < s.size() && s[i + 1] == '\'') {
        name += c;
        ++i;
      } else if (quote == '"' && c == '\\' && i + 1 < s.size()) {
        const char escaped = s[++i];
        require(escaped == '"' || escaped == '\\' || escaped == '/', where, ": the escape '\\", escaped,
                "' in the name ", s, " is not supported (only \\\" \\\\ and \\/ are); write the",
                " character itself, or single-quote the name to keep the backslash");
        name += escaped;
      } else if (c == quote) {
        break;
      } else {
        name += c;
      }
    }
    require(i < s.size(), where, ": unterminated quote in the name ", s);
    require(i + 1 == s.size(), where, ": cannot read the name ", s,
            " (text after its closing quote; quote the whole name)");
  } else if (!s.empty()) {
    // YAML reads an unquoted name as its text only if it starts with no indicator (of a comment, anchor, alias,
    // tag, block scalar, directive, nested list or map, or a reserved character), holds no ': ' (a mapping) and,
    // in a [...] list, none of ? [ ] { } (they end the name there, or nest).
    const auto blank_at = [&](std::size_t i) { return i == s.size() || s[i] == ' ' || s[i] == '\t'; };
    const char c = s.front();
    const bool bad_start = std::string_view("&*!|>%@`{}[],#").find(c) != std::string_view::npos ||
                           ((c == '-' || c == '?' || c == ':') && blank_at(1)) || (flow && c == ':');
    std::size_t bad = bad_start ? 0 : s.size();
    for (std::size_t i = 0; bad == s.size() && i < s.size(); ++i)
      if ((s[i] == ':' && blank_at(i + 1)) || (flow && std::string_view("?[]{}").find(s[i]) != std::string_view::npos))
        bad = i;
    if (bad < s.size())
      fail(where, ": the name ", s, " must be quoted: YAML reads the '", s[bad],
           bad == 0 ? "' at its start" : "' in it", " as syntax, not as text");
    // PyYAML resolves these to YAML 1.1's value and merge keys, which safe_load refuses as a name.
    require(s != "=" && s != "<<", where, ": the name ", s, " must be quoted: YAML reads a bare = or << as the value",
            " or merge key, not as text");
    name = s;
  }
  require(!name.empty(), where, ": empty class name");
  return name;
}

// The length of the UTF-8 sequence at text[i], or 0 if it is not valid UTF-8 as Python's strict decoder (PyYAML's)
// judges it: a stray continuation byte, a sequence cut short, an overlong form, a surrogate or a code point above
// U+10FFFF (Unicode's table 3-7).
[[nodiscard]] inline std::size_t utf8_length(std::string_view text, std::size_t i) {
  const auto at = [&](std::size_t k) { return i + k < text.size() ? static_cast<unsigned char>(text[i + k]) : 0u; };
  const unsigned c = at(0);
  if (c < 0x80) return 1;
  const std::size_t n = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
  const unsigned lo = c == 0xE0 ? 0xA0 : c == 0xF0 ? 0x90 : 0x80;  // the second byte's range
  const unsigned hi = c == 0xED ? 0x9F : c == 0xF4 ? 0x8F : 0xBF;
  if (n == 0 || at(1) < lo || at(1) > hi) return 0;
  for (std::size_t k = 2; k < n; ++k)
    if (at(k) < 0x80 || at(k) > 0xBF) return 0;
  return n;
}

[[nodiscard]] inline std::vector<std::string> read_lines(const std::string& path) {
  const std::uint64_t size = file_detail::regular_file_size(path);
  require(size <= max_file_bytes, path, ": ", size, " bytes is far too large for a class names file");
  std::string text(static_cast<std::size_t>(size), '\0');
  std::ifstream in(path, std::ios::binary);
  require(in.is_open(), path, ": cannot open file for reading");
  file_detail::read_exact(in, path, 0, text.data(), size, "class names");
  require(text.find('\0') == std::string::npos, path, ": contains NUL bytes; not a text file of class names");
  // YAML also ends a line at a lone \r, U+0085, U+2028 and U+2029; the lines here, split at \n, would not, and a
  // names yaml read across them would differ from YAML's. Names are printed to the terminal: a control character in
  // one would act on it (ESC, or the C1 control U+009B, starts an escape sequence). YAML reads UTF-8 and refuses
  // other bytes and the noncharacters U+FFFE and U+FFFF; a name in another encoding would be printed as garbage.
  std::size_t line = 1;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto at = [&](std::size_t k) { return i + k < text.size() ? static_cast<unsigned char>(text[i + k]) : 0u; };
    const unsigned c = at(0);
    if (c == '\n') ++line;
    require(!((c == '\r' && at(1) != '\n') || (c == 0xC2 && at(1) == 0x85) ||
              (c == 0xE2 && at(1) == 0x80 && (at(2) == 0xA8 || at(2) == 0xA9))),
            path, ":", line, ": byte ", i, " is a line break YAML reads (a lone \\r, U+0085, U+2028 or U+2029);",
            " save the file with \\n or \\r\\n line ends");
    const bool c1 = c == 0xC2 && at(1) >= 0x80 && at(1) <= 0x9F;  // U+0080..U+009F in UTF-8
    if ((c < 0x20 && c != '\t' && c != '\r' && c != '\n') || c == 0x7F || c1)
      fail(path, ":", line, ": byte ", i, " is the control character ", c1 ? at(1) : c,
           "; not a text file of class names");
    const std::size_t length = utf8_length(text, i);
    require(length != 0, path, ":", line, ": byte ", i, " is not UTF-8; save the file as UTF-8");
    require(!(c == 0xEF && at(1) == 0xBF && at(2) >= 0xBE), path, ":", line, ": byte ", i, " starts U+FFF",
            at(2) == 0xBE ? "E" : "F", ", a noncharacter YAML refuses; not a text file of class names");
    i += length - 1;
  }
  if (text.size() >= 3 && text.compare(0, 3, "\xEF\xBB\xBF") == 0) text.erase(0, 3);  // UTF-8 byte order mark
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t end = std::min(text.find('\n', start), text.size());
    lines.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

[[nodiscard]] inline bool is_names_key(std::string_view line) {
  return line.substr(0, 6) == "names:";
}

// A ':' ends a key only before a blank or the end of the line: YAML reads names:[a] or 0:"x" as one word.
[[nodiscard]] inline bool ends_key(std::string_view text, std::size_t colon) {
  return colon + 1 == text.size() || text[colon + 1] == ' ' || text[colon + 1] == '\t' || text[colon + 1] == '\r';
}

// After the names entry YAML reads the next line that is not blank or a comment as the next key at the left edge
// (`key: value`, `key:`, `? key`), or as the end of the document (`...`). Anything else is an error to YAML, not the
// end of the names: `foo`, a line indented under a [...] list, a key that starts with '[' or '{' (a list or map,
// which cannot be a Python dict key) or with another indicator YAML refuses there (']', '|', '%', '@', ...), or a
// tab in the indentation of the lines up to it.
inline void require_entry_end(const std::string& path, const std::vector<std::string>& lines, std::size_t from) {
  for (std::size_t i = from; i < lines.size(); ++i) {
    const std::size_t columns = indentation(lines[i]);
    const std::string_view text = trim(strip_comment(lines[i]));
    require(!has_tab(std::string_view(lines[i]).substr(0, columns)), Where{path, i + 1}, tab_error);
    if (text.empty()) continue;
    bool key = text == "..." || text == "?" || text.substr(0, 2) == "? ";
    QuoteTracker quotes;  // a quoted key may hold ': '
    for (std::size_t j = 0; j < text.size() && !key; ++j)
      key = !quotes.feed(text[j]) && j > 0 && text[j] == ':' && ends_key(text, j);
    require(key && columns == 0 && std::string_view("[]{},|>%@`").find(text.front()) == std::string_view::npos,
            Where{path, i + 1}, ": after the names list YAML expects the next key ('key: value') at the left edge,",
            " and refuses this line");
    return;
  }
}

// The `names:` entry of a YOLOv5 dataset yaml, starting at line `at` (0-based):
//   names: [a, 'b c', ...]          (may continue over lines until the first ']' outside quotes)
//   names:\n  - a\n  - b c
//   names:\n  0: a\n  1: b c        (keys must be exactly 0..n-1, any order)
[[nodiscard]] inline std::vector<std::string> parse_yaml_names(const std::string& path,
                                                               const std::vector<std::string>& lines, std::size_t at) {
  const auto where = [&](std::size_t i) { return Where{path, i + 1}; };
  require(ends_key(lines[at], 5), where(at), ": expected a space after 'names:' (YAML reads it and the text right",
          " after it as one word)");
  const std::string_view head = strip_comment(std::string_view(lines[at]).substr(6));
  require(!has_tab(head.substr(0, head.find('['))), where(at), tab_error);
  const std::string_view rest = trim(head);
  std::vector<std::string> names;
  if (!rest.empty()) {
    require(rest.front() == '[', where(at), ": expected a list after 'names:' ([a, b], '- a' lines or '0: a' lines)");
    // The list's items, split at ',' outside quotes, up to the first ']' outside quotes, over as many lines as it
    // takes. Each line is trimmed and they are joined by a space, which is also how YAML folds a name that goes on to
    // the next line.
    std::string item;                            // the item read so far
    bool has_text = false;                       // more than blanks in it
    bool ended = false;                          // a comment or blank line came after its text: YAML ends it there
    std::size_t item_line = at;                  // where its text starts
    QuoteTracker quotes;                         // a new one for each item, which a quote may open
    std::size_t quote_line = at;                 // where the open quote, if any, was opened
    std::size_t blank_line = std::string::npos;  // a blank line inside that quote
    for (std::size_t i = at; i < lines.size(); ++i) {
      const std::string_view raw = i == at ? std::string_view(lines[at]).substr(lines[at].find('[', 6) + 1) : lines[i];
      const std::string_view line = trim(raw);
      // The blanks at either end of the line fold away inside quotes; outside them a tab is refused.
      const std::size_t lead = static_cast<std::size_t>(line.data() - raw.data());
      require(quotes.quote || !has_tab(raw.substr(0, lead)), where(i), tab_error);
      if (quotes.quote && line.empty()) {
        blank_line = std::min(blank_line, i);  // an error if the name goes on after it (not at the end of the file)
        continue;
      }
      require(blank_line == std::string::npos, where(blank_line), ": a quoted name in the names list goes on over a",
              " blank line (YAML reads that as a line break); remove the blank line or put the name on one line");
      ended = ended || (has_text && line.empty());
      if (i > at) item += ' ';
      bool comment = false;
      for (std::size_t j = 0; j < line.size(); ++j) {
        const char c = line[j];
        if (!quotes.quote && is_comment_start(line, j)) {
          ended = has_text;
          comment = true;
          break;
        }
        require(quotes.quote || c != '\t', where(i), tab_error);
        const bool was_quoted = quotes.quote != 0;
        if (quotes.feed(c)) {
          if (!was_quoted) quote_line = i;
        } else if (c == ',' || c == ']') {
          // A trailing comma before ']' is allowed, as in YAML.
          if (c == ',' || has_text) names.push_back(scalar(item, where(item_line), true));
          if (c == ']') {
            // Only whitespace or a comment may follow the list on its last line.
            const std::size_t next = line.find_first_not_of(" \t", j + 1);
            require(next == std::string_view::npos || is_comment_start(line, next), where(i),
                    ": unexpected text after ']'");
            require(!has_tab(raw.substr(lead + j + 1, next - j - 1)), where(i), tab_error);  // to the comment or end
            require(!names.empty(), where(at), ": the names list is empty");
            require_entry_end(path, lines, i + 1);
            return names;
          }
          item.clear();
          has_text = ended = false;
          quotes = QuoteTracker();
          continue;
        } else if (ended && c != ' ' && c != '\t') {
          fail(where(i), ": the name ", std::string(trim(item)), " goes on after a comment or blank line, which YAML",
               " does not read as one name; put the name on one line, or end it with ','");
        }
        if (!has_text && c != ' ' && c != '\t') {
          has_text = true;
          item_line = i;
        }
        item += c;
      }
      require(comment || quotes.quote || !has_tab(raw.substr(lead + line.size())), where(i), tab_error);
    }
    require(quotes.quote == 0, where(quote_line), ": unterminated quote in the names list (a ", quotes.quote,
            " opened on this line is never closed)");
    fail(where(at), ": the names list '[' is never closed with ']'");
  }

  // Block form: the lines that follow, up to the next top-level key, every item indented alike. YAML reads a line
  // indented more as going on with the name above, and one indented less (but not to the left edge) as an error.
  std::map<long, std::string> by_index;
  bool dashes = false, keys = false;
  std::size_t indent = std::string::npos;  // the items', from the first
  for (std::size_t i = at + 1; i < lines.size(); ++i) {
    const std::size_t columns = indentation(lines[i]);
    require(!has_tab(std::string_view(lines[i]).substr(0, columns)), where(i), tab_error);  // comment lines' too
    const std::string_view text = std::string_view(lines[i]).substr(columns);  // with the blanks scalar() checks
    const std::string_view item = trim(text);
    if (item.empty() || item.front() == '#') continue;  // blank or comment line
    if (columns == 0 && item.front() != '-') {  // the entry ends
      require_entry_end(path, lines, i);
      break;
    }
    if (indent == std::string::npos) indent = columns;
    require(columns <= indent, where(i), ": indented more than the names above, so YAML reads this line as going on",
            " with the name above it; put each name on one line, every line indented alike");
    require(columns == indent, where(i), ": indented less than the names above (by ", columns, ", not ", indent,
            "), which YAML refuses; indent every name alike");
    if (item.front() == '-') {
      require(item.size() == 1 || item[1] == ' ' || item[1] == '\t', where(i),
              ": expected '- name' (a space after '-')");
      require(!keys, where(i), ": mixes '- name' and 'index: name' entries");
      dashes = true;
      names.push_back(scalar(strip_comment(text.substr(1)), where(i), false));
      continue;
    }
    const std::size_t colon = strip_comment(item).find(':');
    require(colon != std::string_view::npos, where(i), ": expected '- name' or 'index: name' under 'names:'");
    require(ends_key(item, colon), where(i), ": expected a space after '", item.substr(0, colon + 1),
            "' (YAML reads it and the text right after it as one word)");
    require(!dashes, where(i), ": mixes '- name' and 'index: name' entries");
    keys = true;
    require(!has_tab(item.substr(0, colon)), where(i), tab_error);
    const std::string key(trim(item.substr(0, colon)));
    require(!key.empty() && key.size() <= 9 && key.find_first_not_of("0123456789") == std::string::npos, where(i),
            ": class index '", key, "' is not a non-negative integer");
    const long index = std::stol(key);
    require(by_index.emplace(index, scalar(strip_comment(text.substr(colon + 1)), where(i), false)).second, where(i),
            ": class index ", index, " appears twice");
  }
  if (keys) {
    long expected = 0;
    for (auto& [index, name] : by_index) {
      require(index == expected, path, ": class indices under 'names:' must be 0..", by_index.size() - 1,
              " without gaps; index ", expected, " is missing");
      names.push_back(std::move(name));
      ++expected;
    }
  }
  require(!names.empty(), where(at), ": 'names:' has no entries");
  return names;
}

}  // namespace class_names_detail

// Class names from a file. A YOLOv5 dataset yaml (.yaml/.yml, or any file with a
// top-level `names:` line) gives its names list, checked against `nc:` if present;
// any other file gives one name per line, trimmed, blank lines skipped.
// Throws riformer::Error naming the file (and line) for anything else.
[[nodiscard]] inline std::vector<std::string> load_class_names(const std::string& path) {
  using namespace class_names_detail;
  const std::vector<std::string> lines = read_lines(path);
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); });
  const bool yaml_ext = ext == ".yaml" || ext == ".yml";

  std::size_t names_line = lines.size();
  long nc = -1;
  std::size_t nc_line = 0;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (is_names_key(lines[i])) {
      require(names_line == lines.size(), path, ":", i + 1, ": second 'names:' entry");
      names_line = i;
    } else if (std::string_view(lines[i]).substr(0, 3) == "nc:") {
      require(ends_key(lines[i], 2), path, ":", i + 1, ": expected a space after 'nc:' (YAML reads it and the text",
              " right after it as one word)");
      const std::string_view value_text = strip_comment(std::string_view(lines[i]).substr(3));
      require(!has_tab(value_text), path, ":", i + 1, tab_error);
      const std::string value(trim(value_text));
      require(!value.empty() && value.size() <= 9 && value.find_first_not_of("0123456789") == std::string::npos, path,
              ":", i + 1, ": 'nc:' must be a non-negative integer, got '", value, "'");
      nc = std::stol(value);
      nc_line = i;
    }
  }

  if (names_line < lines.size()) {
    std::vector<std::string> names = parse_yaml_names(path, lines, names_line);
    require(nc < 0 || static_cast<std::size_t>(nc) == names.size(), path, ":", nc_line + 1, ": nc: ", nc, " but 'names:' lists ",
            names.size(), " names");
    return names;
  }
  require(!yaml_ext, path, ": no top-level 'names:' entry (a YOLOv5 dataset yaml lists its classes under 'names:')");

  std::vector<std::string> names;
  for (const std::string& line : lines) {
    const std::string_view name = trim(line);
    if (!name.empty()) names.emplace_back(name);
  }
  require(!names.empty(), path, ": no class names (the file is empty or blank)");
  return names;
}

}  // namespace riformer
