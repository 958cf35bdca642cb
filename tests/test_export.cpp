// Exports checked by round trips: the PyTorch module (Debian's python3-torch) has cellforge's
// parameter count and, with cellforge's weights, gives cellforge's logits; the ONNX model passes
// onnx.checker and OpenCV's DNN module gives the same logits.
#include <onnx/onnx_pb.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli_helpers.h"
#include "genotype_fixtures.h"
#include "results/export.h"
#include "skip.h"
#include "space/nb201.h"
#include "space/nb201_network.h"
#include "trainer/executor.h"
#include "trainer/optimizer.h"
#include "trainer/weights.h"

TEST_CASE("PyTorch and ONNX exports reproduce cellforge's logits", "[export]") {
  if (!cf::test::python_has("torch, onnx, cv2, numpy")) {
    cf::test::skip(
        "/usr/bin/python3 lacks torch, onnx or cv2 (Debian packages python3-torch, "
        "python3-onnx, python3-opencv)");
    return;
  }
  cf::NetworkSpec spec;
  spec.cells_per_stack = 1;
  spec.filters = 8;
  spec.stem_multiplier = 2;
  spec.input = {2, 12, 12};
  spec.classes = 5;
  spec.aux_head = true;
  // NAS-Bench-201 networks too: zero nodes, PyTorch's BN epsilon, the ResNet reductions.
  cf::NetworkSpec nb201 = cf::nb201_network_spec();
  nb201.cells_per_stack = 1;
  nb201.filters = 4;
  nb201.input = {3, 8, 8};
  nb201.classes = 5;
  const cf::Nb201Space nb201_space;
  const std::vector<std::pair<std::string, cf::Network>> networks = {
      {"all ops", cf::build_network(cf::test::all_ops_genotype(), spec)},
      {"nasnet_a", cf::build_network(*cf::builtin_genotype("nasnet_a"), spec)},
      {"nb201 with zero nodes",
       cf::build_nb201_network(
           nb201_space.parse_arch(
               "|none~0|+|skip_connect~0|nor_conv_1x1~1|+|none~0|nor_conv_3x3~1|avg_pool_3x3~2|"),
           nb201)},
      {"nb201 all conv",
       cf::build_nb201_network(
           nb201_space.parse_arch("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|skip_connect~"
                                  "0|avg_pool_3x3~1|nor_conv_3x3~2|"),
           nb201)},
  };
  for (const auto& [name, net] : networks) {
    DYNAMIC_SECTION(name) {
      const int batch = 4;
      cf::ExecutorOptions eo;
      eo.batch = batch;
      cf::Executor ex(net, eo);
      cf::Rng rng(11);
      ex.init_params(rng);
      // A few training steps so weights and BN running statistics are not at their initial values.
      cf::Sgd sgd(ex.params(), {});
      std::vector<int32_t> labels(batch);
      const size_t per = static_cast<size_t>(net.spec.input.numel());
      for (int step = 0; step < 3; ++step) {
        for (size_t k = 0; k < batch * per; ++k)
          ex.input()[k] = static_cast<float>(rng.uniform01() * 2 - 1);
        for (auto& l : labels) l = rng.uniform_int(net.spec.classes);
        ex.forward(true);
        int correct;
        ex.loss(labels.data(), 0, 0.4f, &correct);
        ex.backward();
        sgd.step(0.05f);
      }
      std::vector<float> images(batch * per);
      for (auto& x : images) x = static_cast<float>(rng.uniform01() * 2 - 1);
      std::copy(images.begin(), images.end(), ex.input());
      ex.forward(false);
      const std::vector<float> logits(ex.logits(), ex.logits() + batch * net.spec.classes);

      cf::test::TempDir dir;
      cf::save_weights(ex, dir / "w.bin");
      std::ofstream(dir / "net.py")
          << cf::pytorch_module_source(net, "CellforgeNet", "test network");
      cf::TensorMap tensors;
      for (const auto& p : ex.params()) tensors[p.name] = ex.read_param(p);
      for (const auto& s : ex.bn_stats()) {
        tensors[s.name + ".running_mean"] = s.running_mean;
        tensors[s.name + ".running_var"] = s.running_var;
      }
      cf::write_onnx(net, tensors, "test", dir / "net.onnx");
      std::ofstream(dir / "images.bin", std::ios::binary)
          .write(reinterpret_cast<const char*>(images.data()),
                 static_cast<std::streamsize>(images.size() * 4));
      std::ofstream(dir / "logits.bin", std::ios::binary)
          .write(reinterpret_cast<const char*>(logits.data()),
                 static_cast<std::streamsize>(logits.size() * 4));
      const std::string cmd = "/usr/bin/python3 " + std::string(CF_SOURCE_DIR) +
                              "/tests/export_roundtrip.py " + (dir / "net.py").string() + " " +
                              (dir / "w.bin").string() + " " + (dir / "net.onnx").string() + " " +
                              (dir / "images.bin").string() + " " + (dir / "logits.bin").string() +
                              " " + std::to_string(batch) + "," + std::to_string(net.spec.input.c) +
                              "," + std::to_string(net.spec.input.h) + "," +
                              std::to_string(net.spec.input.w);
      const auto run = cf::test::run_command(cmd);
      const std::string& output = run.out;
      INFO(output);
      REQUIRE(run.exit_code == 0);
      const auto j = nlohmann::json::parse(output.substr(output.rfind('{')));
      CHECK(j["torch_params"].get<int64_t>() == net.params());
      CHECK(j["torch_max_diff"].get<double>() <= 1e-4);
      CHECK(j["onnx_checker"].get<bool>());
      CHECK(j["onnx_opset"].get<int>() >= 13);
      CHECK(j["opencv_max_diff"].get<double>() <= 1e-4);
    }
  }
}

