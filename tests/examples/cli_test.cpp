// The command-line tool, run in-process: the main job end to end on a real
// image (annotated image, labels and JSON written), a checkpoint written by
// the library round-tripping through `dump`, and every kind of bad input
// answered with exit code 2 and a message naming the problem.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "cli/main.hpp"
#include "riformer/io/image.hpp"
#include "riformer/io/json.hpp"
#include "riformer/io/listing_source.hpp"
#include "riformer/io/npy.hpp"
#include "riformer/io/safetensors.hpp"
#include "riformer/io/synthetic.hpp"
#include "riformer/models/yolov5/detector.hpp"
#include "riformer/pipeline/detector_runner.hpp"
#include "detection_rows.hpp"
#include "test_util.hpp"

using namespace riformer;
namespace fs = std::filesystem;

namespace {

struct Result {
  int code;
  std::string err;
};

// Runs `riformer ARGS...` (the S12-only tool) and captures std::cerr.
Result run(std::vector<std::string> args) {
  args.insert(args.begin(), "riformer");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  std::ostringstream err;
  auto* old = std::cerr.rdbuf(err.rdbuf());
  const int code = cli::main<SpecList<kS12>>(static_cast<int>(argv.size()), argv.data());
  std::cerr.rdbuf(old);
  return {code, err.str()};
}

fs::path scratch(const std::string& name) {
  const fs::path p = testing::temp_dir() / ("cli_test_" + name);
  fs::remove_all(p);
  return p;
}

// A complete S12 detector checkpoint with `nc` classes, synthetic values, written by the library.
std::string write_detector_checkpoint(int nc) {
  ListingSource listing;
  Detector<kS12> probe(ParamScope(listing, ""), nc);
  std::vector<NamedTensor> tensors;
  for (const auto& [key, shape] : listing.entries()) tensors.push_back({key, shape, synthetic::tensor(key, shape).data});
  const std::string path = (testing::temp_dir() / ("cli_test_s12_nc" + std::to_string(nc) + ".safetensors")).string();
  write_safetensors(path, tensors, {{"arch", "s12"}, {"nc", std::to_string(nc)}, {"format", "yolov5-riformer"}});
  return path;
}

const std::string kImage = "examples/data/street.jpg";

}  // namespace

TEST_CASE("detect runs end to end on an image and writes what it is asked to") {
  const fs::path out = scratch("detect");
  const Result r = run({"detect", "--source", testing::repo_file(kImage).string(), "--out", out.string(), "--imgsz", "320",
                        "--save-txt", "--save-conf", "--json", "--max-det", "5"});
  REQUIRE(r.code == 0);
  CHECK(testing::contains(r.err, "synthetic weights"));  // says loudly that the boxes mean nothing
  CHECK(fs::exists(out / "street.jpg"));
  std::ifstream labels(out / "labels" / "street.txt");
  int lines = 0;
  for (std::string line; std::getline(labels, line);) ++lines;
  CHECK(lines == 5);
  std::ifstream json_file(out / "detections.json");
  const std::string text((std::istreambuf_iterator<char>(json_file)), std::istreambuf_iterator<char>());
  const json::Value doc = json::parse(text);
  REQUIRE(doc.is_array());
  REQUIRE(doc.size() == 1);
  CHECK(doc[0].find("detections")->size() == 5);
  CHECK(doc[0].find("width")->as_uint() == 640);
}

TEST_CASE("detect --rect finds what the library finds on the minimal rectangle") {
  // The CLI warms up at the full size and runs each picture on its own
  // rectangle (640x480 at 320: 320x256) in that memory; a fresh runner plans
  // the rectangle alone. Both must give the same boxes.
  const fs::path out = scratch("detect_rect");
  const Result r = run({"detect", "--source", testing::repo_file(kImage).string(), "--out", out.string(), "--imgsz", "320",
                        "--rect", "--json", "--nosave", "--max-det", "20"});
  REQUIRE(r.code == 0);
  std::ifstream json_file(out / "detections.json");
  const std::string text((std::istreambuf_iterator<char>(json_file)), std::istreambuf_iterator<char>());
  const json::Value doc = json::parse(text);
  REQUIRE(doc.size() == 1);
  const json::Value& got = *doc[0].find("detections");

  SyntheticSource synthetic;
  DetectorRunner<kS12> runner(Detector<kS12>(ParamScope(synthetic, ""), 80), 1);
  DetectOptions options;
  options.height = options.width = 320;
  options.minimal_rectangle = true;
  options.nms.max_det = 20;
  const std::vector<Detection>& expected = runner.detect(load_image(testing::repo_file(kImage).string()), options);
  REQUIRE(got.size() == expected.size());
  CHECK(!expected.empty());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const json::Value& box = *got[i].find("box");
    CHECK(got[i].find("class")->as_number() == expected[i].cls);
    const float corners[] = {expected[i].x1, expected[i].y1, expected[i].x2, expected[i].y2};
    for (std::size_t k = 0; k < 4; ++k) CHECK(std::abs(box[k].as_number() - corners[k]) <= 0.006);  // printed as %.2f
  }
}

