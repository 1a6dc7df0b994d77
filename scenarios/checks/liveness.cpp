#include "scenarios/checks/liveness.hpp"

#include "engine/js/js_real_client.hpp"

#include "scenarios/checks/violation.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

namespace syncsim::scenarios {

namespace {
using engine::kMaxOpId;

std::string secs(sim::Micros t) { return fmt::format("{:.3f}s", (t - sim::kEpoch) / 1e6); }
std::string show(std::optional<int64_t> v) { return v ? std::to_string(*v) : "none"; }

// Formats only when the text is wanted: a judgement needs only whether the gate is closed and
// whether a path exists (an empty string still counts as a path).
struct Say {
  bool on = true;
  template <class... A>
  std::string operator()(fmt::format_string<A...> f, A&&... a) const {
    return on ? fmt::format(f, std::forward<A>(a)...) : std::string();
  }
  // A time for the text: its arguments are built before say() decides, so not for a yes/no.
  [[nodiscard]] std::string secs(sim::Micros t) const {
    return on ? scenarios::secs(t) : std::string();
  }
};

// The service's record for the key against the target: its class, its description, and
// whether it is itself a path (the service holds >= target and will emit it).
struct RecordState {
  std::string cls;
  std::string text;
  std::optional<std::string> path;
};

RecordState record_state(const std::string& key, int64_t target, model::Service& service,
                         const Say& say) {
  const auto& store = service.checkpoints();
  const auto stored = store.stored_id(key);
  // A stored 2^63-1 (a foreign installation's id, answered to this client as its target) is
  // a concrete id equal to the sentinel: the stream emits it and the gate reopens at it
  // (docs/findings-world.md W29), so it is judged like any record >= the target.
  if (target == kMaxOpId && stored != kMaxOpId) {
    return {"target-max",
            say("target MAX after an upload, no concrete id stored (record {})", show(stored)),
            std::nullopt};
  }
  if (service.config().write_checkpoint_mode == model::WriteCheckpointMode::Custom) {
    // Custom mode (docs/protocol.md §3.1.10): the backend's counter in the source table is
    // replicated into the custom record the stream emits.  A sync config change starts a new
    // record, which its snapshot fills from this row (docs/protocol.md §3.1.10).
    auto row = service.source().row(model::RowKey{model::kCustomCheckpointTable, key});
    const int64_t counter = row ? model::custom_checkpoint_of(row->data) : 0;
    if (counter < target) {
      return {"custom-below-target", say("custom write checkpoint {} < target {}", counter, target),
              std::nullopt};
    }
    const auto& repl = service.replication();
    if (repl.stalled_forever()) {
      return {"custom-unreplicated",
              "custom write checkpoint written, replication stalled for good", std::nullopt};
    }
    return {"custom-not-emitted", say("custom write checkpoint {} >= target", counter),
            say("replication carries custom write checkpoint {} to the stream", counter)};
  }
  if (!stored) {
    if (auto d = service.deletion_of(key)) {
      return {"record-deleted",
              say("record absent: deleted by {} at {}", d->cause, say.secs(d->at)), std::nullopt};
    }
    return {"record-absent", "record absent: never created", std::nullopt};
  }
  if (*stored < target) {
    return {"record-below-target", say("record id {} < target {}", *stored, target), std::nullopt};
  }
  // The max-id document decides what the stream will report (docs/protocol.md §3.1.7, §3.1.9).
  const auto* docs = store.find(key);
  const model::CheckpointRecord* best = nullptr;
  for (const auto& d : *docs) {
    if (!best || d.id > best->id) best = &d;
  }
  const auto& repl = service.replication();
  const bool pending = store.flavour() == model::StorageFlavour::Mongo
                           ? !best->processed_at_lsn
                           : best->head > repl.replicated_lsn();
  if (pending) {
    const bool heals = !repl.stalled_forever();
    return {"pending-unreplicated",
            say("record id {} >= target pending at head {}, not yet replicated "
                "(replication at lsn {}{})",
                best->id, best->head, repl.replicated_lsn(),
                repl.stalled_forever() ? ", stalled for good"
                : repl.stalled()       ? ", stalled until a fault heals"
                                       : say(", lag {} ms", repl.lag() / sim::kMillis)),
            heals ? std::optional<std::string>(
                        say("the service holds id {} and emits it once replication passes head {}",
                            best->id, best->head))
                  : std::nullopt};
  }
  // Mongo emits a processed record on an open connection only if it was processed after the
  // connection's last checkpoint LSN (docs/protocol.md §3.1.9): say where it was processed,
  // and when that is at or below every open connection's window, that only a new connection's
  // initial lookup emits it (findings-world.md W39, W41).
  const std::string where =
      best->processed_at_lsn ? say(" (processed at lsn {})", *best->processed_at_lsn) : "";
  std::string path = say("the service holds id {} and will emit it", best->id);
  if (say.on && best->processed_at_lsn) {
    const auto window = service.storage().write_checkpoint_window_start(key);
    if (window && *best->processed_at_lsn <= *window) {
      path = fmt::format(
          "the service holds id {}, but the open connection's change window starts after lsn {}: "
          "only a new connection's initial lookup (or a change feed over 1000 records) emits it",
          best->id, *window);
    }
  }
  return {"record-not-emitted",
          say("record id {} >= target, replicated{}, not yet applied", best->id, where), path};
}

// The port's paths to reopen (see liveness.hpp), read from its SDK state, in the order the
// explanation names them.
void port_paths(const engine::Client& c, bool legacy, int64_t t, const RecordState& record,
                const Say& say, std::vector<std::string>& paths) {
  if (record.path) paths.push_back(*record.path);
  if (c.requests_in_flight() > 0) {
    paths.push_back(say("{} checkpoint request(s) on the wire", c.requests_in_flight()));
  }
  const bool reconnecting = !c.connected();
  if (!legacy) {
    const auto& repost = c.repost_timer();
    const auto applied = c.status_applied_id();
    const auto accepted = c.highest_accepted();
    if (repost && repost->id && (t == kMaxOpId || *repost->id >= t) &&
        !(applied && *applied >= *repost->id) &&
        !(c.repost_stops_when_accepted() && accepted && *accepted >= *repost->id)) {
      paths.push_back(say("the SDK re-posts id {} at {}", *repost->id, say.secs(repost->at)));
    }
    if (t != kMaxOpId) {
      if (reconnecting) {
        paths.push_back("the SDK reconnects and its seed re-posts max(counter, target)");
      } else if (auto exp = c.token_expires_at()) {
        paths.push_back(
            say("the SDK re-posts max(counter, target) at the next reconnect (token expiry at {})",
                say.secs(*exp)));
      }
    }
  }
  if (t == kMaxOpId) {
    if (c.awaiting_write_checkpoint()) {
      paths.push_back(
          "updateLocalTarget awaits its write checkpoint (credentials, then the request)");
    }
    if (c.upload_pending()) paths.push_back("an upload round is running or queued");
    if (c.upload_retry_at()) {
      paths.push_back(say("the upload loop retries at {}", say.secs(*c.upload_retry_at())));
    }
    if (reconnecting) {
      paths.push_back("a reconnect's first line starts an upload round");
    } else if (c.awaiting_first_line()) {
      // Connected, the first line still on its way (docs/findings-world.md W31).
      paths.push_back("the open stream's first line starts an upload round");
    }
  }
}

// A js-real client's paths, read from what its published SDK waits on (docs/invariants.md
// §3.1 "js-real"), never from the port's state.  Any request on the wire and any armed timer
// (the trigger cleanup aside) counts: its answer or its firing may act, so the judgement never
// claims a wedge the SDK would leave; an SDK waiting on nothing, though, is seen at once.
// Returns what the explanation adds when no path is left: what the SDK waits on.
std::string js_real_paths(const engine::js::JsRealClient& js, bool legacy, int64_t t,
                          const RecordState& record, const Say& say, GateExplanation& e) {
  const auto w = js.waiting();
  auto& paths = e.paths;
  e.next_sdk_timer = w.next_timer_at;
  // The service's record reaches the SDK only over a stream it has or will open.
  const bool will_stream =
      w.stream_open || !w.requests.empty() || !w.timers.empty() || !w.app_connected;
  if (record.path && will_stream) paths.push_back(*record.path);
  std::string waits_on =
      say(" ({}{})",
          record.path && !will_stream ? "the service would emit it, but the SDK has no "
                                        "stream and opens none; "
                                      : "",
          js.pending());
  // Legacy updateLocalTarget acts only on target = MAX (docs/protocol.md §2.2): nothing the SDK
  // does reaches a concrete target but the record.
  if (legacy && t != kMaxOpId) return waits_on;
  for (const auto& r : w.requests) paths.push_back(say("the SDK's request {} is answered", r));
  for (const auto& timer : w.timers) paths.push_back(say("the SDK's timer at {} fires", timer));
  if (!w.app_connected) {
    paths.emplace_back("the app connects: the stream's first line starts an upload round");
  } else if (w.first_line_pending) {
    paths.emplace_back("the open stream's first line starts an upload round");
  }
  if (!legacy && t != kMaxOpId && w.stream_open && w.stream_token_expires_at) {
    paths.push_back(say("the stream ends at token expiry ({}) and the SDK's reconnect re-posts",
                        say.secs(*w.stream_token_expires_at)));
  }
  return waits_on;
}
}  // namespace

void register_liveness_invariants(sim::InvariantCatalog& catalog) {
  catalog.add({"no-wedge",
               "a gate closed with an empty upload queue always has a path to reopen (a request "
               "in flight, a record >= target the service will emit, an SDK timer that will "
               "post, a reconnect whose seed re-posts, a service or app that comes back); only a "
               "new local write is no path",
               "scenarios/checks/liveness.cpp after each sync event and fault (once the instant is "
               "over) and after quiesce",
               "mutant stale-write-checkpoint-on-connect (legacy mode)", true});
}

GateExplanation explain_gate(engine::Client& c, model::Service& service, bool text) {
  const Say say{text};
  GateExplanation e;
  const bool legacy = c.checkpoint_mode() == engine::CheckpointMode::Legacy;
  const int64_t crud = c.crud_count();
  const auto target = c.target();
  const auto seen = c.last_seen();
  e.crud = crud > 0;
  e.closed = e.crud || (target && *target > seen.value_or(0));
  // A yes/no needs no key and no text where the class alone answers (issue 20).
  if (!text && (!e.closed || e.crud)) {
    e.cls = e.closed ? "crud-not-uploaded" : "gate-open";
    return e;
  }
  const std::string key = c.user() + "/" + c.client_id();
  const std::string who = say("client {} key {} ({} mode, core {})", c.index(), key,
                              legacy ? "legacy" : "requests", c.core().name);
  if (!e.closed) {
    e.cls = "gate-open";
    e.text = say("{}: gate open (target {}, last_seen {})", who, show(target), show(seen));
    return e;
  }
  if (e.crud) {
    e.cls = "crud-not-uploaded";
    e.text = say("{}: gate closed by {} ps_crud entries not uploaded (upload {}{})", who, crud,
                 c.upload_pending() ? "running" : "idle",
                 c.upload_retry_at() ? ", retry at " + say.secs(*c.upload_retry_at()) : "");
    return e;
  }
  const int64_t t = *target;
  const RecordState record = record_state(key, t, service, say);
  e.cls = record.cls;
  std::string sdk_state;  // a js-real client: what its SDK waits on, for the text
  if (const auto* js = c.js_real()) {
    sdk_state = js_real_paths(*js, legacy, t, record, say, e);
  } else {
    port_paths(c, legacy, t, record, say, e.paths);
  }
  std::string next;
  if (!e.paths.empty()) {
    next = e.paths.front();
  } else if (legacy && t != kMaxOpId) {
    next = "never: legacy updateLocalTarget acts only on target = MAX; waiting for a local write";
  } else {
    next = "never: waiting for a local write";
  }
  e.text = say("{}: gate closed, target {} > last_seen {}; service: {}; SDK next: {}{}", who,
               t == kMaxOpId ? "MAX" : std::to_string(t), show(seen), record.text, next, sdk_state);
  return e;
}

std::string explanation_line(const GateExplanation& e) {
  return fmt::format("{} [class:{}]", e.text, e.cls);
}

LivenessJudge::LivenessJudge(sim::Loop& loop, sim::Trace& trace, model::Service& service,
                             sim::Verdicts& verdicts,
                             std::function<std::vector<engine::Client*>()> live,
                             std::function<engine::Client*(int index)> live_client)
    : loop_(loop),
      trace_(trace),
      service_(service),
      verdicts_(verdicts),
      live_(std::move(live)),
      live_client_(std::move(live_client)) {}

void LivenessJudge::on_control(engine::Client& c, const std::string& op,
                               const std::optional<std::string>& /*payload*/,
                               const std::optional<std::string>& /*result*/) {
  if (op == "line_text" || op == "line_binary" || op == "completed_upload" || op == "start" ||
      op == "stop" || op == "connection") {
    auto& h = history_[c.index()];
    h.event_line = trace_.lines();
    h.event = op;
    schedule(c.index());
  }
}

void LivenessJudge::on_target_set(engine::Client& c, int64_t target, engine::TargetStoredBy) {
  auto& h = history_[c.index()];
  h.target_line = trace_.lines();
  h.target = target;
  schedule(c.index());
}

void LivenessJudge::on_uploaded(engine::Client& c, const nlohmann::json& /*crud*/) {
  history_[c.index()].upload_line = trace_.lines();
  schedule(c.index());
}

void LivenessJudge::after_fault() {
  fault_line_ = trace_.lines();
  for (auto* c : live_()) schedule(c->index());
}

void LivenessJudge::fail(engine::Client& c, const GateExplanation& e, const std::string& message,
                         const std::string& now) {
  auto show = [](std::optional<int64_t> v) {
    return !v ? std::string("none") : *v == kMaxOpId ? std::string("MAX") : std::to_string(*v);
  };
  const uint64_t now_line = trace_.lines();
  const History& h = history_[c.index()];
  const std::string read = fmt::format("client {}'s database, read now", c.index());
  std::vector<sim::ViolationInput> inputs{
      {"target", show(c.target()), "ps_kv target_checkpoint_request_id of " + read,
       h.target_line ? h.target_line : now_line},
      {"last_seen", show(c.last_seen()), "the last write checkpoint validated, " + read, now_line},
      {"ps_crud", std::to_string(c.crud_count()), "ps_crud rows of " + read, now_line},
      {"gate", fmt::format("{} [class:{}]", e.text, e.cls),
       "explain_gate: the service's record for the key and the SDK's next step", now_line},
      {"paths to reopen", e.paths.empty() ? "none" : fmt::format("{}", fmt::join(e.paths, "; ")),
       "explain_gate's paths that exist now", now_line}};
  std::vector<std::pair<uint64_t, std::string>> steps;
  if (h.upload_line)
    steps.emplace_back(h.upload_line, fmt::format("client {}'s last upload", c.index()));
  if (h.target_line) {
    steps.emplace_back(h.target_line,
                       fmt::format("client {} stores target {}", c.index(), show(h.target)));
  }
  if (fault_line_) steps.emplace_back(fault_line_, "the last fault ran");
  if (h.event_line) {
    steps.emplace_back(h.event_line,
                       fmt::format("client {}'s last sync event ({})", c.index(), h.event));
  }
  auto chain = checks::chain_in_trace_order(std::move(steps), now, now_line);
  checks::fail(loop_, trace_, verdicts_, "no-wedge", c.index(), message, std::move(inputs),
               std::move(chain));
}

void LivenessJudge::schedule(int index, std::optional<sim::Micros> at_or_now) {
  if (!verdicts_.enabled("no-wedge") || verdicts_.first()) return;
  // Once every event of this instant has run (docs/invariants.md §1: no same-time events left).
  const sim::Micros at = at_or_now.value_or(loop_.now() + 1);
  auto it = scheduled_.find(index);
  if (it != scheduled_.end() && it->second == at) return;
  scheduled_[index] = at;
  loop_.at(at, [this, index] { judge(index); });
}

void LivenessJudge::judge(int index) {
  if (verdicts_.first() || loop_.stopped()) return;
  engine::Client* live = live_client_(index);
  if (live == nullptr) return;  // the app is down: it restarts (a path)
  engine::Client& c = *live;
  if (c.closed()) return;
  verdicts_.checked("no-wedge");
  // A yes/no first; the text only for a failure.
  if (const GateExplanation v = explain_gate(c, service_, false);
      !v.closed || v.crud || !v.paths.empty()) {
    // A js-real SDK's armed timer may be its only path, and a timer that changes nothing
    // leaves no event: judge again once the earliest one fired.
    if (v.next_sdk_timer && *v.next_sdk_timer >= loop_.now()) {
      schedule(index, *v.next_sdk_timer + 1);
    }
    return;
  }
  const GateExplanation e = explain_gate(c, service_);
  if (loop_.now() < service_.down_until()) return;  // the service comes back
  const std::string message = "no path reopens the gate: " + explanation_line(e);
  fail(c, e, message,
       fmt::format("the gate of client {} is closed with an empty upload queue and no path "
                   "reopens it",
                   index));
}

bool LivenessJudge::judge_after_quiesce(const std::vector<engine::Client*>& clients) {
  if (!verdicts_.enabled("no-wedge")) return true;
  verdicts_.checked("no-wedge");
  for (auto* c : clients) {
    const GateExplanation e = explain_gate(*c, service_);
    if (!e.closed || e.crud) continue;
    const std::string message =
        "after quiesce the gate is still closed with an empty upload "
        "queue: " +
        explanation_line(e);
    fail(*c, e, message,
         fmt::format("after quiesce the gate of client {} is still closed", c->index()));
    return false;
  }
  return true;
}

}  // namespace syncsim::scenarios
