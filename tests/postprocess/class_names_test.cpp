// Class names: the COCO list in YOLOv5's order, plain name lists, and the
// three spellings of `names:` in YOLOv5 dataset yamls; every malformed file
// is an error naming the file.

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <span>
#include <string>
#include <vector>

#include "riformer/postprocess/class_names.hpp"
#include "test_util.hpp"

using namespace riformer;
using riformer::testing::contains;
using riformer::testing::error_message;
namespace fs = std::filesystem;
using Names = std::vector<std::string>;

namespace {

std::string write(const std::string& name, const std::string& text) {
  const fs::path dir = riformer::testing::temp_dir() / "riformer_class_names_test";
  fs::create_directories(dir);
  const fs::path p = dir / name;
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
  return p.string();
}

struct Case {
  const char* file;
  const char* text;
  const char* message;
};

// Each case's file is refused with a message that starts with its path and goes on with `message`.
void check_refused(std::span<const Case> cases) {
  for (const Case& c : cases) {
    CAPTURE(c.file);
    const std::string p = write(c.file, c.text);
    CHECK(contains(error_message([&] { (void)load_class_names(p); }), p + c.message));
  }
}

}  // namespace

TEST_CASE("COCO names in YOLOv5's order") {
  const Names& n = coco_class_names();
  REQUIRE(n.size() == 80);
  CHECK(n[0] == "person");
  CHECK(n[1] == "bicycle");
  CHECK(n[2] == "car");
  CHECK(n[3] == "motorcycle");
  CHECK(n[4] == "airplane");
  CHECK(n[9] == "traffic light");
  CHECK(n[16] == "dog");
  CHECK(n[57] == "couch");
  CHECK(n[60] == "dining table");
  CHECK(n[62] == "tv");
  CHECK(n[67] == "cell phone");
  CHECK(n[78] == "hair drier");
  CHECK(n[79] == "toothbrush");
  CHECK(&coco_class_names() == &n);
}

TEST_CASE("plain lists: one name per line, trimmed, blank lines skipped") {
  CHECK(load_class_names(write("a.names", "person\nbicycle\ncar\n")) == Names{"person", "bicycle", "car"});
  CHECK(load_class_names(write("b.txt", "\n  traffic light \r\n\r\n\tstop sign\n\n")) ==
        Names{"traffic light", "stop sign"});
  CHECK(load_class_names(write("c.txt", "no newline at end")) == Names{"no newline at end"});
  CHECK(load_class_names(write("bom.txt", "\xEF\xBB\xBF" "cat\ndog")) == Names{"cat", "dog"});
  // A plain list may contain colons and quotes: only a top-level `names:` line makes it yaml.
  CHECK(load_class_names(write("d.txt", "a: b\n'quoted'\n")) == Names{"a: b", "'quoted'"});
}

TEST_CASE("YOLOv5 dataset yaml: flow list, dash list, index map") {
  CHECK(load_class_names(write("flow.yaml", "path: ../datasets/x\nnc: 3\nnames: ['a', \"b c\", d]  # three\n")) ==
        Names{"a", "b c", "d"});
  // YOLOv5 <= 6.x wrote long lists over several lines.
  CHECK(load_class_names(write("multi.yaml",
                               "names: ['person', 'bicycle', # first two\n"
                               "        'car',\n"
                               "        'motorcycle', ]\n"
                               "download: |\n  echo hi\n")) == Names{"person", "bicycle", "car", "motorcycle"});
  CHECK(load_class_names(write("dash.yml", "train: images/train\nnames:\n  - cat\n  - 'hot dog'\n\n  - dog # comment\n"
                                           "val: images/val\n")) == Names{"cat", "hot dog", "dog"});
  CHECK(load_class_names(write("dash0.yaml", "names:\n- a\n- b\nnc: 2\n")) == Names{"a", "b"});
  // YOLOv5 7.0 (data/coco.yaml): an index map; order of lines does not matter.
  CHECK(load_class_names(write("map.yaml", "nc: 3\nnames:\n  0: person\n  2: 'car'\n  1: bicycle\n\n# tail\n")) ==
        Names{"person", "bicycle", "car"});
  CHECK(load_class_names(write("crlf.yaml", "names:\r\n  0: a b\r\n  1: c\r\n")) == Names{"a b", "c"});
  // Any file with a top-level names: line is read as yaml, whatever its extension.
  CHECK(load_class_names(write("data.txt", "names: [x, y]\n")) == Names{"x", "y"});
}

