// Merging shard documents at scale: a k-way merge of the inputs' runs (each input is sorted
// by scenario, then seed, as sweep writes it), reading one run per input at a time
// (scenarios/results/document_reader.hpp) and writing each merged run to the output as it comes, so
// that memory does not grow with the number of runs.  The output is byte for byte what
// `merge_results(...).dump(2)` gives for the same inputs (tests/merge_stream_test.cpp), plus
// a "coverage" array when budgeted shards (sweep --budget) recorded what they covered.
// An input whose runs are out of order (hand-made, or an old `run --results`) is read whole
// and sorted: correct, but its memory is not bounded.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "scenarios/explore/sometimes.hpp"
#include "scenarios/results/findings.hpp"
#include "scenarios/results/results.hpp"

namespace syncsim::scenarios {

struct MergedInput {
  std::string source;
  std::string shard;  // "i/n" from the document, or ""
  uint64_t runs = 0;
  nlohmann::json coverage;  // null unless the shard was budgeted
  bool read_whole = false;  // its runs were out of order
};

struct StreamMergeSummary {
  std::string build;
  uint64_t runs = 0, passed = 0, failed = 0;
  std::vector<ScenarioSummary> scenarios;   // as summarize() of the merged document
  std::vector<SometimesSummary> sometimes;  // as summarize_sometimes() of its runs
  std::vector<MergedInput> inputs;
  FindingSet findings;  // one per failing run, merged by signature
};

// Merges the results documents `inputs` into `out_path` (written to out_path + ".tmp", then
// renamed).  Throws MergeError as merge_results does (overlap, builds differ, malformed).
StreamMergeSummary merge_result_files(const std::vector<std::string>& inputs,
                                      const std::string& out_path);

// Per input: its shard, runs and (budgeted shards) coverage, one line each.
std::string coverage_report(const StreamMergeSummary& summary);

}  // namespace syncsim::scenarios
