// The command-line tool, run in-process: the main job end to end on a real
// image (annotated image, labels and JSON written), a checkpoint written by
// the library round-tripping through `dump`, and every kind of bad input
// answered with exit code 2 and a message naming the problem.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <new>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "cli/main.hpp"
#include "riformer/core/address_sanitizer.hpp"
#include "riformer/io/image.hpp"
#include "riformer/io/json.hpp"
#include "riformer/io/listing_source.hpp"
#include "riformer/io/npy.hpp"
#include "riformer/io/safetensors.hpp"
#include "riformer/io/synthetic.hpp"
#include "riformer/models/riformer/classifier.hpp"
#include "riformer/models/riformer/classifier_checkpoint.hpp"
#include "riformer/models/yolov5/detector.hpp"
#include "riformer/pipeline/detector_runner.hpp"
#include "riformer/postprocess/imagenet_transform.hpp"
#include "riformer/postprocess/top_k.hpp"
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

// A complete S12 ImageNet classifier checkpoint with `classes` classes (mmpretrain's
// "backbone." and "head." keys), synthetic values, written by the library.
std::string write_classifier_checkpoint(int classes) {
  ListingSource listing;
  Classifier<kS12> probe(ParamScope(listing, "backbone."), ParamScope(listing, "head."), classes);
  std::vector<NamedTensor> tensors;
  for (const auto& [key, shape] : listing.entries()) tensors.push_back({key, shape, synthetic::tensor(key, shape).data});
  const std::string path = (testing::temp_dir() / ("cli_test_s12_cls" + std::to_string(classes) + ".safetensors")).string();
  write_safetensors(path, tensors, {{"arch", "s12"}, {"format", "riformer-backbone"}});
  return path;
}

