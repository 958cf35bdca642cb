// Own data through the cellforge binary: `data check` on an image folder (text, JSON, errors),
// `train` on a .npy pair and on an image folder with class names reaching result.json and the
// exports (and, with PyTorch, the exported network scoring the folder's test images as cellforge
// did), a search campaign on an image folder, and the new settings in configs and flags.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>

#include "campaign_fixtures.h"
#include "cli_helpers.h"
#include "image_fixtures.h"
#include "skip.h"

namespace fs = std::filesystem;
using cf::test::run_cellforge;
using cf::test::TempDir;

namespace {

const std::string kTinyNet =
    " --arch nasnet_a --cells-per-stack 1 --filters 4 --stem-multiplier 1 --threads 1 --batch 16";

// A learnable NumPy pair (8x8 grey, label = brightest quadrant), test files and classes.txt.
void write_numpy_dataset(const fs::path& dir, int count) {
  using namespace cf::test;
  for (const char* split : {"train", "test"}) {
    std::string images;
    std::vector<int64_t> labels;
    uint32_t state = 7;
    for (int n = 0; n < count; ++n) {
      const int label = n % 4;
      labels.push_back(label);
      for (int y = 0; y < 8; ++y)
        for (int x = 0; x < 8; ++x) {
          state = state * 1664525u + 1013904223u;
          images += static_cast<char>(((y / 4) * 2 + x / 4 == label ? 150 : 30) + (state >> 26));
        }
    }
    write_bytes(dir / (std::string(split) + "_images.npy"),
                npy_bytes("|u1", {count, 8, 8}, images));
    write_bytes(dir / (std::string(split) + "_labels.npy"),
                npy_bytes("<i8", {count}, le_ints(labels, 8)));
  }
  write_file(dir / "classes.txt", "north-west\nnorth-east\nsouth-west\nsouth-east\n");
}

}  // namespace

TEST_CASE("data check shows formats, classes per split, shape, statistics and bad files",
          "[cli][data]") {
  TempDir dir;
  const fs::path data = dir / "flowers";
  cf::test::write_learnable_folder(data, {"tulip", "Rose", "daisy"}, 5, 2);
  cf::test::write_bytes(data / "train" / "daisy" / "broken.jpg", "not a jpeg");
  const auto r = run_cellforge("data check " + data.string());
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("format     folder") != std::string::npos);
  CHECK(r.out.find("8 x 8 (H x W), 3 channels; 15 training images, 6 test images") !=
        std::string::npos);
  // Byte-wise class order: "Rose" before "daisy" before "tulip".
  CHECK(r.out.find("  0     Rose                            5        2") != std::string::npos);
  CHECK(r.out.find("  1     daisy                           5        2") != std::string::npos);
  CHECK(r.out.find("  2     tulip                           5        2") != std::string::npos);
  CHECK(r.out.find("bad files  1 (training stops at the first") != std::string::npos);
  CHECK(r.out.find((data / "train" / "daisy" / "broken.jpg").string() +
                   ": not a readable PNG, JPEG or BMP image") != std::string::npos);
  CHECK(r.out.find("cache      written " + (data / ".cellforge-cache").string()) !=
        std::string::npos);
  CHECK(r.out.find(
            "crop padding 2 (the format's default), horizontal flip on (the format's default)") !=
        std::string::npos);

  const auto j = run_cellforge("data check " + data.string() +
                               " --json --channels 1 --image-size 4 --crop-padding 1 --flip false");
  INFO(j.out);
  REQUIRE(j.exit_code == 0);
  const auto json = nlohmann::json::parse(j.out);
  CHECK(json["format"] == "folder");
  CHECK(json["shape"]["channels"] == 1);
  CHECK(json["shape"]["height"] == 4);
  CHECK(json["classes"][0]["name"] == "Rose");
  CHECK(json["classes"][2]["train"] == 5);
  CHECK(json["bad_files"].size() == 1);
  CHECK(json["augmentation"]["crop_padding"] == 1);
  CHECK(json["augmentation"]["horizontal_flip"] == false);
  CHECK(json["mean"].size() == 1);
  const double mean = json["mean"][0].get<double>();
  CHECK(mean > 0.1);
  CHECK(mean < 0.9);
  // The same settings again: the cache is reused.
  const auto again = run_cellforge("data check " + data.string() + " --channels 1 --image-size 4");
  CHECK(again.out.find("cache      reused ") != std::string::npos);

  const auto missing = run_cellforge("data check " + (dir / "nowhere").string());
  CHECK(missing.exit_code == 1);
  CHECK(missing.out ==
        "cellforge data: error: " + (dir / "nowhere").string() + ": dataset directory not found\n");
  const auto bad_channels = run_cellforge("data check " + data.string() + " --channels 2");
  CHECK(bad_channels.exit_code == 2);
  CHECK(bad_channels.out.find("--channels: '2' is not one of auto,1,3") != std::string::npos);
  const auto bad_size = run_cellforge("data check " + data.string() + " --image-size 0");
  CHECK(bad_size.exit_code == 2);
  CHECK(bad_size.out.find("--image-size: 0 is out of range [1, 4096]") != std::string::npos);
  const auto no_sub = run_cellforge("data show " + data.string());
  CHECK(no_sub.exit_code == 2);
  CHECK(no_sub.out.find("unknown subcommand 'show'") != std::string::npos);
}

