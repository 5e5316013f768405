// Tests of the bounded file reading shared by the readers (io/file.hpp): a
// missing file asks whether it exists, any other reason the file cannot be
// looked at (a symlink loop) is named, and only regular files are sized.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

#include "riformer/io/file.hpp"
#include "test_util.hpp"

using namespace riformer;
using file_detail::regular_file_size;
using riformer::testing::contains;
using riformer::testing::error_message;
namespace fs = std::filesystem;

namespace {

// The test's own folder under the per-test temp dir.
fs::path temp_folder() {
  const fs::path dir = riformer::testing::temp_dir() / "riformer_file_test";
  fs::create_directories(dir);
  return dir;
}

}  // namespace

TEST_CASE("a regular file's size") {
  const std::string path = (temp_folder() / "five.bin").string();
  std::ofstream(path, std::ios::binary | std::ios::trunc) << "12345";
  CHECK(regular_file_size(path) == 5);
}

TEST_CASE("a missing file asks whether it exists") {
  const fs::path dir = temp_folder();
  const std::string missing = (dir / "does_not_exist.bin").string();
  CHECK(error_message([&] { (void)regular_file_size(missing); }) == missing + ": cannot open file (does it exist?)");
  // Under a path that is a file (ENOTDIR), and through a symlink to nothing: still not found.
  const std::string file = (dir / "plain.bin").string();
  std::ofstream(file, std::ios::binary | std::ios::trunc) << "x";
  CHECK(contains(error_message([&] { (void)regular_file_size(file + "/below"); }), "(does it exist?)"));
  const fs::path dangling = dir / "dangling";
  fs::remove(dangling);
  fs::create_symlink(dir / "nowhere", dangling);
  CHECK(contains(error_message([&] { (void)regular_file_size(dangling.string()); }), "(does it exist?)"));
  CHECK(error_message([&] { (void)regular_file_size(""); }) == "a file name is empty");
}

TEST_CASE("a symlink loop is named as such, not taken for a missing file") {
  const fs::path dir = temp_folder();
  const fs::path loop = dir / "loop";
  fs::remove(loop);
  fs::create_symlink("loop", loop);  // ln -s loop loop
  const std::string reason = std::make_error_code(std::errc::too_many_symbolic_link_levels).message();
  const std::string msg = error_message([&] { (void)regular_file_size(loop.string()); });
  CHECK(msg == loop.string() + ": cannot open file: " + reason);
  CHECK(!contains(msg, "does it exist"));
  // A path through the loop fails the same way.
  CHECK(contains(error_message([&] { (void)regular_file_size((loop / "x.npy").string()); }), reason));
}

TEST_CASE("only regular files are sized") {
  const fs::path dir = temp_folder() / "a_folder";
  fs::create_directories(dir);
  CHECK(error_message([&] { (void)regular_file_size(dir.string()); }) == dir.string() + ": not a regular file");
}
