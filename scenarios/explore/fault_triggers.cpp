#include "scenarios/explore/fault_triggers.hpp"

#include <fmt/format.h>

namespace syncsim::scenarios {

std::string describe_fault(const Fault& f) {
  std::string out = to_string(f.kind);
  if (f.client > 0) out += fmt::format(" client {}", f.client);
  return out;
}

namespace {

// "upload_in_flight of client 2", "the 3rd mapping_stored of any client".
std::string trigger_text(const FaultTrigger& t) {
  const std::string who = t.client > 0 ? fmt::format("client {}", t.client) : "any client";
  if (t.nth == 1) return fmt::format("{} of {}", t.event, who);
  return fmt::format("{} #{} of {}", t.event, t.nth, who);
}

}  // namespace

FaultTriggers::FaultTriggers(sim::Loop& loop, sim::Trace& trace, Fire fire)
    : loop_(loop), trace_(trace), fire_(std::move(fire)) {}

void FaultTriggers::add(const Fault& f) {
  const std::size_t i = triggers_.size();
  Trigger t;
  t.fault = f;
  triggers_.push_back(std::move(t));
  loop_.at(sim::kEpoch + f.at_ms * sim::kMillis, [this, i] {
    Trigger& t = triggers_[i];
    if (disarmed_) return;
    t.armed = true;
    trace_.log("fault", "{} armed: fires on {}", describe_fault(t.fault),
               trigger_text(*t.fault.on));
  });
}

void FaultTriggers::on_event(std::string_view event, int client) {
  if (disarmed_ || triggers_.empty()) return;
  for (Trigger& t : triggers_) {
    const FaultTrigger& on = *t.fault.on;
    if (!t.armed || t.fired || on.event != event || (on.client > 0 && on.client != client)) {
      continue;
    }
    if (++t.seen < on.nth) continue;
    t.fired = true;
    // "(on upload_in_flight of client 2)", naming the client whose event it was.
    const std::string why = fmt::format(" (on {}{} of client {}{})", event,
                                        on.nth > 1 ? fmt::format(" #{}", on.nth) : "", client,
                                        on.client > 0 ? "" : ", any client");
    // A fresh event at the same time: the protocol step that raised this one completes first.
    loop_.at(loop_.now(), [this, fault = t.fault, why] { fire_(fault, why); });
  }
}

std::vector<std::string> FaultTriggers::disarm() {
  disarmed_ = true;
  std::vector<std::string> unfired;
  for (const Trigger& t : triggers_) {
    if (t.fired) continue;
    const std::string text =
        fmt::format("{} @{}ms on {} (seen {} of {})", describe_fault(t.fault), t.fault.at_ms,
                    trigger_text(*t.fault.on), t.seen, t.fault.on->nth);
    trace_.log("fault", "never fired: {}", text);
    unfired.push_back(text);
  }
  return unfired;
}

}  // namespace syncsim::scenarios
