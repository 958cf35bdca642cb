#pragma once
// Data-parallel `cellforge train` under an MPI launcher (mpirun -np K, srun): every rank trains
// its part of each batch and the ranks average their gradients (trainer/train.h: ShardGroup).
// The command line lets rank 0 alone print and write files.
#include <vector>

#include "trainer/train.h"

namespace cf {

class MpiTrainGroup : public ShardGroup {
 public:
  // Starts MPI when a launcher started this process; active() says whether there are several
  // ranks to train with. Throws std::runtime_error when launched as several ranks by a cellforge
  // built without MPI.
  MpiTrainGroup();
  // Finalises MPI.
  ~MpiTrainGroup() override;
  MpiTrainGroup(const MpiTrainGroup&) = delete;
  MpiTrainGroup& operator=(const MpiTrainGroup&) = delete;

  bool active() const { return size_ > 1; }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  // Ranks on this machine (sharing its CPUs), counting this one.
  int local_size() const { return local_size_; }
  // An allgather, then the sum in rank order: the same bits on every rank.
  void sum(std::vector<float>& values) override;
  void sum(std::vector<double>& values) override;
  // Ends every rank's process with exit code 1 (after an error on this rank, so that no rank
  // waits for it forever).
  [[noreturn]] void abort_all();

 private:
  int rank_ = 0;
  int size_ = 1;
  int local_size_ = 1;
  bool initialised_ = false;
};

}  // namespace cf
