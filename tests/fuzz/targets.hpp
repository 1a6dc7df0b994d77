// Fuzz entry points (issue 19).  Each takes one input and returns 0; it aborts (a crash
// for libFuzzer) when an input makes the code under test misbehave: an exception that is
// not the documented "bad input" one, or a round trip that changes the value.  The same
// functions run in two executables: libFuzzer targets (-DSYNCSIM_FUZZ=ON, clang) and the
// quick regression replay of the committed corpora (tests/fuzz/replay_test.cpp, any
// compiler).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "scenarios/format/scenario.hpp"

namespace syncsim::fuzz {

// The scenario loader's ValidationContext in the libFuzzer build, which links the loader and
// the readers but not scenarios/world/ (runner.cpp and the world it drives): invariant ids and
// mutant names from `names_file` (tests/fuzz/validation_names.json, a snapshot of `syncsim
// list invariants|mutants`), cores, SDKs, quirks and sometimes-ids as validation_context() has
// them.  A normal build uses scenarios::validation_context() itself.
scenarios::ValidationContext snapshot_validation_context(const std::string& names_file);

// Scenario loader: parse_scenario_text; a valid scenario must survive
// parse_scenario(to_json(s)) unchanged.
int scenario(const uint8_t* data, std::size_t size);
// Repro parser: parse_repro; parse_repro(format_repro(r)) == r.
int repro(const uint8_t* data, std::size_t size);
// Results reader: merge_results (the merge path) and build_report_model.
int results(const uint8_t* data, std::size_t size);
// Report renderers: Markdown, HTML and Mermaid from a results document's report model.
int reports(const uint8_t* data, std::size_t size);

using Target = int (*)(const uint8_t*, std::size_t);
struct NamedTarget {
  std::string name;  // also the corpus directory: tests/fuzz/corpus/<name>/
  Target run;
};
const std::vector<NamedTarget>& targets();

}  // namespace syncsim::fuzz
