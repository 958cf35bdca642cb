#pragma once
// The NAS-Bench-201 accuracy table (shared/data/nas-bench-201/nb201.csv) and the tabular
// evaluator built on it. The standard protocol: a strategy sees only the 12-epoch validation
// accuracy of the dataset it searches on; the architecture it returns is reported by its
// 200-epoch test accuracy. The evaluator hands out nothing else as a reward.
#include <array>
#include <filesystem>
#include <iosfwd>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "controller/controller.h"
#include "space/nb201.h"

namespace cf {

enum class Nb201Dataset : uint8_t { cifar10, cifar100, imagenet16 };
inline constexpr int kNb201Datasets = 3;
std::string_view nb201_dataset_name(Nb201Dataset dataset);  // the CSV column prefix
std::optional<Nb201Dataset> nb201_dataset_from_name(std::string_view name);

// A missing or malformed table; the message starts with "<file>:" or "<file>:<line>:".
class Nb201TableError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Nb201Row {
  struct Accuracies {  // percent
    double valid_12ep;
    double test_12ep;
    double test_200ep;
  };
  int index;  // the benchmark's architecture index
  std::string arch;
  DecisionSeq seq;
  std::array<Accuracies, kNb201Datasets> accuracy;  // by Nb201Dataset

  const Accuracies& of(Nb201Dataset d) const { return accuracy[static_cast<int>(d)]; }
};

class Nb201Table {
 public:
  // Needs the columns index, arch and <dataset>_{valid_12ep,test_12ep,test_200ep} for the three
  // datasets, in any order (other columns are ignored); one row per architecture, no duplicates.
  static Nb201Table load(const std::filesystem::path& csv);
  // source names the input in error messages.
  static Nb201Table parse(std::istream& in, const std::string& source);

  const Nb201Space& space() const { return space_; }
  const std::vector<Nb201Row>& rows() const { return rows_; }
  size_t size() const { return rows_.size(); }
  // nullptr when the architecture has no row. A malformed seq or arch string throws
  // GenotypeError.
  const Nb201Row* find(const DecisionSeq& seq) const;
  const Nb201Row* find(std::string_view arch) const;

 private:
  Nb201Space space_;
  std::vector<Nb201Row> rows_;
  std::vector<int> row_of_dense_;  // Nb201Space::dense_index -> row, or -1
};

class Nb201Evaluator {
 public:
  // table must outlive the evaluator.
  Nb201Evaluator(const Nb201Table& table, Nb201Dataset dataset);

  Nb201Dataset dataset() const { return dataset_; }
  // The search signal: reward = <dataset>_valid_12ep / 100. A cell without a row is a failure.
  EvalResult evaluate(const DecisionSeq& seq) const;
  // For reporting a returned architecture only, never as a reward: <dataset>_test_200ep (%).
  std::optional<double> final_test_accuracy(const DecisionSeq& seq) const;

 private:
  const Nb201Table& table_;
  Nb201Dataset dataset_;
};

}  // namespace cf
