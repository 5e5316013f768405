#pragma once
// The riformer library: RIFormer backbones and, on them, a YOLOv5 detector,
// as compile-time C++ types. Include this one header.
//
//   riformer::Backbone<riformer::kS12> net = riformer::load_backbone<riformer::kS12>("s12.safetensors");
//   riformer::BackboneRunner<riformer::kS12> runner(std::move(net), /*threads=*/1);
//   auto outputs = runner.forward(image);  // xt::xtensor<float, 4> [1, 3, H, W]
//
//   riformer::DetectorRunner<riformer::kS12> detector(riformer::load_detector<riformer::kS12>("yolo.safetensors"));
//   auto boxes = detector.detect(riformer::load_image("street.jpg"), riformer::DetectOptions{});
//
//   riformer::ClassifierRunner<riformer::kS12> classifier(riformer::load_classifier<riformer::kS12>("s12_in1k.safetensors"));
//   std::vector<float> x = riformer::imagenet_preprocess(riformer::load_image("cat.jpg"));  // [3, 224, 224]
//   auto best = riformer::top_k(classifier.forward(riformer::ImageView::chw(x.data(), 224, 224, 3)), 5);

#include "riformer/core/arch.hpp"
#include "riformer/core/context.hpp"
#include "riformer/core/error.hpp"
#include "riformer/core/feature_map.hpp"
#include "riformer/core/image_view.hpp"
#include "riformer/io/image.hpp"
#include "riformer/io/listing_source.hpp"
#include "riformer/io/npy.hpp"
#include "riformer/io/param_source.hpp"
#include "riformer/io/safetensors.hpp"
#include "riformer/io/safetensors_source.hpp"
#include "riformer/io/synthetic.hpp"
#include "riformer/models/riformer/backbone.hpp"
#include "riformer/models/riformer/checkpoint.hpp"
#include "riformer/models/riformer/classifier.hpp"
#include "riformer/models/riformer/classifier_checkpoint.hpp"
#include "riformer/models/riformer/dispatch.hpp"
#include "riformer/models/riformer/reparam.hpp"
#include "riformer/models/riformer/spec.hpp"
#include "riformer/models/yolov5/checkpoint.hpp"
#include "riformer/models/yolov5/detector.hpp"
#include "riformer/models/yolov5/spec.hpp"
#include "riformer/pipeline/detector_runner.hpp"
#include "riformer/postprocess/class_names.hpp"
#include "riformer/postprocess/decode.hpp"
#include "riformer/postprocess/detection.hpp"
#include "riformer/postprocess/draw.hpp"
#include "riformer/postprocess/head_nms.hpp"
#include "riformer/postprocess/imagenet_transform.hpp"
#include "riformer/postprocess/letterbox.hpp"
#include "riformer/postprocess/nms.hpp"
#include "riformer/postprocess/top_k.hpp"
