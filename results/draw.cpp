#include "results/draw.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <stdexcept>

#include "results/escape.h"
#include "space/file_io.h"
#include "space/nb201.h"

namespace cf {

namespace {

std::string node_id(const std::string& cell, const std::string& what) {
  return cell + "_" + what;
}

void draw_cell(std::string& dot, const Cell& cell, const std::string& cname) {
  dot += "  subgraph cluster_" + cname + " {\n    label=\"" + cname + " cell\";\n";
  dot += "    style=rounded; color=gray60; fontname=\"Helvetica\";\n";
  dot += "    " + node_id(cname, "prev_prev") +
         " [label=\"prev_prev\", shape=box, style=filled, fillcolor=\"#cfe2f3\"];\n";
  dot += "    " + node_id(cname, "prev") +
         " [label=\"prev\", shape=box, style=filled, fillcolor=\"#cfe2f3\"];\n";
  for (size_t b = 0; b < cell.blocks.size(); ++b) {
    const Block& block = cell.blocks[b];
    const std::string bname = "b" + std::to_string(b);
    const std::string combine = node_id(cname, bname);
    dot += "    " + combine + " [label=\"" + bname + " (" +
           std::string(combine_name(block.combine)) +
           ")\", shape=ellipse, style=filled, fillcolor=\"#fff2cc\"];\n";
    for (int k = 0; k < 2; ++k) {
      const std::string op = node_id(cname, bname + (k == 0 ? "_left" : "_right"));
      dot += "    " + op + " [label=\"" + std::string(op_name(block.ops[k])) +
             "\", shape=box, style=\"rounded,filled\", fillcolor=\"#d9ead3\"];\n";
      dot += "    " + node_id(cname, state_name(block.inputs[k])) + " -> " + op + ";\n";
      dot += "    " + op + " -> " + combine + ";\n";
    }
  }
  const std::string out = node_id(cname, "out");
  dot += "    " + out + " [label=\"concat\", shape=box, style=filled, fillcolor=\"#f4cccc\"];\n";
  for (int s : cell.output_states())
    dot += "    " + node_id(cname, state_name(s)) + " -> " + out + ";\n";
  dot += "  }\n";
}

// The NAS-Bench-201 cell: nodes 0..3, one labelled edge per op ("none" edges are left out).
void draw_nb201_cell(std::string& dot, const DecisionSeq& ops) {
  dot += "  subgraph cluster_cell {\n    label=\"NAS-Bench-201 cell\";\n";
  dot += "    style=rounded; color=gray60; fontname=\"Helvetica\";\n";
  for (int node = 0; node < Nb201Space::kNodes; ++node) {
    const bool io = node == 0 || node == Nb201Space::kNodes - 1;
    dot += "    node" + std::to_string(node) + " [label=\"" +
           (node == 0   ? std::string("in")
            : node == 3 ? std::string("out (3)")
                        : std::to_string(node)) +
           "\", shape=" + (io ? "box" : "ellipse") + ", style=filled, fillcolor=\"" +
           (io ? "#cfe2f3" : "#fff2cc") + "\"];\n";
  }
  for (int to = 1; to < Nb201Space::kNodes; ++to)
    for (int from = 0; from < to; ++from) {
      const int op = ops[Nb201Space::edge_index(to, from)];
      if (op == 0) continue;  // none
      dot += "    node" + std::to_string(from) + " -> node" + std::to_string(to) + " [label=\"" +
             std::string(Nb201Space::kOpNames[op]) + "\"];\n";
    }
  dot += "  }\n";
}

}  // namespace

std::string architecture_dot(const Architecture& arch) {
  if (!arch.is_nb201()) return genotype_dot(arch.nasnet());
  std::string dot =
      "digraph \"" + dot_quoted_text(arch.name().empty() ? describe(arch) : arch.name()) +
      "\" {\n  rankdir=LR;\n  node [fontname=\"Helvetica\"];\n  edge [fontname=\"Helvetica\"];\n";
  draw_nb201_cell(dot, arch.nb201().ops);
  dot += "}\n";
  return dot;
}

std::string genotype_dot(const Genotype& genotype) {
  std::string dot =
      "digraph \"" +
      dot_quoted_text(genotype.name.empty() ? std::string("genotype") : genotype.name) +
      "\" {\n  rankdir=TB;\n  node [fontname=\"Helvetica\"];\n";
  draw_cell(dot, genotype.normal, "normal");
  draw_cell(dot, genotype.reduction, "reduction");
  dot += "}\n";
  return dot;
}

namespace {

bool graphviz_available() {
  const char* path = std::getenv("PATH");
  if (!path) return false;
  std::string dirs = path;
  size_t begin = 0;
  while (begin <= dirs.size()) {
    const size_t end = std::min(dirs.find(':', begin), dirs.size());
    const std::string dir = dirs.substr(begin, end - begin);
    if (!dir.empty() && access((dir + "/dot").c_str(), X_OK) == 0) return true;
    begin = end + 1;
  }
  return false;
}

// Runs `dot -Tsvg` with the DOT text on stdin (no shell, no temporary files); the SVG text, or
// empty with `error` set.
std::string run_dot(const std::string& dot, std::string& error) {
  int to_child[2], from_child[2], err_child[2];
  if (pipe2(to_child, O_CLOEXEC) != 0) return error = "cannot create a pipe", "";
  if (pipe2(from_child, O_CLOEXEC) != 0) {
    close(to_child[0]), close(to_child[1]);
    return error = "cannot create a pipe", "";
  }
  if (pipe2(err_child, O_CLOEXEC) != 0) {
    close(to_child[0]), close(to_child[1]), close(from_child[0]), close(from_child[1]);
    return error = "cannot create a pipe", "";
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, to_child[0], 0);
  posix_spawn_file_actions_adddup2(&actions, from_child[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_child[1], 2);
  char arg0[] = "dot", arg1[] = "-Tsvg";
  char* argv[] = {arg0, arg1, nullptr};
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, "dot", &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  close(to_child[0]), close(from_child[1]), close(err_child[1]);
  if (rc != 0) {
    close(to_child[1]), close(from_child[0]), close(err_child[0]);
    return error = "cannot run Graphviz's dot", "";
  }
  // Feed stdin and drain stdout/stderr together so that neither side blocks on a full pipe.
  std::string svg, err;
  size_t written = 0;
  bool in_open = true, out_open = true, err_open = true;
  // dot may exit before reading all its input: a write then fails with EPIPE, not a signal.
  struct sigaction ignore {
  }, old_pipe{};
  ignore.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &ignore, &old_pipe);
  while (out_open || err_open) {
    pollfd fds[3];
    int n = 0;
    if (in_open) fds[n++] = {to_child[1], POLLOUT, 0};
    if (out_open) fds[n++] = {from_child[0], POLLIN, 0};
    if (err_open) fds[n++] = {err_child[0], POLLIN, 0};
    if (poll(fds, n, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < n; ++i) {
      if (!fds[i].revents) continue;
      char buf[65536];
      if (fds[i].fd == to_child[1]) {
        const ssize_t k = write(to_child[1], dot.data() + written, dot.size() - written);
        if (k > 0) written += static_cast<size_t>(k);
        if (k < 0 || written == dot.size()) close(to_child[1]), in_open = false;
      } else {
        const ssize_t k = read(fds[i].fd, buf, sizeof buf);
        if (k > 0)
          (fds[i].fd == from_child[0] ? svg : err).append(buf, static_cast<size_t>(k));
        else if (fds[i].fd == from_child[0])
          close(from_child[0]), out_open = false;
        else
          close(err_child[0]), err_open = false;
      }
    }
  }
  if (in_open) close(to_child[1]);
  sigaction(SIGPIPE, &old_pipe, nullptr);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    const auto eol = err.find('\n');
    error = "Graphviz's dot failed" + (err.empty() ? std::string() : ": " + err.substr(0, eol));
    return "";
  }
  return svg;
}

}  // namespace

std::string dot_to_svg(const std::string& dot) {
  if (!graphviz_available()) return "";
  std::string error;
  return run_dot(dot, error);
}

std::filesystem::path write_dot_and_svg(const Architecture& arch,
                                        const std::filesystem::path& path) {
  const std::string dot = architecture_dot(arch);
  const bool svg_only = path.extension() == ".svg";
  if (!svg_only) write_file_atomic(path, dot);
  if (!graphviz_available()) {
    if (svg_only)
      throw std::runtime_error(
          path.string() + ": an SVG needs Graphviz's dot on the PATH (Debian package graphviz)");
    return {};
  }
  std::filesystem::path svg_path = path;
  if (!svg_only)
    svg_path = path.extension() == ".dot" ? std::filesystem::path(path).replace_extension(".svg")
                                          : std::filesystem::path(path.string() + ".svg");
  std::string error;
  const std::string svg = run_dot(dot, error);
  if (svg.empty())
    throw std::runtime_error(svg_path.string() + ": " +
                             (error.empty() ? "no SVG produced" : error));
  write_file_atomic(svg_path, svg);
  return svg_path;
}

}  // namespace cf
