#pragma once
// The messages between rank 0 (the campaign) and the worker ranks of an MPI campaign. Internal to
// search/mpi_*.cpp; only compiled into builds with MPI.
//
//   rank 0 -> worker   job      the job JSON (job_to_json) of one candidate
//                      cancel   a job id: kill that candidate's training, send nothing back
//                      stop     kill any training, answer `stopped`, leave the loop
//   worker -> rank 0   progress {"id", "progress": {...}} (job_progress_to_json)
//                      result   {"id", "result": {...} (job_result_to_json), "log", "host"}
//                      error    one line: the worker rank cannot go on (rank 0 ends the campaign)
//                      stopped  the answer to `stop`
#include <mpi.h>

#include <list>
#include <optional>
#include <string>

namespace cf::mpi_protocol {

enum Tag : int { job = 1, cancel = 2, stop = 3, progress = 4, result = 5, error = 6, stopped = 7 };

// Non-blocking sends whose buffers live until MPI has delivered them. No rank ever blocks in a
// send, so two ranks sending each other large messages at the same moment cannot deadlock.
class Outbox {
 public:
  void send(int rank, Tag tag, std::string payload);
  void progress();  // forgets delivered messages
  void flush();     // waits until every message is delivered

 private:
  struct Message {
    std::string payload;
    MPI_Request request = MPI_REQUEST_NULL;
  };
  std::list<Message> messages_;  // a list: buffers must not move while MPI reads them
};

// The process's outbox; it outlives every evaluator so that the session can flush it.
Outbox& outbox();

struct Message {
  int source = 0;
  int tag = 0;
  std::string payload;
};

// The next message from `source` (MPI_ANY_SOURCE: from anyone), if one has arrived.
std::optional<Message> try_receive(int source);

}  // namespace cf::mpi_protocol
