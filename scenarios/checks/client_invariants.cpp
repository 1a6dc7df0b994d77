#include "scenarios/checks/client_invariants.hpp"

#include "scenarios/checks/violation.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "scenarios/checks/cross_checks.hpp"

namespace syncsim::scenarios {

namespace {
constexpr int64_t kMaxOpId = INT64_MAX;

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
               "a concrete target never decreases over the database's life, except after "
               "disconnectAndClear, and in legacy mode after the key's record was deleted or "
               "a switch_user moved the database to another key's generated ids",
               "scenarios/checks/client_invariants.cpp on every concrete target the SDK stores",
               "mutant seed-from-one (with delete_request)", false});
  catalog.add({"monotonic-reads",
               "a client never shows a server state older than one it showed (highest "
               "last_applied_op, read after applies and at every iteration start)",
               "scenarios/checks/client_invariants.cpp after DidCompleteSync and at start",
               "mutant vfs-loses-synced-writes (with power_loss)", false});
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
  if (own_action || !was_open || open) return;
  verdicts_.checked("gate-never-recloses");
  auto show = [](std::optional<int64_t> v) { return v ? std::to_string(*v) : std::string("none"); };
  fail("gate-never-recloses", c,
       fmt::format("the gate was open and {} closed it without any action of the client "
                   "(target {}, last_seen {}, ps_crud {}): a checkpoint lowered last_seen below "
                   "the target",
                   op, show(c.target()), show(c.last_seen()), c.crud_count()));
}

void ClientInvariants::on_power_loss(int index, uint64_t trace_line) {
  databases_[index].gate_open.reset();
  databases_[index].power_loss_line = trace_line;  // the world's "power loss" line
}

void ClientInvariants::on_wait_resolved(engine::Client& c, int64_t id) {
  if (!verdicts_.enabled("wait-for-sync-keeps-promise")) return;
  verdicts_.checked("wait-for-sync-keeps-promise");
  const auto& db = databases_[c.index()];
  if (db.max_applied && *db.max_applied >= id) return;
  fail("wait-for-sync-keeps-promise", c,
       fmt::format("waitForSync({}) resolved, but the highest applied request id is {} "
                   "(last_seen {}): the checkpoint was not applied",
                   id, db.max_applied ? std::to_string(*db.max_applied) : "none",
                   c.last_seen() ? std::to_string(*c.last_seen()) : "none"));
}

void ClientInvariants::on_local_write(engine::Client& c, const engine::LocalWrite& w) {
  judge_gate(c, "local write", true);
  if (!w.changed) return;  // nothing was queued for upload
  databases_[c.index()].writes.push_back(PendingWrite{{w.table, w.id}, w.description, w.seq});
}

void ClientInvariants::on_target_set(engine::Client& c, int64_t target) {
  judge_gate(c, "stored target", true);
  if (target == kMaxOpId) return;  // MAX is the "unknown" marker, not a concrete target
  auto& db = databases_[c.index()];
  const std::string key = key_of(c);
  const uint64_t deletions = service_.checkpoints().deletions(key);
  if (c.checkpoint_mode() == engine::CheckpointMode::Legacy &&
      (deletions != db.record_deletions || key != db.target_key)) {
    // Legacy targets are the service's generated ids of one key: the counter was lost with
    // the record, or a switch_user moved the database to another user's key and counter.
    db.max_target.reset();
  }
  db.record_deletions = deletions;
  db.target_key = key;
  if (verdicts_.enabled("target-no-regress")) {
    verdicts_.checked("target-no-regress");
    if (db.max_target && target < *db.max_target) {
      return fail(
          "target-no-regress", c,
          fmt::format("concrete target {} is below the earlier target {}", target, *db.max_target));
    }
  }
  if (!db.max_target || target > *db.max_target) db.max_target = target;
  if (db.in_iteration) db.unnotified_target = target;
}

void ClientInvariants::on_sync_applied(engine::Client& c, std::optional<int64_t> applied_id) {
  auto& db = databases_[c.index()];
  if (applied_id && (!db.max_applied || *applied_id > *db.max_applied)) db.max_applied = applied_id;
  if (applied_id && verdicts_.enabled("applied-id-monotonic")) {
    verdicts_.checked("applied-id-monotonic");
    if (db.connection_applied && *applied_id < *db.connection_applied) {
      return fail("applied-id-monotonic", c,
                  fmt::format("applied request id {} after {} on the same connection", *applied_id,
                              *db.connection_applied));
    }
    db.connection_applied = applied_id;
  }
  check_position(c, "after an applied checkpoint");
}

void ClientInvariants::check_position(engine::Client& c, const char* when) {
  if (!verdicts_.enabled("monotonic-reads")) return;
  verdicts_.checked("monotonic-reads");
  auto& db = databases_[c.index()];
  const int64_t position = c.applied_position();
  if (position < db.shown_position) {
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
                            "op {} it showed before",
                            when, position, db.shown_position),
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
    db.in_iteration = true;
    db.unnotified_target.reset();  // a new life or iteration: nothing queued yet
    check_position(c, "at iteration start");
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
    return fail("completed-upload-notified", c,
                fmt::format("target {} was stored during this iteration but the next sync line "
                            "was handled before any completed_upload: a checkpoint the gate "
                            "withheld waits for a later line",
                            *db.unnotified_target));
  } else if (op == "next_checkpoint_request_id") {
    auto id = parse_int(result);
    if (!id || !verdicts_.enabled("request-id-monotonic")) return;
    verdicts_.checked("request-id-monotonic");
    if (db.max_allocated && *id <= *db.max_allocated) {
      return fail("request-id-monotonic", c,
                  fmt::format("allocated request id {} but id {} was allocated (or held by "
                              "the service) before",
                              *id, *db.max_allocated));
    }
    db.max_allocated = id;
  }
}

void ClientInvariants::on_cleared(engine::Client& c) {
  // docs/protocol.md §2.1.9, §2.3.4: ps_kv and ps_crud are wiped; the counter restarts, so the
  // floor is what the service still holds for the key (docs/protocol.md §3.2.2).
  auto& db = databases_[c.index()];
  db.max_allocated = service_.checkpoints().stored_id(key_of(c));
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
        fail("no-lost-writes", *c,
             fmt::format("local write #{} ({}/{} = {}) committed but never applied by the "
                         "backend after quiesce ({} ps_crud entries left)",
                         w.seq, w.key.table, w.key.id, w.value ? "'" + *w.value + "'" : "delete",
                         c->crud_count()));
        return false;
      }
    }
  }
  return true;
}

}  // namespace syncsim::scenarios
