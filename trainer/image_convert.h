#pragma once
// Image conversion with OpenCV (imgproc): channels (grayscale / RGB) and size (resize or centre
// crop), for decoded folder images and for stored image sets when data.channels or data.image_size
// is set. Pixels leave here in the trainer's layout: uint8, CHW, RGB order.
#include <cstdint>
#include <opencv2/core.hpp>
#include <string>

#include "trainer/data.h"

namespace cf {

// An OpenCV image (HWC, 8-bit; 1, 3 (BGR) or 4 (BGRA) channels, as imdecode gives them) with
// `channels` channels (0 = keep: grey stays grey, colour becomes RGB), in RGB order.
cv::Mat to_channels(const cv::Mat& decoded_bgr, int channels);

// `image` at size x size (size 0 = unchanged): stretched (resize) or its shorter side scaled to
// size and the centre square kept (center_crop). Area interpolation when shrinking, bilinear when
// enlarging.
cv::Mat to_size(const cv::Mat& image, int size, ResizeMode mode);

// Copies an HWC image into CHW bytes (out holds channels * height * width bytes).
void hwc_to_chw(const cv::Mat& image, uint8_t* out);

// Converts every image of `set` (CHW, RGB) as `conversion` says (a no-op for the defaults).
void convert_image_set(ImageSet& set, const ImageConversion& conversion);

}  // namespace cf
