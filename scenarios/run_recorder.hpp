// Records what reports draw (DESIGN.md §8): a structured timeline of protocol events fed
// by the client observer hooks and the scenario's fault schedule, plus the per-run
// samples behind the report's metric charts.  Recording is a vector push per event; no
// trace text is parsed.  At the end of a run the timeline is cut to a bounded window
// (around the first violation, else the first fault) so a Mermaid diagram stays renderable.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/sdk_shim.hpp"
#include "scenarios/scenario.hpp"
#include "sim/clock.hpp"
#include "sim/invariants.hpp"

namespace syncsim::scenarios {

// One arrow or note of the sequence diagram.  `from == to` is a note over that lane.
struct TimelineEvent {
  sim::Micros at = 0;  // µs since the start of the run
  std::string from;    // lane: "client 1".., "service", "replication"
  std::string to;
  std::string
      kind;  // write, upload, request, target, checkpoint, applied, stream, fault, violation
  std::string label;
};

struct Timeline {
  std::vector<TimelineEvent> events;       // the window, in time order
  std::size_t first = 0;                   // index of events[0] in the whole run's timeline
  std::size_t total = 0;                   // events recorded over the whole run
  std::vector<std::string> active_faults;  // fault windows already open at the window start
  std::string anchor;  // what the window is cut around: "the first violation", ...
};

// The largest window a report draws; Mermaid renders ~150 messages comfortably.
constexpr std::size_t kTimelineWindow = 150;

class RunRecorder : public engine::ClientObserver {
 public:
  RunRecorder(const sim::VirtualClock& clock, const Scenario& scenario);

  void on_local_write(engine::Client& c, const engine::LocalWrite& w) override;
  void on_uploaded(engine::Client& c, const nlohmann::json& crud) override;
  void on_target_set(engine::Client& c, int64_t target) override;
  void on_sync_applied(engine::Client& c, std::optional<int64_t> applied_id) override;
  void on_control(engine::Client& c, const std::string& op,
                  const std::optional<std::string>& payload,
                  const std::optional<std::string>& result) override;

  void on_quiesce();
  // The whole run's fault windows and the violation go in, the bounded window comes out.
  Timeline finish(const std::optional<sim::Violation>& violation);

  // Local write -> first full checkpoint applied after the target covering its upload
  // (the barrier passed, so the write is visible with its ack), in ms.
  [[nodiscard]] const std::vector<int64_t>& write_to_ack_ms() const { return write_to_ack_ms_; }
  [[nodiscard]] uint64_t stream_starts() const { return stream_starts_; }
  // Requested ids never acknowledged individually: a newer request's ack covered them
  // (service.md §6.2.1: under lag a newer request moves the head and hides the older ack).
  [[nodiscard]] uint64_t hidden_acks() const { return hidden_acks_; }
  // Everything recorded so far, before the fault schedule is merged in and the cut.
  [[nodiscard]] const std::vector<TimelineEvent>& recorded() const { return events_; }

 private:
  struct ClientState {
    std::vector<sim::Micros> not_uploaded;         // local write times
    std::vector<sim::Micros> awaiting_target;      // uploaded
    std::vector<sim::Micros> awaiting_ack;         // covered by a concrete target
    std::optional<int64_t> last_write_checkpoint;  // last seen on a checkpoint line
    std::vector<int64_t> unacked_requests;         // ids requested, not yet seen
    const engine::Client* life = nullptr;          // the app life last heard from
    int lives = 0;
  };
  // The client's state by its 1-based number, which stays the same across app lives
  // (lifecycle faults replace the Client): a new life is noted in the timeline and starts
  // with no last_seen; its writes, uploads and requests carry over, as ps_crud and the
  // service's records do.
  ClientState& state(engine::Client& c);
  void add(std::string from, std::string to, std::string kind, std::string label);

  const sim::VirtualClock& clock_;
  const Scenario& scenario_;
  std::vector<TimelineEvent> events_;
  std::vector<ClientState> clients_;
  std::vector<int64_t> write_to_ack_ms_;
  uint64_t stream_starts_ = 0;
  uint64_t hidden_acks_ = 0;
  std::optional<std::size_t> first_hidden_ack_;  // index in events_
};

// Cut `all` (time-ordered) to at most `window` events around `anchor`: more context before
// it than after, since the lead-up explains a violation.
Timeline cut_timeline(std::vector<TimelineEvent> all, std::size_t anchor, std::size_t window);

std::string lane_of_client(int index);

}  // namespace syncsim::scenarios
