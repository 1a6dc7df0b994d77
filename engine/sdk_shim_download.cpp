// The SDK shim's download loop (docs/protocol.md §2.1.3): iterations, the event pump, the seed
// and the core's instructions.

// GCC 12+ false positive on Asio's awaitable frame operator delete (as in
// engine/js/js_real_client.cpp); it appeared here when sim::HttpRequest grew its `accept` member.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cassert>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/control_reply.hpp"
#include "engine/sdk_shim.hpp"
#include "engine/sdk_shim_internal.hpp"
#include "engine/sync_line.hpp"

namespace syncsim::engine {

using namespace shim_detail;  // NOLINT(google-build-using-namespace): the shim's own helpers

namespace {

// docs/protocol.md §2.1.6 "Which SDKs ask for BSON": the SDK a core pairs with sends the
// BSON-first accept (2.3.0 on 0.5.x; 1.54.0, @powersync/node 0.18.x, on 0.4.12) or none (1.47.0
// on 0.4.11, 1.43.1 on 0.4.6 post their stream without one and get NDJSON).
bool sdk_asks_for_bson(SdkBehaviour sdk, const CoreVersion& core) {
  if (sdk != SdkBehaviour::JsLegacy) return true;
  int major = 0;
  int minor = 0;
  int patch = 0;
  if (std::sscanf(core.name.c_str(), "%d.%d.%d", &major, &minor, &patch) != 3) return false;
  return major > 0 || minor > 4 || (minor == 4 && patch >= 12);
}

// The stream's POST while it is in flight (receiveSyncLines' openInner): the iteration serves
// injected events meanwhile; an iteration that ended first abandons it.
struct StreamOpening {
  bool done = false;
  bool requesting = false;  // the request is built (credentials in hand): the fetch is out
  // The fetch's: fired when the iteration ends before the response (the iteration abandoned it).
  sim::AbortSignal abort;
  sim::Link::StreamOpen open;
  std::exception_ptr error;
  sim::Notifier ready;
};

}  // namespace

// ---------------------------------------------------------------------------------
// download loop (docs/protocol.md §2.1.3)

void Client::mark_disconnected() {
  // markAsDisconnected spreads the core's status with connected/connecting false: it keeps
  // internal_last_applied_checkpoint_request_id until a status from the core (`stop`) clears it
  // (fidelity review item 16; docs/protocol.md §2.3.1).
  connected_ = false;
  connecting_ = false;
  status_changed();
}

sim::Task<void> Client::delay_retry(sim::Micros delay, sim::AbortSignal* nested, bool resume) {
  // delayRetry resolves at once for an already aborted signal, before it draws its jitter
  // (@powersync/shared-internals 1.3.0 AbstractStreamingSyncImplementation.js delayRetry).
  if (outer_->aborted() || (nested && nested->aborted())) co_return;
  auto waiter = waiter_;  // this generation's notifier (quirk §2.7.2)
  co_await sim::wait_for(loop_, sdk_timer_deadline(sdk_jitter(delay)), outer_.get(), nested,
                         resume ? waiter.get() : nullptr);
}

sim::Task<void> Client::download_loop() {
  while (!outer_->aborted()) {
    bool should_delay = true;
    bool immediate_restart = false;
    try {
      immediate_restart = co_await iteration();
    } catch (const std::exception& e) {
      if (outer_->aborted()) {
        should_delay = false;
      } else {
        download_error_ = e.what();
        status_changed();
        ++stats_.download_errors;
        trace_.log(name_, "download error: {}", e.what());
      }
    }
    // finally
    download_iteration_ended();
    events_.reset();
    if (!outer_->aborted()) {
      nested_->abort("Closing sync stream network requests before retry.");
      nested_ = std::make_shared<sim::AbortSignal>();
    }
    if (!immediate_restart) {
      mark_disconnected();
      if (should_delay) {
        phase_ = "retry delay";
        co_await delay_retry(options_.retry_delay, nested_.get(), true);
      }
    }
  }
  phase_ = "disconnected";
}

std::string Client::start_payload() const {
  nlohmann::json start = {{"parameters", nlohmann::json::object()},
                          {"app_metadata", nlohmann::json::object()},
                          {"active_streams", active_streams()},
                          {"include_defaults", true},
                          {"schema", nlohmann::json::parse(schema_json(options_.stream_tables))}};
  // Old SDKs predate checkpoint modes (0.4.x ignores the field anyway, docs/protocol.md §2.4.1).
  if (options_.sdk == SdkBehaviour::Js130) {
    start["checkpoint_mode"] = checkpoint_mode_name(options_.checkpoint_mode);
  }
  return start.dump();
}

sim::Task<bool> Client::iteration() {
  ++stats_.iterations;
  phase_ = "starting iteration";
  auto nested = nested_;
  // requireKeyFormat(true) (docs/protocol.md §2.1.3)
  if (const Database::SdkSql sdk(db());
      !db().query_text("SELECT value FROM ps_kv WHERE key = 'powersync_js_migrated_subkeys'")) {
    db().begin();
    db().exec("UPDATE ps_oplog SET key = powersync_remove_duplicate_key_encoding(key)");
    db().exec(
        "INSERT OR REPLACE INTO ps_kv(key, value) VALUES ('powersync_js_migrated_subkeys', '1')");
    db().commit();
    db().take_touched();
  }
  if (has_mutant(EngineMutant::ResetTargetOnReconnect)) reset_stale_target();
  std::optional<nlohmann::json> request;
  auto events = std::make_shared<sim::Queue<Event>>();
  std::optional<std::string> seed_id;
  for (auto& i : control("start", start_payload())) {
    if (i.contains("EstablishSyncStream")) {
      request = i["EstablishSyncStream"]["request"];
      const auto& est = i["EstablishSyncStream"];
      if (est.contains("checkpoint_request")) {
        // The seed runs concurrently with line handling (docs/protocol.md §2.1.4).
        seed_id = est["checkpoint_request"]["checkpoint_request_id"];
        if (has_mutant(EngineMutant::SeedFromOne)) seed_id = "1";
      }
    } else if (i.contains("CloseSyncStream")) {
      control("stop", std::nullopt);
      co_return false;
    } else {
      handle_instruction(i);
    }
  }
  if (!request) {
    control("stop", std::nullopt);
    co_return false;
  }
  events_ = events;
  source_fetch_in_flight_ = false;
  bool immediate_restart = false;
  std::exception_ptr error;
  std::shared_ptr<sim::ClientStream> stream;
  auto opening = std::make_shared<StreamOpening>();
  try {
    phase_ = "opening stream";
    // The stream's open is the first pull of the SDK's injectable(receiveSyncLines(...))
    // (@powersync/shared-internals 1.3.0 AbstractStreamingSyncImplementation.js
    // rustSyncIteration, receiveSyncLines openInner; docs/protocol.md §2.1.4 "Event pump"):
    // injected events (update_subscriptions, completed_upload, a refreshed token, the seed's
    // error) are served while the POST is in flight, and may end the iteration before the
    // response (`syncsim diff` stream-churn, docs/sdk-diff.md "Session js14").  The open
    // starts before the seed: the SDK's stream request leaves first (fewer awaits before its
    // fetch), as it did when the port awaited it here.
    loop_.spawn(
        [](Client* self, std::string body, std::shared_ptr<StreamOpening> o,
           std::shared_ptr<sim::AbortSignal> nested_signal,
           std::shared_ptr<sim::AbortSignal> outer_signal) -> sim::Task<void> {
          try {
            // Requests are built outside the co_await expression: g++ 12 miscompiles
            // aggregate temporaries there.
            sim::HttpRequest http = co_await self->build_request("POST", "/sync/stream", body);
            // fetchStreamRaw checks its signal once the credentials are in hand and sends
            // nothing when it was aborted meanwhile (docs/protocol.md §2.1.4 "Event pump"): a
            // disconnect, or an iteration that ended first, opens no stream at the service.
            if (o->abort.aborted() || nested_signal->aborted() || outer_signal->aborted()) {
              throw sim::Aborted("Abort request received before making fetchStreamRaw request");
            }
            // fetchStreamRaw's accept; the response's content type decides how lines reach
            // the core.
            if (sdk_asks_for_bson(self->options_.sdk, self->core_)) {
              http.accept = kBsonFirstAccept;
            }
            o->requesting = true;
            o->ready.notify();
            o->open = co_await self->link_.open_stream(std::move(http), &o->abort);
          } catch (...) {
            o->error = std::current_exception();
          }
          o->done = true;
          if (o->abort.aborted() && o->open.stream) o->open.stream->close();
          o->ready.notify();
        }(this, request->dump(), opening, nested, outer_),
        name_ + ".open-stream");
    if (seed_id) loop_.spawn(seed(nested, events, *seed_id), name_ + ".seed");
    first_line_pending_ = true;
    bool done = false;
    const char* line_op = "line_text";
    // One event through the core; true when it ended the iteration (CloseSyncStream).
    auto handle = [&](const Event& ev) {
      std::vector<nlohmann::json> out;
      switch (ev.kind) {
        case EventKind::Line:
          if (first_line_pending_) {
            first_line_pending_ = false;
            trigger_crud_upload();
          }
          out = control(line_op, ev.text);
          break;
        case EventKind::End:
          out = control("connection", "end");
          break;
        case EventKind::CompletedUpload:
          out = control("completed_upload", std::nullopt);
          break;
        case EventKind::RefreshedToken:
          out = control("refreshed_token", std::nullopt);
          break;
        case EventKind::UpdateSubscriptions:
          // handleActiveStreamsChange (docs/protocol.md §2.1.4): the active set at injection time.
          ++stats_.subscription_updates;
          out = control("update_subscriptions", ev.text);
          break;
        case EventKind::Reset:
          throw sim::NetworkError("sync stream connection reset");
        case EventKind::Aborted:
          // disconnect()/close() cancels the open stream's reader, so the pending read ends and
          // the SDK passes `connection end` to the core before `stop` (docs/protocol.md §2.1.9);
          // 0.4.x answers it without a status.  Then the iteration ends as aborted.
          for (auto& i : control("connection", "end")) {
            if (i.contains("CloseSyncStream")) break;
            if (!i.contains("EstablishSyncStream")) handle_instruction(i);
          }
          throw sim::Aborted(ev.text);
        case EventKind::Error:
          throw std::runtime_error(ev.text);
      }
      for (auto& i : out) {
        if (i.contains("EstablishSyncStream")) {
          throw std::runtime_error("Received EstablishSyncStream while already connected.");
        }
        if (i.contains("CloseSyncStream")) {
          immediate_restart = i["CloseSyncStream"].value("hide_disconnect", false);
          // docs/protocol.md §1.4.1: a changed subscription request ends the iteration with
          // hide_disconnect:true, after update_subscriptions or a keepalive's TTL refresh.
          if (immediate_restart && ev.kind == EventKind::UpdateSubscriptions) {
            ++stats_.subscription_restarts;
            trace_.log(name_, "subscriptions changed: restarting the iteration");
          } else if (immediate_restart && ev.kind == EventKind::Line &&
                     ev.text.find("token_expires_in") != std::string::npos) {  // JSON or BSON key
            ++stats_.keepalive_restarts;
            trace_.log(name_, "subscription request changed at keepalive: restarting");
          }
          return true;  // later instructions in the same array are ignored
        }
        handle_instruction(i);
      }
      return false;
    };
    while (!opening->done && !done) {
      if (!events->empty()) {
        done = handle(events->pop_now());
        continue;
      }
      // An abort rejects the pending fetch: the pull fails, no `connection end`.  While the
      // request is still being built the abort waits for it: fetchStreamRaw awaits its
      // credentials unabortably, then throws "Abort request received before making
      // fetchStreamRaw request" (docs/protocol.md §2.1.4 "Event pump").
      const bool aborted = nested->aborted() || outer_->aborted();
      if (aborted && opening->requesting) {
        throw sim::Aborted(nested->aborted() ? nested->reason() : outer_->reason());
      }
      if (aborted) {
        co_await sim::wait_for(loop_, std::nullopt, &opening->ready);
        continue;
      }
      co_await sim::wait_for(loop_, std::nullopt, &opening->ready, &events->ready(), nested.get(),
                             outer_.get());
    }
    if (!done) {
      if (opening->error) std::rethrow_exception(opening->error);
      auto& open = opening->open;
      note_status(open.head.status);
      if (open.head.status != 200) {
        throw std::runtime_error(fmt::format("HTTP {}: {}", open.head.status, open.head.body));
      }
      stream = open.stream;
      // receiveSyncLines (docs/protocol.md §2.1.6): a BSON response's documents go to the core
      // as blobs with `line_binary`, NDJSON lines as text with `line_text`.
      if (stream->content_type() == kBsonStreamContentType) line_op = "line_binary";
      for (auto& i : control("connection", "established")) handle_instruction(i);
    }
    while (!done) {
      phase_ = "waiting for a line";
      done = handle(co_await next_event(*stream, *events, *nested));
    }
  } catch (...) {
    error = std::current_exception();
  }
  // finally (docs/protocol.md §2.1.4)
  // An iteration that ends while its stream request is in flight (an abort, a disconnect, an
  // app closing, a restart before the response) aborts that fetch, and its connection closes
  // (docs/findings-world.md W34).
  if (!opening->done) opening->abort.abort("iteration ended");
  first_line_pending_ = false;
  events_.reset();
  if (stream) stream->close();
  try {
    for (auto& i : control("stop", std::nullopt)) {
      if (!i.contains("CloseSyncStream") && !i.contains("EstablishSyncStream")) {
        handle_instruction(i);
      }
    }
  } catch (...) {
    if (!error) error = std::current_exception();
  }
  if (error) std::rethrow_exception(error);
  co_return immediate_restart;
}

void Client::reset_stale_target() {
  // MUTANT (EngineMutant::ResetTargetOnReconnect): not SDK behaviour.
  auto target = kv_int("target_checkpoint_request_id");
  auto seen = kv_int("last_seen_checkpoint_request_id");
  if (!target || !seen || std::to_string(*target) == kMaxOpIdText || *target <= *seen) return;
  db().begin();
  auto previous = db().control("target_checkpoint_request_id", std::to_string(*seen));
  db().commit();
  db().take_touched();
  trace_.log(name_, "MUTANT target {} reset to last_seen {}", *target, *seen);
  if (observer_) {
    observer_->on_control(*this, "target_checkpoint_request_id", std::to_string(*seen), previous);
    observer_->on_target_set(*this, *seen, TargetStoredBy::MutantReset);
  }
}

sim::Task<Client::Event> Client::next_event(sim::ClientStream& stream, sim::Queue<Event>& injected,
                                            sim::AbortSignal& nested) {
  // The SDK's injectable() (@powersync/shared-internals 1.3.0 lib/utils/stream_transform.js):
  // "First priority: Dispatch ready upstream events" -- a line a pull already in flight fetched
  // -- then injected events (FIFO), and only then a new pull from the source; a pull waits for
  // whichever comes first, and an injected event answering it leaves the pull in flight.
  // (docs/protocol.md §2.1.4 "Event pump"; fidelity review item 4.)
  auto source_event = [&]() -> std::optional<Event> {
    if (stream.has_line()) return Event{EventKind::Line, stream.take_line()};
    switch (stream.state()) {
      case sim::ClientStream::State::Ended:
      case sim::ClientStream::State::Closed:
        return Event{EventKind::End, ""};
      case sim::ClientStream::State::Reset:
        return Event{EventKind::Reset, ""};
      case sim::ClientStream::State::Open:
        break;
    }
    return std::nullopt;
  };
  while (true) {
    if (source_fetch_in_flight_) {
      if (auto ev = source_event()) {
        source_fetch_in_flight_ = false;
        co_return *ev;
      }
    }
    if (!injected.empty()) co_return injected.pop_now();
    source_fetch_in_flight_ = true;
    if (auto ev = source_event()) {
      source_fetch_in_flight_ = false;
      co_return *ev;
    }
    if (nested.aborted()) co_return Event{EventKind::Aborted, nested.reason()};
    if (outer_->aborted()) co_return Event{EventKind::Aborted, outer_->reason()};
    const int which = co_await sim::wait_for(loop_, std::nullopt, &stream.readable(),
                                             &injected.ready(), &nested, outer_.get());
    // inject() hands its event to the waiting next() (consumeWaiter); the pull stays in flight
    // and the line it fetches is served first at the next call.
    if (which == 1 && !injected.empty()) co_return injected.pop_now();
  }
}

sim::Task<void> Client::seed(std::shared_ptr<sim::AbortSignal> nested,
                             std::shared_ptr<sim::Queue<Event>> events, std::string id) {
  // seedCheckpointRequestState + markCheckpointsReady (docs/protocol.md §2.1.4, §2.3.2).
  // Quirk §2.7.3: a seed outcome arriving after its iteration ended still sets the state
  // (a stale error, a stale ready, or it seeds the next iteration); the fix drops it.
  const bool drop_stale = quirk_fixed(Quirk::StaleSeedOutcome);
  try {
    std::string accepted = co_await post_checkpoint_request(id, nested.get());
    if (observer_) observer_->on_seeded(*this, std::stoll(id), std::stoll(accepted));
    if (drop_stale && nested->aborted()) {
      trace_.log(name_, "stale seed answer {} dropped (fixed stale-seed-outcome)", accepted);
      co_return;
    }
    // Mutant seed-local-counter: the posted id instead of the service's answer.
    const std::string seeded = has_mutant(EngineMutant::SeedLocalCounter) ? id : accepted;
    control_int("seed_checkpoint_request_id", seeded);
    trace_.log(name_, "seeded {} (posted {}, service answered {})", seeded, id, accepted);
    set_checkpoint_state(CheckpointState::Ready);
  } catch (const std::exception& e) {
    trace_.log(name_, "seed failed: {}", e.what());
    if (drop_stale && nested->aborted()) co_return;
    set_checkpoint_state(CheckpointState::Error, e.what());
    if (!nested->aborted()) events->push(Event{EventKind::Error, e.what()});
  }
}

namespace {

// The three fields of a status the client keeps besides the status itself.
struct StatusFields {
  bool connected = false;
  bool connecting = false;
  std::optional<int64_t> applied_request_id;
};

StatusFields status_fields(const nlohmann::json& status) {
  StatusFields f{status.value("connected", false), status.value("connecting", false), {}};
  if (status.contains("internal_last_applied_checkpoint_request_id")) {
    f.applied_request_id = parse_id(status.at("internal_last_applied_checkpoint_request_id"));
  }
  return f;
}

// status_fields() of a kept status without its tree; nullopt for anything but booleans (value()
// would throw) and an id that is a plain integer or string, which status_fields() then judges.
// `packed`: the members the reply's parse found (engine/control_reply.hpp's KeptStatusMembers),
// else the status is scanned for them.
std::optional<StatusFields> raw_status_fields(std::string_view status,
                                              std::optional<std::uint64_t> packed) {
  StatusFields f;
  std::array<std::optional<std::string_view>, 3> members;
  if (packed) {
    const auto found = KeptStatusMembers::unpacked(*packed);
    auto text = [](KeptStatusMembers::Flag flag) -> std::optional<std::string_view> {
      switch (flag) {
        case KeptStatusMembers::Flag::Absent:
          return std::nullopt;
        case KeptStatusMembers::Flag::False:
          return "false";
        case KeptStatusMembers::Flag::True:
          return "true";
        case KeptStatusMembers::Flag::Other:
          break;
      }
      return "other";  // neither literal: judged on the tree below
    };
    members = {
        text(found.connected), text(found.connecting),
        found.has_id ? std::optional(status.substr(found.id_offset, found.id_size)) : std::nullopt};
  } else {
    members = raw_members<3>(
        status, {"connected", "connecting", "internal_last_applied_checkpoint_request_id"});
  }
  for (auto [v, out] : {std::pair{members[0], &f.connected}, {members[1], &f.connecting}}) {
    if (!v) continue;
    if (*v != "true" && *v != "false") return std::nullopt;
    *out = *v == "true";
  }
  if (const auto& id = members[2]) {
    const std::optional<std::optional<int64_t>> plain = raw_request_id(*id);
    f.applied_request_id = plain ? *plain : parse_id(nlohmann::json::parse(*id));
  }
  return f;
}

}  // namespace

void Client::handle_instruction(nlohmann::json& instruction) {
  if (instruction.contains("UpdateSyncStatus")) {
    ++stats_.status_updates;
    auto& status = instruction["UpdateSyncStatus"]["status"];  // the instruction is spent
    std::optional<StatusFields> fields;
    if (status.is_binary()) {
      // Kept as its canonical text (engine/control_reply.hpp): the instruction's dump() is
      // the text inside the instruction's own.
      auto& binary = status.get_binary();
      const std::optional<std::uint64_t> packed =
          binary.has_subtype() ? std::optional<std::uint64_t>(binary.subtype()) : std::nullopt;
      std::vector<std::uint8_t> raw =
          std::move(static_cast<std::vector<std::uint8_t>&>(binary));  // moved, not copied
      stats_.status_bytes += kKeptStatusHead.size() + raw.size() + kKeptStatusTail.size();
      fields = raw_status_fields(
          std::string_view(reinterpret_cast<const char*>(raw.data()), raw.size()), packed);
      status_.set_raw(std::move(raw));
    } else {
      stats_.status_bytes += dumped_size(instruction);
      status_ = std::move(status);
    }
    if (!fields) fields = status_fields(status_.tree());
    connected_ = fields->connected;
    connecting_ = fields->connecting;
    applied_request_id_ = fields->applied_request_id;
    status_changed();
  } else if (instruction.contains("DidCompleteSync")) {
    download_error_.reset();
    status_changed();
    ++stats_.applied_checkpoints;
    std::optional<int64_t> applied;
    const auto& d = instruction["DidCompleteSync"];
    if (d.contains("applied_checkpoint_request_id")) {
      applied = parse_id(d["applied_checkpoint_request_id"]);
    } else if (!state_in_kv()) {
      // 0.4.x sends DidCompleteSync{} without an id; the write checkpoint it applied is
      // `$local.last_applied_op` (docs/protocol.md §2.4.1, §2.5 item 2).
      applied = last_applied();
    }
    trace_.log(name_, "applied checkpoint{}", applied ? " id " + std::to_string(*applied) : "");
    if (observer_) observer_->on_sync_applied(*this, applied);
  } else if (instruction.contains("LogLine")) {
    const auto& l = instruction["LogLine"];
    const std::string line = l.value("line", "");
    if (line.rfind("Could not apply checkpoint due to local data", 0) == 0) {
      ++stats_.blocked_checkpoints;
      trace_.log(name_, "checkpoint blocked by the barrier");
      if (observer_) observer_->on_checkpoint_blocked(*this);
    } else if (l.value("severity", "") == "WARNING") {
      trace_.log(name_, "core warning: {}", line);
      if (observer_) observer_->on_core_warning(*this, line);
    }
  } else if (instruction.contains("FetchCredentials")) {
    // docs/protocol.md §2.1.5, §2.1.7: did_expire -> invalidate only (the stream closes right
    // after); otherwise invalidate, prefetch, and inject refreshed_token into the iteration.
    const bool expired = instruction["FetchCredentials"].value("did_expire", false);
    trace_.log(name_, "FetchCredentials did_expire={}", expired);
    invalidate_credentials(expired ? "token expired" : "token expiring");
    if (!expired && events_) {
      loop_.spawn(prefetch_credentials(events_), name_ + ".prefetch");
    }
  }
  // FlushFileSystem, HandleDiagnostics: no-ops in the SDK (docs/protocol.md §2.1.5).
}

}  // namespace syncsim::engine
