// Tests of SafetensorsSource, the ParamSource models load real weights through: key
// lookup under a prefix, the errors a mismatched checkpoint must produce (missing key
// with a prefix hint, wrong shape, unexpected keys), warnings, and find_prefix.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "riformer/io/safetensors_source.hpp"
#include "test_util.hpp"

using namespace riformer;
using riformer::testing::contains;
using riformer::testing::error_message;
namespace fs = std::filesystem;

namespace {

std::string temp_path(const std::string& name) {
  const fs::path dir = testing::temp_dir() / "riformer_source_test";
  fs::create_directories(dir);
  return (dir / name).string();
}

// A backbone checkpoint with a BatchNorm counter, one extra backbone key and a head.
std::string write_checkpoint() {
  const std::string path = temp_path("checkpoint.safetensors");
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  write_safetensors(path, {
                              {"backbone.a.weight", {2, 3}, {1, 2, 3, 4, 5, 6}},
                              {"backbone.a.bias", {3}, {0.5f, -0.5f, 0}},
                              {"backbone.bn.num_batches_tracked", {}, {12}},
                              {"backbone.extra", {1}, {9}},
                              {"backbone.bad", {4}, {nan, 1, inf, -inf}},
                              {"head.fc.weight", {4, 2}, std::vector<float>(8, 1.0f)},
                          });
  return path;
}

}  // namespace

TEST_CASE("get, contains, describe, through a ParamScope") {
  const std::string path = write_checkpoint();
  SafetensorsSource source(path, LoadOptions{"backbone.", false, {}});
  CHECK(source.describe() == path);
  CHECK(source.contains("backbone.a.weight"));
  CHECK_FALSE(source.contains("a.weight"));
  const ParamScope scope(source, "backbone.");
  const HostTensor w = scope.sub("a").get("weight", {2, 3});
  CHECK(w.shape == Shape{2, 3});
  CHECK(w.data == std::vector<float>{1, 2, 3, 4, 5, 6});
  CHECK(scope.contains("a.bias"));
  CHECK(source.get("backbone.a.bias", {3}).data == std::vector<float>{0.5f, -0.5f, 0});
}

TEST_CASE("missing key: message names file, key, expected shape, and hints at other prefixes") {
  const std::string path = write_checkpoint();
  SafetensorsSource source(path, LoadOptions{"backbone.", false, {}});
  const std::string msg = error_message([&] { (void)source.get("backbone.fc.weight", {4, 2}); });
  CHECK(contains(msg, path + ": missing key 'backbone.fc.weight' (expected shape [4, 2])"));
  CHECK(contains(msg, "'head.fc.weight'"));
  CHECK(contains(msg, "prefix"));
  // No hint when nothing similar exists.
  const std::string plain = error_message([&] { (void)source.get("backbone.zzz", {1}); });
  CHECK(contains(plain, "missing key 'backbone.zzz'"));
  CHECK_FALSE(contains(plain, "wrong prefix"));

  // Loading a "model.0."-style request against a "backbone." file points at the right key.
  SafetensorsSource other(path, LoadOptions{"model.0.", false, {}});
  const std::string hinted = error_message([&] { (void)other.get("model.0.a.weight", {2, 3}); });
  CHECK(contains(hinted, "'backbone.a.weight'"));
  CHECK(contains(hinted, "LoadOptions::prefix is 'model.0.'"));
}

TEST_CASE("shape mismatch names file, key and both shapes") {
  const std::string path = write_checkpoint();
  SafetensorsSource source(path, LoadOptions{"backbone.", false, {}});
  const std::string msg = error_message([&] { (void)source.get("backbone.a.weight", {3, 2}); });
  CHECK(contains(msg, path));
  CHECK(contains(msg, "'backbone.a.weight'"));
  CHECK(contains(msg, "[2, 3]"));
  CHECK(contains(msg, "[3, 2]"));
  // A failed get does not count as used.
  CHECK(contains(error_message([&] { source.finish(); }), "'backbone.a.weight'"));
}

TEST_CASE("NaN/Inf values are refused, naming the key, unless allowed") {
  const std::string path = write_checkpoint();
  SafetensorsSource source(path, LoadOptions{"backbone.", false, false});
  (void)source.get("backbone.a.weight", {2, 3});
  const std::string msg = error_message([&] { (void)source.get("backbone.bad", {4}); });
  CHECK(contains(msg, path + ": key 'backbone.bad' has 3 NaN/Inf values of 4"));
  CHECK(contains(msg, "at index 0"));
  SafetensorsSource lenient(path, LoadOptions{"backbone.", false, true});
  const HostTensor bad = lenient.get("backbone.bad", {4});
  CHECK(std::isnan(bad.data[0]));
}

