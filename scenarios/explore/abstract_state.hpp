// The small abstract protocol state of each client, observed directly during a run (issue 14
// §5): coverage of a hunt counts which cells of
//   checkpoint mode x gate x the key's service record x lifecycle phase
// were reached, and the coverage-guided swarm biases draws toward rare ones.
//
//   gate:   open (ps_crud empty and target <= last_seen) / closed-crud (ps_crud non-empty) /
//           closed-target (ps_crud empty, target > last_seen, MAX included)
//   record: absent (never stored) / pending (the max-id record's head is not yet replicated:
//           mongo processed_at_lsn unset, postgres head > replicated lsn) / processed /
//           deleted (absent after retention or a delete_request fault removed it)
//   phase:  <life>-<link>, life first | reopened (after restart, kill, power loss, up- or
//           downgrade), link streaming (sync stream connected) | connecting (sync loops
//           running, not connected) | offline (no sync loop: before connect, after a
//           disconnect_client)
//
// Sampled after every state-changing client event (each powersync_control call, local
// write, stored target, applied checkpoint, disconnectAndClear), through reads of the
// client's database and the service's store that neither trace nor draw randomness.
#pragma once

#include <bitset>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "engine/sdk_shim.hpp"
#include "model/service.hpp"

namespace syncsim::scenarios {

// Every cell name "<mode>|<gate>|<record>|<phase>", in a fixed order.
const std::vector<std::string>& abstract_state_cells();
// Cells that cannot be reached by construction, cell -> why (not flagged, not chased).
const std::map<std::string, std::string>& abstract_state_unreachable();

class AbstractStateObserver : public engine::ClientObserver {
 public:
  explicit AbstractStateObserver(model::Service& service) : service_(service) {}

  void on_local_write(engine::Client& c, const engine::LocalWrite&) override { sample(c); }
  void on_target_set(engine::Client& c, int64_t, engine::TargetStoredBy) override { sample(c); }
  void on_sync_applied(engine::Client& c, std::optional<int64_t>) override { sample(c); }
  void on_cleared(engine::Client& c) override { sample(c); }
  void on_control(engine::Client& c, const std::string& op, const std::optional<std::string>&,
                  const std::optional<std::string>&) override;

  // Cells reached in this run, sorted.
  [[nodiscard]] std::vector<std::string> reached() const {
    return {reached_.begin(), reached_.end()};
  }

 private:
  void sample(engine::Client& c);
  // The index in kRecords (absent, pending, processed, deleted) of the key's record.
  [[nodiscard]] int record_state(const std::string& key) const;

  model::Service& service_;
  std::map<int, const engine::Client*> first_life_;  // client number -> its first life
  std::set<std::string> reached_;
  // reached_ by cell number (mode, gate, record, phase): a sample formats its cell's name only
  // the first time (samples run after most control calls, issue 20 (a)).
  std::bitset<144> reached_cells_;
};

}  // namespace syncsim::scenarios
