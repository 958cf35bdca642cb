#include "search/mpi_train.h"

#include <cstdlib>
#include <stdexcept>
#include <string>

#include "search/mpi_session.h"

#if CELLFORGE_HAVE_MPI
#include <mpi.h>
#endif

namespace cf {

namespace {

#if CELLFORGE_HAVE_MPI
template <typename T>
void sum_in_rank_order(std::vector<T>& values, MPI_Datatype type, int size) {
  const size_t n = values.size();
  std::vector<T> all(n * size);
  MPI_Allgather(values.data(), static_cast<int>(n), type, all.data(), static_cast<int>(n), type,
                MPI_COMM_WORLD);
  for (size_t i = 0; i < n; ++i) {
    T total = all[i];
    for (int r = 1; r < size; ++r) total += all[r * n + i];
    values[i] = total;
  }
}
#endif

}  // namespace

#if CELLFORGE_HAVE_MPI

MpiTrainGroup::MpiTrainGroup() {
  if (!mpi_launch_from_environment()) return;
  MPI_Init(nullptr, nullptr);
  initialised_ = true;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
  MPI_Comm local;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &local);
  MPI_Comm_size(local, &local_size_);
  MPI_Comm_free(&local);
}

MpiTrainGroup::~MpiTrainGroup() {
  if (initialised_) MPI_Finalize();
}

void MpiTrainGroup::sum(std::vector<float>& values) {
  if (size_ > 1) sum_in_rank_order(values, MPI_FLOAT, size_);
}
void MpiTrainGroup::sum(std::vector<double>& values) {
  if (size_ > 1) sum_in_rank_order(values, MPI_DOUBLE, size_);
}

void MpiTrainGroup::abort_all() {
  if (initialised_) MPI_Abort(MPI_COMM_WORLD, 1);
  std::exit(1);
}

#else  // built without MPI

MpiTrainGroup::MpiTrainGroup() {
  const auto launch = mpi_launch_from_environment();
  if (launch && launch->size != 1)
    throw std::runtime_error(
        "started by an MPI launcher as " +
        (launch->size > 0 ? std::to_string(launch->size) : std::string("several")) +
        " ranks, but this cellforge was built without MPI (configure with -DCELLFORGE_MPI=ON, "
        "or run it without mpirun)");
}
MpiTrainGroup::~MpiTrainGroup() = default;
void MpiTrainGroup::sum(std::vector<float>&) {}
void MpiTrainGroup::sum(std::vector<double>&) {}
void MpiTrainGroup::abort_all() {
  std::exit(1);
}

#endif

}  // namespace cf
