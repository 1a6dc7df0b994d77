// Results documents: the JSON that `run --results`, `sweep --results` and `merge` write, and
// the JUnit XML made from it.  A document is
//   {"build": <build id>, "runs": [<run>...], "passed": n, "failed": n}
// where a run is result_json() (results_json.hpp) of one (scenario, seed).  sort_runs() orders runs
// by scenario name, then seed, so a document does not depend on how the work was split (--jobs,
// --shard). Wall-clock fields ("wall_s") are the only non-deterministic ones; strip_wall_times()
// removes them for comparisons.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "scenarios/results/results_json.hpp"
#include "scenarios/world/runner.hpp"

namespace syncsim::scenarios {

// "finished" | "failure" | "bound" | "crash" (sim::StopKind).
std::string stop_kind_name(sim::StopKind kind);

// A document over `runs` (result_json values of any scenarios, sorted here), with
// passed/failed counted from expectation_met.  A single-scenario `run --results` document
// (results_document in results_json.hpp) has the same build/runs/passed/failed members.
// `headers` (scenario name -> scenario_header) goes in as "scenarios" when not empty, so a
// report can be made from the document.
nlohmann::json sweep_document(const std::string& build, nlohmann::json runs,
                              nlohmann::json headers = nlohmann::json::object());

void sort_runs(nlohmann::json& runs);

// A copy without any "wall_s" member, at any depth.
nlohmann::json strip_wall_times(const nlohmann::json& j);

// Thrown by merge_results: overlapping inputs, mismatched builds, malformed documents.
class MergeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct NamedDocument {
  std::string source;  // file name, for messages
  nlohmann::json doc;
};

// One document with every run of the inputs; throws MergeError if a (scenario, seed) occurs
// twice, the builds differ, or a document is not a results document.  The inputs' scenario
// headers are merged; one scenario with different contents in two inputs is an error.
nlohmann::json merge_results(const std::vector<NamedDocument>& inputs);

// JUnit XML: one <testsuite> per scenario, one <testcase> per run; a run whose expectation
// failed gets a <failure> naming the violated invariant (or the stop reason) and the repro.
// A scenario that lists sometimes-conditions also gets a <testcase name="sometimes"> (with
// the seeds per condition in <system-out>), a <failure type="vacuous"> when one of them
// happened in none of its seeds.
// Suites carry their wall time (the sum of their runs'), `timestamp` (ISO 8601, when the
// caller has one; JUnit may carry wall-clock data, traces never do) and <properties>: the
// build, the scenario path and each swarm seed's draw.  A failure's type is the violated
// invariant (else the stop kind); its body holds the repro and the replay command.  A run
// that met an expected violation says so in <system-out>.  Vacuity is judged only for a
// suite without failures: runs stop at their first violation, so a failing suite's listed
// conditions had no chance to happen.
std::string junit_xml(const nlohmann::json& doc, const std::string& timestamp = "");
// Now, UTC, ISO 8601 ("2026-12-04T22:00:00Z"): for JUnit's timestamp only (wall clock never
// reaches a trace or a results document).
std::string utc_timestamp_now();

// Per scenario: seeds, passed, failed, sometimes (- none listed, ok, VACUOUS), first failing
// seed and its repro.
struct ScenarioSummary {
  std::string scenario;
  uint64_t seeds = 0, passed = 0, failed = 0;
  std::optional<uint64_t> first_failing_seed;
  std::string first_failing_repro;
  std::string first_failure;  // violated invariant or stop reason
  // Sometimes-properties: whether the scenario lists conditions, and those that happened in
  // none of its seeds (scenarios/explore/sometimes.hpp).
  bool lists_sometimes = false;
  std::vector<std::string> vacuous;
};
std::vector<ScenarioSummary> summarize(const nlohmann::json& doc);
std::string summary_table(const std::vector<ScenarioSummary>& rows);

}  // namespace syncsim::scenarios