TEST_CASE("BN epsilon comes from each layer (space/network.h) in both exports", "[export]") {
  CHECK(cf::short_float_literal(1e-3f) == "1e-3");
  CHECK(cf::short_float_literal(2.5f) == "2.5e0");
  CHECK(cf::short_float_literal(1e-5f) == "1e-5");
  CHECK(cf::short_float_literal(123456.f) == "1.23456e5");

  cf::NetworkSpec spec;
  spec.cells_per_stack = 1;
  spec.filters = 4;
  spec.stem_multiplier = 1;
  spec.input = {1, 8, 8};
  spec.classes = 3;
  const cf::Network net = cf::build_network(*cf::builtin_genotype("nasnet_a"), spec);
  for (const auto& l : net.layers)
    if (l.kind == cf::LayerKind::batch_norm) CHECK(l.bn_epsilon == cf::kBatchNormEpsilon);
  const std::string py = cf::pytorch_module_source(net, "Net", "epsilon");
  CHECK(py.find("\nBN_EPS = " + cf::short_float_literal(cf::kBatchNormEpsilon) + "\n") !=
        std::string::npos);
  CHECK(py.find("eps=BN_EPS") != std::string::npos);

  cf::ExecutorOptions eo;
  eo.batch = 2;
  cf::Executor ex(net, eo);
  cf::Rng rng(3);
  ex.init_params(rng);
  cf::TensorMap tensors;
  for (const auto& p : ex.params()) tensors[p.name] = ex.read_param(p);
  for (const auto& s : ex.bn_stats()) {
    tensors[s.name + ".running_mean"] = s.running_mean;
    tensors[s.name + ".running_var"] = s.running_var;
  }
  cf::test::TempDir dir;
  cf::write_onnx(net, tensors, "epsilon", dir / "net.onnx");
  onnx::ModelProto model;
  REQUIRE(model.ParseFromString(cf::test::read_file(dir / "net.onnx")));
  int bn_layers = 0, bn_nodes = 0;
  for (const auto& l : net.layers) bn_layers += l.kind == cf::LayerKind::batch_norm && !l.aux;
  for (const auto& node : model.graph().node()) {
    if (node.op_type() != "BatchNormalization") continue;
    ++bn_nodes;
    REQUIRE(node.attribute_size() == 1);
    CHECK(node.attribute(0).name() == "epsilon");
    CHECK(node.attribute(0).f() == cf::kBatchNormEpsilon);
  }
  CHECK(bn_nodes == bn_layers);
  CHECK(bn_nodes > 0);
}
