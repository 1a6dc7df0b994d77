// The observation stream of `syncsim diff`: what an app could see of each client, recorded
// at every observer hook, so that two runs of one seed with different engine configurations
// can be compared event by event.  Values are canonical text (no timestamps, no map-order
// dependence) so equal states compare equal as strings; recording costs one string per
// event, plus two SELECTs when a sync apply changed visible rows.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "engine/sdk_shim.hpp"
#include "sim/clock.hpp"

namespace syncsim::scenarios {

// Fields, one per kind of observable:
//   write           a local write (the workload's), "+event" when it also inserted into the
//                   insert-only `events` table in the same transaction
//   upload          one uploaded crud entry, as JSON including its tx_id (one per entry)
//   target          a target the SDK stored via powersync_control (MAX after an upload,
//                   the acknowledged id after updateLocalTarget)
//   request.next    an id allocated with next_checkpoint_request_id (docs/protocol.md §1.5.3)
//   request.seed    an id the SDK seeded with seed_checkpoint_request_id
//   request.current current_checkpoint_request_id, recorded when it changes
//   status          the sync status without timestamps, recorded when it changes
//                   (connected, connecting, downloading, priority_status; docs/protocol.md §1.2.5)
//   applied         DidCompleteSync: a full checkpoint was applied, with its applied id
//   rows            the visible todos and notes rows after a sync apply changed them
struct Observation {
  sim::Micros at = 0;  // virtual time since the start of the run
  std::string field;
  std::string value;

  bool operator==(const Observation&) const = default;
};

// Streams by 1-based client index.
using ObservationStreams = std::map<int, std::vector<Observation>>;

class ObservationRecorder : public engine::ClientObserver {
 public:
  explicit ObservationRecorder(const sim::VirtualClock& clock) : clock_(clock) {}

  void on_local_write(engine::Client& c, const engine::LocalWrite& w) override;
  void on_uploaded(engine::Client& c, const nlohmann::json& crud) override;
  void on_sync_applied(engine::Client& c, std::optional<int64_t> applied_id) override;
  void on_published(engine::Client& c) override;
  void on_control(engine::Client& c, const std::string& op,
                  const std::optional<std::string>& payload,
                  const std::optional<std::string>& result) override;

  [[nodiscard]] const ObservationStreams& streams() const { return streams_; }
  ObservationStreams take_streams() { return std::move(streams_); }

 private:
  void add(int client, const char* field, std::string value);
  void record_status(int client, const std::string& control_result);

  const sim::VirtualClock& clock_;
  ObservationStreams streams_;
  std::map<int, std::string> last_status_;
  std::map<int, std::string> last_current_;
};

// The sync status of an UpdateSyncStatus instruction in canonical form, without
// timestamps: "connected=1 connecting=0 downloading=0 priorities=2147483647:synced".
std::string canonical_status(const nlohmann::json& status);

}  // namespace syncsim::scenarios