TEST_CASE("YOLOv5 dataset yaml: quoted names may hold ']', ',', '#' and escaped quotes") {
  // The list ends at the first ']' outside quotes; a quoted ',' or '#' is part of the name.
  CHECK(load_class_names(write("qbracket.yaml", "names: [\"c,0]\", b]\n")) == Names{"c,0]", "b"});
  CHECK(load_class_names(write("qbracket1.yaml", "names: ['a]b', c]  # two\n")) == Names{"a]b", "c"});
  CHECK(load_class_names(write("qhash.yaml", "names: ['x # not a comment', \"y]#z\" ] # comment\n")) ==
        Names{"x # not a comment", "y]#z"});
  // Over several lines, with comments between; a quoted ']' on an earlier line does not end the list.
  CHECK(load_class_names(write("qmulti.yaml",
                               "nc: 4\n"
                               "names: ['a]',  # first\n"
                               "        \"b, ]\",\n"
                               "        '[c]', d]\n"
                               "val: x\n")) == Names{"a]", "b, ]", "[c]", "d"});
  // A quoted name that goes on to the next line is folded with one space, as YAML does.
  CHECK(load_class_names(write("qfold.yaml", "names: ['hot   \r\n     dog]', x]\r\n")) == Names{"hot dog]", "x"});
  // Quotes inside quotes: doubled in single quotes, backslash-escaped in double quotes.
  CHECK(load_class_names(write("qescape.yaml", "names: ['it''s]', \"say \\\"hi]\\\"\", 'a\\b', \"c\\\\d\\/e\"]\n")) ==
        Names{"it's]", "say \"hi]\"", "a\\b", "c\\d/e"});
  CHECK(load_class_names(write("qdash.yaml", "names:\n  - 'it''s'\n  - \"a \\\"b\\\" # c\"  # comment\n")) ==
        Names{"it's", "a \"b\" # c"});
}

TEST_CASE("YOLOv5 dataset yaml: a quote starts a quoted name only as its first character, as in YAML") {
  // Elsewhere ' and " are part of the name, and a '#' after them still starts a comment.
  CHECK(load_class_names(write("apos.yaml", "names: [it's, b,\n  c]\n\n# end\n")) == Names{"it's", "b", "c"});
  CHECK(load_class_names(write("aposdash.yaml", "names:\n  - say \"hi\"\n  - it's  # it's a comment\n")) ==
        Names{"say \"hi\"", "it's"});
  CHECK(load_class_names(write("aposmap.yaml", "names:\n  0: it's\n  1: 'b # c'  # x\n")) == Names{"it's", "b # c"});
  // A quote after a comma (and a comment) opens the next name.
  CHECK(load_class_names(write("aposnext.yaml", "names: [a, # it's\n  'b, c']\n")) == Names{"a", "b, c"});
}