TEST_CASE("a checkpoint the library wrote loads through --weights, and dump writes every tensor") {
  const std::string weights = write_detector_checkpoint(3);
  const fs::path out = scratch("dump");
  const fs::path input = testing::temp_dir() / "cli_test_input.npy";
  const HostTensor x = synthetic::tensor("input", {1, 3, 64, 96});
  write_npy(input.string(), x.data.data(), x.shape);
  const Result r = run({"dump", "--weights", weights, "--input", input.string(), "--out", out.string()});
  REQUIRE(r.code == 0);
  CHECK(read_npy((out / "p5.npy").string()).shape == Shape{1, 512, 2, 3});
  CHECK(read_npy((out / "head0.npy").string()).shape == Shape{1, 3, 8, 12, 8});
  CHECK(read_npy((out / "pred.npy").string()).shape == Shape{1, 3 * (96 + 24 + 6), 8});
  CHECK(read_npy((out / "nms.npy").string()).shape.at(1) == 6);
}

TEST_CASE("dump's files match PyTorch's outputs for the same weights and input") {
  // detector_s12_128x160_nc80: synthetic weights (the tool's default, 80 classes), synthetic input.
  const SafetensorsFile golden =
      SafetensorsFile::open(testing::repo_file("tests/golden/detector_s12_128x160_nc80.safetensors").string());
  const fs::path out = scratch("dump_golden");
  const fs::path input = testing::temp_dir() / "cli_test_golden_input.npy";
  const HostTensor x = synthetic::tensor("input", {1, 3, 128, 160});
  write_npy(input.string(), x.data.data(), x.shape);
  REQUIRE(run({"dump", "--input", input.string(), "--out", out.string()}).code == 0);
  const NpyArray nms = read_npy((out / "nms.npy").string());
  CHECK(testing::unmatched_detection_rows(nms.data, golden.read_float(*golden.find("nms"))) == 0);
  for (const char* name : {"head0", "head1", "head2", "pred"}) {
    const NpyArray got = read_npy((out / (std::string(name) + ".npy")).string());
    const std::vector<float> want = golden.read_float(*golden.find(name));
    REQUIRE(got.shape == golden.find(name)->shape);
    // Boxes in pred are pixels (<= 1e-2); the raw maps and scores are unit scale.
    const double tolerance = std::string(name) == "pred" ? 1e-2 : 1e-4;
    INFO(name);
    CHECK(testing::max_abs_diff(got.data, want) <= tolerance);
  }
}

TEST_CASE("the backbone of a detector checkpoint runs on its own") {
  const Result r = run({"backbone", "--weights", write_detector_checkpoint(3), "--imgsz", "64", "--runs", "1"});
  CHECK(r.code == 0);
}

TEST_CASE("bench and backbone time each layer with --layers") {
  const Result bench = run({"bench", "--imgsz", "64", "96", "--runs", "2", "--layers"});
  CHECK(bench.code == 0);
  CHECK(bench.err.find("error") == std::string::npos);
  const Result backbone = run({"backbone", "--imgsz", "64", "--runs", "2", "--layers"});
  CHECK(backbone.code == 0);
  CHECK(backbone.err.find("error") == std::string::npos);
}

TEST_CASE("bad input gets exit code 2 and a clear message") {
  const std::string image = testing::repo_file(kImage).string();
  const fs::path dir = scratch("bad");
  fs::create_directories(dir);
  const std::string garbage = (dir / "broken.jpg").string();
  std::ofstream(garbage) << "this is not a JPEG";
  const std::string names = (dir / "names.txt").string();
  std::ofstream(names) << "cat\ndog\nbird\n";
  const std::string weights = write_detector_checkpoint(3);

  struct Case {
    std::vector<std::string> args;
    std::string expect;
  };
  const Case cases[] = {
      {{"detect"}, "--source is required"},
      {{"detect", "--source", (dir / "missing.jpg").string()}, "missing.jpg"},
      {{"detect", "--source", garbage, "--out", dir.string()}, "broken.jpg"},
      {{"detect", "--source", image, "--imgsz", "650"}, "not a multiple of 32"},
      {{"detect", "--source", image, "--names", names}, "has 3 class names but the model has 80"},
      {{"detect", "--source", image, "--weights", weights, "--classes", "5"}, "only 3 classes"},
      {{"detect", "--source", image, "--weights", weights, "--arch", "s24"}, "is not built into this program"},
      {{"detect", "--source", image, "--weights", (dir / "none.safetensors").string()}, "none.safetensors"},
      {{"detect", "--source", image, "--weights", garbage}, "broken.jpg"},
      {{"detect", "--source", image, "--conf-thres", "1.5"}, "--conf-thres must be between"},
      {{"detect", "--source", image, "--bogus"}, "unknown option --bogus"},
      {{"dump", "--input", image, "--out", dir.string()}, "street.jpg"},
      {{"bench", "--imgsz", "100"}, "not a multiple of 32"},
      {{"bench", "--imgsz", "64", "96", "128"}, "one value (square) or two"},
      {{"backbone", "--weights", garbage}, "broken.jpg"},
  };
  for (const Case& c : cases) {
    const Result r = run(c.args);
    INFO(c.args[0] << " ... -> " << r.err);
    CHECK(r.code == 2);
    CHECK(testing::contains(r.err, c.expect));
  }
}
