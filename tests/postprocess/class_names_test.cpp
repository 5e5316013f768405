// Class names: the COCO list in YOLOv5's order, plain name lists, and the
// three spellings of `names:` in YOLOv5 dataset yamls; every malformed file
// is an error naming the file.

#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
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

TEST_CASE("errors name the file") {
  const std::string missing = (riformer::testing::temp_dir() / "no_such_names.txt").string();
  CHECK(contains(error_message([&] { (void)load_class_names(missing); }), missing));
  const fs::path dir = riformer::testing::temp_dir() / "riformer_class_names_test" / "a_dir.txt";
  fs::create_directories(dir);
  CHECK(contains(error_message([&] { (void)load_class_names(dir.string()); }), "not a regular file"));

  struct Case {
    const char* file;
    const char* text;
    const char* message;
  };
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
      {"inner.yaml", "names:\n  - it's\n", "quotes are not supported"},
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
