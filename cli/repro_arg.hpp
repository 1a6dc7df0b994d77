// The repro string given on the command line (replay, shrink): parsed, or its error printed
// for the caller to exit 2 with (docs/cli.md §1).
#pragma once

#include <iostream>
#include <optional>
#include <string>

#include "scenarios/results/repro.hpp"

namespace syncsim::cli {

inline std::optional<scenarios::Repro> parse_repro_arg(const std::string& text) {
  try {
    return scenarios::parse_repro(text);
  } catch (const scenarios::ReproError& e) {
    std::cerr << e.what() << "\n";
    return std::nullopt;
  }
}

}  // namespace syncsim::cli
