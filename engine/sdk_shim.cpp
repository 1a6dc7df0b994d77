#include "engine/sdk_shim.hpp"

#include "engine/js/js_real_client.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cassert>

namespace syncsim::engine {

namespace {
constexpr const char* kMaxOpId = "9223372036854775807";
constexpr const char* kDisconnectedError =
    "Cannot request checkpoints, sync client is disconnected.";
constexpr const char* kLegacyError =
    "Connected with legacy checkpoint mode, cannot request checkpoints.";
constexpr const char* kSyncWaitError = "Sync error while waiting for checkpoint request";

constexpr std::pair<Quirk, const char*> kQuirkNames[] = {
    {Quirk::WaiterWakesOnlyWhenPending, "waiter-wakes-only-when-pending"},
    {Quirk::StaleSeedOutcome, "stale-seed-outcome"},
    {Quirk::PrefetchDoubleFetch, "prefetch-double-fetch"},
    {Quirk::ExtraUploadRound, "extra-upload-round"},
    {Quirk::RepostUntilApplied, "repost-until-applied"},
};
constexpr const char* kBlockedLog =
    "Could not apply checkpoint due to local data. Will retry at completed upload or next "
    "checkpoint.";

// The minimal schema of the default world (docs/scenarios.md §1), plus the insert-only `events`
// table (docs/protocol.md §2.1.1 schema JSON `insert_only`; docs/protocol.md §1.1.1 "manual" CRUD vtab): its writes
// only go to ps_crud, it never holds rows locally and no bucket syncs it.
// The stream world (issue 7) adds `items`, the table stream buckets sync.
std::string schema_json(bool stream_tables) {
  return std::string(
             R"({"tables":[{"name":"todos","columns":[{"name":"description","type":"text"}]},)"
             R"({"name":"notes","columns":[{"name":"description","type":"text"}]},)") +
         (stream_tables ? R"({"name":"items","columns":[{"name":"description","type":"text"}]},)"
                        : "") +
         R"({"name":"events","columns":[{"name":"description","type":"text"}],)"
         R"("insert_only":true}]})";
}

bool is_priority0_partial(const std::string& line) {
  if (line.find("partial_checkpoint_complete") == std::string::npos) return false;
  auto j = nlohmann::json::parse(line, nullptr, false);
  return !j.is_discarded() && j.contains("partial_checkpoint_complete") &&
         j["partial_checkpoint_complete"].value("priority", -1) == 0;
}

std::optional<int64_t> optional_int(const nlohmann::json& j, const char* key) {
  if (!j.contains(key) || !j[key].is_number_integer()) return std::nullopt;
  return j[key].get<int64_t>();
}

// The start payload's checkpoint_mode (docs/protocol.md §2.1.4): "requests" for both requests forms.
const char* checkpoint_mode_name(CheckpointMode mode) {
  return mode == CheckpointMode::Legacy ? "legacy" : "requests";
}

// Counts a checkpoint request on the wire until its coroutine leaves the await (answered,
// failed, aborted or destroyed).
struct InFlight {
  int& count;
  ~InFlight() { --count; }
};

std::optional<int64_t> parse_id(const nlohmann::json& j) {
  if (j.is_string()) return std::stoll(j.get<std::string>());
  if (j.is_number_integer()) return j.get<int64_t>();
  return std::nullopt;
}
}  // namespace

SdkBehaviour sdk_behaviour_from_name(const std::string& name) {
  if (name == kSdkJs130) return SdkBehaviour::Js130;
  if (name == kSdkJsLegacy) return SdkBehaviour::JsLegacy;
  if (name == kSdkJsReal) return SdkBehaviour::JsReal;
  throw std::invalid_argument(fmt::format("unknown SDK behaviour '{}' (allowed: {}, {}, {})", name,
                                          kSdkJs130, kSdkJsLegacy, kSdkJsReal));
}

std::optional<Quirk> quirk_from_name(const std::string& name) {
  for (const auto& [q, n] : kQuirkNames) {
    if (name == n) return q;
  }
  return std::nullopt;
}

std::vector<std::string> quirk_names() {
  std::vector<std::string> out;
  for (const auto& [q, n] : kQuirkNames) out.emplace_back(n);
  return out;
}

void register_engine_invariants(sim::InvariantCatalog& catalog) {
  catalog.add({"barrier-holds",
               "no full checkpoint publishes rows while ps_crud is non-empty or target > "
               "last_seen",
               "engine/sdk_shim.cpp Client::control (ps_crud/target before, last_seen after, "
               "update hook on ps_data__*)",
               "mutant publish-while-blocked", false});
}

Client::Client(sim::Loop& loop, sim::Trace& trace, sim::Prng rng, sim::Link& link,
               const CoreVersion& core, ClientOptions options, ClientObserver* observer,
               sim::Verdicts* verdicts)
    : loop_(loop),
      trace_(trace),
      rng_(rng),
      link_(link),
      core_(core),
      options_(std::move(options)),
      observer_(observer),
      verdicts_(verdicts),
      name_(fmt::format("c{}", options_.index)),
      file_name_(fmt::format("client-{}.db", options_.index)),
      outer_(std::make_shared<sim::AbortSignal>()),
      nested_(std::make_shared<sim::AbortSignal>()),
      waiter_(std::make_shared<sim::Latch<bool>>()) {
  // Old SDKs know only server-generated write checkpoints (docs/protocol.md §2.5 item 7).
  if (options_.sdk == SdkBehaviour::JsLegacy && options_.checkpoint_mode != CheckpointMode::Legacy) {
    throw std::invalid_argument("the js-legacy SDK works in legacy checkpoint mode only");
  }
  if (options_.sdk == SdkBehaviour::JsReal && !options_.js_host) {
    throw std::invalid_argument("a js-real client needs the run's JS host");
  }
}

Client::~Client() = default;

bool Client::quirk_fixed(Quirk q) const {
  return std::find(options_.fixed_quirks.begin(), options_.fixed_quirks.end(), q) !=
         options_.fixed_quirks.end();
}

bool Client::has_mutant(EngineMutant m) const {
  return std::find(options_.mutants.begin(), options_.mutants.end(), m) != options_.mutants.end();
}

void Client::violation(const std::string& invariant, const std::string& message) {
  if (!verdicts_ || !verdicts_->enabled(invariant)) return;
  verdicts_->violate(sim::Violation{invariant, loop_.clock().elapsed(),
                                    fmt::format("client {}", options_.index), message});
  trace_.log(name_, "VIOLATION {}: {}", invariant, message);
  loop_.stop(sim::StopKind::Failure, invariant + ": " + message);
}

// ---------------------------------------------------------------------------------
// open (docs/protocol.md §2.1.1)

void Client::open() {
  db_ = std::make_unique<Database>(file_name_, core_);
  auto version = db().query_text("SELECT powersync_rs_version()").value_or("");
  // A pinned core's name is a version prefix ("0.5.3"); a --core-path core's name is
  // the full powersync_rs_version() it reported when it was described.
  if (version != core_.name && version.rfind(core_.name + "/", 0) != 0) {
    throw std::runtime_error(fmt::format("core at {} reports version '{}', expected {}", core_.path,
                                         version, core_.name));
  }
  if (options_.sdk == SdkBehaviour::JsLegacy) {
    // Old SDKs run powersync_init() themselves, in autocommit (0.4.x accepts that; 0.5.x
    // refuses: docs/protocol.md §1.1.2, docs/protocol.md §2.5 item 7).  It migrates a newer file down.
    db().query_text("SELECT powersync_init()");
  }
  db().begin();
  db().query_text("SELECT powersync_replace_schema(?)", {schema_json(options_.stream_tables)});
  // The core's client_id is random (OS entropy); make it a function of the scenario.
  db().query_text("UPDATE ps_kv SET value = ? WHERE key = 'client_id' RETURNING value",
                  {options_.client_id});
  db().commit();
  db().take_touched();
  status_ = nlohmann::json::parse(
      db().query_text("SELECT powersync_offline_sync_status()").value_or("{}"));
  db().exec("PRAGMA recursive_triggers = TRUE");
  trace_.log(name_, "open core={} client_id={}", core_.name, options_.client_id);
  if (options_.sdk == SdkBehaviour::JsReal) {
    js_ = std::make_unique<js::JsRealClient>(*this, *options_.js_host);
    js_->open();
  }
}

bool Client::js_sync_running() const { return js_ && js_->sync_running(); }

void Client::connect() {
  // ConnectionManager.connect disconnects a running implementation first (docs/protocol.md §2.1.2);
  // callers here await disconnect() themselves, so a second connect is a caller bug.
  if (running_loops_ > 0) throw std::logic_error(name_ + ": connect() while still connected");
  if (js_) {
    trace_.log(name_, "connect");
    js_->connect();
    return;
  }
  // docs/protocol.md §2.1.2: a new implementation with a fresh CheckpointStateSignals (pending) and a
  // fresh outer signal, then three loops on it.
  outer_ = std::make_shared<sim::AbortSignal>();
  nested_ = std::make_shared<sim::AbortSignal>();  // disconnect() left the old one aborted
  checkpoint_state_ = CheckpointState::Pending;
  checkpoint_error_.clear();
  checkpoint_state_changed_.notify();
  running_loops_ = 3;
  trace_.log(name_, "connect");
  loop_.spawn(run_loop(upload_loop()), name_ + ".upload");
  loop_.spawn(run_loop(download_loop()), name_ + ".download");
  loop_.spawn(run_loop(repost_loop()), name_ + ".repost");
}

sim::Task<void> Client::run_loop(sim::Task<void> loop) {
  co_await std::move(loop);
  assert(running_loops_ > 0);
  if (--running_loops_ == 0) {
    // All three loops finished: checkpoints.disconnected() (docs/protocol.md §2.1.2, §2.1.9).
    set_checkpoint_state(CheckpointState::Disconnected);
    loops_done_.notify();
  }
}

sim::Task<void> Client::disconnect() {
  // BPD.disconnect (docs/protocol.md §2.1.9): abort the outer signal; its onabort aborts the nested
  // signal and marks the status disconnected; then wait for the three loops.
  ++stats_.disconnects;
  if (js_) {
    trace_.log(name_, "disconnect requested");
    co_await js_->disconnect();
    trace_.log(name_, "disconnected");
    co_return;
  }
  if (running_loops_ == 0) co_return;
  trace_.log(name_, "disconnect requested");
  outer_->abort("Disconnect has been requested");
  nested_->abort("Disconnect has been requested");
  mark_disconnected();
  while (running_loops_ > 0) co_await sim::wait_for(loop_, std::nullopt, &loops_done_);
  phase_ = "disconnected";
  trace_.log(name_, "disconnected");
}

sim::Task<void> Client::disconnect_and_clear() {
  // BPD.disconnectAndClear({clearLocal:true}) (docs/protocol.md §2.1.9): powersync_clear(1) wipes
  // ps_crud and every ps_kv key but client_id (all checkpoint-request state) and the data.
  co_await disconnect();
  ++stats_.clears;
  db().begin();
  db().query_text("SELECT powersync_clear(1)");
  db().commit();
  db().take_touched();  // the cleared ps_crud must not schedule an upload (no loop runs)
  status_ = nlohmann::json::parse(
      db().query_text("SELECT powersync_offline_sync_status()").value_or("{}"));
  applied_request_id_.reset();
  download_error_.reset();
  upload_error_.reset();
  crud_notified_ = false;
  last_posted_id_.reset();
  highest_accepted_.reset();
  trace_.log(name_, "cleared local state");
  if (observer_) observer_->on_cleared(*this);
}

Database& Client::db() {
  if (!db_) throw ClientClosed();
  return *db_;
}

void Client::begin_close(const std::string& reason) {
  if (!outer_->aborted()) trace_.log(name_, "closing: {}", reason);
  outer_->abort(reason);
  nested_->abort(reason);
  if (js_) js_->kill();
  kill_hook_ = nullptr;
  kill_point_.reset();
}

void Client::close() {
  begin_close("closed");
  if (db_) trace_.log(name_, "database closed");
  js_.reset();
  db_.reset();  // an open transaction rolls back (sqlite3_close)
  connected_ = false;
  connecting_ = false;
}

void Client::arm_kill(KillPoint point, std::function<void()> die) {
  kill_point_ = point;
  kill_hook_ = std::move(die);
}

void Client::fire_kill(KillPoint point) {
  if (kill_point_ != point || !kill_hook_) return;
  auto die = std::move(kill_hook_);
  kill_hook_ = nullptr;
  kill_point_.reset();
  die();
}

void Client::continue_from(const Client& previous) {
  write_seq_ = previous.write_seq_;
  stats_ = previous.stats_;
  // Handles of the old life never match this life's (the app lost them with its memory).
  next_stream_handle_ = previous.next_stream_handle_;
}

// ---------------------------------------------------------------------------------
// checkpoint state: ps_kv (v14) or `$local` (0.4.x), docs/protocol.md §1.1.2

std::optional<int64_t> Client::local_column(const char* column) {
  return db().query_int(
      fmt::format("SELECT {} FROM ps_buckets WHERE name = '$local'", column));
}

std::optional<int64_t> Client::target() {
  return state_in_kv() ? kv_int("target_checkpoint_request_id") : local_column("target_op");
}

std::optional<int64_t> Client::last_seen() {
  return state_in_kv() ? kv_int("last_seen_checkpoint_request_id") : local_column("last_op");
}

std::optional<int64_t> Client::last_applied() {
  return state_in_kv() ? kv_int("last_applied_checkpoint_request_id")
                       : local_column("last_applied_op");
}

std::optional<int64_t> Client::last_requested() {
  // 0.4.x has no checkpoint requests; a key left by a 0.5.x life is stale there (docs/protocol.md §2.5).
  if (!state_in_kv()) return std::nullopt;
  return kv_int("last_requested_checkpoint_request_id");
}

std::optional<int64_t> Client::sdk_read_target() {
  if (options_.sdk == SdkBehaviour::Js130) {
    return control_int("target_checkpoint_request_id", std::nullopt);  // docs/protocol.md §2.2.4
  }
  // Pre-#1049 SDKs read `$local.target_op` (docs/protocol.md §2.5 item 3).
  return local_column("target_op");
}

std::optional<std::string> Client::sdk_write_target(const std::string& value) {
  if (options_.sdk == SdkBehaviour::Js130) {
    return db().control("target_checkpoint_request_id", value);  // docs/protocol.md §2.2.3
  }
  // docs/protocol.md §2.5 item 3: `UPDATE ps_buckets SET target_op = CAST(? AS INTEGER) WHERE
  // name='$local'`; on a v14 database this is a hard SQL error by design (docs/protocol.md §1.1.2).
  db().query_int(
      "UPDATE ps_buckets SET target_op = CAST(? AS INTEGER) WHERE name = '$local' RETURNING 0",
      {value});
  return std::nullopt;
}

void Client::report_target_write(const std::string& value,
                                 const std::optional<std::string>& previous) {
  // Only Js130's target writes are powersync_control calls.
  if (options_.sdk == SdkBehaviour::Js130 && observer_) {
    observer_->on_control(*this, "target_checkpoint_request_id", value, previous);
  }
}

// ---------------------------------------------------------------------------------
// control calls

std::optional<std::string> Client::control_text(const std::string& op,
                                                const std::optional<std::string>& payload) {
  const bool can_publish = op == "line_text" || op == "completed_upload";
  db().begin();
  // barrier-holds (docs/invariants.md §1): ps_crud and target read before the call, last_seen
  // after it; publication detected by the update hook on ps_data__* tables.
  bool crud_before = false;
  std::optional<int64_t> target_before;
  if (can_publish) {
    crud_before = db().query_int("SELECT EXISTS(SELECT 1 FROM ps_crud)").value_or(0) != 0;
    target_before = target();  // `$local.target_op` on 0.4.x (docs/invariants.md §1)
  }
  db().take_touched();
  std::optional<std::string> result;
  try {
    result = db().control(op, payload);
  } catch (...) {
    db().rollback();
    db().take_touched();
    throw;
  }
  if (has_mutant(EngineMutant::PublishWhileBlocked) && result &&
      result->find(kBlockedLog) != std::string::npos) {
    db().exec(
        R"(INSERT OR REPLACE INTO ps_data__todos(id, data) VALUES ('mutant-leak', '{"description":"leaked"}'))");
  }
  TouchedTables touched = db().take_touched();
  if (can_publish && touched.data_tables && verdicts_) {
    verdicts_->checked("barrier-holds");
    auto seen = last_seen();
    bool gate_closed = crud_before || (target_before && *target_before > seen.value_or(0));
    if (gate_closed && op == "line_text" && payload && is_priority0_partial(*payload)) {
      // docs/invariants.md §1, docs/protocol.md §1.3.6: a partial_checkpoint_complete with priority 0 publishes
      // past the barrier by design; only these applies are exempt, and they are counted.
      ++stats_.priority0_bypasses;
      trace_.log(name_, "priority-0 partial checkpoint published past the barrier");
    } else if (gate_closed) {
      violation("barrier-holds",
                fmt::format("{} published rows while the gate was closed (ps_crud {}, target "
                            "{}, last_seen {})",
                            op, crud_before ? "non-empty" : "empty",
                            target_before ? std::to_string(*target_before) : "none",
                            seen ? std::to_string(*seen) : "none"));
    }
  }
  db().commit();
  if (observer_) observer_->on_control(*this, op, payload, result);
  after_write_lock(touched);
  if (touched.data_tables && observer_) observer_->on_published(*this);
  return result;
}

std::vector<nlohmann::json> Client::control(const std::string& op,
                                            const std::optional<std::string>& payload) {
  std::vector<nlohmann::json> out;
  auto result = control_text(op, payload);
  if (result && !result->empty() && (*result)[0] == '[') {
    for (auto& i : nlohmann::json::parse(*result)) out.push_back(std::move(i));
  }
  return out;
}

std::optional<int64_t> Client::control_int(const std::string& op,
                                           const std::optional<std::string>& payload) {
  auto result = control_text(op, payload);
  if (!result) return std::nullopt;
  return std::stoll(*result);
}

void Client::after_write_lock(const TouchedTables& touched) {
  // docs/protocol.md §2.1.1: after every write-lock release the pool checks the touched tables; a
  // touched ps_crud fires crudUpdate (also for the SDK's own DELETE, quirk §2.7.7).
  if (js_) {
    js_->tables_changed(touched.ps_crud, touched.data_tables);  // the real SDK decides
    return;
  }
  if (touched.ps_crud) trigger_crud_upload();
}

// ---------------------------------------------------------------------------------
// download loop (docs/protocol.md §2.1.3)

void Client::mark_disconnected() {
  connected_ = false;
  connecting_ = false;
  applied_request_id_.reset();
  status_changed();
}

sim::Task<void> Client::delay_retry(sim::Micros delay, sim::AbortSignal* nested, bool resume) {
  auto waiter = waiter_;  // this generation's notifier (quirk §2.7.2)
  co_await sim::wait_for(loop_, loop_.now() + rng_.jitter(delay), outer_.get(), nested,
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
  if (!db().query_text("SELECT value FROM ps_kv WHERE key = 'powersync_js_migrated_subkeys'")) {
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
  for (const auto& i : control("start", start_payload())) {
    if (i.contains("EstablishSyncStream")) {
      request = i["EstablishSyncStream"]["request"];
      const auto& est = i["EstablishSyncStream"];
      if (est.contains("checkpoint_request")) {
        // The seed runs concurrently with line handling (docs/protocol.md §2.1.4).
        std::string id = est["checkpoint_request"]["checkpoint_request_id"];
        if (has_mutant(EngineMutant::SeedFromOne)) id = "1";
        loop_.spawn(seed(nested, events, id), name_ + ".seed");
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
  bool immediate_restart = false;
  std::exception_ptr error;
  std::shared_ptr<sim::ClientStream> stream;
  try {
    phase_ = "opening stream";
    // Requests are built outside the co_await expression: g++ 12 miscompiles aggregate
    // temporaries there.
    sim::HttpRequest http = co_await build_request("POST", "/sync/stream", request->dump());
    auto open = co_await link_.open_stream(std::move(http));
    note_status(open.head.status);
    if (open.head.status != 200) {
      throw std::runtime_error(fmt::format("HTTP {}: {}", open.head.status, open.head.body));
    }
    stream = open.stream;
    for (const auto& i : control("connection", "established")) handle_instruction(i);
    bool first_line = true;
    bool done = false;
    while (!done) {
      phase_ = "waiting for a line";
      Event ev = co_await next_event(*stream, *events, *nested);
      std::vector<nlohmann::json> out;
      switch (ev.kind) {
        case EventKind::Line:
          if (first_line) {
            first_line = false;
            trigger_crud_upload();
          }
          out = control("line_text", ev.text);
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
          throw sim::Aborted(ev.text);
        case EventKind::Error:
          throw std::runtime_error(ev.text);
      }
      for (const auto& i : out) {
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
                     ev.text.find("\"token_expires_in\"") != std::string::npos) {
            ++stats_.keepalive_restarts;
            trace_.log(name_, "subscription request changed at keepalive: restarting");
          }
          done = true;
          break;  // later instructions in the same array are ignored
        }
        handle_instruction(i);
      }
    }
  } catch (...) {
    error = std::current_exception();
  }
  // finally (docs/protocol.md §2.1.4)
  events_.reset();
  if (stream) stream->close();
  try {
    for (const auto& i : control("stop", std::nullopt)) {
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
  if (!target || !seen || std::to_string(*target) == kMaxOpId || *target <= *seen) return;
  db().begin();
  auto previous = db().control("target_checkpoint_request_id", std::to_string(*seen));
  db().commit();
  db().take_touched();
  trace_.log(name_, "MUTANT target {} reset to last_seen {}", *target, *seen);
  if (observer_) {
    observer_->on_control(*this, "target_checkpoint_request_id", std::to_string(*seen), previous);
    observer_->on_target_set(*this, *seen);
  }
}

sim::Task<Client::Event> Client::next_event(sim::ClientStream& stream, sim::Queue<Event>& injected,
                                            sim::AbortSignal& nested) {
  // The SDK's injectable queue: injected events first (FIFO), and only then pull the
  // source; a pull waits for whichever comes first (docs/protocol.md §2.1.4 "Event pump").
  while (true) {
    if (!injected.empty()) co_return injected.pop_now();
    if (stream.has_line()) co_return Event{EventKind::Line, stream.take_line()};
    switch (stream.state()) {
      case sim::ClientStream::State::Ended:
        co_return Event{EventKind::End, ""};
      case sim::ClientStream::State::Reset:
        co_return Event{EventKind::Reset, ""};
      case sim::ClientStream::State::Closed:
        co_return Event{EventKind::End, ""};
      case sim::ClientStream::State::Open:
        break;
    }
    if (nested.aborted()) co_return Event{EventKind::Aborted, nested.reason()};
    if (outer_->aborted()) co_return Event{EventKind::Aborted, outer_->reason()};
    co_await sim::wait_for(loop_, std::nullopt, &stream.readable(), &injected.ready(), &nested,
                           outer_.get());
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

void Client::handle_instruction(const nlohmann::json& instruction) {
  if (instruction.contains("UpdateSyncStatus")) {
    ++stats_.status_updates;
    stats_.status_bytes += instruction.dump().size();
    status_ = instruction["UpdateSyncStatus"]["status"];
    connected_ = status_.value("connected", false);
    connecting_ = status_.value("connecting", false);
    applied_request_id_.reset();
    if (status_.contains("internal_last_applied_checkpoint_request_id")) {
      applied_request_id_ = parse_id(status_["internal_last_applied_checkpoint_request_id"]);
    }
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
    // docs/protocol.md §2.1.5, §2.1.7: did_expire -> invalidate only (the stream closes right after);
    // otherwise invalidate, prefetch, and inject refreshed_token into the iteration.
    const bool expired = instruction["FetchCredentials"].value("did_expire", false);
    trace_.log(name_, "FetchCredentials did_expire={}", expired);
    invalidate_credentials(expired ? "token expired" : "token expiring");
    if (!expired && events_) {
      loop_.spawn(prefetch_credentials(events_), name_ + ".prefetch");
    }
  }
  // FlushFileSystem, HandleDiagnostics: no-ops in the SDK (docs/protocol.md §2.1.5).
}

// ---------------------------------------------------------------------------------
// sync streams (issue 7; ConnectionManager.stream in the JS SDK, docs/protocol.md §1.4)

std::vector<StreamStatusEntry> parse_stream_statuses(const nlohmann::json& status) {
  std::vector<StreamStatusEntry> out;
  if (!status.contains("streams") || !status["streams"].is_array()) return out;
  for (const auto& s : status["streams"]) {
    StreamStatusEntry e;
    e.name = s.value("name", "");
    e.parameters = s.contains("parameters") ? s["parameters"] : nlohmann::json();
    if (auto p = optional_int(s, "priority")) e.priority = static_cast<int>(*p);
    e.active = s.value("active", false);
    e.is_default = s.value("is_default", false);
    e.has_explicit_subscription = s.value("has_explicit_subscription", false);
    e.expires_at = optional_int(s, "expires_at");
    e.last_synced_at = optional_int(s, "last_synced_at");
    if (s.contains("progress") && s["progress"].is_object()) {
      e.total = s["progress"].value("total", int64_t{0});
      e.downloaded = s["progress"].value("downloaded", int64_t{0});
    }
    out.push_back(std::move(e));
  }
  return out;
}

nlohmann::json Client::active_streams() const {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& a : active_subscriptions_)
    out.push_back({{"name", a.name}, {"params", a.params}});
  return out;
}

void Client::subscriptions_may_have_changed() {
  // ConnectionManager.subscriptionsMayHaveChanged -> updateSubscriptions(activeStreams): the
  // implementation remembers the set (the next `start` sends it) and, while an iteration
  // runs, injects update_subscriptions (docs/protocol.md §2.1.4).
  if (running_loops_ > 0 && events_) {
    events_->push(Event{EventKind::UpdateSubscriptions, active_streams().dump()});
  }
}

uint64_t Client::subscribe_stream(const std::string& name, const nlohmann::json& params,
                                  StreamSubscribeOptions options) {
  ++stats_.stream_subscribes;
  // rustSubscriptionsCommand({subscribe:{stream:{name, params}, ttl, priority}}), run even
  // for an existing subscription: it moves expires_at (docs/protocol.md §1.4.1).
  nlohmann::json sub = {{"stream", {{"name", name}, {"params", params}}}};
  if (options.ttl_s) sub["ttl"] = *options.ttl_s;
  if (options.priority) sub["priority"] = *options.priority;
  control_text("subscriptions", nlohmann::json{{"subscribe", sub}}.dump());
  if (running_loops_ == 0) {
    // Not connected: the offline status reflects the new subscription.
    status_ = nlohmann::json::parse(
        db().query_text("SELECT powersync_offline_sync_status()").value_or("{}"));
    status_changed();
  }
  const std::string key = name + "|" + params.dump();
  auto it = std::find_if(active_subscriptions_.begin(), active_subscriptions_.end(),
                         [&](const ActiveSubscription& a) { return a.key == key; });
  const bool fresh = it == active_subscriptions_.end();
  if (fresh) {
    active_subscriptions_.push_back(ActiveSubscription{key, name, params, 0});
    it = std::prev(active_subscriptions_.end());
  }
  ++it->refcount;  // SyncStreamSubscriptionHandle's constructor
  const uint64_t handle = next_stream_handle_++;
  stream_handles_[handle] = key;
  trace_.log(name_, "subscribe {} {}{}{} (handle {}, refcount {})", name, params.dump(),
             options.ttl_s ? fmt::format(" ttl={}s", *options.ttl_s) : "",
             options.priority ? fmt::format(" priority={}", *options.priority) : "", handle,
             it->refcount);
  if (fresh) subscriptions_may_have_changed();
  return handle;
}

void Client::release_stream(uint64_t handle) {
  auto h = stream_handles_.find(handle);
  if (h == stream_handles_.end()) return;  // unsubscribe() twice is a no-op
  const std::string key = h->second;
  stream_handles_.erase(h);
  ++stats_.stream_releases;
  auto it = std::find_if(active_subscriptions_.begin(), active_subscriptions_.end(),
                         [&](const ActiveSubscription& a) { return a.key == key; });
  if (it == active_subscriptions_.end()) return;
  trace_.log(name_, "release {} (handle {}, refcount {})", key, handle, it->refcount - 1);
  if (--it->refcount > 0) return;
  // ActiveSubscription.decrementRefCount -> clearSubscription: out of the active set; the
  // core keeps the row (and syncs it) until its TTL runs out (docs/protocol.md §1.4.1).
  active_subscriptions_.erase(it);
  subscriptions_may_have_changed();
}

void Client::unsubscribe_all(const std::string& name, const nlohmann::json& params) {
  ++stats_.stream_unsubscribe_all;
  control_text("subscriptions",
               nlohmann::json{{"unsubscribe", {{"name", name}, {"params", params}}}}.dump());
  trace_.log(name_, "unsubscribe all {} {}", name, params.dump());
  subscriptions_may_have_changed();
}

// ---------------------------------------------------------------------------------
// checkpoint readiness (docs/protocol.md §2.3.2)

void Client::set_checkpoint_state(CheckpointState s, std::string error) {
  if (checkpoint_state_ == CheckpointState::Disconnected) return;  // terminal
  checkpoint_state_ = s;
  checkpoint_error_ = std::move(error);
  checkpoint_state_changed_.notify();
}

void Client::download_iteration_ended() {
  set_checkpoint_state(CheckpointState::Pending);
  waiter_ = std::make_shared<sim::Latch<bool>>();
}

sim::Task<bool> Client::wait_ready(sim::AbortSignal* abort, bool wake) {
  while (true) {
    switch (checkpoint_state_) {
      case CheckpointState::Ready:
        co_return true;
      case CheckpointState::Error:
        // Quirk §2.7.2: only a pending state wakes the retry delay; the fix also wakes it
        // from a stale error so the next iteration can re-seed.
        if (wake && quirk_fixed(Quirk::WaiterWakesOnlyWhenPending)) waiter_->resolve(true);
        throw std::runtime_error(checkpoint_error_);
      case CheckpointState::Disconnected:
        throw std::runtime_error(kDisconnectedError);
      case CheckpointState::Pending:
        break;
    }
    if (abort && abort->aborted()) co_return false;
    if (wake) waiter_->resolve(true);
    co_await sim::wait_for(loop_, std::nullopt, &checkpoint_state_changed_, abort);
  }
}

// ---------------------------------------------------------------------------------
// upload (docs/protocol.md §2.2)

void Client::trigger_crud_upload() {
  crud_notified_ = true;  // at most one notification is buffered
  crud_notifier_.notify();
}

void Client::notify_completed_uploads() {
  // Only while an iteration accepts injected events; a no-op otherwise (docs/protocol.md §2.1.4).
  if (has_mutant(EngineMutant::DropCompletedUpload)) {
    trace_.log(name_, "MUTANT completed_upload dropped");
    return;
  }
  if (events_) events_->push(Event{EventKind::CompletedUpload, ""});
}

sim::Task<void> Client::upload_loop() {
  while (!outer_->aborted()) {
    // Promise.all([_uploadAllCrud(), delayRetry(crudUploadThrottleMs)])
    sim::Micros throttle_until = loop_.now() + rng_.jitter(options_.crud_upload_throttle);
    ++stats_.upload_rounds;
    co_await upload_all();
    if (loop_.now() < throttle_until) {
      co_await sim::wait_for(loop_, throttle_until, outer_.get());
    }
    while (!crud_notified_ && !outer_->aborted()) {
      co_await sim::wait_for(loop_, std::nullopt, &crud_notifier_, outer_.get());
    }
    crud_notified_ = false;
  }
}

sim::Task<void> Client::upload_all() {
  std::optional<int64_t> checked;
  while (!outer_->aborted()) {
    bool failed = false;
    try {
      auto next = db().query_int("SELECT id FROM ps_crud ORDER BY id ASC LIMIT 1");
      if (next) {
        uploading_ = true;
        if (checked && *checked == *next) {
          throw std::runtime_error("Delaying due to previously encountered CRUD item.");
        }
        checked = next;
        co_await upload_data();
        upload_error_.reset();
        status_changed();
      } else {
        bool needed = co_await update_local_target();
        if (needed) notify_completed_uploads();
        uploading_ = false;
        break;
      }
    } catch (const std::exception& e) {
      checked.reset();
      upload_error_ = e.what();
      status_changed();
      trace_.log(name_, "upload error: {}", e.what());
      if (observer_ && db_) observer_->on_upload_failed(*this);  // not a closed life's
      failed = true;
    }
    uploading_ = false;
    if (failed) {
      upload_retry_at_ = loop_.now() + rng_.jitter(options_.retry_delay);
      co_await sim::wait_for(loop_, *upload_retry_at_, outer_.get());
      upload_retry_at_.reset();
      if (!connected_) break;
    }
  }
}

sim::Task<void> Client::upload_data() {
  // The connector's uploadData with db.getCrudBatch(100) (docs/protocol.md §2.2.3).
  auto rows = db().query_rows("SELECT id, data, tx_id FROM ps_crud ORDER BY id ASC LIMIT 101");
  if (rows.size() > 100) rows.resize(100);
  nlohmann::json crud = nlohmann::json::array();
  for (const auto& r : rows) {
    // As the JS CrudEntry.toJSON() a connector posts: the entry plus its tx_id (docs/protocol.md §2.2.3).
    auto entry = nlohmann::json::parse(r[1].value_or("{}"));
    entry["tx_id"] = r[2] ? nlohmann::json(std::stoll(*r[2])) : nlohmann::json(nullptr);
    crud.push_back(std::move(entry));
  }
  const std::string last_id = rows.back()[0].value_or("0");
  nlohmann::json body = {{"client_id", options_.client_id}, {"crud", crud}};
  sim::HttpRequest http{"POST", "/backend/upload", body.dump(), options_.user};
  const bool skip = has_mutant(EngineMutant::CompleteWithoutUpload) && ++mutant_batches_ % 3 == 0;
  if (skip) trace_.log(name_, "MUTANT batch up to {} completed without uploading", last_id);
  // A kill armed for mid-upload happens once the request is on the wire (the send is
  // registered before this coroutine first suspends).
  if (!skip && kill_point_ == KillPoint::MidUpload) {
    loop_.at(loop_.now(), [this] { fire_kill(KillPoint::MidUpload); });
  }
  if (!skip && observer_) observer_->on_upload_sent(*this);
  sim::HttpResponse response;  // 200, as the mutant pretends
  if (!skip) response = co_await link_.request(std::move(http));
  if (response.status != 200) {
    throw std::runtime_error(
        fmt::format("upload failed: HTTP {}: {}", response.status, response.body));
  }
  ++stats_.uploads;
  // complete(): handleCrudCheckpoint without a write checkpoint -> target MAX.
  db().begin();
  db().query_int("DELETE FROM ps_crud WHERE id <= ? RETURNING 0", {last_id});
  auto previous = sdk_write_target(kMaxOpId);
  db().commit();
  report_target_write(kMaxOpId, previous);
  // Quirk §2.7.7: this DELETE touches ps_crud, so one more (no-op) upload round follows;
  // the fix ignores the SDK's own DELETE.
  const TouchedTables touched = db().take_touched();
  if (!quirk_fixed(Quirk::ExtraUploadRound)) after_write_lock(touched);
  trace_.log(name_, "uploaded {} crud entries (up to {})", crud.size(), last_id);
  if (observer_) observer_->on_uploaded(*this, crud);
}

sim::Task<bool> Client::update_local_target() {
  // SqliteBucketStorage.updateLocalTarget (docs/protocol.md §2.2.4).
  auto target = sdk_read_target();
  if (!target || std::to_string(*target) != kMaxOpId) co_return false;
  auto seq_before = db().query_int("SELECT seq FROM main.sqlite_sequence WHERE name = 'ps_crud'");
  if (!seq_before) co_return false;
  std::string op_id = co_await write_checkpoint_for_upload();
  db().begin();
  bool has_crud = db().query_int("SELECT 1 FROM ps_crud LIMIT 1").has_value();
  auto seq_after = db().query_int("SELECT seq FROM main.sqlite_sequence WHERE name = 'ps_crud'");
  // Mutant skip-sequence-check: store the target even when writes raced the request.
  const bool skip_check = has_mutant(EngineMutant::SkipSequenceCheck);
  if (skip_check && (has_crud || seq_after != seq_before)) {
    trace_.log(name_, "MUTANT target {} stored despite new local writes", op_id);
  }
  if (!skip_check && (has_crud || seq_after != seq_before)) {
    db().commit();
    db().take_touched();
    trace_.log(name_, "target {} not stored: new local writes", op_id);
    co_return false;
  }
  auto previous = sdk_write_target(op_id);
  db().commit();
  report_target_write(op_id, previous);
  after_write_lock(db().take_touched());
  trace_.log(name_, "target := {}", op_id);
  if (observer_) observer_->on_target_set(*this, std::stoll(op_id));
  co_return true;
}

sim::Task<std::string> Client::write_checkpoint_for_upload() {
  // The callback _uploadAllCrud hands to updateLocalTarget (docs/protocol.md §2.2.2): legacy mode asks
  // the service to generate a write checkpoint, requests mode allocates and posts an id.
  if (options_.checkpoint_mode == CheckpointMode::Legacy) {
    co_return co_await get_legacy_write_checkpoint();
  }
  std::string answer = co_await request_next_checkpoint(outer_.get());
  // Mutant target-posted-id: the allocated id instead of the service's answer (§2.7.6).
  if (has_mutant(EngineMutant::TargetPostedId) && last_posted_id_) {
    co_return std::to_string(*last_posted_id_);
  }
  co_return answer;
}

sim::Task<std::string> Client::get_legacy_write_checkpoint() {
  // getLegacyWriteCheckpoint (docs/protocol.md §2.2.4, §2.1.6): GET /write-checkpoint2.json?client_id=<cid>
  // through fetchAndDecodeJson, without an abort signal; uses data.write_checkpoint.
  ++stats_.legacy_checkpoint_gets;
  const std::string path = "/write-checkpoint2.json?client_id=" + options_.client_id;
  sim::HttpRequest http = co_await build_request("GET", path, "");
  if (observer_) observer_->on_checkpoint_request_sent(*this);
  ++requests_in_flight_;
  InFlight guard{requests_in_flight_};
  auto response = co_await link_.request(std::move(http));
  note_status(response.status);
  if (response.status != 200) {
    throw std::runtime_error(
        fmt::format("Received {} when getting from {}: {}", response.status, path, response.body));
  }
  auto parsed = nlohmann::json::parse(response.body, nullptr, false);
  if (parsed.is_discarded() || !parsed.contains("data") ||
      !parsed["data"].contains("write_checkpoint") ||
      !parsed["data"]["write_checkpoint"].is_string()) {
    throw std::runtime_error("malformed write-checkpoint2 response: " + response.body);
  }
  std::string checkpoint = parsed["data"]["write_checkpoint"].get<std::string>();
  trace_.log(name_, "Created write checkpoint: {}", checkpoint);
  co_return checkpoint;
}

sim::Task<std::string> Client::request_next_checkpoint(sim::AbortSignal* abort) {
  // requestNextCheckpointFromService (docs/protocol.md §2.2.4)
  if (!co_await wait_ready(abort, true)) throw sim::Aborted(abort ? abort->reason() : "aborted");
  auto id = control_int("next_checkpoint_request_id", std::nullopt);
  if (!id) throw std::runtime_error("next_checkpoint_request_id returned NULL");
  last_posted_id_ = id;
  co_return co_await post_checkpoint_request(std::to_string(*id), nullptr);
}

sim::Task<std::string> Client::post_checkpoint_request(const std::string& id,
                                                       sim::AbortSignal* abort) {
  // requestCheckpointFromService (docs/protocol.md §2.2.6): the connector's postCheckpointRequest
  // (through the app backend; the abort signal is not passed on, quirk §2.7.3) or
  // POST /sync/checkpoint-request.
  ++stats_.checkpoint_posts;
  nlohmann::json body = {{"client_id", options_.client_id}, {"checkpoint_request_id", id}};
  const bool backend = options_.post_checkpoint_request_via_backend;
  const std::string path = backend ? "/backend/checkpoint-request" : "/sync/checkpoint-request";
  sim::HttpRequest http;
  if (backend) {
    http = sim::HttpRequest{"POST", path, body.dump(), options_.user};
  } else {
    http = co_await build_request("POST", path, body.dump());
  }
  if (observer_) observer_->on_checkpoint_request_sent(*this);
  ++requests_in_flight_;
  InFlight guard{requests_in_flight_};
  auto response = co_await link_.request(std::move(http), backend ? nullptr : abort);
  if (!backend) note_status(response.status);
  if (response.status != 200) {
    throw std::runtime_error(
        fmt::format("Received {} when getting from {}: {}", response.status, path, response.body));
  }
  auto parsed = nlohmann::json::parse(response.body, nullptr, false);
  if (parsed.is_discarded() || !parsed.contains("data") ||
      !parsed["data"].contains("checkpoint_request_id") ||
      !parsed["data"]["checkpoint_request_id"].is_string()) {
    throw std::runtime_error("malformed checkpoint-request response: " + response.body);
  }
  std::string accepted = parsed["data"]["checkpoint_request_id"].get<std::string>();
  const int64_t accepted_id = std::stoll(accepted);
  highest_accepted_ = std::max(highest_accepted_.value_or(0), accepted_id);
  co_return accepted;
}

// ---------------------------------------------------------------------------------
// credentials (docs/protocol.md §2.1.7)

sim::Task<Client::Credentials> Client::fetch_credentials() {
  // connector.fetchCredentials: a token for this client's user, valid token_lifetime.
  ++stats_.credential_fetches;
  co_await loop_.sleep_for(credentials_rng_.range(0, options_.fetch_credentials_latency_max));
  Credentials c{options_.user, loop_.now() + options_.token_lifetime};
  trace_.log(name_, "fetched credentials (expire at {}s)",
             (c.expires_at - sim::kEpoch) / sim::kSeconds);
  co_return c;
}

sim::Task<Client::Credentials> Client::get_credentials() {
  // Cached, or fetched and cached; concurrent callers are not deduplicated (quirk §2.7.4).
  if (credentials_) co_return *credentials_;
  Credentials c = co_await fetch_credentials();
  credentials_ = c;
  co_return c;
}

void Client::invalidate_credentials(const char* why) {
  if (credentials_) trace_.log(name_, "credentials invalidated: {}", why);
  credentials_.reset();
}

sim::Task<void> Client::prefetch_credentials(std::shared_ptr<sim::Queue<Event>> events) {
  // FetchCredentials{did_expire:false} (docs/protocol.md §2.1.5): fetch, then inject refreshed_token.
  // Quirk §2.7.4: the result is not cached, so the restart fetches again; the fix caches it.
  ++stats_.credential_prefetches;
  Credentials c = co_await fetch_credentials();
  if (quirk_fixed(Quirk::PrefetchDoubleFetch)) credentials_ = c;
  events->push(Event{EventKind::RefreshedToken, ""});  // dropped if the iteration ended
}

sim::Task<sim::HttpRequest> Client::build_request(std::string method, std::string path,
                                                  std::string body) {
  // AbstractRemote.buildRequest (docs/protocol.md §2.1.6): every service request carries the token.
  Credentials c = co_await get_credentials();
  sim::HttpRequest http{std::move(method), std::move(path), std::move(body), c.subject};
  http.token_expires_at = c.expires_at;
  co_return http;
}

void Client::note_status(int status) {
  // docs/protocol.md §2.1.6: a 401 from any route invalidates the credentials (§2.6 item 12).
  if (status != 401) return;
  ++stats_.unauthorized;
  invalidate_credentials("HTTP 401");
}

// ---------------------------------------------------------------------------------
// requestCheckpoint / waitForSync (docs/protocol.md §2.3.1)

bool Client::is_checkpoint_request_applied(int64_t id) const {
  return applied_request_id_.has_value() && *applied_request_id_ >= id;
}

sim::Task<int64_t> Client::request_checkpoint() {
  // BPD.requestCheckpoint: a sync implementation exists from connect() until disconnect()
  // finished; then impl.requestCheckpoint() with a never-aborting signal.
  if (running_loops_ == 0) throw SyncApiError(kDisconnectedError, "");
  if (options_.checkpoint_mode == CheckpointMode::Legacy) throw SyncApiError(kLegacyError, "");
  std::string answer = co_await request_next_checkpoint(nullptr);
  co_return std::stoll(answer);
}

sim::Task<void> Client::wait_for_sync(int64_t id, std::shared_ptr<sim::AbortSignal> abort) {
  // Mutant wait-resolves-on-seen: a validated but withheld checkpoint counts as applied.
  auto applied = [&] {
    return is_checkpoint_request_applied(id) ||
           (has_mutant(EngineMutant::WaitResolvesOnSeen) && last_seen().value_or(0) >= id);
  };
  auto resolved = [&] {
    if (observer_) observer_->on_wait_resolved(*this, id);
  };
  if (applied()) {
    resolved();
    co_return;
  }
  if (running_loops_ == 0) throw SyncApiError(kDisconnectedError, "");
  if (options_.checkpoint_mode == CheckpointMode::Legacy) throw SyncApiError(kLegacyError, "");
  // db.waitForStatus(pred): evaluated now and on every status change (docs/protocol.md §2.3.1 step 3).
  while (true) {
    if (applied()) {
      resolved();
      co_return;
    }
    if (download_error_ || upload_error_) {
      throw SyncApiError(kSyncWaitError, download_error_ ? *download_error_ : *upload_error_);
    }
    if (!connected_ && !connecting_) throw SyncApiError(kDisconnectedError, "");
    if (abort && abort->aborted()) throw SyncApiError(abort->reason(), "");
    co_await sim::wait_for(loop_, std::nullopt, &status_changed_, abort.get());
  }
}

// ---------------------------------------------------------------------------------
// repost loop (docs/protocol.md §2.3.3)

sim::Task<void> Client::repost_loop() {
  // Legacy mode has no client-allocated ids to re-post: the loop returns at once.
  if (options_.checkpoint_mode == CheckpointMode::Legacy) co_return;
  while (!outer_->aborted()) {
    bool failed = false;
    try {
      if (!co_await wait_ready(outer_.get(), false)) co_return;
      auto id = control_int("current_checkpoint_request_id", std::nullopt);
      repost_timer_ = RepostTimer{loop_.now() + rng_.jitter(options_.repost_delay), id};
      co_await sim::wait_for(loop_, repost_timer_->at, outer_.get());
      repost_timer_.reset();
      if (outer_->aborted()) co_return;
      auto now_id = control_int("current_checkpoint_request_id", std::nullopt);
      const bool stale = has_mutant(EngineMutant::RepostStaleId);
      if (id != now_id && !stale) continue;  // a new request was made: restart the timer
      if (id && applied_request_id_ && *applied_request_id_ >= *id && !stale) continue;
      // Quirk §2.7.8 fix: stop once the service accepted an id >= current.
      if (quirk_fixed(Quirk::RepostUntilApplied) && id && highest_accepted_ &&
          *highest_accepted_ >= *id && !stale) {
        continue;
      }
      if (!co_await wait_ready(outer_.get(), false)) co_return;
      if (!id) continue;
      trace_.log(name_, "repost {}", *id);
      ++stats_.reposts;
      if (observer_) observer_->on_reposted(*this, *id);
      co_await post_checkpoint_request(std::to_string(*id), outer_.get());
    } catch (const std::exception& e) {
      if (outer_->aborted()) co_return;
      trace_.log(name_, "repost failed: {}", e.what());
      failed = true;
    }
    if (failed) {
      co_await sim::wait_for(loop_, loop_.now() + rng_.jitter(options_.repost_delay), outer_.get());
    }
  }
}

// ---------------------------------------------------------------------------------
// workload writes and observables

void Client::local_write(LocalWrite write) {
  write.seq = ++write_seq_;
  const std::string& t = write.table;
  if (t != "todos" && t != "notes" && !(t == "items" && options_.stream_tables)) {
    throw std::invalid_argument("unknown table " + t);
  }
  db().begin();
  try {
    if (!write.description) {
      write.changed =
          db().query_int("DELETE FROM " + t + " WHERE id = ? RETURNING 0", {write.id}).has_value();
    } else if (db().query_int("SELECT 1 FROM " + t + " WHERE id = ?", {write.id})) {
      db().query_int("UPDATE " + t + " SET description = ? WHERE id = ? RETURNING 0",
                     {*write.description, write.id});
    } else {
      db().query_int("INSERT INTO " + t + "(id, description) VALUES (?, ?) RETURNING 0",
                     {write.id, *write.description});
    }
    if (write.with_event) {
      db().query_int("INSERT INTO events(id, description) VALUES (?, ?) RETURNING 0",
                     {fmt::format("e{}-{}", options_.index, write.seq),
                      fmt::format("{}/{}", t, write.id)});
    }
    if (kill_point_ == KillPoint::MidTransaction) {
      // The app dies before COMMIT: this write never happened (docs/invariants.md §1).
      trace_.log(name_, "killed inside the transaction of write {}/{}", t, write.id);
      fire_kill(KillPoint::MidTransaction);
      return;
    }
    db().commit();
    ++stats_.local_writes;
  } catch (...) {
    if (db_) db_->rollback();
    throw;
  }
  trace_.log(name_, "write {}/{} = {}{}", t, write.id, write.description.value_or("<deleted>"),
             write.with_event ? " +event" : "");
  if (observer_) observer_->on_local_write(*this, write);
  after_write_lock(db().take_touched());
}

std::optional<std::optional<std::string>> Client::read_row(const std::string& table,
                                                           const std::string& id) {
  auto rows = db().query_rows("SELECT description FROM " + table + " WHERE id = ?", {id});
  if (rows.empty()) return std::nullopt;
  return rows[0][0];
}

std::map<std::string, std::optional<std::string>> Client::read_table(const std::string& table) {
  std::map<std::string, std::optional<std::string>> out;
  for (const auto& r : db().query_rows("SELECT id, description FROM " + table)) {
    out[r[0].value_or("")] = r[1];
  }
  return out;
}

std::optional<int64_t> Client::kv_int(const std::string& key) {
  return db().query_int("SELECT CAST(value AS INTEGER) FROM ps_kv WHERE key = ?", {key});
}

std::optional<int64_t> Client::bucket_unapplied(const std::string& bucket) {
  return db().query_int("SELECT last_op - last_applied_op FROM ps_buckets WHERE name = ?",
                        {bucket});
}

int64_t Client::crud_count() { return db().query_int("SELECT count(*) FROM ps_crud").value_or(0); }

std::map<std::string, Client::BucketChecksum> Client::bucket_checksums() {
  std::map<std::string, BucketChecksum> out;
  for (const auto& row :
       db().query_rows("SELECT name, last_op, (add_checksum + op_checksum) & 0xffffffff "
                       "FROM ps_buckets WHERE name != '$local'",
                       {})) {
    if (row.size() != 3 || !row[0] || !row[1] || !row[2]) continue;
    out[*row[0]] = BucketChecksum{std::stoll(*row[1]),
                                  static_cast<int32_t>(static_cast<uint32_t>(std::stoll(*row[2])))};
  }
  return out;
}

int64_t Client::applied_position() {
  if (options_.stream_tables) {
    // Sync streams (issue 7): stream buckets come and go with subscriptions (a removed
    // one takes its last_applied_op with it), so the position is that of the world's
    // always-synced buckets (global[], notes["<user>"]).
    return db()
        .query_int(
            "SELECT max(last_applied_op) FROM ps_buckets WHERE name = 'global[]' "
            "OR name LIKE 'notes[%'")
        .value_or(0);
  }
  return db().query_int("SELECT max(last_applied_op) FROM ps_buckets WHERE name != '$local'")
      .value_or(0);
}

std::string Client::pending() {
  auto show = [](std::optional<int64_t> v) { return v ? std::to_string(*v) : std::string("none"); };
  static const char* kStates[] = {"pending", "ready", "error", "disconnected"};
  if (closed()) return "closed";
  if (js_) {
    return fmt::format("{}; target {}, last_seen {}, last_requested {}, ps_crud {}", js_->pending(),
                       show(target()), show(last_seen()), show(last_requested()), crud_count());
  }
  return fmt::format(
      "{} ({}); target {}, last_seen {}, last_requested {}, ps_crud {}; checkpoint state {}; "
      "uploading {}; download error: {}; upload error: {}",
      phase_, connected_ ? "connected" : (connecting_ ? "connecting" : "not connected"),
      show(target()), show(last_seen()), show(last_requested()), crud_count(),
      kStates[static_cast<int>(checkpoint_state_)], uploading_ ? "yes" : "no",
      download_error_.value_or("none"), upload_error_.value_or("none"));
}

}  // namespace syncsim::engine
