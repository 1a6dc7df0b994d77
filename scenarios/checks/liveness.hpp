// Liveness of the gate (issue 14 parts 2 and 3): the `no-wedge` invariant and the one-line
// explanation of why a stuck gate will not recover, shared by no-wedge, requests-complete
// and converges.
//
// no-wedge: a gate closed with an empty upload queue (target > last_seen, or target MAX)
// must have a path to reopen.  The paths, enumerated in paths() below:
//   - the service process is down after a restart fault (it comes back);
//   - a checkpoint request of the client is on the wire (seed, upload, requestCheckpoint(),
//     repost, legacy GET);
//   - the service holds a record >= the target for the client's key and will emit it: it is
//     processed, or pending behind lag or a stall that a fault or quiesce heals (not behind
//     the replication-stall mutant, which never heals).  On mongo storage a record processed at
//     or below every open connection's change window is still counted (a new connection's
//     initial lookup emits it), but the explanation names the window (docs/findings-world.md
//     W41);
//   - an SDK timer that will post: the repost loop's timer with an id >= the target that it
//     will re-post (docs/protocol.md §2.3.3); in requests mode a reconnect (retry delay, or the
//     stream ending at the token's expiry) whose seed re-posts max(counter, target)
//     (docs/protocol.md §1.5.3); for target MAX an upload round running (uploading, or in
//     updateLocalTarget awaiting its write checkpoint, credentials first: docs/findings-world.md
//     W21), queued or retrying, or a reconnect or an open stream whose first line is still to
//     come (that line triggers one: docs/findings-world.md W31);
//   - an app that is down restarts (only live clients are judged).
// A js-real client's SDK paths are what the published SDK waits on (requests on the wire,
// armed timers but the trigger cleanup, a first line to come, an app yet to connect), and the
// record counts only while that SDK has or will open a stream (docs/invariants.md §3.1).
// "Only a new local write would reopen it" is no path.  The judge runs one microsecond after
// each sync event of a client and after each fault, i.e. once every event of that instant
// has run; it fails at once only when no path exists, and the runner judges again after
// quiesce (any gate still closed with an empty queue).
//
// Explanations carry a machine-readable class, formatted `[class:<token>]`:
//   crud-not-uploaded, target-max, record-absent, record-deleted, record-below-target,
//   pending-unreplicated, record-not-emitted, gate-open.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/sdk_shim.hpp"
#include "model/service.hpp"
#include "sim/invariants.hpp"

namespace syncsim::scenarios {

void register_liveness_invariants(sim::InvariantCatalog& catalog);

struct GateExplanation {
  bool closed = false;  // the gate is closed
  bool crud = false;    // ... because ps_crud is non-empty
  std::string cls;      // the class token (without brackets)
  std::string text;     // one line: key and mode, the service's record, the SDK's next step
  std::vector<std::string> paths;  // the paths to reopen that exist now (no-wedge)
  // A js-real client's earliest armed SDK timer (JsRealClient::Waiting::next_timer_at): the
  // judge looks again once it fired, since a timer that changes nothing leaves no event.
  std::optional<sim::Micros> next_sdk_timer;
};

// Reads the client's gate and the service's record for its key now.  `text` false: only
// `closed`, `crud`, `cls` and the number of paths are filled (the texts are left empty).
GateExplanation explain_gate(engine::Client& c, model::Service& service, bool text = true);
// "<text> [class:<cls>]"
std::string explanation_line(const GateExplanation& e);

class LivenessJudge : public engine::ClientObserver {
 public:
  // `live`: the current life of every client that is up (down apps are not judged);
  // `live_client`: the same for one client index, null when it is down (a judgement looks up
  // one client: building the whole list per judgement grew with the fleet, issue 20 (d)).
  LivenessJudge(sim::Loop& loop, sim::Trace& trace, model::Service& service,
                sim::Verdicts& verdicts, std::function<std::vector<engine::Client*>()> live,
                std::function<engine::Client*(int index)> live_client);

  void on_control(engine::Client& c, const std::string& op,
                  const std::optional<std::string>& payload,
                  const std::optional<std::string>& result) override;
  void on_target_set(engine::Client& c, int64_t target, engine::TargetStoredBy by) override;
  void on_uploaded(engine::Client& c, const nlohmann::json& crud) override;
  // A fault ran: every live client is judged once the instant is over.
  void after_fault();
  // After quiesce: a gate still closed with an empty upload queue fails.
  bool judge_after_quiesce(const std::vector<engine::Client*>& clients);

 private:
  // The trace lines of a client's last target, upload and sync event, and of the last fault:
  // a no-wedge failure's causal chain (recording them logs nothing).
  struct History {
    uint64_t target_line = 0, upload_line = 0, event_line = 0;
    int64_t target = 0;
    std::string event;
  };

  // Judges client `index` at `at` (default: once every event of this instant has run).
  void schedule(int index, std::optional<sim::Micros> at = std::nullopt);
  void judge(int index);
  void fail(engine::Client& c, const GateExplanation& e, const std::string& message,
            const std::string& now);

  sim::Loop& loop_;
  sim::Trace& trace_;
  model::Service& service_;
  sim::Verdicts& verdicts_;
  std::function<std::vector<engine::Client*>()> live_;
  std::function<engine::Client*(int index)> live_client_;
  std::map<int, sim::Micros> scheduled_;  // client index -> the instant its judge runs
  std::map<int, History> history_;        // by client index
  uint64_t fault_line_ = 0;
};

}  // namespace syncsim::scenarios
