// The world builder: wires sim + model + engines for one run of a scenario.  Owns every
// object of the run, in an order that lets suspended coroutines be torn down while the
// objects they refer to still exist.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "engine/observer_fanout.hpp"
#include "engine/sdk_shim.hpp"
#include "model/service.hpp"
#include "scenarios/checks/client_invariants.hpp"
#include "scenarios/checks/cross_checks.hpp"
#include "scenarios/checks/liveness.hpp"
#include "scenarios/checks/snapshot_checks.hpp"
#include "scenarios/checks/stream_invariants.hpp"
#include "scenarios/explore/abstract_state.hpp"
#include "scenarios/explore/fault_triggers.hpp"
#include "scenarios/explore/sometimes.hpp"
#include "scenarios/format/scenario.hpp"
#include "scenarios/world/faulty_server.hpp"
#include "scenarios/world/runner.hpp"
#include "sim/loop.hpp"
#include "sim/net.hpp"
#include "sim/sync.hpp"
#include "sim/trace.hpp"
#include "sim/vfs.hpp"

namespace syncsim::engine::js {
class HostProcesses;
}

namespace syncsim::scenarios {

class World {
 public:
  // `extra_cores`: cores outside the registry the scenario may name (--core-path).
  // `js_processes`: js-real host processes kept across runs (null: this run starts its own).
  World(const Scenario& scenario, uint64_t seed, sim::Bounds bounds,
        const ExtraCores& extra_cores = {}, engine::js::HostProcesses* js_processes = nullptr);
  ~World();
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  void start();           // opens clients, connects, schedules workload and faults
  void begin_quiesce();   // all faults stop and heal
  std::string pending();  // what each part is waiting for

  // The bench's profiling tag for this run's VFS and databases (null: none).  Before start().
  void set_cost_meter(sim::CostMeter* meter) { files_.set_cost_meter(meter); }
  sim::Loop& loop() { return loop_; }
  sim::Trace& trace() { return trace_; }
  model::Service& service() { return *service_; }
  CrossChecks& checks() { return *checks_; }
  ClientInvariants& client_invariants() { return *client_invariants_; }
  LivenessJudge& liveness() { return *liveness_; }
  SometimesCounter& sometimes() { return *sometimes_; }
  AbstractStateObserver& abstract_states() { return *abstract_states_; }
  StreamInvariants& stream_invariants() { return *stream_invariants_; }
  // Every client reports here; the checks are first.  Add before start().
  engine::ObserverFanout& observers() { return observers_; }
  sim::Verdicts& verdicts() { return verdicts_; }
  // The current life of every client (all are up after quiesce began).
  std::vector<engine::Client*> clients();
  // How many times an app was reopened after a lifecycle fault.
  [[nodiscard]] uint64_t reopens() const { return reopens_; }
  // Faults with an `on` trigger or an armed `when`, and those that had not fired when
  // quiesce began.
  [[nodiscard]] std::size_t triggered_faults() const {
    return triggers_->size() + when_armed_.size();
  }
  [[nodiscard]] const std::vector<std::string>& unfired_faults() const { return unfired_; }
  // Told as each fault happens (`armed`: a kill/power_loss `when` was armed, not fired), so
  // reports draw faults when they happened, and never one that did not (run_recorder.hpp).
  void set_fault_hook(std::function<void(const Fault&, bool armed)> hook) {
    fault_hook_ = std::move(hook);
  }

 private:
  // What stays the same across an app's lives (restarts, kills, up/downgrades).
  struct Slot {
    engine::ClientOptions options;
    const engine::CoreVersion* core = nullptr;
    engine::CheckpointMode group_mode = engine::CheckpointMode::Requests;
    int lives = 1;
    std::optional<sim::TimerId> reopen;   // set while the app is down
    std::vector<std::string> users = {};  // every user it ran as, in order (switch_user)
    sim::Micros quiet_until = 0;          // a quiet fault: no workload writes before this
    // The app ships the published JS SDK (clients.sdk "js-real"): an update to a core that
    // SDK pairs with runs it again, also after a life on an older core's port.
    bool real_sdk = false;
  };
  std::unique_ptr<engine::Client> new_life(std::size_t i);
  void schedule_fault(const Fault& f);
  // Applies a fault now; `why` ("" or " (on <event> of client n)") ends its trace line.
  void apply_fault(const Fault& f, const std::string& why);
  void lifecycle_fault(const Fault& f, const std::string& why);
  // The app dies now: files as the process left them, then optionally a power loss.
  void kill_now(std::size_t i, bool power_loss);
  // Takes the current life down; it reopens after `down`.
  void take_down(std::size_t i, sim::Micros down);
  void reopen(std::size_t i);
  sim::Task<void> disconnect_for(std::size_t i, bool clear, sim::Micros down);

  const Scenario& scenario_;
  sim::Loop loop_;
  sim::Trace trace_;
  sim::Prng root_;
  sim::Prng sqlite_rng_;
  sim::FileStore files_;
  sim::VfsBinding vfs_;
  sim::Verdicts verdicts_;
  std::unique_ptr<model::Service> service_;
  std::unique_ptr<CrossChecks> checks_;
  std::unique_ptr<ClientInvariants> client_invariants_;
  std::unique_ptr<LivenessJudge> liveness_;      // no-wedge
  std::unique_ptr<SometimesCounter> sometimes_;  // sometimes-properties (docs/invariants.md §1)
  std::unique_ptr<AbstractStateObserver> abstract_states_;  // coverage cells (hunt)
  std::unique_ptr<StreamInvariants> stream_invariants_;
  std::unique_ptr<SnapshotChecks> snapshot_checks_;
  engine::ObserverFanout observers_;                    // what every client reports to
  std::vector<std::unique_ptr<FaultyServer>> servers_;  // one per client, in front of the service
  std::vector<std::unique_ptr<sim::Link>> links_;
  std::shared_ptr<engine::js::JsHost> js_host_;  // js-real clients' host (issue 16), lazily
  std::vector<std::string> keys_;                // each client's "<user>/<client_id>"
  sim::Prng fault_rng_;
  ExtraCores extra_cores_;  // --core-path builds; slots point into it
  std::vector<Slot> slots_;
  std::vector<std::unique_ptr<engine::Client>> clients_;  // nullptr while the app is down
  // Closed lives; kept until the loop is shut down because their suspended coroutines
  // still refer to them.
  std::vector<std::unique_ptr<engine::Client>> retired_;
  uint64_t reopens_ = 0;
  std::unique_ptr<FaultTriggers> triggers_;
  struct WhenArmed {
    Fault fault;
    bool fired = false;
  };
  std::vector<WhenArmed> when_armed_;  // kill/power_loss with `when` other than "now"
  // Set when the quiesce phase begins: a disconnect_client / disconnect_and_clear still
  // waiting out its down_ms connects at once (faults heal at quiesce).
  sim::AbortSignal quiesced_;
  std::vector<std::string> unfired_;
  std::function<void(const Fault&, bool armed)> fault_hook_;
};

}  // namespace syncsim::scenarios