TEST_CASE("YOLOv5 dataset yaml: unquoted names YAML would read as something else are refused") {
  // What YAML reads as text is kept: these indicators only count at the start, followed by a blank, or in [...].
  CHECK(load_class_names(write("plainok.yaml", "names:\n  - ?a\n  - :a\n  - -a\n  - a:b\n  - a?b[c]{d}\n  - x&*|\n")) ==
        Names{"?a", ":a", "-a", "a:b", "a?b[c]{d}", "x&*|"});
  CHECK(load_class_names(write("plainokeq.yaml", "names: [==, <<<, a=, '=', \"<<\"]\n")) ==
        Names{"==", "<<<", "a=", "=", "<<"});
  CHECK(load_class_names(write("plainokflow.yaml", "names: [a:b, http://x, a#b, -a, x-]\n")) ==
        Names{"a:b", "http://x", "a#b", "-a", "x-"});
  const char* const refused[] = {
      "names:\n  - |\n  - b\n",           // block scalar
      "names:\n  0: >\n  1: b\n",         // folded block scalar
      "names:\n  - &a x\n  - *a\n",       // anchor, alias
      "names:\n  - *a\n",                 // alias
      "names:\n  - !!str 1\n",            // tag
      "names:\n  - %a\n",                 // directive
      "names:\n  - @a\n",                 // reserved
      "names:\n  - `a\n",                 // reserved
      "names:\n  - ,a\n",                 // flow indicators
      "names:\n  - ]a\n",
      "names:\n  - [a]\n",                // a nested list
      "names:\n  - {a}\n",                // a map
      "names:\n  - - a\n",                // a nested list
      "names:\n  - -\n",
      "names:\n  - ? a\n",                // a map key
      "names:\n  - a: b\n",               // a map
      "names:\n  - a:\n",
      "names:\n  0: a: b\n",
      "names: [a,#b]\n",                  // '#' right after ',' is a comment to PyYAML
      "names: [a,#b\n  c]\n",
      "names: [? a, c]\n",
      "names: [?a]\n",
      "names: [:a]\n",
      "names: [a: b, c]\n",
      "names: [a:, c]\n",
      "names: [a:\n  b]\n",
      "names: [{a}, c]\n",
      "names: [a{b, c]\n",
      "names: [a}b, c]\n",
      "names: [a[b, c]\n",
      "names: [a?b, c]\n",
      "names: [- a]\n",
      "names:\n  - =\n",                 // YAML 1.1's value key
      "names:\n  0: <<  # c\n",          // YAML 1.1's merge key
      "names: [a, =, b]\n",
      "names: [<<]\n",
  };
  for (const char* text : refused) {
    CAPTURE(text);
    CHECK(contains(error_message([&] { (void)load_class_names(write("indicator.yaml", text)); }), "must be quoted"));
  }
  // The error names the line the item is on, not the 'names:' line.
  const std::string p = write("indicatorline.yaml", "names: [a,\n  b,\n  &c]\n");
  CHECK(contains(error_message([&] { (void)load_class_names(p); }), p + ":3: the name &c must be quoted"));
  const std::string merge = write("mergeline.yaml", "names:\n  - a\n  - <<\n");
  CHECK(contains(error_message([&] { (void)load_class_names(merge); }),
                 merge + ":3: the name << must be quoted: YAML reads a bare = or << as the value or merge key"));
}

TEST_CASE("YOLOv5 dataset yaml: block items indented alike") {
  // YAML joins a line indented more to the name above ('a - b'); one indented less is a YAML error.
  const Case cases[] = {
      {"deeper.yaml", "names:\n  - a\n    - b\n", ":3: indented more"},
      {"deeper0.yaml", "names:\n- a\n  - b\n", ":3: indented more"},
      {"deeperkey.yaml", "names:\n  0: a\n    1: b\n", ":3: indented more"},
      {"deeperblank.yaml", "names:\n  - a\n\n    b\n", ":4: indented more"},
      {"shallower.yaml", "names:\n  - a\n - b\n", ":3: indented less"},
      {"shallower0.yaml", "names:\n  - a\n- b\n", ":3: indented less"},
  };
  check_refused(cases);
  // Comment lines may be indented anyhow.
  CHECK(load_class_names(write("comments.yaml", "names:\n  - a\n# c\n      # d\n  - b\nnc: 2\n")) == Names{"a", "b"});
}

TEST_CASE("YOLOv5 dataset yaml: a key's ':' is followed by a blank, or YAML reads both as one word") {
  const Case cases[] = {
      {"nospace.yaml", "nc: 1\nnames:[a]\n", ":2: expected a space after 'names:'"},
      {"nospacehash.yaml", "names:#c\n  - a\n", ":1: expected a space after 'names:'"},
      {"nospacekey.yaml", "names:\n  0: a\n  1:\"x\"\n", ":3: expected a space after '1:'"},
      {"nospacekey0.yaml", "names:\n  0:a\n", ":2: expected a space after '0:'"},
      {"nospacenc.yaml", "nc:1\nnames: [a]\n", ":1: expected a space after 'nc:'"},
  };
  check_refused(cases);
  CHECK(load_class_names(write("spacekey.yaml", "nc: 2\nnames: # c\n  0: a\n  1:  b:c\n")) == Names{"a", "b:c"});
}

