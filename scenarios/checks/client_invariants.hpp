// Client-side safety invariants over a database's whole life (docs/invariants.md §1), judged from
// what the SDK shim reports through engine::ClientObserver:
//  - request-id-monotonic: ids a client allocates durably (committed
//    next_checkpoint_request_id results) strictly increase per database, across
//    reconnects, restarts and up/downgrades.  After disconnectAndClear the local counter
//    restarts by design, but the service's stored id must keep new ids above every id it
//    already holds for the key (the floor becomes that stored id; only a deleted record
//    lets the counter restart at 1, docs/protocol.md §3.2.2).
//  - applied-id-monotonic: within one connection (start .. stop) the applied request ids
//    a client reports never decrease.  Holds by design on mongo storage only (postgres
//    re-reads the record, docs/protocol.md §3.1.9); postgres scenarios leave it out.
//  - target-no-regress: a concrete target never decreases while the database syncs one key
//    (migration 14 down/up included), except after disconnectAndClear, and for a legacy-mode
//    client after its record was deleted: generated ids live only in the service's record,
//    so the next one restarts at 1 (docs/protocol.md §3.6.1 I3; found by the scenario property
//    test).  A switch_user starts another key's record in both modes (docs/invariants.md §1).
//  - monotonic-reads: a client never shows a server state older than one it showed.  The
//    state shown is the highest last_applied_op in ps_buckets: it is read after every
//    applied checkpoint and whenever an iteration starts (so a reopened database that
//    lost applied data is caught).  In the model op ids are assigned in source (LSN) order
//    and never reset, so op order is LSN order here.  Not judged while ps_buckets holds only
//    a new sync-rules instance's buckets, none applied (a reprocessing renamed them; the old
//    rows stay until the next apply, docs/protocol.md §3.4).
//  - no-lost-writes: every committed local write is eventually applied by the backend
//    (at least once; judged after quiesce against the backend's apply log).  Writes still
//    queued when disconnectAndClear wiped ps_crud are exempt; a transaction that never
//    committed never reached on_local_write.
//  - completed-upload-notified: SDK conformance (docs/protocol.md §2.2.4 step 4, §2.1.4 event
//  pump): a
//    concrete target updateLocalTarget stores while an iteration runs is followed by a
//    completed_upload event before the iteration handles its next sync line (injected events
//    go first), so a checkpoint the gate withheld is retried at once, not at the next line.
//  - gate-never-recloses: once the gate is open (ps_crud empty and target absent or <=
//    last_seen), only the client's own action closes it again: a local write, a target the
//    SDK stores (after an upload, or any target_checkpoint_request_id write), or
//    disconnectAndClear.  Judged after every control call that handles a sync event or
//    starts an iteration, over the database's whole life (a reopened database, up/downgrade,
//    mode and user switches included: the first `start` of a new life compares with the
//    state the last life left).  Exempt: a power loss (the file reverts to its last durable
//    state, which may predate the opening).
//  - wait-for-sync-keeps-promise: when waitForSync(id) resolves, a full checkpoint with an
//    applied request id >= id was applied on this database (DidCompleteSync, since the last
//    disconnectAndClear), not merely validated (last_seen) or announced.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/sdk_shim.hpp"
#include "model/service.hpp"
#include "sim/invariants.hpp"

namespace syncsim::scenarios {

void register_client_invariants(sim::InvariantCatalog& catalog);

class ClientInvariants : public engine::ClientObserver {
 public:
  ClientInvariants(sim::Loop& loop, sim::Trace& trace, model::Service& service,
                   sim::Verdicts& verdicts);

  void on_local_write(engine::Client& c, const engine::LocalWrite& w) override;
  void on_target_set(engine::Client& c, int64_t target, engine::TargetStoredBy by) override;
  void on_sync_applied(engine::Client& c, std::optional<int64_t> applied_id) override;
  void on_control(engine::Client& c, const std::string& op,
                  const std::optional<std::string>& payload,
                  const std::optional<std::string>& result) override;
  // disconnectAndClear wiped the database's sync state and queued writes (docs/protocol.md §2.1.9).
  void on_cleared(engine::Client& c) override;
  void on_wait_resolved(engine::Client& c, int64_t id) override;
  // The world dropped this client's unsynced writes (power_loss): gate-never-recloses
  // forgets the state it last saw.  `reverts_commits`: the disk lies about fsync, so the file
  // may be older than its last commit (an honest disk keeps every commit).
  void on_power_loss(int index, uint64_t trace_line = 0, bool reverts_commits = true);

