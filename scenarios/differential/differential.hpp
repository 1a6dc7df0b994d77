// Differential mode (`syncsim diff`): one scenario and seed run twice in one process with
// two engine configurations A and B (e.g. core 0.5.2 vs 0.5.3), the same seed giving the
// service the same PRNG draws, each client's observation stream recorded and the two
// compared (divergence.hpp).  Differences in the clients change the service's inputs;
// finding where the clients' observable behaviour first differs is the point.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "scenarios/differential/divergence.hpp"
#include "scenarios/world/runner.hpp"

namespace syncsim::scenarios {

// One KEY of `--a/--b KEY=VALUE`: the clients.* field of the scenario it sets.  The value
// is validated by the scenario validator, so errors name the field and what is allowed.
// Adding a key is one line in engine_keys().
struct EngineKey {
  std::string name;     // "core"
  std::string field;    // member of "clients" it sets: "core"
  bool list = false;    // VALUE is a comma-separated list (a JSON array of strings)
  std::string meaning;  // one line for --help
};
const std::vector<EngineKey>& engine_keys();

// Bad --a/--b/--allow input; what() names the option, the value and what is allowed.
class DiffInputError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// The scenario with `settings` applied, validated against `ctx`.  Each is "KEY=VALUE"
// (clients.KEY; on a fleet, every group's KEY) or "fleet[N].KEY=VALUE" (also spelt
// "fleet.N.KEY", as --set does): group N of clients.fleet, 0-based as validation errors
// name it; group keys apply after plain ones.  `side` ("--a") prefixes error messages.
// Throws DiffInputError (a bad key, a group the scenario lacks, an invalid result).
Scenario configure_side(const Scenario& base, const std::vector<std::string>& settings,
                        const ValidationContext& ctx, const std::string& side);

// The engine keys of each side for the report: "core=0.5.3 checkpoint_mode=requests sdk=auto",
// per group on a fleet ("fleet[0]: core=... ; fleet[1]: ...").
std::string settings_text(const Scenario& s);

// Checks --allow names; throws DiffInputError naming the unknown one and the allowed set.
std::set<std::string> parse_allow_list(const std::vector<std::string>& names);

struct SeedDiff {
  uint64_t seed = 0;
  RunResult a, b;
  Comparison comparison;
  // The runs' verdicts differ (one met its `expect`, the other not, or they violated
  // different invariants) although the streams agree up to the end: class "verdict".
  std::optional<std::string> verdict_divergence;
  [[nodiscard]] bool diverged() const { return comparison.first || verdict_divergence; }
  // A run crashed or tripped a bound: the comparison means little.
  [[nodiscard]] bool internal_error() const;
};

// One run with an ObservationRecorder on every client.
struct RecordedRun {
  RunResult result;
  ObservationStreams streams;
};
// `opts` says what differs between callers (seed, extra cores, kept js-real host processes,
// ...); the recorder is attached after opts.attach, if any.
RecordedRun record_run(const Scenario& s, RunOptions opts);
// record_run with just a seed and extra cores (`syncsim diff`).
RecordedRun record_run(const Scenario& s, uint64_t seed, const ExtraCores& cores);

// Both runs of one seed, compared.
// `per_field`: compare each client's field groups separately (divergence.hpp).
SeedDiff compare_runs(uint64_t seed, RecordedRun a, RecordedRun b,
                      const std::set<std::string>& allow, bool per_field = false);
SeedDiff diff_seed(const Scenario& a, const Scenario& b, uint64_t seed,
                   const std::set<std::string>& allow, const ExtraCores& cores,
                   bool per_field = false);

// "t=12.345678s c2 upload {...}"
std::string describe(const Observation& o);
nlohmann::json to_json(const SeedDiff& d);

}  // namespace syncsim::scenarios
