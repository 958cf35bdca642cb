#include "results/draw.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <stdexcept>

namespace cf {

namespace {

std::string node_id(const std::string& cell, const std::string& what) { return cell + "_" + what; }

void draw_cell(std::string& dot, const Cell& cell, const std::string& cname) {
  dot += "  subgraph cluster_" + cname + " {\n    label=\"" + cname + " cell\";\n";
  dot += "    style=rounded; color=gray60; fontname=\"Helvetica\";\n";
  dot += "    " + node_id(cname, "prev_prev") + " [label=\"prev_prev\", shape=box, style=filled, fillcolor=\"#cfe2f3\"];\n";
  dot += "    " + node_id(cname, "prev") + " [label=\"prev\", shape=box, style=filled, fillcolor=\"#cfe2f3\"];\n";
  for (size_t b = 0; b < cell.blocks.size(); ++b) {
    const Block& block = cell.blocks[b];
    const std::string bname = "b" + std::to_string(b);
    const std::string combine = node_id(cname, bname);
    dot += "    " + combine + " [label=\"" + bname + " (" + std::string(combine_name(block.combine)) +
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
  for (int s : cell.output_states()) dot += "    " + node_id(cname, state_name(s)) + " -> " + out + ";\n";
  dot += "  }\n";
}

}  // namespace

std::string genotype_dot(const Genotype& genotype) {
  std::string dot = "digraph \"" + (genotype.name.empty() ? std::string("genotype") : genotype.name) +
                    "\" {\n  rankdir=TB;\n  node [fontname=\"Helvetica\"];\n";
  draw_cell(dot, genotype.normal, "normal");
  draw_cell(dot, genotype.reduction, "reduction");
  dot += "}\n";
  return dot;
}

std::string dot_to_svg(const std::string& dot) {
  if (std::system("command -v dot >/dev/null 2>&1") != 0) return "";
  char dot_file[] = "/tmp/cellforge-dot-XXXXXX";
  const int fd = mkstemp(dot_file);
  if (fd < 0) return "";
  close(fd);
  const std::string svg_file = std::string(dot_file) + ".svg";
  std::ofstream(dot_file) << dot;
  std::string svg;
  if (std::system(("dot -Tsvg '" + std::string(dot_file) + "' -o '" + svg_file + "' 2>/dev/null").c_str()) == 0) {
    std::ifstream in(svg_file);
    svg.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  std::remove(dot_file);
  std::remove(svg_file.c_str());
  return svg;
}

std::filesystem::path write_dot_and_svg(const Genotype& genotype, const std::filesystem::path& dot_path) {
  {
    std::ofstream out(dot_path);
    if (!out) throw std::runtime_error(dot_path.string() + ": cannot write file");
    out << genotype_dot(genotype);
    if (!out) throw std::runtime_error(dot_path.string() + ": write failed");
  }
  if (std::system("command -v dot >/dev/null 2>&1") != 0) return {};
  std::filesystem::path svg = dot_path;
  svg.replace_extension(".svg");
  const std::string cmd = "dot -Tsvg '" + dot_path.string() + "' -o '" + svg.string() + "'";
  if (dot_path.string().find('\'') != std::string::npos || std::system(cmd.c_str()) != 0)
    throw std::runtime_error(dot_path.string() + ": Graphviz dot failed to render the SVG");
  return svg;
}

}  // namespace cf
