// The js-real host (issue 16): one Node.js process per simulation (engine/js/host.mjs)
// running the published PowerSync JS SDK for every js-real client of the run, in lockstep
// with the sim loop.  deliver() sends one event and serves the host's synchronous calls
// until it reports `idle`; the host's earliest fake timer becomes one sim timer, whose
// firing is the next event.  The bridge protocol is engine/js/bridge.hpp / bridge.mjs.
#pragma once

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/js/host_message.hpp"
#include "engine/js/node_process.hpp"
#include "sim/loop.hpp"
#include "sim/trace.hpp"

namespace syncsim::engine::js {

// A `sql` call's reply: the line for the host, and the error when it is a sql_error (a reply-less
// statement that fails stops the run).  Written without a JSON tree (docs/performance-js-real.md
// "(js20)").
struct SqlReply {
  std::string line;
  std::optional<std::string> error;
};

// A life's write connection as a reply would report it (sent with every event).
struct ConnectionState {
  bool autocommit = true;
  int64_t changes = 0;
  int64_t insert_id = 0;
};

// What the host needs from one client (engine/js/js_real_client.hpp).
class HostedClient {
 public:
  virtual ~HostedClient() = default;
  // Synchronous calls, answered while the host blocks: the reply message.
  virtual SqlReply sql(const HostMessage& call) = 0;
  virtual nlohmann::json touched() = 0;
  virtual nlohmann::json credentials() = 0;
  // {op:"uploaded"}: the connector's batch.complete() resolved.
  virtual nlohmann::json uploaded() = 0;
  // {op:"draw", what}: the client's own sim PRNG (the draws the C++ port makes).
  virtual nlohmann::json draw(const std::string& what) = 0;
  virtual void log(int level, const std::string& message) = 0;
  // fetch, abort, notice: acted on after the drain, in the order the host made them.
  virtual void act(const nlohmann::json& request) = 0;
  // The write connection's state as a reply would report it, nullopt when the life has no
  // connection: sent with every event so the host can defer the event's first BEGIN
  // (engine/js/sdk_client.mjs sql()).
  virtual std::optional<ConnectionState> connection_state() = 0;
};

// The pinned SDK project for a core ("sdk-2.3.0" for 0.5.2+, "sdk-1.43.1" for 0.4.6), nullopt
// if none pairs with it (or no js-real client drives it yet).
std::optional<std::string> js_real_project_for_core(const std::string& core);
// Every pinned SDK project (engine/js/packages/), installed or not, in version order.
const std::vector<std::string>& js_real_packages();
// Whether a project is a 1.x SDK (no checkpoint requests: legacy mode only).
bool js_real_package_is_1x(const std::string& project);
// The cores a pinned project's own version check accepts (">=0.5.2 <0.6.0"), "" if unknown.
std::string js_real_package_accepts(const std::string& project);
// The SDK's own refusal of `core` (its loadVersion message, engine/js/README.md "Version
// skew"), nullopt when it accepts the core.
std::optional<std::string> js_real_package_refuses(const std::string& project,
                                                   const std::string& core);
// Why `project` cannot run here (no node, not installed), nullopt if it can.
std::optional<std::string> js_real_package_unavailable(const std::string& project);
// Every installed project (name, directory), as cmake/JsRealSdk.cmake found them.
std::vector<std::pair<std::string, std::string>> installed_js_real_projects();
// The installed directory of a project (cmake/JsRealSdk.cmake), nullopt if not installed.
std::optional<std::string> installed_js_real_project(const std::string& project);
// Why js-real cannot run here (no node, SDK not installed), nullopt if it can.
std::optional<std::string> js_real_unavailable(const std::string& core);

// Host processes kept across runs (a sweep or hunt worker pays Node's start-up once): one
// per SDK project.  Each run sends `next_run` instead of starting a process.
class HostProcesses {
 public:
  NodeProcess* find(const std::string& project) {
    auto it = processes_.find(project);
    return it == processes_.end() ? nullptr : it->second.get();
  }
  NodeProcess& adopt(const std::string& project, std::unique_ptr<NodeProcess> process) {
    return *(processes_[project] = std::move(process));
  }
  // A run died mid-drain: the pipe is out of step, the process is not reused.
  void discard(const std::string& project) {
    processes_.erase(project);
    runs_.erase(project);
  }
  // Node 20 never frees a vm context that ran a vm.SourceTextModule (every realm's SDK
  // modules), about 3 MB per basic run: a process serves this many runs, then a fresh one
  // starts.  Traces do not depend on it (a run starts from fresh realms either way).
  static constexpr uint64_t kRunsPerProcess = 20;
  // Counts one more run on the project's process; true when it has served its share.
  bool worn_out(const std::string& project) { return ++runs_[project] > kRunsPerProcess; }
  [[nodiscard]] uint64_t started() const { return started_; }
  void count_start() { ++started_; }
  // With measure_heap set, every run start reports the host's JS heap after a full GC (the
  // test that a host kept across seeds stays flat); 0 until a run started.
  void measure_heap(bool on) { measure_heap_ = on; }
  [[nodiscard]] bool measuring_heap() const { return measure_heap_; }
  void record_heap(uint64_t bytes) { heap_bytes_ = bytes; }
  [[nodiscard]] uint64_t heap_bytes() const { return heap_bytes_; }

