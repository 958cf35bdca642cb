#include "trainer/weights.h"

#include <cstring>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "space/file_io.h"
#include "space/json_text.h"

namespace cf {

namespace {
constexpr char kMagic[] = "CFWEIGHTS1\n";
}

void save_weights(const Executor& executor, const std::filesystem::path& path) {
  nlohmann::json header;
  header["notation"] = executor.network().notation();
  header["params"] = executor.network().params();
  nlohmann::json tensors = nlohmann::json::array();
  std::vector<std::vector<float>> data;
  for (const auto& p : executor.params()) {
    data.push_back(executor.read_param(p));
    tensors.push_back({{"name", p.name}, {"count", data.back().size()}});
  }
  for (const auto& s : executor.bn_stats()) {
    data.push_back(s.running_mean);
    tensors.push_back({{"name", s.name + ".running_mean"}, {"count", s.running_mean.size()}});
    data.push_back(s.running_var);
    tensors.push_back({{"name", s.name + ".running_var"}, {"count", s.running_var.size()}});
  }
  header["tensors"] = tensors;
  std::string bytes = std::string(kMagic) + header.dump() + "\n";
  for (const auto& v : data)
    bytes.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
  try {
    write_file_atomic(path, bytes);
  } catch (const FileError& e) {
    throw WeightsError(e.what());
  }
}

void load_weights(Executor& executor, const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    throw WeightsError(path.string() + (std::filesystem::exists(path, ec) ? ": not a regular file" : ": cannot open file"));
  std::ifstream in(path, std::ios::binary);
  if (!in) throw WeightsError(path.string() + ": cannot open file");
  std::string magic(sizeof(kMagic) - 1, '\0');
  in.read(magic.data(), static_cast<std::streamsize>(magic.size()));
  if (!in || magic != kMagic) throw WeightsError(path.string() + ": not a cellforge weights file");
  // The header is one JSON line; a file without a newline in its first 64 MiB is not one of ours.
  constexpr size_t kMaxHeaderBytes = size_t{64} << 20;
  std::string line;
  for (char c; in.get(c) && c != '\n';) {
    line += c;
    if (line.size() > kMaxHeaderBytes) throw WeightsError(path.string() + ": header line longer than 64 MiB (corrupt)");
  }
  nlohmann::json header;
  try {
    header = parse_json_text(line, "");
  } catch (const JsonTextError& e) {
    throw WeightsError(path.string() + ": corrupt header: " + e.what());
  }
  if (!header.is_object() || !header.contains("tensors") || !header["tensors"].is_array())
    throw WeightsError(path.string() + ": corrupt header: no \"tensors\" list");
  // Offsets of every tensor in the data block.
  std::map<std::string, std::pair<std::streamoff, size_t>> where;
  std::streamoff offset = in.tellg();
  for (const auto& t : header["tensors"]) {
    if (!t.is_object() || !t.contains("name") || !t["name"].is_string() || !t.contains("count") ||
        !t["count"].is_number_unsigned() || t["count"].get<uint64_t>() > (uint64_t{1} << 40))
      throw WeightsError(path.string() + ": corrupt header: a tensor entry without a name and a sane count");
    const size_t count = t["count"].get<size_t>();
    where[t["name"].get<std::string>()] = {offset, count};
    offset += static_cast<std::streamoff>(count * sizeof(float));
  }
  in.seekg(0, std::ios::end);
  if (in.tellg() < offset) throw WeightsError(path.string() + ": file is truncated");
  auto read = [&](const std::string& name, size_t count) {
    auto it = where.find(name);
    if (it == where.end())
      throw WeightsError(path.string() + ": no tensor '" + name + "' (the file is for a " +
                         (header.contains("notation") && header["notation"].is_string()
                              ? header["notation"].get<std::string>()
                              : std::string("different")) +
                         " network)");
    if (it->second.second != count)
      throw WeightsError(path.string() + ": tensor '" + name + "' has " +
                         std::to_string(it->second.second) + " values, the network needs " +
                         std::to_string(count));
    std::vector<float> v(count);
    in.seekg(it->second.first);
    in.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(count * sizeof(float)));
    if (!in) throw WeightsError(path.string() + ": read failed for '" + name + "'");
    return v;
  };
  for (auto& p : executor.params())
    executor.write_param(p, read(p.name, p.plain.get_size() / sizeof(float)));
  for (auto& s : executor.bn_stats()) {
    // Copy in place: the inference primitives hold pointers to these buffers.
    const auto mean = read(s.name + ".running_mean", s.running_mean.size());
    const auto var = read(s.name + ".running_var", s.running_var.size());
    std::copy(mean.begin(), mean.end(), s.running_mean.begin());
    std::copy(var.begin(), var.end(), s.running_var.begin());
  }
}

}  // namespace cf