// What `f` prints to standard output (the commands print with printf).
template <class F>
std::string captured_stdout(F&& f) {
  const fs::path file = testing::temp_dir() / "cli_test_stdout.txt";
  std::fflush(stdout);
  const int saved = dup(1), out = open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  REQUIRE(saved >= 0);
  REQUIRE(out >= 0);
  dup2(out, 1);
  f();
  std::fflush(stdout);
  dup2(saved, 1);
  close(out);
  close(saved);
  std::ifstream in(file);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
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

TEST_CASE("dump and backbone refuse an --input under the name of every file they write") {
  // What a run wrote into --out, each given back as --input with the same --out, must be refused: the names
  // check_input_kept guards are the names written.
  const fs::path input = testing::temp_dir() / "cli_test_guard_input.npy";
  const HostTensor x = synthetic::tensor("input", {1, 3, 64, 64});
  write_npy(input.string(), x.data.data(), x.shape);
  const fs::path dump_out = scratch("guard_dump"), backbone_out = scratch("guard_backbone");
  REQUIRE(run({"dump", "--input", input.string(), "--out", dump_out.string()}).code == 0);
  REQUIRE(run({"backbone", "--input", input.string(), "--runs", "1", "--out", backbone_out.string()}).code == 0);
  const std::pair<std::string, fs::path> commands[] = {{"dump", dump_out}, {"backbone", backbone_out}};
  for (const auto& command_and_out : commands) {
    const std::string& command = command_and_out.first;  // (INFO captures it: no structured binding for Clang 14)
    const fs::path& out = command_and_out.second;
    std::vector<fs::path> written;
    for (const fs::directory_entry& e : fs::directory_iterator(out)) written.push_back(e.path());
    CHECK(written.size() == (command == "dump" ? 9u : 4u));
    for (const fs::path& file : written) {
      fs::copy_file(input, file, fs::copy_options::overwrite_existing);
      const Result r = run({command, "--input", file.string(), "--out", out.string()});
      INFO(command << " --input " << file.string() << " -> " << r.err);
      CHECK(r.code == 2);
      CHECK(testing::contains(r.err, "would overwrite --input"));
    }
  }
}

TEST_CASE("classify prints the classes the library gives for the image, best first") {
  const std::string weights = write_classifier_checkpoint(10);
  const fs::path dir = scratch("classify");
  fs::create_directories(dir);
  const std::string names = (dir / "names.txt").string();
  std::ofstream(names) << "c0\nc1\nc2\nc3\nc4\nc5\nc6\nc7\nc8\nc9\n";
  const std::string image = testing::repo_file(kImage).string();
  Result r{};
  const std::string out = captured_stdout([&] {
    r = run({"classify", "--weights", weights, "--source", image, "--topk", "3", "--names", names});
  });
  INFO(r.err << out);
  REQUIRE(r.code == 0);
  // The same classifier, preprocessing and ranking through the library.
  const SafetensorsFile file = SafetensorsFile::open(weights);
  ClassifierRunner<kS12> runner(load_classifier<kS12>(weights));
  std::vector<float> input(3 * 224 * 224);
  imagenet_preprocess(load_image(image), input.data());
  const std::vector<ClassScore> top = top_k(runner.forward(ImageView::chw(input.data(), 224, 224, 3)), 3);
  std::size_t at = out.find("image 1/1");
  REQUIRE(at != std::string::npos);
  for (const ClassScore& s : top) {
    char line[64];
    std::snprintf(line, sizeof line, "%6.4f  c%d ", s.probability, s.cls);
    const std::size_t found = out.find(line, at);
    INFO("expected, in order: " << line);
    CHECK(found != std::string::npos);
    at = found == std::string::npos ? at : found;
  }
  CHECK(testing::contains(out, "10 classes"));

  const Result synthetic = run({"classify", "--source", image});
  CHECK(synthetic.code == 0);
  CHECK(testing::contains(synthetic.err, "synthetic weights"));  // says loudly that the classes mean nothing

  const std::string detector = write_detector_checkpoint(3);
  const std::string garbage = (dir / "broken.jpg").string();
  std::ofstream(garbage) << "this is not a JPEG";
  struct Case {
    std::vector<std::string> args;
    std::string expect;
  };
  const Case cases[] = {
      {{"classify"}, "--source is required"},
      {{"classify", "--source", garbage}, "broken.jpg"},
      {{"classify", "--source", image, "--topk", "0"}, "--topk must be between 1 and"},
      {{"classify", "--source", image, "--weights", weights, "--names", (dir / "none.txt").string()}, "none.txt"},
      {{"classify", "--source", image, "--names", names}, "has 10 class names but the model has 1000 classes"},
      {{"classify", "--source", image, "--weights", detector}, "not an ImageNet classifier checkpoint"},
      {{"classify", "--source", image, "--weights", weights, "--arch", "s24"}, "is not built into this program"},
  };
  for (const Case& c : cases) {
    const Result bad = run(c.args);
    INFO(c.args.size() << " args -> " << bad.err);
    CHECK(bad.code == 2);
    CHECK(testing::contains(bad.err, c.expect));
  }
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
  const std::string file = (dir / "a_file").string();  // a regular file where --out wants a folder
  std::ofstream(file) << "not a folder";
  const fs::path same = dir / "same";  // --source and --out
  fs::create_directories(same);
  fs::copy_file(image, same / "street.jpg");
  const fs::path pair = dir / "pair";  // a.jpg and a.png: both labels/a.txt
  fs::create_directories(pair);
  fs::copy_file(image, pair / "a.jpg");
  fs::copy_file(image, pair / "a.png");
  const std::string npy = (dir / "input.npy").string();
  const HostTensor x = synthetic::tensor("input", {1, 3, 64, 64});
  write_npy(npy, x.data.data(), x.shape);
  const fs::path dump_dir = dir / "dumped";  // --input among the files dump writes
  fs::create_directories(dump_dir);
  fs::copy_file(npy, dump_dir / "p2.npy");
  const fs::path linked_in = dir / "linked_in", linked_out = dir / "linked_out";  // a hard link to the input
  fs::create_directories(linked_in);
  fs::create_directories(linked_out);
  fs::copy_file(image, linked_in / "a.jpg");
  fs::create_hard_link(linked_in / "a.jpg", linked_out / "a.jpg");
  const std::string nan_npy = (dir / "nan.npy").string();
  std::vector<float> with_nan = x.data;
  with_nan[7] = std::nanf("");
  write_npy(nan_npy, with_nan.data(), x.shape);
  const std::string wide_npy = (dir / "wide.npy").string();  // no values, so any width fits in a file
  write_npy(wide_npy, nullptr, {1, 3, 4294967360, 0});
  // The weights of write_detector_checkpoint(3) with metadata naming no variant.
  const std::string relabelled = (dir / "zz9.safetensors").string();
  {
    const SafetensorsFile f = SafetensorsFile::open(weights);
    std::vector<NamedTensor> tensors;
    for (const TensorInfo& t : f.tensors()) tensors.push_back({t.name, t.shape, f.read_float(t)});
    write_safetensors(relabelled, tensors, {{"arch", "zz9\x1b[31m"}});
  }

  struct Case {
    std::vector<std::string> args;
    std::string expect;
  };
  const Case cases[] = {
      {{"detect"}, "--source is required"},
      {{"detect", "--source", (dir / "missing.jpg").string()}, "missing.jpg"},
      {{"detect", "--source", garbage, "--out", (dir / "out").string()}, "broken.jpg"},
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
      // Sizes and names from files are checked before they are used (and escaped in messages).
      {{"dump", "--input", wide_npy, "--out", (dir / "dump").string()}, "H and W must be in 1..8192"},
      {{"backbone", "--input", wide_npy}, "H and W must be in 1..8192"},
      {{"dump", "--input", nan_npy, "--out", (dir / "dump").string()}, "value 7 is nan; the input must be finite"},
      {{"backbone", "--input", nan_npy}, "value 7 is nan"},
      // Options that would be silently ignored.
      {{"detect", "--source", image, "--save-conf"}, "--save-conf adds the confidence to --save-txt's labels"},
      {{"bench", "--weights", weights, "--nc", "5", "--imgsz", "64"}, "--nc is for synthetic weights"},
      {{"backbone", "--input", npy, "--imgsz", "64"}, "the size comes from --input"},
      {{"backbone", "--imgsz", "64", "--runs", "0", "--layers"}, "--layers times R more runs"},
      {{"detect", "--source", image, "--weights", relabelled},
       "its metadata says arch \"zz9\\u001b[31m\", which is not a RIFormer variant"},
      // An option given twice: not the first (or, for --imgsz, both as H W) silently used.
      {{"detect", "--source", image, "--conf-thres", "0.9", "--conf-thres", "0.1"}, "--conf-thres given twice"},
      {{"detect", "--source", image, "--source", (dir / "missing.jpg").string()}, "--source given twice"},
      {{"detect", "--source", image, "--json", "--json"}, "--json given twice"},
      {{"bench", "--imgsz", "64", "--imgsz", "96"}, "--imgsz given twice"},
      {{"detect", "--source", image, "--classes", "0", "--classes", "2"}, "--classes given twice"},
      // A stray word after a multi-valued option's value is not a bad value.
      {{"bench", "--imgsz", "64", "extra"}, "unexpected argument 'extra'"},
      {{"bench", "--imgsz", "64", "-v"}, "unexpected argument '-v'"},
      // --out that cannot be a folder: a riformer error, not an internal filesystem_error.
      {{"detect", "--source", image, "--out", file, "--imgsz", "64"},
       "--out '" + file + "': cannot create the output folder: Not a directory"},
      {{"detect", "--source", image, "--out", file + "/sub", "--imgsz", "64"}, "cannot create the output folder"},
      {{"detect", "--source", image, "--out", "", "--imgsz", "64"}, "--out is empty"},
      {{"dump", "--input", npy, "--out", file}, "cannot create the output folder"},
      {{"backbone", "--imgsz", "64", "--runs", "0", "--out", file}, "cannot create the output folder"},
      // Outputs that would destroy data are refused before anything runs.
      {{"detect", "--source", same.string(), "--out", same.string()}, "would overwrite the input image"},
      {{"detect", "--source", (same / "street.jpg").string(), "--out", (dir / "." / "same").string()},
       "would overwrite the input image"},
      {{"detect", "--source", (linked_in / "a.jpg").string(), "--out", linked_out.string()},
       "(the same file under another name)"},
      {{"dump", "--input", (dump_dir / "p2.npy").string(), "--out", dump_dir.string()}, "would overwrite --input"},
      {{"backbone", "--input", (dump_dir / "p2.npy").string(), "--out", dump_dir.string()}, "would overwrite --input"},
      {{"bench", "--imgsz", "8224"}, "--imgsz must be between 32 and 8192"},
      {{"detect", "--source", pair.string(), "--out", (dir / "pair_out").string(), "--save-txt", "--nosave"},
       "a.jpg' and '" + (pair / "a.png").string() + "' would both write"},
  };
  for (const Case& c : cases) {
    const Result r = run(c.args);
    INFO(c.args[0] << " ... -> " << r.err);
    CHECK(r.code == 2);
    CHECK(testing::contains(r.err, c.expect));
  }
}

TEST_CASE("several values after one option, and outputs beside the inputs, still work") {
  const fs::path dir = scratch("fine");
  fs::create_directories(dir);
  fs::copy_file(testing::repo_file(kImage), dir / "street.jpg");
  const Result classes = run({"detect", "--source", (dir / "street.jpg").string(), "--out", (dir / "out").string(),
                              "--imgsz", "64", "96", "--classes", "0", "2", "5", "--nosave"});
  CHECK(classes.code == 0);
  // Labels into the source folder's labels/ overwrite no image.
  const Result labels = run({"detect", "--source", dir.string(), "--out", dir.string(), "--imgsz", "64", "--nosave",
                             "--save-txt"});
  CHECK(labels.code == 0);
  CHECK(fs::exists(dir / "labels" / "street.txt"));
}

TEST_CASE("--threads above the core count is refused: the spinning pool would crawl") {
  const unsigned cores = std::thread::hardware_concurrency();
  if (cores == 0) return;  // unknown: nothing to compare with
  for (const std::string& n : {std::to_string(cores + 1), std::string("100000")}) {
    const Result r = run({"bench", "--imgsz", "64", "--runs", "1", "--threads", n});
    INFO(n << " -> " << r.err);
    CHECK(r.code == 2);
    CHECK(testing::contains(r.err, "this machine has " + std::to_string(cores)));
    CHECK(testing::contains(r.err, "0 means all cores"));
  }
  CHECK(run({"bench", "--imgsz", "64", "--runs", "1", "--threads", std::to_string(cores)}).code == 0);
}

TEST_CASE("detections.json stays valid JSON for file names that are not UTF-8") {
  const fs::path dir = scratch("utf8");
  fs::create_directories(dir);
  fs::copy_file(testing::repo_file(kImage), dir / "\xFF\xFE.jpg");
  fs::copy_file(testing::repo_file(kImage), dir / "caf\xC3\xA9.jpg");
  const fs::path out = scratch("utf8_out");
  const Result r = run({"detect", "--source", dir.string(), "--out", out.string(), "--imgsz", "64", "--json",
                        "--nosave", "--max-det", "1"});
  REQUIRE(r.code == 0);
  std::ifstream json_file(out / "detections.json");
  const std::string text((std::istreambuf_iterator<char>(json_file)), std::istreambuf_iterator<char>());
  const json::Value doc = json::parse(text);
  REQUIRE(doc.size() == 2);
  std::vector<std::string> images{doc[0].find("image")->as_string(), doc[1].find("image")->as_string()};
  std::sort(images.begin(), images.end());
  CHECK(images[0] == (dir / "caf\xC3\xA9.jpg").string());
  CHECK(images[1] == (dir / "\xEF\xBF\xBD\xEF\xBF\xBD.jpg").string());
}

TEST_CASE("an input too large for the memory is a clear error, not an internal one") {
  CHECK_THROWS_WITH_AS(cli::plan_memory(64, 96, "--imgsz", [] { throw std::bad_alloc(); }),
                       "not enough memory for a 64x96 input; try a smaller --imgsz", Error);

  // AddressSanitizer's operator new reports a failed allocation and aborts; it cannot throw std::bad_alloc.
  if (kAddressSanitizer) {
    MESSAGE("built with AddressSanitizer: the out-of-memory runs are skipped");
    return;
  }
  // The address space limited to what the process uses plus 2 GiB, as on a small machine: planning a
  // 8192x8192 input (gigabytes per feature map) runs out.
  rlimit old{};
  REQUIRE(getrlimit(RLIMIT_AS, &old) == 0);
  long pages = 0;
  std::ifstream("/proc/self/statm") >> pages;
  REQUIRE(pages > 0);
  rlimit low = old;
  const auto used = static_cast<rlim_t>(pages) * static_cast<rlim_t>(sysconf(_SC_PAGESIZE));
  low.rlim_cur = std::min<rlim_t>(used + (rlim_t{2} << 30), old.rlim_max);
  const fs::path out = scratch("huge");
  REQUIRE(setrlimit(RLIMIT_AS, &low) == 0);
  // qemu-user (tools/test_aarch64.sh) accepts the limit but does not enforce it, and the 8192x8192 runs
  // would then go ahead for hours: check that a 3 GiB reservation is refused before relying on it.
  const std::size_t probe_bytes = std::size_t{3} << 30;
  if (void* probe = mmap(nullptr, probe_bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0); probe != MAP_FAILED) {
    munmap(probe, probe_bytes);
    REQUIRE(setrlimit(RLIMIT_AS, &old) == 0);
    MESSAGE("RLIMIT_AS is not enforced here (an emulator?): the out-of-memory runs are skipped");
    return;
  }
  const Result bench = run({"bench", "--imgsz", "8192", "--runs", "1"});
  const Result detect = run({"detect", "--source", testing::repo_file(kImage).string(), "--out", out.string(),
                             "--imgsz", "8192", "--nosave"});
  REQUIRE(setrlimit(RLIMIT_AS, &old) == 0);
  for (const Result& r : {bench, detect}) {
    INFO(r.err);
    CHECK(r.code == 2);
    CHECK(testing::contains(r.err, "memory"));
    CHECK(!testing::contains(r.err, "internal error"));
  }
}

TEST_CASE("output that cannot be written is a failure, not exit 0") {
  std::fflush(stdout);
  const int saved = dup(1), full = open("/dev/full", O_WRONLY);
  REQUIRE(saved >= 0);
  REQUIRE(full >= 0);
  dup2(full, 1);
  const Result r = run({"backbone", "--imgsz", "64", "--runs", "1"});
  const Result help = run({"detect", "--help"});
  dup2(saved, 1);  // the test's own output again
  close(full);
  close(saved);
  std::clearerr(stdout);
  std::cout.clear();
  CHECK(r.code == 2);
  CHECK(testing::contains(r.err, "riformer backbone: error: cannot write to standard output"));
  CHECK(help.code == 2);
  CHECK(testing::contains(help.err, "cannot write to standard output"));
}