TEST_CASE("YOLOv5 dataset yaml: after the names entry comes the next key at the left edge, as YAML requires") {
  const Case cases[] = {
      {"afterblock.yaml", "names:\n  - a\nfoo\n  - b\n", ":3: after the names list YAML expects the next key"},
      {"aftermap.yaml", "names:\n  0: a\n]\n", ":3: after the names list"},
      {"afterflow.yaml", "names: [a, b]\n  nc: 2\n", ":2: after the names list"},
      {"afterflow2.yaml", "names: ['a',\n  b]\n\n# c\nfoo\n", ":5: after the names list"},
      {"afterkey.yaml", "names:\n  0: a\nnc 1\n", ":3: after the names list"},  // a key without its colon
      {"afterquoted.yaml", "names: [a]\n\"k: v\"\n", ":2: after the names list"},
      {"afterbracket.yaml", "names:\n  - a\n]x: 1\n", ":3: after the names list"},
      {"afterlistkey.yaml", "names: [a]\n[b]: 1\n", ":2: after the names list"},  // a list as a dict key
      {"afterbar.yaml", "names:\n  0: a\n|: 1\n", ":3: after the names list"},
      {"aftertab.yaml", "names: [a]\n\t\n# end\n", ":2: a tab outside quotes and comments"},
      {"aftertab2.yaml", "names: [a]\n\n\t# end\nk: 1\n", ":3: a tab outside quotes and comments"},
  };
  check_refused(cases);
  CHECK(load_class_names(write("nextkey.yaml", "names:\n  - a\n# c\nk: 1 # c\n")) == Names{"a"});
  CHECK(load_class_names(write("nextkey2.yaml", "names: [a]\n  # c\n\n'x y': 1\n")) == Names{"a"});
  CHECK(load_class_names(write("nextkey3.yaml", "names:\n  - a\n\"k: v\": 1\nk:\n")) == Names{"a"});
  CHECK(load_class_names(write("nextkey4.yaml", "names:\n- a\n? k\n")) == Names{"a"});
  CHECK(load_class_names(write("docend.yaml", "names: [a]\n...\n")) == Names{"a"});
  CHECK(load_class_names(write("nextkey5.yaml", "names: [a]\n'[b]': 1\n!!str k: 1\n")) == Names{"a"});
}

TEST_CASE("YOLOv5 dataset yaml: a tab outside quotes and comments is refused, as PyYAML does") {
  const Case cases[] = {
      {"tabindent.yaml", "names:\n\t- a\n", ":2: a tab outside quotes and comments"},
      {"tabindent2.yaml", "names:\n  - a\n\t  - b\n", ":3: a tab"},
      {"tabblank.yaml", "names:\n  - a\n \t\n  - b\n", ":3: a tab"},
      {"tabcomment.yaml", "names:\n  - a\n\t# c\n", ":3: a tab"},
      {"tabdash.yaml", "names:\n  -\ta\n", ":2: a tab"},
      {"tabname.yaml", "names:\n  - a\tb\n", ":2: a tab"},
      {"tabbeforecomment.yaml", "names:\n  - 'a'\t# c\n", ":2: a tab"},
      {"tabtrailing.yaml", "names:\n  - a\t\n", ":2: a tab"},
      {"tabvalue.yaml", "names:\n  0:\ta\n", ":2: a tab"},
      {"tabkey.yaml", "names:\n  0\t: a\n", ":2: a tab"},
      {"tabhead.yaml", "names:\t[a]\n", ":1: a tab"},
      {"tabheadblock.yaml", "names:\t# c\n  - a\n", ":1: a tab"},
      {"tabflow.yaml", "names: [a,\tb]\n", ":1: a tab"},
      {"tabflowlead.yaml", "names: [a,\n\tb]\n", ":2: a tab"},
      {"tabflowname.yaml", "names: [a,\n  b\tc]\n", ":2: a tab"},
      {"tabflowend.yaml", "names: [a, b,\t\n  c]\n", ":1: a tab"},
      {"tabflowcomma.yaml", "names: [a, b,\t]\n", ":1: a tab"},
      {"tabflowafter.yaml", "names: [a]\t# c\n", ":1: a tab"},
      {"tabflowafter2.yaml", "names: [a] \t\n", ":1: a tab"},
      {"tabflowcomment.yaml", "names: [a,\t# c\n  b]\n", ":1: a tab"},
      {"tabnc.yaml", "nc:\t1\nnames: [a]\n", ":1: a tab"},
  };
  check_refused(cases);
  // In quotes and comments a tab is text; at the ends of a line inside quotes it folds away with the line break.
  CHECK(load_class_names(write("tabquoted.yaml", "names: ['a\tb', 'c\t\n\t d'] # \tx\n")) == Names{"a\tb", "c d"});
  CHECK(load_class_names(write("tabquoted2.yaml", "names:\n  - 'a\tb'  # x\t\n  - \"\tc\"\n# \t\n")) ==
        Names{"a\tb", "\tc"});
  CHECK(load_class_names(write("tabquoted3.yaml", "names:\n  0: 'a\tb'\n")) == Names{"a\tb"});
}

