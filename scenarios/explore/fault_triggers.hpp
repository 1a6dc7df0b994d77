// Protocol-event triggers of faults (a fault's `on` field, scenario.hpp FaultTrigger): a
// triggered fault is armed at its at_ms and fires at the nth matching protocol event after
// that, instead of at a fixed time.  The events come from the client observer hooks
// (engine/sdk_shim.hpp) and the service's mapping hook; the fault itself runs in a fresh
// loop event at the same virtual time, so the protocol step that raised the event finishes
// first (an upload is on the wire, a mapping is stored) and nothing fires inside the
// engine's own code.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/sdk_shim.hpp"
#include "scenarios/format/scenario.hpp"
#include "sim/loop.hpp"
#include "sim/trace.hpp"

namespace syncsim::scenarios {

// A fault named for the trace and the results, e.g. "disconnect client 2", "compact".
std::string describe_fault(const Fault& f);

class FaultTriggers : public engine::ClientObserver {
 public:
  // `fire` applies a fault; `why` is the trace's explanation, e.g. " (on upload_in_flight
  // of client 2)".
  using Fire = std::function<void(const Fault&, const std::string& why)>;
  FaultTriggers(sim::Loop& loop, sim::Trace& trace, Fire fire);

  // Registers a triggered fault (f.on set) and schedules its arming at f.at_ms.
  void add(const Fault& f);
  // A protocol event of the 1-based client `client` happened now.
  void on_event(std::string_view event, int client);
  // Quiesce: no trigger fires any more; each one that never fired is traced and returned.
  std::vector<std::string> disarm();
  [[nodiscard]] std::size_t size() const { return triggers_.size(); }

  void on_upload_sent(engine::Client& c) override { on_event("upload_in_flight", c.index()); }
  void on_checkpoint_request_sent(engine::Client& c) override {
    on_event("request_posted", c.index());
  }
  void on_checkpoint_blocked(engine::Client& c) override {
    on_event("checkpoint_blocked", c.index());
  }
  void on_sync_applied(engine::Client& c, std::optional<int64_t> /*applied*/) override {
    on_event("checkpoint_applied", c.index());
  }

 private:
  struct Trigger {
    Fault fault;
    bool armed = false;
    bool fired = false;
    int seen = 0;  // matching events since arming
  };
  sim::Loop& loop_;
  sim::Trace& trace_;
  Fire fire_;
  std::vector<Trigger> triggers_;  // few; scanned per event
  bool disarmed_ = false;
};

}  // namespace syncsim::scenarios
