#pragma once
// One detected object, as YOLOv5's non_max_suppression returns a row
// [x1, y1, x2, y2, conf, class]: corners in pixels of whatever image the
// boxes refer to (the network input after NMS; the original image after
// scale_boxes).

namespace riformer {

struct Detection {
  float x1 = 0, y1 = 0, x2 = 0, y2 = 0;  // box corners, pixels
  float conf = 0;                       // objectness x class score
  int cls = 0;                          // class index
};

}  // namespace riformer