TEST_CASE("YOLOv5 dataset yaml: an unquoted name in [...] ends at a comment or blank line") {
  for (const char* text : {"names: [a\n\n  b]\n", "names: [a # c\n  b]\n", "names: [a,\n  b\n  # c\n  c]\n"}) {
    CAPTURE(text);
    CHECK(contains(error_message([&] { (void)load_class_names(write("flowbreak.yaml", text)); }),
                   "goes on after a comment or blank line"));
  }
  // Ended there and followed by ',' or ']', it is fine; without either, a name goes on to the next line.
  CHECK(load_class_names(write("flowend.yaml", "names: [a # c\n  , b\n\n]\n")) == Names{"a", "b"});
  CHECK(load_class_names(write("flowfold.yaml", "names: [a\n  b, c]\n")) == Names{"a b", "c"});
}

TEST_CASE("line breaks YAML knows and this reader does not, and C1 control characters, are refused") {
  for (const char* text : {"names:\r  - a\r  - b\r", "names: [a\rb]\n", "names: ['a\xC2\x85" "b']\n",
                           "names:\n  - a\n\xE2\x80\xA8  - b\n", "names: [a\xE2\x80\xA9" "b]\n"}) {
    CAPTURE(text);
    CHECK(contains(error_message([&] { (void)load_class_names(write("break.yaml", text)); }),
                   "is a line break YAML reads"));
  }
  const std::string csi = write("csi.txt", "cat\n\xC2\x9B" "31mdog\n");
  CHECK(contains(error_message([&] { (void)load_class_names(csi); }), csi + ":2: byte 4 is the control character 155"));
  // Other UTF-8 is text: the no-break space U+00A0 is C2 A0, and continuation bytes 80..9F are not controls.
  CHECK(load_class_names(write("utf8.txt", "caf\xC3\xA9\na\xC2\xA0" "b\n\xE4\xB8\x80\n")) ==
        Names{"caf\xC3\xA9", "a\xC2\xA0" "b", "\xE4\xB8\x80"});
}

TEST_CASE("bytes that are not UTF-8, and the noncharacters U+FFFE and U+FFFF, are refused") {
  const Case cases[] = {
      {"latin1.txt", "cat\ncaf\xE9\n", ":2: byte 7 is not UTF-8"},            // Latin-1
      {"stray.yaml", "names: [a\x80]\n", ":1: byte 9 is not UTF-8"},          // a continuation byte alone
      {"overlong.yaml", "names: [a\xC0\xAF]\n", ":1: byte 9 is not UTF-8"},  // '/' in two bytes
      {"surrogate.yaml", "names: [\xED\xA0\x80]\n", ":1: byte 8 is not UTF-8"},
      {"above.yaml", "names:\n  - \xF4\x90\x80\x80\n", ":2: byte 11 is not UTF-8"},  // U+110000
      {"cut.yaml", "names: [a]\n# \xE4\xB8", ":2: byte 13 is not UTF-8"},
      {"fffe.yaml", "names: ['a\xEF\xBF\xBE']\n", ":1: byte 10 starts U+FFFE, a noncharacter YAML refuses"},
      {"ffff.txt", "a\xEF\xBF\xBF\n", ":1: byte 1 starts U+FFFF, a noncharacter YAML refuses"},
  };
  check_refused(cases);
  // Four-byte UTF-8, U+FFFD, and the code points at the edges of the ranges above are text, as to YAML.
  CHECK(load_class_names(write("utf8edge.yaml", "names: [\xF0\x9F\x90\xB1, \xEF\xBF\xBD, \xED\x9F\xBF, \xEE\x80\x80,"
                                                " \xF4\x8F\xBF\xBF]\n")) ==
        Names{"\xF0\x9F\x90\xB1", "\xEF\xBF\xBD", "\xED\x9F\xBF", "\xEE\x80\x80", "\xF4\x8F\xBF\xBF"});
}

