#pragma once
// NMS straight from the Detect head's raw output: the same detections as
// decode() followed by non_max_suppression() on its rows, bit for bit, but
// only the rows whose objectness passes conf_thres are decoded, one at a time,
// so the rows x (nc + 5) prediction buffer (8.6 MB for a 640x640 COCO head)
// is never written. What DetectorRunner::detect() runs.

#include <cstddef>
#include <span>
#include <vector>

#include "riformer/postprocess/decode.hpp"
#include "riformer/postprocess/detection.hpp"
#include "riformer/postprocess/nms.hpp"

namespace riformer {

// `row` is scratch for one decoded row (resized to nc + 5 floats, so it
// allocates only the first time). Returns ws's result, as non_max_suppression.
inline std::vector<Detection>& non_max_suppression(std::span<const DetectLevel> levels, int nc, const NmsOptions& options,
                                                   NmsWorkspace& ws, std::vector<float>& row) {
  return non_max_suppression_rows(
      [&](auto&& visit) {  // runs after the options and nc are checked
        row.resize(static_cast<std::size_t>(nc) + 5);
        decode_confident_rows(levels, nc, options.conf_thres, row.data(), visit);
      },
      nc, options, ws);
}

}  // namespace riformer