  // no-lost-writes, after quiesce.  Returns false (and records the violation) on a loss.
  bool judge_no_lost_writes(const std::vector<engine::Client*>& clients);

 private:
  struct PendingWrite {
    model::RowKey key;
    std::optional<std::string> value;  // nullopt = delete
    uint64_t seq = 0;
    uint64_t line = 0;  // the trace line of the local write (a failure's input)
  };
  struct DatabaseState {
    std::optional<int64_t> max_allocated;  // request-id-monotonic floor
    // Set at a clear, whose floor is the service record: its deletions count then (reset at
    // the next allocation), so that a record deleted since is known to be gone.
    std::optional<uint64_t> clear_floor_deletions;
    std::optional<int64_t> max_target;          // target-no-regress
    uint64_t record_deletions = 0;              // of the service record, at the last target
    std::string target_key;                     // the service key of the last target
    std::optional<int64_t> connection_applied;  // applied-id-monotonic, per connection
    int64_t shown_position = 0;                 // monotonic-reads
    uint64_t shown_line = 0;                    // ... the trace line it was read at
    std::string shown_when;                     // ... and on which occasion
    std::string shown_user;                     // ... as which user (a switch starts anew)
    bool previous_users_rows = false;           // ... rows of the user before, until an apply
    uint64_t power_loss_line = 0;               // the last power loss (a causal step)
    uint64_t reverting_loss_line = 0;           // ... of those, one that may undo commits
    std::vector<PendingWrite> writes;           // no-lost-writes
    std::size_t exempt_writes = 0;              // cleared before upload
    bool in_iteration = false;                  // between start and stop
    std::optional<int64_t> unnotified_target;   // completed-upload-notified
    std::optional<int64_t> max_applied;         // wait-for-sync-keeps-promise
    std::optional<bool> gate_open;              // gate-never-recloses: last state seen
    // The trace lines the values above were set at, for a failure's inputs and causal chain
    // (only read when an invariant fails; recording them logs nothing).
    uint64_t max_allocated_line = 0;
    uint64_t max_target_line = 0;
    uint64_t connection_applied_line = 0;
    uint64_t connection_start_line = 0;
    uint64_t unnotified_target_line = 0;
    uint64_t max_applied_line = 0;
    uint64_t gate_open_line = 0;  // where the gate was last seen open
    std::string gate_open_after;  // ... after which call
  };

  // When monotonic-reads reads a client's position: its name is the verdict's wording.
  enum class ReadMoment { AfterApply, AtIterationStart };
  static const char* moment_name(ReadMoment m) {
    return m == ReadMoment::AtIterationStart ? "at iteration start" : "after an applied checkpoint";
  }
  void check_position(engine::Client& c, ReadMoment moment);
  // ps_buckets holds only buckets of another sync-rules instance than the one whose op
  // `shown_position` is, none applied, or none at all once another instance serves and no
  // power loss came since the shown read: the rename case of monotonic-reads.
  bool renamed_before_apply(engine::Client& c, const DatabaseState& db) const;
  // Some bucket holds a CLEAR stored but not yet applied (last_applied_op reset to 0 with ops
  // received): the CLEAR case of monotonic-reads.
  static bool cleared_before_apply(engine::Client& c);
  // The gate as the core computes it (docs/protocol.md §1.3.6), read now.
  static bool gate_is_open(engine::Client& c);
  // Reads the gate after `op`; a transition open -> closed fails unless `own_action`.
  void judge_gate(engine::Client& c, const std::string& op, bool own_action);
  void fail(const std::string& invariant, engine::Client& c, const std::string& message,
            std::vector<sim::ViolationInput> inputs = {}, std::vector<sim::CauseStep> chain = {});
  static std::string key_of(engine::Client& c);
  // Whether the service record of `key` has been deleted since its deletions count was
  // `deletions_then` (a delete_request fault, retention): its id counter is then gone.
  bool record_deleted_since(const std::string& key, uint64_t deletions_then) const;

  sim::Loop& loop_;
  sim::Trace& trace_;
  model::Service& service_;
  sim::Verdicts& verdicts_;
  std::map<int, DatabaseState> databases_;  // by client index: one database per client
};

}  // namespace syncsim::scenarios