TEST_CASE("errors name the file") {
  const std::string missing = (riformer::testing::temp_dir() / "no_such_names.txt").string();
  CHECK(contains(error_message([&] { (void)load_class_names(missing); }), missing));
  const fs::path dir = riformer::testing::temp_dir() / "riformer_class_names_test" / "a_dir.txt";
  fs::create_directories(dir);
  CHECK(contains(error_message([&] { (void)load_class_names(dir.string()); }), "not a regular file"));

  const Case cases[] = {
      {"empty.txt", "", "no class names"},
      {"blank.txt", "\n  \n\t\n", "no class names"},
      {"nonames.yaml", "nc: 2\npath: x\n", "no top-level 'names:'"},
      {"mismatch.yaml", "nc: 3\nnames: [a, b]\n", "nc: 3 but 'names:' lists 2 names"},
      {"badnc.yaml", "nc: three\nnames: [a]\n", "'nc:' must be a non-negative integer"},
      {"unclosed.yaml", "names: [a, b,\n  c\n", "never closed"},
      {"after.yaml", "names: [a, b] extra\n", "unexpected text after ']'"},
      {"emptyflow.yaml", "names: []\n", "the names list is empty"},
      {"emptyitem.yaml", "names: [a, , b]\n", "empty class name"},
      {"dict.yaml", "names: {0: a}\n", "expected a list"},
      {"scalar.yaml", "names: person\n", "expected a list"},
      {"noentries.yaml", "names:\nnc: 1\n", "has no entries"},
      {"gap.yaml", "names:\n  0: a\n  2: c\n", "index 1 is missing"},
      {"dup.yaml", "names:\n  0: a\n  0: b\n", "appears twice"},
      {"negative.yaml", "names:\n  -1: a\n", "a space after '-'"},
      {"notint.yaml", "names:\n  zero: a\n", "not a non-negative integer"},
      {"mixed.yaml", "names:\n  - a\n  1: b\n", "mixes"},
      {"noitem.yaml", "names:\n  just text\n", "expected '- name' or 'index: name'"},
      {"emptyname.yaml", "names:\n  - ''\n", "empty class name"},
      {"quote.yaml", "names: ['a, b]\n", "unterminated quote"},
      {"quote2.yaml", "names: ['a]', 'b]\nnc: 2\n", "unterminated quote"},
      {"qafter.yaml", "names: [\"a]\", b]]\n", "unexpected text after ']'"},
      {"hashafter.yaml", "names: [a, b]# x\n", "unexpected text after ']'"},
      {"qtrail.yaml", "names: [\"a]\" extra, b]\n", "text after its closing quote"},
      {"qbadescape.yaml", "names: [\"tab\\there\"]\n", "the escape '\\t'"},
      {"qopen.yaml", "names: [\"a\\\"]\n", "unterminated quote"},
      {"qblank.yaml", "names: ['a\n\n  b']\n", "goes on over a blank line"},
      {"twice.yaml", "names: [a]\nnames: [b]\n", "second 'names:'"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.file);
    const std::string p = write(c.file, c.text);
    const std::string msg = error_message([&] { (void)load_class_names(p); });
    CHECK(contains(msg, p));
    CHECK(contains(msg, c.message));
  }
  const std::string bin = write("binary.txt", std::string("ab\0cd", 5));
  CHECK(contains(error_message([&] { (void)load_class_names(bin); }), "NUL bytes"));
  const std::string escape = write("escape.txt", "cat\n\x1b[31mdog\n");
  CHECK(contains(error_message([&] { (void)load_class_names(escape); }), "byte 4 is the control character 27"));
  // Line numbers point at the problem.
  const std::string gap = write("line.yaml", "nc: 2\nnames:\n  0: a\n  x: b\n");
  CHECK(contains(error_message([&] { (void)load_class_names(gap); }), gap + ":4"));
  const std::string open = write("openline.yaml", "names: [a,\n  'b], c\nnc: 2\n");
  CHECK(contains(error_message([&] { (void)load_class_names(open); }), open + ":2: unterminated quote"));
}
