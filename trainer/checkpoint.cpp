#include "trainer/checkpoint.h"

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "space/file_io.h"
#include "space/json_text.h"
#include "trainer/weights.h"

namespace cf {

namespace {
constexpr char kMagic[] = "CFTRAINSTATE1\n";

void write_floats(std::ostream& out, const std::vector<float>& v) {
  out.write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(float)));
}
}  // namespace

void save_checkpoint(const std::filesystem::path& dir, const Executor& executor, const TrainCheckpoint& c) {
  namespace fs = std::filesystem;
  fs::create_directories(dir);
  const fs::path epoch_dir = dir / ("epoch-" + std::to_string(c.epochs_done));
  fs::create_directories(epoch_dir);
  save_weights(executor, epoch_dir / "weights.bin");
  nlohmann::json header = {{"epochs_done", c.epochs_done},
                           {"step", c.step},
                           {"order_rng", c.order_rng},
                           {"augment_rng", c.augment_rng},
                           {"drop_rng", c.drop_rng},
                           {"order", c.order},
                           {"losses", c.losses}};
  nlohmann::json epochs = nlohmann::json::array();
  for (const auto& e : c.epochs)
    epochs.push_back({{"epoch", e.epoch}, {"train_loss", e.train_loss}, {"train_accuracy", e.train_accuracy},
                      {"valid_accuracy", e.valid_accuracy}, {"images_per_second", e.images_per_second},
                      {"seconds", e.seconds}, {"lr", e.lr}});
  header["epochs"] = epochs;
  nlohmann::json sizes = nlohmann::json::array();
  for (const auto& v : c.velocity) sizes.push_back(v.size());
  header["velocity_sizes"] = sizes;
  {
    std::ostringstream out;
    out << kMagic << header.dump() << "\n";
    for (const auto& v : c.velocity) write_floats(out, v);
    write_file_atomic(epoch_dir / "state.bin", out.str());
  }
  write_file_atomic(dir / "latest", epoch_dir.filename().string() + "\n");
  // Older checkpoints are no longer needed.
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.is_directory() && entry.path().filename().string().rfind("epoch-", 0) == 0 &&
        entry.path() != epoch_dir)
      fs::remove_all(entry.path());
}

std::optional<TrainCheckpoint> load_checkpoint(const std::filesystem::path& dir, Executor& executor) {
  std::ifstream latest(dir / "latest");
  if (!latest) return std::nullopt;
  std::string name;
  std::getline(latest, name);
  const auto epoch_dir = dir / name;
  const auto state_file = epoch_dir / "state.bin";
  std::ifstream in(state_file, std::ios::binary);
  if (!in) throw std::runtime_error(state_file.string() + ": cannot open checkpoint state");
  std::string magic(sizeof(kMagic) - 1, '\0');
  in.read(magic.data(), static_cast<std::streamsize>(magic.size()));
  if (magic != kMagic) throw std::runtime_error(state_file.string() + ": not a cellforge training state");
  std::string line;
  std::getline(in, line);
  nlohmann::json h;
  try {
    h = parse_json_text(line, state_file.string());
  } catch (const JsonTextError& e) {
    throw std::runtime_error(std::string(e.what()) + " (a damaged checkpoint: remove it to start over)");
  }
  TrainCheckpoint c;
  c.epochs_done = h.at("epochs_done");
  c.step = h.at("step");
  c.order_rng = h.at("order_rng");
  c.augment_rng = h.at("augment_rng");
  c.drop_rng = h.at("drop_rng");
  c.order = h.at("order").get<std::vector<int>>();
  c.losses = h.at("losses").get<std::vector<float>>();
  for (const auto& e : h.at("epochs")) {
    EpochStats s;
    s.epoch = e.at("epoch");
    s.train_loss = e.at("train_loss");
    s.train_accuracy = e.at("train_accuracy");
    s.valid_accuracy = e.at("valid_accuracy");
    s.images_per_second = e.at("images_per_second");
    s.seconds = e.at("seconds");
    s.lr = e.at("lr");
    c.epochs.push_back(s);
  }
  for (size_t n : h.at("velocity_sizes").get<std::vector<size_t>>()) {
    std::vector<float> v(n);
    in.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(n * sizeof(float)));
    if (!in) throw std::runtime_error(state_file.string() + ": truncated checkpoint state");
    c.velocity.push_back(std::move(v));
  }
  load_weights(executor, epoch_dir / "weights.bin");
  return c;
}

}  // namespace cf
