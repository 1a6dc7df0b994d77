#include "scenarios/checks/client_invariants.hpp"

#include "scenarios/checks/violation.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <string_view>

#include "scenarios/checks/cross_checks.hpp"

namespace syncsim::scenarios {

namespace {
using engine::kMaxOpId;

std::optional<int64_t> parse_int(const std::optional<std::string>& s) {
  if (!s || s->empty()) return std::nullopt;
  try {
    return std::stoll(*s);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}
}  // namespace

void register_client_invariants(sim::InvariantCatalog& catalog) {
  catalog.add(
      {"request-id-monotonic",
       "request ids a database allocates strictly increase across reconnects, restarts "
       "and up/downgrades; after disconnectAndClear they stay above the service's "
       "stored id",
       "scenarios/checks/client_invariants.cpp on every committed next_checkpoint_request_id",
       "mutant seed-local-counter (with disconnect_and_clear)", false});
  catalog.add({"applied-id-monotonic",
               "within one connection the applied request id a client reports never decreases "
               "(mongo storage; postgres may lower it by design)",
               "scenarios/checks/client_invariants.cpp on every DidCompleteSync",
               "mutants repost-stale-id + lower-id-replaces + write-checkpoint-may-drop", false});
  catalog.add({"target-no-regress",
               "a concrete target never decreases while the database syncs one key, except "
               "after disconnectAndClear, and in legacy mode after the key's record was "
               "deleted (a switch_user starts another key's record, in either mode)",
               "scenarios/checks/client_invariants.cpp on every concrete target the SDK stores",
               "mutant seed-from-one (with delete_request)", false});
  catalog.add({"monotonic-reads",
               "a client never shows a server state older than one it showed (highest "
               "last_applied_op, read after applies and at every iteration start)",
               "scenarios/checks/client_invariants.cpp after DidCompleteSync and at start",
               "storage mutant fsync-lies (with power_loss)", false});
  catalog.add({"no-lost-writes",
               "every committed local write is eventually applied by the backend (at least "
               "once), except writes disconnectAndClear removed",
               "scenarios/checks/client_invariants.cpp judge_no_lost_writes after quiesce",
               "mutant complete-without-upload", true});
  catalog.add(
      {"gate-never-recloses",
       "once a client's gate is open (ps_crud empty, target <= last_seen) it closes again "
       "only through the client's own action (a local write, a stored target, "
       "disconnectAndClear), never because a checkpoint arrived; over the database's "
       "whole life (power loss exempt)",
       "scenarios/checks/client_invariants.cpp after every control call handling a sync event",
       "mutant stale-write-checkpoint-on-connect", false});
  catalog.add({"wait-for-sync-keeps-promise",
               "when waitForSync(id) resolves, a checkpoint with applied request id >= id has "
               "been applied (DidCompleteSync), not merely validated or announced",
               "scenarios/checks/client_invariants.cpp on every resolved waitForSync",
               "mutant wait-resolves-on-seen", false});
  catalog.add({"completed-upload-notified",
               "a concrete target stored while an iteration runs is followed by completed_upload "
               "before the iteration handles its next sync line (docs/protocol.md §2.2.4 step 4)",
               "scenarios/checks/client_invariants.cpp on every control call of an iteration",
               "mutant drop-completed-upload", false});
}

ClientInvariants::ClientInvariants(sim::Loop& loop, sim::Trace& trace, model::Service& service,
                                   sim::Verdicts& verdicts)
    : loop_(loop), trace_(trace), service_(service), verdicts_(verdicts) {}

std::string ClientInvariants::key_of(engine::Client& c) { return c.user() + "/" + c.client_id(); }

bool ClientInvariants::record_deleted_since(const std::string& key, uint64_t deletions_then) const {
  return service_.checkpoints().deletions(key) != deletions_then;
}

void ClientInvariants::fail(const std::string& invariant, engine::Client& c,
                            const std::string& message, std::vector<sim::ViolationInput> inputs,
                            std::vector<sim::CauseStep> chain) {
  if (!verdicts_.enabled(invariant) || verdicts_.first()) return;
  checks::fail(loop_, trace_, verdicts_, invariant, c.index(), message, std::move(inputs),
               std::move(chain));
}

bool ClientInvariants::gate_is_open(engine::Client& c) {
  if (c.crud_count() > 0) return false;
  const auto target = c.target();
  return !target || *target <= c.last_seen().value_or(0);
}

void ClientInvariants::judge_gate(engine::Client& c, const std::string& op, bool own_action) {
  if (!verdicts_.enabled("gate-never-recloses")) return;
  auto& db = databases_[c.index()];
  const bool open = gate_is_open(c);
  const bool was_open = db.gate_open.value_or(false);
  db.gate_open = open;
  if (open && !was_open) {
    db.gate_open_line = trace_.lines();
    db.gate_open_after = op;
  }
  if (own_action || !was_open || open) return;
  verdicts_.checked("gate-never-recloses");
  auto show = [](std::optional<int64_t> v) { return v ? std::to_string(*v) : std::string("none"); };
  const uint64_t now_line = trace_.lines();
  const std::string read = fmt::format("client {} database after {}", c.index(), op);
  std::vector<sim::ViolationInput> inputs{
      {"target", show(c.target()), "ps_kv target_checkpoint_request_id of the " + read, now_line},
      {"last_seen", show(c.last_seen()), "the last_seen write checkpoint of the " + read, now_line},
      {"ps_crud", std::to_string(c.crud_count()), "ps_crud rows of the " + read, now_line},
      {"gate before", "open", fmt::format("the gate as read after {}", db.gate_open_after),
       db.gate_open_line}};
  std::vector<sim::CauseStep> chain{
      {fmt::format("the gate of client {} opens after {} (ps_crud empty, target <= last_seen)",
                   c.index(), db.gate_open_after),
       db.gate_open_line},
      {fmt::format("{}, no action of the client, leaves target {} above last_seen {}", op,
                   show(c.target()), show(c.last_seen())),
       now_line}};
  fail("gate-never-recloses", c,
       fmt::format("the gate was open and {} closed it without any action of the client "
                   "(target {}, last_seen {}, ps_crud {}): a checkpoint lowered last_seen below "
                   "the target",
                   op, show(c.target()), show(c.last_seen()), c.crud_count()),
       std::move(inputs), std::move(chain));
}

void ClientInvariants::on_power_loss(int index, uint64_t trace_line, bool reverts_commits) {
  databases_[index].gate_open.reset();
  databases_[index].power_loss_line = trace_line;  // the world's "power loss" line
  if (reverts_commits) databases_[index].reverting_loss_line = trace_line;
}

void ClientInvariants::on_wait_resolved(engine::Client& c, int64_t id) {
  if (!verdicts_.enabled("wait-for-sync-keeps-promise")) return;
  verdicts_.checked("wait-for-sync-keeps-promise");
  const auto& db = databases_[c.index()];
  if (db.max_applied && *db.max_applied >= id) return;
  const uint64_t now_line = trace_.lines();
  const std::string applied = db.max_applied ? std::to_string(*db.max_applied) : "none";
  const std::string seen = c.last_seen() ? std::to_string(*c.last_seen()) : "none";
  std::vector<sim::ViolationInput> inputs{
      {"waited id", std::to_string(id), fmt::format("the waitForSync call of client {}", c.index()),
       now_line},
      {"highest applied id", applied,
       "the request id of the last checkpoint applied with DidCompleteSync", db.max_applied_line},
      {"last_seen", seen, "the write checkpoint the client has validated (not applied)", now_line}};
  std::vector<sim::CauseStep> chain;
  if (db.max_applied_line > 0) {
    chain.push_back(
        {fmt::format("client {} applies a checkpoint with request id {}", c.index(), applied),
         db.max_applied_line});
  }
  chain.push_back({fmt::format("client {} has seen write checkpoint {} but applied nothing newer",
                               c.index(), seen),
                   now_line});
  chain.push_back(
      {fmt::format("waitForSync({}) resolves without an applied checkpoint >= {}", id, id),
       now_line});
  fail("wait-for-sync-keeps-promise", c,
       fmt::format("waitForSync({}) resolved, but the highest applied request id is {} "
                   "(last_seen {}): the checkpoint was not applied",
                   id, applied, seen),
       std::move(inputs), std::move(chain));
}

void ClientInvariants::on_local_write(engine::Client& c, const engine::LocalWrite& w) {
  judge_gate(c, "local write", true);
  if (!w.changed) return;  // nothing was queued for upload
  databases_[c.index()].writes.push_back(
      PendingWrite{{w.table, w.id}, w.description, w.seq, trace_.lines()});
}

void ClientInvariants::on_target_set(engine::Client& c, int64_t target, engine::TargetStoredBy by) {
  judge_gate(c, "stored target", true);
  if (target == kMaxOpId) return;  // MAX is the "unknown" marker, not a concrete target
  auto& db = databases_[c.index()];
  const std::string key = key_of(c);
  const uint64_t deletions = service_.checkpoints().deletions(key);
  // A target is an id of one key's service record in both modes (docs/invariants.md §1,
  // target-no-regress): a switch_user moves the database to another record, whose ids owe
  // nothing to the old one's (a foreign near-max id raises only its own key's answers).
  // Legacy targets are also the record's generated ids, lost with a deleted record; a
  // requests-mode target is the database's own counter or above it, so deletion keeps it.
  const bool legacy_counter_lost = c.checkpoint_mode() == engine::CheckpointMode::Legacy &&
                                   record_deleted_since(key, db.record_deletions);
  if (legacy_counter_lost || key != db.target_key) db.max_target.reset();
  db.record_deletions = deletions;
  db.target_key = key;
  if (verdicts_.enabled("target-no-regress")) {
    verdicts_.checked("target-no-regress");
    if (db.max_target && target < *db.max_target) {
      const uint64_t now_line = trace_.lines();
      std::vector<sim::ViolationInput> inputs{
          {"target now", std::to_string(target),
           fmt::format("the target client {} stores now", c.index()), now_line},
          {"earlier target", std::to_string(*db.max_target),
           "the highest concrete target stored before (same service record)", db.max_target_line}};
      std::vector<sim::CauseStep> chain{
          {fmt::format("client {} stores target {}", c.index(), *db.max_target),
           db.max_target_line},
          {fmt::format("client {} stores the lower target {}", c.index(), target), now_line}};
      return fail(
          "target-no-regress", c,
          fmt::format("concrete target {} is below the earlier target {}", target, *db.max_target),
          std::move(inputs), std::move(chain));
    }
  }
  if (!db.max_target || target > *db.max_target) {
    db.max_target = target;
    db.max_target_line = trace_.lines();
  }
  // Only updateLocalTarget's target is followed by completed_upload (§2.2.4 step 4); the SDK
  // sends none after complete(writeCheckpoint) stores one, and the core reads it at the next line.
  if (db.in_iteration && by != engine::TargetStoredBy::CrudComplete) {
    db.unnotified_target = target;
    db.unnotified_target_line = trace_.lines();
  }
}

void ClientInvariants::on_sync_applied(engine::Client& c, std::optional<int64_t> applied_id) {
  auto& db = databases_[c.index()];
  if (applied_id && (!db.max_applied || *applied_id > *db.max_applied)) {
    db.max_applied = applied_id;
    db.max_applied_line = trace_.lines();
  }
  if (applied_id && verdicts_.enabled("applied-id-monotonic")) {
    verdicts_.checked("applied-id-monotonic");
    if (db.connection_applied && *applied_id < *db.connection_applied) {
      const uint64_t now_line = trace_.lines();
      std::vector<sim::ViolationInput> inputs{
          {"applied id now", std::to_string(*applied_id),
           fmt::format("the request id of the checkpoint client {} applied now", c.index()),
           now_line},
          {"applied id before", std::to_string(*db.connection_applied),
           "the request id of the previous apply on this connection", db.connection_applied_line}};
      std::vector<sim::CauseStep> chain;
      if (db.connection_start_line > 0) {
        chain.push_back({fmt::format("client {} starts a sync iteration (connection)", c.index()),
                         db.connection_start_line});
      }
      chain.push_back({fmt::format("client {} applies a checkpoint with request id {}", c.index(),
                                   *db.connection_applied),
                       db.connection_applied_line});
      chain.push_back({fmt::format("client {} applies a checkpoint with the lower request id {}",
                                   c.index(), *applied_id),
                       now_line});
      return fail("applied-id-monotonic", c,
                  fmt::format("applied request id {} after {} on the same connection", *applied_id,
                              *db.connection_applied),
                  std::move(inputs), std::move(chain));
    }
    db.connection_applied = applied_id;
    db.connection_applied_line = trace_.lines();
  }
  check_position(c, ReadMoment::AfterApply);
}

bool ClientInvariants::renamed_before_apply(engine::Client& c, const DatabaseState& db) const {
  const int64_t shown_position = db.shown_position;
  // After a sync-config reprocessing the new instance's buckets have new names
  // ("<id>#<name>", docs/protocol.md §3.4).  The core deletes the buckets a checkpoint no
  // longer lists when that checkpoint arrives, before it may apply it (the gate may hold it:
  // local data pending), but it removes their rows only at the next sync_local.  Until then
  // ps_buckets holds only the new instance's buckets, none applied, so max(last_applied_op)
  // reads 0 while the database shows the same rows as before.  Narrow on purpose: every
  // bucket must belong to an instance other than the one whose op was shown; a database
  // that reverts (power loss) to the shown instance's buckets is still judged.  No bucket at
  // all is the same state before the new instance's first data line (the checkpoint line
  // deletes the old buckets; the new ones are created by data, docs/protocol.md §1.3.4; world
  // hunt seed 2759, docs/findings-world.md W25), unless a power loss since the shown read could
  // have reverted the file.
  if (shown_position == 0 || service_.sync_rules_instances() < 2) return false;
  const auto shown_cp = service_.checkpoint_of(shown_position);
  if (!shown_cp) return false;
  const auto buckets = c.bucket_checksums();
  if (buckets.empty()) {
    return db.reverting_loss_line <= db.shown_line &&
           service_.active_sync_rules_id() != shown_cp->sync_rules_id;
  }
  return std::ranges::none_of(buckets, [&](const auto& b) {
    return model::Service::bucket_version(b.first) == shown_cp->sync_rules_id;
  });
}

bool ClientInvariants::cleared_before_apply(engine::Client& c) {
  // A CLEAR op on a data line resets its bucket's last_applied_op as it is stored, before any
  // apply (docs/protocol.md §1.3.4), while the rows the database shows stay as they were until
  // the next apply (a closed gate may hold it for long): max(last_applied_op) then reads lower
  // than what is shown (world hunt seed 1901, docs/findings-world.md W19).  Such a bucket reads
  // last_applied_op 0 with ops received.
  for (const auto& [name, b] : c.bucket_checksums()) {
    const auto unapplied = c.bucket_unapplied(name);
    if (b.last_op > 0 && unapplied && *unapplied == b.last_op) return true;
  }
  return false;
}

void ClientInvariants::check_position(engine::Client& c, ReadMoment moment) {
  if (!verdicts_.enabled("monotonic-reads")) return;
  const char* when = moment_name(moment);
  const bool at_iteration_start = moment == ReadMoment::AtIterationStart;
  verdicts_.checked("monotonic-reads");
  auto& db = databases_[c.index()];
  const int64_t position = c.applied_position();
  if (db.shown_user != c.user()) {
    // Another user's buckets are another view of the service, with no order to the previous
    // user's: a switch_user starts a new floor, as target-no-regress's, and the rows a reopened
    // database shows before its first apply are still the previous user's (no clear), not a
    // state of this user's (docs/findings-world.md W35).
    db.previous_users_rows = !db.shown_user.empty();
    db.shown_user = c.user();
    db.shown_position = 0;
  }
  if (db.previous_users_rows) {
    if (at_iteration_start) return;
    db.previous_users_rows = false;
  }
  if (position == 0 && renamed_before_apply(c, db)) {
    // The rows it shows are still those of the checkpoint it showed: nothing to judge, and
    // the next applied checkpoint (of the new instance) is compared by LSN below.
    return;
  }
  // Across a sync-config reprocessing op ids of the two sync-rules instances interleave in
  // one sequence, unordered by source position: there the checkpoints' LSNs decide
  // (docs/protocol.md §3.4 "Sync config reprocessing").
  bool older = position < db.shown_position;
  // Only where nothing was applied (an iteration start) and no power loss that may undo commits
  // came since the read it is compared with (a reverted file is what fsync-lies shows; an
  // honest disk keeps the stored CLEAR and the rows, docs/findings-world.md W37); the next
  // apply is judged.
  if (older && at_iteration_start && db.reverting_loss_line <= db.shown_line &&
      cleared_before_apply(c)) {
    return;  // shown_position kept: the next applied checkpoint is compared with it
  }
  std::string across;  // set when two instances' checkpoints were compared by LSN
  if (service_.sync_rules_instances() > 1 && position != db.shown_position) {
    const auto now_cp = service_.checkpoint_of(position);
    const auto shown_cp = service_.checkpoint_of(db.shown_position);
    if (now_cp && shown_cp && now_cp->sync_rules_id != shown_cp->sync_rules_id) {
      older = now_cp->lsn < shown_cp->lsn;
      across =
          fmt::format(" (sync rules {} at lsn {} after sync rules {} at lsn {})",
                      now_cp->sync_rules_id, now_cp->lsn, shown_cp->sync_rules_id, shown_cp->lsn);
    }
  }
  if (older) {
    const uint64_t now_line = trace_.lines();
    std::vector<sim::ViolationInput> inputs{
        {"position now", std::to_string(position),
         fmt::format("max(last_applied_op) in ps_buckets of client {}, read {}", c.index(), when),
         now_line},
        {"position shown before", std::to_string(db.shown_position),
         fmt::format("the same read, {}", db.shown_when), db.shown_line}};
    std::vector<sim::CauseStep> chain{{fmt::format("client {} shows server state up to op {} ({})",
                                                   c.index(), db.shown_position, db.shown_when),
                                       db.shown_line}};
    if (db.power_loss_line > db.shown_line) {
      chain.push_back({fmt::format("power loss of client {}: the database reverts to what its "
                                   "disk made durable",
                                   c.index()),
                       db.power_loss_line});
    }
    chain.push_back(
        {fmt::format("client {} shows state up to op {} only ({})", c.index(), position, when),
         now_line});
    return fail("monotonic-reads", c,
                fmt::format("{}: the database shows server state up to op {}, older than "
                            "op {} it showed before{}",
                            when, position, db.shown_position, across),
                std::move(inputs), std::move(chain));
  }
  if (position > db.shown_position) {
    db.shown_line = trace_.lines();
    db.shown_when = when;
  }
  db.shown_position = position;
}

void ClientInvariants::on_control(engine::Client& c, const std::string& op,
                                  const std::optional<std::string>& /*payload*/,
                                  const std::optional<std::string>& result) {
  auto& db = databases_[c.index()];
  if (op == "target_checkpoint_request_id") {
    judge_gate(c, op, true);  // the SDK's own target write (upload, updateLocalTarget)
  } else if (op != "next_checkpoint_request_id" && op != "current_checkpoint_request_id" &&
             op != "seed_checkpoint_request_id" && op != "subscriptions") {
    judge_gate(c, op == "line_text" || op == "line_binary" ? "a sync line" : op, false);
    if (verdicts_.first()) return;
  }
  if (op == "start") {
    db.connection_applied.reset();  // start clears the applied signal (docs/protocol.md §2.3.1)
    db.connection_start_line = trace_.lines();
    db.in_iteration = true;
    db.unnotified_target.reset();  // a new life or iteration: nothing queued yet
    check_position(c, ReadMoment::AtIterationStart);
  } else if (op == "stop") {
    db.connection_applied.reset();
    db.in_iteration = false;
    db.unnotified_target.reset();  // the iteration's event queue is dropped with it
  } else if (op == "completed_upload") {
    if (db.unnotified_target && verdicts_.enabled("completed-upload-notified")) {
      verdicts_.checked("completed-upload-notified");  // judged, and it held
    }
    db.unnotified_target.reset();
  } else if ((op == "line_text" || op == "line_binary") && db.unnotified_target &&
             verdicts_.enabled("completed-upload-notified")) {
    verdicts_.checked("completed-upload-notified");
    const uint64_t now_line = trace_.lines();
    std::vector<sim::ViolationInput> inputs{
        {"target stored", std::to_string(*db.unnotified_target),
         fmt::format("the target client {} stored during this iteration", c.index()),
         db.unnotified_target_line},
        {"completed_upload since", "none", "the control calls of this iteration after the target",
         db.unnotified_target_line},
        {"next call", op, "the control call handling the next sync line", now_line}};
    std::vector<sim::CauseStep> chain{
        {fmt::format("client {} starts a sync iteration", c.index()), db.connection_start_line},
        {fmt::format("client {} stores target {} while the iteration runs", c.index(),
                     *db.unnotified_target),
         db.unnotified_target_line},
        {fmt::format("the iteration handles a sync line ({}) before any completed_upload", op),
         now_line}};
    return fail("completed-upload-notified", c,
                fmt::format("target {} was stored during this iteration but the next sync line "
                            "was handled before any completed_upload: a checkpoint the gate "
                            "withheld waits for a later line",
                            *db.unnotified_target),
                std::move(inputs), std::move(chain));
  } else if (op == "next_checkpoint_request_id") {
    auto id = parse_int(result);
    if (!id || !verdicts_.enabled("request-id-monotonic")) return;
    verdicts_.checked("request-id-monotonic");
    if (db.clear_floor_deletions && record_deleted_since(key_of(c), *db.clear_floor_deletions)) {
      // Since the clear the service record was the counter's only memory, and it was deleted
      // (a delete_request fault, retention): the seed legitimately restarts from what the
      // service holds now (docs/invariants.md, request-id-monotonic).
      db.max_allocated = service_.checkpoints().stored_id(key_of(c));
      db.max_allocated_line = trace_.lines();
    }
    db.clear_floor_deletions.reset();
    if (db.max_allocated && *id <= *db.max_allocated) {
      const uint64_t now_line = trace_.lines();
      std::vector<sim::ViolationInput> inputs{
          {"allocated id", std::to_string(*id),
           fmt::format("next_checkpoint_request_id of client {}", c.index()), now_line},
          {"floor", std::to_string(*db.max_allocated),
           "the highest id allocated before, or held by the service record at a clear",
           db.max_allocated_line}};
      std::vector<sim::CauseStep> chain{
          {fmt::format("client {} allocates (or the service holds) request id {}", c.index(),
                       *db.max_allocated),
           db.max_allocated_line},
          {fmt::format("client {} allocates request id {} again or lower", c.index(), *id),
           now_line}};
      return fail("request-id-monotonic", c,
                  fmt::format("allocated request id {} but id {} was allocated (or held by "
                              "the service) before",
                              *id, *db.max_allocated),
                  std::move(inputs), std::move(chain));
    }
    db.max_allocated = id;
    db.max_allocated_line = trace_.lines();
  }
}

void ClientInvariants::on_cleared(engine::Client& c) {
  // docs/protocol.md §2.1.9, §2.3.4: ps_kv and ps_crud are wiped; the counter restarts, so the
  // floor is what the service still holds for the key (docs/protocol.md §3.2.2).
  auto& db = databases_[c.index()];
  db.max_allocated = service_.checkpoints().stored_id(key_of(c));
  db.max_allocated_line = trace_.lines();
  db.clear_floor_deletions = service_.checkpoints().deletions(key_of(c));
  db.max_target.reset();
  db.connection_applied.reset();
  db.unnotified_target.reset();
  db.shown_position = 0;  // a hard clear empties ps_buckets too
  db.max_applied.reset();
  judge_gate(c, "disconnectAndClear", true);
  // Writes not yet applied by the backend were deleted with ps_crud: exempt from
  // no-lost-writes (docs/invariants.md §1).  Those already applied need no further check.
  db.exempt_writes += db.writes.size();
  db.writes.clear();
}

bool ClientInvariants::judge_no_lost_writes(const std::vector<engine::Client*>& clients) {
  if (!verdicts_.enabled("no-lost-writes")) return true;
  verdicts_.checked("no-lost-writes");
  for (auto* c : clients) {
    auto& db = databases_[c->index()];
    // What the backend applied for this database, per row: the values written and the
    // number of deletes (each write's value is unique per client; deletes carry none).
    std::map<model::RowKey, std::vector<std::string>> values;
    std::map<model::RowKey, std::size_t> deletes;
    for (const auto& u : service_.backend().log()) {
      if (u.client_id != c->client_id()) continue;
      for (const auto& ch : u.changes) {
        if (!ch.after) {
          ++deletes[ch.key];
        } else if (auto v = description_of(ch.after->data)) {
          values[ch.key].push_back(*v);
        }
      }
    }
    std::map<model::RowKey, std::size_t> local_deletes;
    for (const auto& w : db.writes) {
      bool applied = false;
      if (!w.value) {
        applied = ++local_deletes[w.key] <= deletes[w.key];
      } else {
        const auto& vs = values[w.key];
        applied = std::find(vs.begin(), vs.end(), *w.value) != vs.end();
      }
      if (!applied) {
        const uint64_t now_line = trace_.lines();
        const auto& vs = values[w.key];
        std::string backend_values;
        for (std::size_t i = 0; i < vs.size() && i < 5; ++i) {
          backend_values += (i ? ", '" : "'") + vs[i] + "'";
        }
        if (vs.size() > 5) backend_values += fmt::format(", ... {} more", vs.size() - 5);
        std::vector<sim::ViolationInput> inputs{
            {"local write",
             fmt::format("#{} {}/{} = {}", w.seq, w.key.table, w.key.id,
                         w.value ? "'" + *w.value + "'" : "delete"),
             fmt::format("the committed local write of client {}", c->index()), w.line},
            {"backend values", backend_values.empty() ? "none" : backend_values,
             fmt::format("the backend's apply log for {}/{} from client {} after quiesce",
                         w.key.table, w.key.id, c->client_id()),
             now_line},
            {"ps_crud left", std::to_string(c->crud_count()),
             fmt::format("ps_crud of client {} after quiesce", c->index()), now_line}};
        std::vector<sim::CauseStep> chain{
            {fmt::format("client {} commits local write #{}", c->index(), w.seq), w.line},
            {fmt::format("after quiesce the backend never applied it ({} ps_crud entries left)",
                         c->crud_count()),
             now_line}};
        fail("no-lost-writes", *c,
             fmt::format("local write #{} ({}/{} = {}) committed but never applied by the "
                         "backend after quiesce ({} ps_crud entries left)",
                         w.seq, w.key.table, w.key.id, w.value ? "'" + *w.value + "'" : "delete",
                         c->crud_count()),
             std::move(inputs), std::move(chain));
        return false;
      }
    }
  }
  return true;
}

}  // namespace syncsim::scenarios
