#include "trainer/image_convert.h"

#include <cstring>
#include <opencv2/imgproc.hpp>
#include <stdexcept>

namespace cf {

cv::Mat to_channels(const cv::Mat& decoded_bgr, int channels) {
  const int have = decoded_bgr.channels();
  cv::Mat out;
  if (have == 1) {
    if (channels == 3)
      cv::cvtColor(decoded_bgr, out, cv::COLOR_GRAY2RGB);
    else
      out = decoded_bgr;
  } else if (channels == 1) {
    cv::cvtColor(decoded_bgr, out, have == 4 ? cv::COLOR_BGRA2GRAY : cv::COLOR_BGR2GRAY);
  } else {
    cv::cvtColor(decoded_bgr, out, have == 4 ? cv::COLOR_BGRA2RGB : cv::COLOR_BGR2RGB);
  }
  return out;
}

cv::Mat to_size(const cv::Mat& image, int size, ResizeMode mode) {
  if (size == 0 || (image.rows == size && image.cols == size)) return image;
  auto scaled = [](const cv::Mat& in, int height, int width) {
    const bool shrink = height * width < in.rows * in.cols;
    cv::Mat out;
    cv::resize(in, out, cv::Size(width, height), 0, 0, shrink ? cv::INTER_AREA : cv::INTER_LINEAR);
    return out;
  };
  if (mode == ResizeMode::resize) return scaled(image, size, size);
  // Shorter side to `size` (rounded like torchvision's Resize), then the centre square.
  const bool tall = image.rows > image.cols;
  const int shorter = tall ? image.cols : image.rows, longer = tall ? image.rows : image.cols;
  const int scaled_longer =
      std::max(size, static_cast<int>(static_cast<int64_t>(longer) * size / shorter));
  const cv::Mat big =
      tall ? scaled(image, scaled_longer, size) : scaled(image, size, scaled_longer);
  const int y = (big.rows - size) / 2, x = (big.cols - size) / 2;
  return big(cv::Rect(x, y, size, size)).clone();
}

void hwc_to_chw(const cv::Mat& image, uint8_t* out) {
  const int channels = image.channels();
  const size_t plane = static_cast<size_t>(image.rows) * image.cols;
  for (int y = 0; y < image.rows; ++y) {
    const uint8_t* row = image.ptr<uint8_t>(y);
    for (int x = 0; x < image.cols; ++x)
      for (int c = 0; c < channels; ++c)
        out[c * plane + static_cast<size_t>(y) * image.cols + x] = row[x * channels + c];
  }
}

namespace {

// One stored CHW image as an HWC OpenCV image, in the given colour order.
cv::Mat chw_to_mat(const uint8_t* chw, const Shape& shape) {
  cv::Mat image(shape.h, shape.w, CV_8UC(shape.c));
  const size_t plane = static_cast<size_t>(shape.h) * shape.w;
  for (int y = 0; y < shape.h; ++y) {
    uint8_t* row = image.ptr<uint8_t>(y);
    for (int x = 0; x < shape.w; ++x)
      for (int c = 0; c < shape.c; ++c)
        row[x * shape.c + c] = chw[c * plane + static_cast<size_t>(y) * shape.w + x];
  }
  return image;
}

}  // namespace

void convert_image_set(ImageSet& set, const ImageConversion& conversion) {
  if (conversion.is_default() || set.count == 0) return;
  const int channels = conversion.channels ? conversion.channels : set.shape.c;
  const int height = conversion.image_size ? conversion.image_size : set.shape.h;
  const int width = conversion.image_size ? conversion.image_size : set.shape.w;
  const Shape shape{channels, height, width};
  if (shape == set.shape) return;
  std::vector<uint8_t> pixels(static_cast<size_t>(set.count) * shape.numel());
  for (int i = 0; i < set.count; ++i) {
    cv::Mat image = chw_to_mat(set.image(i), set.shape);
    // Stored images are RGB: swap to BGR so that to_channels' BGR conversions weigh R and B right.
    if (image.channels() == 3) cv::cvtColor(image, image, cv::COLOR_RGB2BGR);
    image = to_size(to_channels(image, channels), conversion.image_size, conversion.resize);
    hwc_to_chw(image, pixels.data() + static_cast<size_t>(i) * shape.numel());
  }
  set.pixels = std::move(pixels);
  set.shape = shape;
}

}  // namespace cf
