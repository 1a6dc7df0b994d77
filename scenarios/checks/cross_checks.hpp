// Cross-layer invariants that need both client and service state (docs/architecture.md §1,
// docs/invariants.md §1):
//  - read-your-writes: once a client uploaded a write and applied a checkpoint whose
//    write_checkpoint >= the target set after that upload, every later read of the row
//    shows that write, a newer server version of it (including its deletion), or the
//    client's own later local write.  And from its commit on, no local write flickers away
//    and back (docs/invariants.md §1): at every sync publication the client's newest own write of a
//    row is shown, or a server version at or after the LSN where the backend applied it.
//    The barrier guarantees this (nothing publishes while ps_crud holds the write, and after
//    its upload nothing publishes before a checkpoint past that upload), so it also judges
//    writes whose target was never stored (mutant skip-sequence-check).
//  - converges: after heal-and-quiesce every client's visible rows equal the service's
//    rows for its buckets.
//  - requests-complete: after quiesce every allocated request id is acknowledged.
//  - checksums-agree: after every applied checkpoint each bucket's checksum the client
//    holds equals the model's own recomputation at the applied op id; a "Checksums didn't
//    match" warning is a violation (no fault here corrupts data in flight).
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/sdk_shim.hpp"
#include "model/service.hpp"
#include "sim/invariants.hpp"

namespace syncsim::scenarios {

class CrossChecks : public engine::ClientObserver {
 public:
  CrossChecks(sim::Loop& loop, sim::Trace& trace, model::Service& service, sim::Verdicts& verdicts);

  void on_local_write(engine::Client& c, const engine::LocalWrite& w) override;
  void on_uploaded(engine::Client& c, const nlohmann::json& crud) override;
  void on_target_set(engine::Client& c, int64_t target, engine::TargetStoredBy by) override;
  void on_sync_applied(engine::Client& c, std::optional<int64_t> applied_id) override;
  void on_published(engine::Client& c) override;
  void on_cleared(engine::Client& c) override;
  void on_core_warning(engine::Client& c, const std::string& line) override;
  // A new token subject on the client's database: its private rows leave its buckets, so
  // read-your-writes stops tracking them (docs/invariants.md §1: rows outside the new user's
  // buckets are exempt).
  void on_user_switched(engine::Client& c);

  // Liveness, after quiesce.  Returns false (and records the violation) on divergence.
  bool judge_converges(const std::vector<engine::Client*>& clients, const std::string& pending);
  // requests-complete: every client's allocated ids and target are acknowledged
  // (target <= last_seen, last_requested <= last_seen) and ps_crud is empty.
  bool judge_requests_complete(const std::vector<engine::Client*>& clients,
                               const std::string& pending);

  [[nodiscard]] uint64_t acknowledged_writes() const { return acknowledged_writes_; }

 private:
  struct Write {
    model::RowKey key;
    uint64_t seq = 0;
    std::optional<std::string> value;  // nullopt = delete
    model::Lsn lsn = 0;                // where the backend applied it
    // Trace lines of the write, its upload, and the checkpoint that acknowledged it (with
    // the target it waited for and the applied request id): a violation's causal chain.
    uint64_t write_line = 0, upload_line = 0, target_line = 0, ack_line = 0;
    int64_t target = 0;
    std::optional<int64_t> acked_by{};
  };
  struct ClientState {
    std::map<std::string, uint64_t> seq_of_value;  // own write values are unique
    std::map<model::RowKey, std::vector<Write>> own_writes;
    std::vector<Write> uploaded;  // not yet covered by a concrete target
    std::vector<std::pair<int64_t, std::vector<Write>>> awaiting_ack;
    std::map<model::RowKey, Write> acknowledged;  // the newest acknowledged write per row
    // Users this database no longer syncs as (switch_user): a closing life's upload that
    // completes after the switch puts its notes rows into the old user's bucket.
    std::set<std::string> former_users;
    // The newest own write per row, with the LSN of its upload once it completed (0 before):
    // the no-flicker half of read-your-writes.
    std::map<model::RowKey, Write> newest_own;
    // The client's last write, upload, concrete target and applied checkpoint with their
    // trace lines: the causal chain of a liveness failure (recording them logs nothing).
    uint64_t last_write_line = 0, last_upload_line = 0, last_target_line = 0;
    uint64_t last_applied_line = 0;
    int64_t last_target = 0;
    std::optional<int64_t> last_applied{};
  };
  using Version = std::pair<model::Lsn, std::optional<std::string>>;

  void check_rows(engine::Client& c);
  void check_no_flicker(engine::Client& c);
  void index_backend_log();
  void fail(const std::string& invariant, engine::Client& c, const std::string& message,
            std::vector<sim::ViolationInput> inputs = {}, std::vector<sim::CauseStep> chain = {});
  // read-your-writes' inputs and causal chain for a row that shows `shown` against write `w`.
  // A liveness failure's causal chain: the client's last write, upload, target and applied
  // checkpoint (those it had), then `now` at the current trace line.
  std::vector<sim::CauseStep> history_chain(engine::Client& c, const std::string& now) const;
  // The gate's inputs as read now: target, last_seen and ps_crud of the client's database.
  std::vector<sim::ViolationInput> gate_inputs(engine::Client& c, const std::string& when) const;
  void fail_read_your_writes(engine::Client& c, const Write& w, const std::string& shown,
                             const std::string& message);

  sim::Loop& loop_;
  sim::Trace& trace_;
  model::Service& service_;
  sim::Verdicts& verdicts_;
  std::map<int, ClientState> clients_;
  std::size_t indexed_uploads_ = 0;
  std::map<model::RowKey, std::vector<Version>> history_;  // server versions by LSN
  uint64_t acknowledged_writes_ = 0;
};

std::optional<std::string> description_of(const std::string& row_json);

}  // namespace syncsim::scenarios