 private:
  std::map<std::string, std::unique_ptr<NodeProcess>> processes_;
  std::map<std::string, uint64_t> runs_;
  uint64_t started_ = 0;
  bool measure_heap_ = false;
  uint64_t heap_bytes_ = 0;
};

class JsHost {
 public:
  // `project`: an installed SDK project name; `seed`: the run's (Math.random, uuids);
  // `shared`: processes kept across runs (nullptr: this host owns its own process).
  JsHost(sim::Loop& loop, sim::Trace& trace, std::string project, uint64_t seed,
         HostProcesses* shared = nullptr);
  ~JsHost();
  JsHost(const JsHost&) = delete;
  JsHost& operator=(const JsHost&) = delete;

  void attach(const std::string& name, HostedClient* client);
  void detach(const std::string& name);
  // Sends one event (its `now` is set here) and runs the drain; then acts on what the
  // clients asked for.  Not re-entrant: an event is never delivered from inside a drain.
  void deliver(const nlohmann::json& event);
  // The same for an event already written as a JSON object (no "now": added here), e.g. a
  // stream's chunk, whose bytes dump() would escape one by one (js20).
  void deliver_text(std::string event);

  [[nodiscard]] const std::string& sdk_version() const { return sdk_version_; }
  [[nodiscard]] const std::string& project() const { return project_; }
  [[nodiscard]] bool draining() const { return draining_; }
  [[nodiscard]] uint64_t events() const { return events_; }
  [[nodiscard]] std::optional<sim::Micros> next_timer() const {
    return armed_ ? std::optional<sim::Micros>(armed_->deadline) : std::nullopt;
  }
  // A client's armed fake timers after the last drain, earliest first: "<at>µs by <the SDK
  // function that armed it> (<file>:<line>)" (the no-wedge explanation says what comes next).
  struct ArmedTimer {
    sim::Micros at = 0;
    std::string text;  // "<at>µs by <function> (<file>:<line>)"
  };
  [[nodiscard]] std::vector<ArmedTimer> armed_timers(const std::string& client) const {
    auto it = timers_.find(client);
    return it == timers_.end() ? std::vector<ArmedTimer>{} : it->second;
  }

 private:
  void start();
  void arm(std::optional<sim::Micros> next_timer);

  sim::Loop& loop_;
  sim::Trace& trace_;
  std::string project_;
  uint64_t seed_;
  HostProcesses* shared_;
  std::unique_ptr<NodeProcess> owned_;
  NodeProcess* process_ = nullptr;
  std::string sdk_version_;
  std::map<std::string, HostedClient*> clients_;
  std::optional<sim::TimerId> armed_;
  std::map<std::string, std::vector<ArmedTimer>> timers_;
  bool draining_ = false;
  uint64_t events_ = 0;
};

}  // namespace syncsim::engine::js
