#pragma once
// Graphviz pictures of cells.
#include <filesystem>
#include <string>

#include "space/architecture.h"
#include "space/genotype.h"

namespace cf {

// One DOT digraph with a cluster per cell (normal, reduction).
std::string genotype_dot(const Genotype& genotype);

// Either space: the NASNet clusters above, or the NAS-Bench-201 cell (labelled edges, "none" left
// out).
std::string architecture_dot(const Architecture& arch);

// Renders DOT text to SVG with Graphviz's `dot`; empty when Graphviz is not installed.
std::string dot_to_svg(const std::string& dot);

// Writes the DOT file and, when Graphviz's `dot` is on the PATH, an SVG beside it ("x.dot" ->
// "x.svg", any other name -> name + ".svg"); a path ending in ".svg" gets the SVG only (Graphviz
// required). Both are written atomically. Returns the SVG path, or an empty path when no SVG was
// made.
std::filesystem::path write_dot_and_svg(const Architecture& arch,
                                        const std::filesystem::path& path);

}  // namespace cf