TEST_CASE("finish: unexpected keys inside the prefix, ignored keys outside it") {
  const std::string path = write_checkpoint();
  SafetensorsSource source(path, LoadOptions{"backbone.", false, true});
  (void)source.get("backbone.a.weight", {2, 3});
  (void)source.get("backbone.a.bias", {3});
  (void)source.get("backbone.bad", {4});
  CHECK(source.unused_keys() == std::vector<std::string>{"backbone.extra"});
  CHECK(source.ignored_keys() == std::vector<std::string>{"head.fc.weight"});
  const std::string msg = error_message([&] { source.finish(); });
  CHECK(contains(msg, path));
  CHECK(contains(msg, "1 unexpected key under prefix 'backbone.'"));
  CHECK(contains(msg, "'backbone.extra'"));
  CHECK(contains(msg, "allow_extra_keys"));
  CHECK_FALSE(contains(msg, "num_batches_tracked"));
  CHECK_FALSE(contains(msg, "head.fc.weight"));

  (void)source.get("backbone.extra", {1});
  CHECK_NOTHROW(source.finish());

  SafetensorsSource lenient(path, LoadOptions{"backbone.", true, {}});
  CHECK_NOTHROW(lenient.finish());
  CHECK(lenient.unused_keys().size() == 4);

  // Without a prefix every key is in scope and nothing is ignored.
  SafetensorsSource all(path, LoadOptions{});
  CHECK(all.ignored_keys().empty());
  CHECK(contains(error_message([&] { all.finish(); }), "5 unexpected keys"));
}

TEST_CASE("finish lists at most 10 keys and the total") {
  std::vector<NamedTensor> tensors;
  for (int i = 0; i < 25; ++i) tensors.push_back({"m." + std::to_string(i), {1}, {0}});
  const std::string path = temp_path("many.safetensors");
  write_safetensors(path, tensors);
  SafetensorsSource source(path, LoadOptions{"m.", false, {}});
  const std::string msg = error_message([&] { source.finish(); });
  CHECK(contains(msg, "25 unexpected keys"));
  CHECK(contains(msg, "'m.9'"));
  CHECK_FALSE(contains(msg, "'m.10'"));
  CHECK(contains(msg, "..."));
}

TEST_CASE("find_prefix") {
  auto file_with = [](const std::string& name, std::vector<std::string> keys) {
    std::vector<NamedTensor> tensors;
    for (const auto& k : keys) tensors.push_back({k, {1}, {0}});
    const std::string path = temp_path(name);
    write_safetensors(path, tensors);
    return SafetensorsFile::open(path);
  };
  const std::string anchor = "patch_embed.proj.weight";
  CHECK(find_prefix(file_with("p0.safetensors", {"patch_embed.proj.weight", "x"}), anchor) == "");
  CHECK(find_prefix(file_with("p1.safetensors", {"backbone.patch_embed.proj.weight", "head.fc.weight"}), anchor) ==
        "backbone.");
  CHECK(find_prefix(file_with("p2.safetensors", {"model.0.patch_embed.proj.weight", "model.1.conv.weight"}), anchor) ==
        "model.0.");
  // "xpatch_embed..." does not end at a component boundary.
  CHECK(find_prefix(file_with("p3.safetensors", {"xpatch_embed.proj.weight", "a.patch_embed.proj.weight"}), anchor) ==
        "a.");

  const SafetensorsFile none = file_with("p4.safetensors", {"head.fc.weight"});
  const std::string msg_none = error_message([&] { (void)find_prefix(none, anchor); });
  CHECK(contains(msg_none, none.path()));
  CHECK(contains(msg_none, "no key ends with 'patch_embed.proj.weight'"));

  const SafetensorsFile several =
      file_with("p5.safetensors", {"backbone.patch_embed.proj.weight", "ema.backbone.patch_embed.proj.weight"});
  const std::string msg_several = error_message([&] { (void)find_prefix(several, anchor); });
  CHECK(contains(msg_several, "several prefixes"));
  CHECK(contains(msg_several, "'backbone.'"));
  CHECK(contains(msg_several, "'ema.backbone.'"));
}

TEST_CASE("opening a bad file through the source names the file") {
  const std::string path = temp_path("missing_for_source.safetensors");
  CHECK(contains(error_message([&] { SafetensorsSource s(path); }), path));
}
