// Sometimes-properties (docs/invariants.md §1): the interesting conditions a scenario is meant to
// exercise ("a checkpoint was blocked by the barrier", "a seed returned a larger id than
// posted").  Invariants say nothing bad happened; these say the interesting thing happened
// at all.  Each condition of the catalog is counted in every run from the engine's observer
// hooks (engine::ClientObserver) and the service's (model::ServiceObserver); counting is an
// array increment, with a cheap prefix test before any search of a sync line.
//
// A scenario lists the conditions it is meant to exercise (`"sometimes": [...]`).  A run in
// which a listed condition never happened passed vacuously; a run or sweep over several
// seeds is vacuous when a listed condition happened in none of its seeds (a single vacuous
// seed inside a non-vacuous range is only counted).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/sdk_shim.hpp"
#include "model/service.hpp"

namespace syncsim::scenarios {

struct SometimesCondition {
  std::string id;
  std::string statement;  // one line: what happened
  std::string observed;   // where it is counted
};

// The catalog, sorted by id.
const std::vector<SometimesCondition>& sometimes_catalog();
std::vector<std::string> sometimes_ids();
const SometimesCondition* find_sometimes(const std::string& id);

// Counts every condition of the catalog over one run.  Attach it to the world's observer
// fan-out and to the service (World does).
class SometimesCounter : public engine::ClientObserver, public model::ServiceObserver {
 public:
  explicit SometimesCounter(model::Service& service) : service_(service) {}

  void on_target_set(engine::Client& c, int64_t target, engine::TargetStoredBy by) override;
  void on_published(engine::Client& c) override;
  void on_control(engine::Client& c, const std::string& op,
                  const std::optional<std::string>& payload,
                  const std::optional<std::string>& result) override;
  void on_seeded(engine::Client& c, int64_t posted, int64_t answered) override;
  void on_reposted(engine::Client& c, int64_t id) override;
  void on_upload_failed(engine::Client& c) override;
  // The 1.x JavaScript sync client: the same conditions from its stream and operations.
  void on_js_stream_opened(engine::Client& c) override;
  void on_js_line(engine::Client& c, const std::string& line) override;
  void on_js_operation(engine::Client& c, const std::string& op, int64_t insert_id) override;

  void on_request_answered(const std::string& key, std::optional<int64_t> supplied,
                           std::optional<int64_t> before, int64_t id) override;

  // Every condition of the catalog -> how often it happened (sorted by id).
  [[nodiscard]] std::map<std::string, uint64_t> counts() const;

 private:
  // Indexes into counts_, in catalog order.
  enum Condition : std::size_t {
    kBarrierBlocked,
    kCheckpointInvalidated,  // read from the service's stream counters at the end
    kDuplicateRecord,        // read from the checkpoint store at the end
    kDuplicateRequest,
    kNewerHidesOlder,
    kPageInvalidationForgotten,  // read from the service's stream counters at the end
    kPriority0Bypass,
    kReconnectWithPendingTarget,
    kRecordDeletedThenRequest,
    kRequestReposted,
    kSeedRaised,
    kUploadRetried,
    kConditions,
  };
  struct ClientState {
    const engine::Client* life = nullptr;          // the app life last heard from
    std::optional<int64_t> last_write_checkpoint;  // on the current stream
    std::vector<int64_t> unacked_requests;         // requested, not yet seen acknowledged
    bool priority0_partial = false;                // the last control call was one
  };
  ClientState& state(engine::Client& c);
  // A checkpoint line's write_checkpoint against the requests not yet acknowledged.
  void checkpoint_line(ClientState& s, const std::string& line);
  // A sync stream (re)opens: its write_checkpoint starts afresh; a concrete target above
  // last_seen is a pending acknowledgement carried across.
  void stream_opened(engine::Client& c, ClientState& s);

  model::Service& service_;  // its checkpoint store, read at the end
  std::array<uint64_t, kConditions> counts_{};
  std::map<int, ClientState> clients_;  // by 1-based client number (stable across lives)
  std::set<std::string> answered_keys_;
};

// The conditions of `listed` that `counts` says never happened, in list order.
std::vector<std::string> vacuous_conditions(const std::map<std::string, uint64_t>& counts,
                                            const std::vector<std::string>& listed);

// Over result_json runs (scenarios/results/results_json.hpp) of any scenarios: per scenario that
// lists conditions, in how many of its seeds each listed condition happened.
struct SometimesSummary {
  std::string scenario;
  uint64_t seeds = 0;
  std::vector<std::pair<std::string, uint64_t>> listed;  // condition -> seeds it happened in
  std::vector<std::string> vacuous;                      // listed, happened in no seed
};
std::vector<SometimesSummary> summarize_sometimes(const nlohmann::json& runs);  // by scenario
// {"<scenario>": {"seeds": n, "conditions": {"<id>": seeds}, "vacuous": [...]}, ...}
nlohmann::json sometimes_summary_json(const std::vector<SometimesSummary>& rows);
bool any_vacuous(const std::vector<SometimesSummary>& rows);
// For the CLI: one line per scenario, e.g.
//   storm-mongo  duplicate-request 20/20  seed-raised 3/20
//   idle         barrier-blocked 0/5 VACUOUS
std::string sometimes_table(const std::vector<SometimesSummary>& rows);

}  // namespace syncsim::scenarios
