// Findings of a hunt (issue 14, `syncsim hunt`): a failure's signature, the known-findings
// file, coverage of the world, and the findings documents (findings.json / .md / .html).
//
// Signature: the invariant; the explanation class (a `[class:<token>]` in the violation's
// message if the invariant gives one, else empty); and the fault kinds, cores, checkpoint
// modes and storage flavour left in the *shrunk* scenario.  Two failures with the same
// signature are one finding.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "scenarios/format/scenario.hpp"
#include "scenarios/world/runner.hpp"

namespace syncsim::scenarios {

// "... [class:record-deleted] ..." -> "record-deleted"; "" when the message has none.
std::string explanation_class(const std::string& message);

struct FindingSignature {
  std::string invariant;  // or "crash" / "bound" for a run stopped by the simulator
  std::string explanation_class;
  // Sorted, unique fault kinds, plus "compact_interval" when the service runs compact jobs
  // on its own (service.compact_interval_s > 0).
  std::vector<std::string> faults;
  std::vector<std::string> cores;  // sorted, unique (groups' and faults' cores)
  std::vector<std::string> modes;  // sorted, unique
  std::string flavour;
  // The ids foreign_request faults post (JSON text, a string's quotes dropped), sorted, unique:
  // what tells a near-max id (a wedged counter) from any higher id (a cloned database).
  std::vector<std::string> foreign_ids = {};
  // "mysql" for a MySQL source, whose keepalives are a finding of their own (findings-world.md
  // W41); empty for postgres and mongodb sources.
  std::string source = {};

  [[nodiscard]] std::string text() const;
  [[nodiscard]] nlohmann::json to_json() const;
  bool operator==(const FindingSignature&) const = default;
};

FindingSignature signature_of(const std::string& invariant, const std::string& cls,
                              const Scenario& s);

// The first SDK quirk (docs/protocol.md §2.7) whose fix alone makes `shrunk` pass (the
// quirk added to clients.fixed_quirks, `expect` cleared, the same seed), or "": `hunt` labels a
// finding no known entry matches with it, since its root cause is that reproduced SDK bug.  A
// scenario with js-real groups is tried on the port instead, if the port fails `invariant` too.
std::string quirk_that_passes(const Scenario& shrunk, const RunOptions& opts,
                              const std::vector<std::string>& quirks, const std::string& invariant);

// scenarios/known-findings.json: {"format": 1, "known": [{"id", "why", "pattern": {...}}]}.
// A pattern's fields (all optional, all must match): "invariant" (exact), "class" (exact),
// "faults_include" (kinds all present), "faults_any" / "cores_any" / "modes_any" /
// "foreign_ids_any" (one of them present), "flavour" (exact).  When several patterns match, the
// most specific one (the most fields) wins; among equals, the first in the file.
struct KnownFinding {
  std::string id;
  std::string why;
  nlohmann::json pattern;
};

// Throws std::runtime_error naming the field, the value and what is allowed.
std::vector<KnownFinding> parse_known_findings(const nlohmann::json& j, const std::string& source);
const KnownFinding* match_known(const std::vector<KnownFinding>& known,
                                const FindingSignature& sig);

// Coverage over a hunt's runs (from each run's drawn parameters and sometimes counts).
class WorldCoverage {
 public:
  WorldCoverage(std::vector<std::string> kinds, std::vector<std::string> cores,
                std::vector<std::string> sometimes);
  // One run's result JSON (with `swarm` params; ignored without).
  void add_run(const nlohmann::json& run);
  // Cells that cannot be reached by construction (world_exclusions()).
  [[nodiscard]] bool unreachable(const std::string& core, const std::string& mode) const;
  [[nodiscard]] uint64_t count(const std::string& kind, const std::string& mode,
                               const std::string& core, const std::string& flavour) const;
  // Feasible (kind, mode, core, flavour) cells never reached.
  [[nodiscard]] std::vector<std::string> unreached() const;
  [[nodiscard]] std::size_t reached_state_cells() const;
  // Abstract protocol-state cells (scenarios/explore/abstract_state.hpp): runs that reached
  // each, and the cells neither reached nor declared unreachable.
  [[nodiscard]] uint64_t abstract_count(const std::string& cell) const;
  [[nodiscard]] std::size_t reached_abstract_cells() const { return abstract_.size(); }
  [[nodiscard]] std::vector<std::string> unreached_abstract() const;
  [[nodiscard]] std::string markdown() const;
  [[nodiscard]] nlohmann::json to_json() const;

 private:
  std::vector<std::string> kinds_, cores_, sometimes_;
  std::map<std::string, uint64_t> cells_;     // "kind|mode|core|flavour"
  std::map<std::string, uint64_t> state_;     // "condition|mode|flavour"
  std::map<std::string, uint64_t> abstract_;  // "mode|gate|record|phase" -> runs
  uint64_t runs_ = 0;
};

// One distinct finding, as findings.json holds it.
struct Finding {
  FindingSignature signature;
  std::string known_id;  // "" = new
  std::string known_why;
  // A new finding whose shrunk scenario passes with this SDK quirk fixed (clients.fixed_quirks,
  // docs/protocol.md §2.7) and nothing else changed: the quirk's root cause, not a new one.
  std::string passes_with_quirk;
  // Neither a known-findings entry nor a reproduced quirk: what `hunt` exits 1 for.
  [[nodiscard]] bool is_new() const { return known_id.empty() && passes_with_quirk.empty(); }
  // "NEW", "known: <id>" or "quirk: <name>".
  [[nodiscard]] std::string label() const {
    if (!known_id.empty()) return "known: " + known_id;
    return passes_with_quirk.empty() ? "NEW" : "quirk: " + passes_with_quirk;
  }
  uint64_t first_seed = 0;
  std::vector<uint64_t> seeds;
  std::string repro;         // of the first (unshrunk) seed
  std::string shrunk_file;   // the shrunk scenario, relative to the findings directory
  std::string shrunk_repro;  // replays the shrunk scenario
  bool shrunk_replays = false;
  uint64_t steps_before = 0, steps_after = 0;
  std::string explanation;            // the violation: invariant, time, subject, message
  std::string drawn;                  // the first seed's drawn parameters (one line)
  std::vector<std::string> timeline;  // the shrunk run's minimal timeline, one line per event
};

struct HuntSummary {
  std::vector<std::string> swarm_files;
  std::string seeds;  // "A..B" or "budget ..."
  uint64_t runs = 0, failed = 0;
  double wall_s = 0;
  int jobs = 1;
};

nlohmann::json findings_json(const HuntSummary& h, const std::vector<Finding>& findings,
                             const WorldCoverage& coverage);
std::string findings_markdown(const HuntSummary& h, const std::vector<Finding>& findings,
                              const WorldCoverage& coverage);
std::string findings_html(const HuntSummary& h, const std::vector<Finding>& findings,
                          const WorldCoverage& coverage);

}  // namespace syncsim::scenarios
