// The detector embedded in a program: image file in, boxes out. Builds
// without Bazel:
//
//   g++ -std=c++20 -O3 -march=native -Iinclude examples/embed_detector.cpp -pthread
//   ./a.out [yolo-riformer-s12.safetensors] [image.jpg]
//
// With no checkpoint it makes up synthetic weights (80 classes), so it runs
// anywhere, but its boxes then mean nothing.
#include <cstdio>

#include <riformer/riformer.hpp>

int main(int argc, char** argv) try {
  using namespace riformer;

  Detector<kS12> det;
  if (argc > 1) {
    det = load_detector<kS12>(argv[1]);  // the number of classes comes from the weights
  } else {
    SyntheticSource synthetic;
    det.load(ParamScope(synthetic, ""), /*nc=*/80);
  }
  DetectorRunner<kS12> runner(std::move(det), /*threads=*/1);

  const Image image = load_image(argc > 2 ? argv[2] : "examples/data/street.jpg");  // JPEG, PNG, BMP
  DetectOptions options;  // 640x640 letterbox, conf 0.25, IoU 0.45, at most 300 boxes
  options.nms.max_det = 5;
  DetectTimings t;
  const auto& detections = runner.detect(image, options, &t);  // boxes in the image's pixels
  for (const Detection& d : detections)
    std::printf("%-14s %.2f  [%.0f, %.0f, %.0f, %.0f]\n", coco_class_names()[d.cls].c_str(), d.conf, d.x1, d.y1, d.x2, d.y2);
  std::printf("%zu detections; preprocess %.1f ms, network %.1f ms, NMS %.1f ms\n", detections.size(), t.preprocess,
              t.network, t.nms);
  return 0;
} catch (const riformer::Error& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 2;
}
