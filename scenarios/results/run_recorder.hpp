// Records what reports draw (docs/reports.md §1): a structured timeline of protocol events fed
// by the client observer hooks and the scenario's fault schedule, plus the per-run
// samples behind the report's metric charts.  Recording is a vector push per event; no
// trace text is parsed.  At the end of a run the timeline is cut to a bounded window
// (around the first violation, else the first fault) so a Mermaid diagram stays renderable.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/sdk_shim.hpp"
#include "model/replication.hpp"
#include "scenarios/format/scenario.hpp"
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

// A stretch of the whole run for the report's state timeline: kind "fault-window" (lag,
// stall: fired until it ended, healed or the run ended), "fault" (instant, fired), "armed"
// (a kill `when` armed), "awaiting" (a client's barrier closed: target set -> applied),
// "life" (the app reopened), "heal" (the heal phase to the end), "violation" (instant).
struct TimelineSpan {
  std::string lane;
  std::string kind;
  sim::Micros from = 0, to = 0;
  std::string label;
};

struct Timeline {
  std::vector<TimelineEvent> events;       // the window, in time order
  sim::Micros end = 0;                     // where the run ended (µs since the start)
  std::vector<TimelineSpan> spans;         // the whole run, in start order
  std::size_t first = 0;                   // index of events[0] in the whole run's timeline
  std::size_t total = 0;                   // events recorded over the whole run
  std::vector<std::string> active_faults;  // fault windows already open at the window start
  std::string anchor;  // what the window is cut around: "the first violation", ...
};

// One latency sample behind a report's distributions: when its interval began (µs since
// the start), whose (1-based client), how long it took (ms).
struct LatencySample {
  sim::Micros at = 0;
  int client = 0;
  int64_t ms = 0;
};

// The largest window a report draws; Mermaid renders ~150 messages comfortably.
constexpr std::size_t kTimelineWindow = 150;

class RunRecorder : public engine::ClientObserver {
 public:
  RunRecorder(const sim::VirtualClock& clock, const Scenario& scenario);

  void on_local_write(engine::Client& c, const engine::LocalWrite& w) override;
  void on_uploaded(engine::Client& c, const nlohmann::json& crud) override;
  void on_target_set(engine::Client& c, int64_t target, engine::TargetStoredBy by) override;
  void on_sync_applied(engine::Client& c, std::optional<int64_t> applied_id) override;
  void on_control(engine::Client& c, const std::string& op,
                  const std::optional<std::string>& payload,
                  const std::optional<std::string>& result) override;

  void on_quiesce();
  // A fault happened (`armed`: a kill/power_loss `when` was armed; World::set_fault_hook).
  void on_fault(const Fault& f, bool armed);
  // Replication processed commits (model::Replication::set_step_hook).
  void on_replication(const model::ReplicationStep& step);
  // The whole run's fault windows and the violation go in, the bounded window comes out.
  Timeline finish(const std::optional<sim::Violation>& violation);

  // Local write -> first full checkpoint applied after the target covering its upload
  // (the barrier passed, so the write is visible with its ack), in ms.
  [[nodiscard]] const std::vector<int64_t>& write_to_ack_ms() const { return write_to_ack_ms_; }
  [[nodiscard]] uint64_t stream_starts() const { return stream_starts_; }
  // Requested ids never acknowledged individually: a newer request's ack covered them
  // (docs/protocol.md §3.6.2.1: under lag a newer request moves the head and hides the older ack).
  [[nodiscard]] uint64_t hidden_acks() const { return hidden_acks_; }
  // Per kind, every sample of the run in the order they completed (report distributions):
  //   ack_direct_ms   request posted -> the client sees write_checkpoint == its id
  //   ack_hidden_ms   request posted -> the client sees a later id (a newer request hid it)
  //   write_to_ack_ms local write -> visible with its ack (as write_to_ack_ms())
  //   barrier_closed_ms  target set -> the next checkpoint applied (the barrier was closed)
  [[nodiscard]] const std::map<std::string, std::vector<LatencySample>>& samples() const {
    return samples_;
  }
  // Everything recorded so far, before the fault schedule is merged in and the cut.
  [[nodiscard]] const std::vector<TimelineEvent>& recorded() const { return events_; }

 private:
  struct ClientState {
    std::vector<sim::Micros> not_uploaded;         // local write times
    std::vector<sim::Micros> awaiting_target;      // uploaded
    std::vector<sim::Micros> awaiting_ack;         // covered by a concrete target
    std::optional<int64_t> last_write_checkpoint;  // last seen on a checkpoint line
    std::vector<std::pair<int64_t, sim::Micros>> unacked_requests;  // id, when requested
    std::optional<sim::Micros> barrier_since;  // a target is set, not yet applied
    const engine::Client* life = nullptr;      // the app life last heard from
    int lives = 0;
  };
  // The client's state by its 1-based number, which stays the same across app lives
  // (lifecycle faults replace the Client): a new life is noted in the timeline and starts
  // with no last_seen; its writes, uploads and requests carry over, as ps_crud and the
  // service's records do.
  ClientState& state(engine::Client& c);
  void add(std::string from, std::string to, std::string kind, std::string label);

  const sim::VirtualClock& clock_;
  std::vector<TimelineEvent> events_;
  std::vector<ClientState> clients_;
  std::vector<int64_t> write_to_ack_ms_;
  std::map<std::string, std::vector<LatencySample>> samples_;
  void sample(const char* kind, sim::Micros since, int client);
  uint64_t stream_starts_ = 0;
  uint64_t hidden_acks_ = 0;
  std::optional<std::size_t> first_hidden_ack_;  // index in events_
  std::vector<TimelineSpan> spans_;              // closed spans, whole run
  struct OpenWindow {
    std::string lane, label;
    sim::Micros from = 0;
    std::optional<sim::Micros> planned_end;  // from + duration_ms, if it has one
  };
  std::vector<OpenWindow> windows_;  // lag and stall faults that fired
  std::optional<sim::Micros> heal_at_;
};

// Cut `all` (time-ordered) to at most `window` events around `anchor`: more context before
// it than after, since the lead-up explains a violation.
Timeline cut_timeline(std::vector<TimelineEvent> all, std::size_t anchor, std::size_t window);

std::string lane_of_client(int index);

// "2, 3" for up to three ids, else "2…113 (112 ids)": labels stay short (issue 18).
std::string id_list_text(const std::vector<int64_t>& ids);

// Samples as compact text for results documents: "at_ms,client,ms;..." per kind (a JSON
// array per sample would be one line per number in pretty-printed results).
nlohmann::json samples_json(const std::map<std::string, std::vector<LatencySample>>& samples);

}  // namespace syncsim::scenarios