TEST_CASE("train on a .npy pair end to end, class names in result.json and exports",
          "[cli][data][numpy]") {
  TempDir dir;
  write_numpy_dataset(dir / "npy", 160);
  const auto r = run_cellforge("train" + kTinyNet + " --data-dir " + (dir / "npy").string() +
                               " --epochs 4 --valid-images 32 --flip false --crop-padding 1 "
                               "--test --json --out " +
                               (dir / "out").string());
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  const auto json = nlohmann::json::parse(r.out);
  CHECK(json["status"] == "ok");
  CHECK(json["epochs"].size() == 4);
  // Learnable (chance is 0.25) once flips, which swap the quadrants, are off. (Four epochs: after
  // 16 steps, batch-norm running statistics still remember their start.)
  CHECK(json["test_accuracy"].get<double>() > 0.6);
  const auto result = nlohmann::json::parse(cf::test::read_file(dir / "out" / "result.json"));
  CHECK(result["class_names"] ==
        std::vector<std::string>{"north-west", "north-east", "south-west", "south-east"});
  const auto ex = run_cellforge("export " + (dir / "out").string() + " --format pytorch,onnx -o " +
                                (dir / "exp").string());
  INFO(ex.out);
  REQUIRE(ex.exit_code == 0);
  std::string py, onnx;
  for (const auto& e : fs::directory_iterator(dir / "exp")) {
    if (e.path().extension() == ".py") py = cf::test::read_file(e.path());
    if (e.path().extension() == ".onnx") onnx = cf::test::read_file(e.path());
  }
  CHECK(py.find("CLASSES = [\"north-west\", \"north-east\", \"south-west\", \"south-east\"]") !=
        std::string::npos);
  CHECK(py.find("INPUT_SHAPE = (1, 8, 8)") != std::string::npos);
  CHECK(onnx.find("class_names") != std::string::npos);
  CHECK(onnx.find("[\"north-west\",\"north-east\",\"south-west\",\"south-east\"]") !=
        std::string::npos);
  // The same settings through flags and --config files agree with the schema.
  const auto bad = run_cellforge("train" + kTinyNet + " --data-dir " + (dir / "npy").string() +
                                 " --crop-padding 65");
  CHECK(bad.exit_code == 2);
  CHECK(bad.out.find("--crop-padding: 65 is out of range [0, 64]") != std::string::npos);
}

TEST_CASE(
    "train on an image folder, and the exported network scores its test images as cellforge did",
    "[cli][data][folder]") {
  TempDir dir;
  const fs::path data = dir / "quadrants";
  cf::test::write_learnable_folder(data, {"a", "b", "c", "d"}, 40, 10);
  const auto r =
      run_cellforge("train" + kTinyNet + " --data-dir " + data.string() +
                    " --epochs 2 --valid-images 32 --test --json --out " + (dir / "out").string());
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  const double test_accuracy = nlohmann::json::parse(r.out)["test_accuracy"].get<double>();
  CHECK(fs::exists(data / ".cellforge-cache"));
  const auto ex = run_cellforge("export " + (dir / "out").string() + " --format pytorch,onnx -o " +
                                (dir / "exp").string());
  REQUIRE(ex.exit_code == 0);
  if (!cf::test::python_has("torch, cv2, onnx")) {
    cf::test::skip("python3-torch, python3-opencv or python3-onnx not installed");
    return;
  }
  const auto stem = (dir / "exp" / "nasnet_a_").string();
  std::string py, weights, onnx;
  for (const auto& e : fs::directory_iterator(dir / "exp")) {
    const std::string p = e.path().string();
    if (p.size() > 3 && p.substr(p.size() - 3) == ".py") py = p;
    if (p.find(".weights.bin") != std::string::npos) weights = p;
    if (e.path().extension() == ".onnx") onnx = p;
  }
  const auto score = cf::test::run_command("/usr/bin/python3 " + std::string(CF_SOURCE_DIR) +
                                           "/scripts/exported_accuracy.py " + py + " " + weights +
                                           " " + data.string() + " " + onnx);
  INFO(score.out);
  REQUIRE(score.exit_code == 0);
  const auto s = nlohmann::json::parse(score.out);
  CHECK(s["images"] == 40);
  CHECK(s["correct"].get<int>() == static_cast<int>(std::lround(test_accuracy * 40)));
  CHECK(s["onnx_correct"] == s["correct"]);
}

TEST_CASE("a search campaign on an image folder runs end to end", "[cli][data][campaign]") {
  TempDir dir;
  const fs::path data = dir / "quadrants";
  cf::test::write_learnable_folder(data, {"a", "b", "c", "d"}, 24, 0);
  fs::remove_all(data / "test");
  std::string config = cf::test::tiny_config(data, dir / "run", 2, 1);
  const std::string from = "train_images = 128\nvalid_images = 64\n";
  config.replace(config.find(from), from.size(),
                 "train_images = 0\nvalid_images = 32\nimage_size = 6\nchannels = 1\n"
                 "crop_padding = 1\nhorizontal_flip = false\n");
  cf::test::write_file(dir / "c.ini", config);
  const auto r = run_cellforge("search " + (dir / "c.ini").string());
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  const auto rows = cf::test::candidate_rows(dir / "run");
  REQUIRE(rows.size() == 2);
  for (const auto& row : rows) CHECK(row.find("|done|") != std::string::npos);
  const std::string frozen = cf::test::read_file(dir / "run" / "config.ini");
  CHECK(frozen.find("image_size = 6") != std::string::npos);
  CHECK(frozen.find("channels = 1") != std::string::npos);
  // The workers left the decoded images in the dataset's cache.
  const auto check = run_cellforge("data check " + data.string() + " --image-size 6 --channels 1");
  CHECK(check.out.find("cache      reused ") != std::string::npos);
  const auto report =
      run_cellforge("report " + (dir / "run").string() + " -o " + (dir / "r.html").string());
  REQUIRE(report.exit_code == 0);
  CHECK(cf::test::read_file(dir / "r.html").find("4 classes: <code>a</code>, <code>b</code>") !=
        std::string::npos);
}
