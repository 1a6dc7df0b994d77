#include "engine/sdk_shim.hpp"

// The shim's parts, along the SDK's own seams: this file (construction, open, connect,
// disconnect, close and kill, checkpoint state, control calls, workload writes and
// observables); sdk_shim_download.cpp (the download loop); sdk_shim_upload.cpp (the upload
// loop and its write checkpoints); sdk_shim_checkpoint_requests.cpp (readiness,
// requestCheckpoint/waitForSync, posting and reposting requests); sdk_shim_credentials.cpp;
// sdk_shim_streams.cpp (the sync-stream subscription API).

#include <fmt/format.h>

#include <algorithm>
#include <cassert>
#include <map>

#include "sim/vfs.hpp"

#include "engine/barrier_explanation.hpp"
#include "engine/control_reply.hpp"
#include "engine/js/js_real_client.hpp"
#include "engine/sdk_shim_internal.hpp"
#include "engine/sync_line.hpp"
#include "engine/sync_line_peek.hpp"
#include "engine/watched_read.hpp"

namespace syncsim::engine {

using namespace shim_detail;  // NOLINT(google-build-using-namespace): the shim's own helpers

namespace {
constexpr std::pair<Quirk, const char*> kQuirkNames[] = {
    {Quirk::WaiterWakesOnlyWhenPending, "waiter-wakes-only-when-pending"},
    {Quirk::StaleSeedOutcome, "stale-seed-outcome"},
    {Quirk::PrefetchDoubleFetch, "prefetch-double-fetch"},
    {Quirk::ExtraUploadRound, "extra-upload-round"},
    {Quirk::RepostUntilApplied, "repost-until-applied"},
    {Quirk::CustomCheckpointInverted, "custom-checkpoint-inverted"},
};
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
  if (options_.sdk == SdkBehaviour::JsLegacy &&
      options_.checkpoint_mode != CheckpointMode::Legacy) {
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
  report_violation(loop_, trace_, verdicts_, name_,
                   sim::Violation{invariant, loop_.clock().elapsed(),
                                  fmt::format("client {}", options_.index), message});
}

void report_violation(sim::Loop& loop, sim::Trace& trace, sim::Verdicts* verdicts,
                      const std::string& trace_name, sim::Violation v) {
  if (!verdicts || !verdicts->enabled(v.invariant)) return;
  const std::string stop = v.invariant + ": " + v.message;
  trace.log(trace_name, "VIOLATION {}: {}", v.invariant, v.message);
  sim::log_explanation(trace, v);  // nothing without inputs: the trace stays as it was
  verdicts->violate(std::move(v));
  loop.stop(sim::StopKind::Failure, stop);
}

sim::Violation barrier_violation(int client, sim::Micros at, const std::string& op,
                                 bool crud_before, std::optional<int64_t> target_before,
                                 std::optional<int64_t> last_seen, uint64_t before_line,
                                 uint64_t now_line, const std::string& who) {
  const std::string crud = crud_before ? "non-empty" : "empty";
  const std::string target = target_before ? std::to_string(*target_before) : "none";
  const std::string seen = last_seen ? std::to_string(*last_seen) : "none";
  std::vector<sim::ViolationInput> inputs{
      {"ps_crud before", crud,
       fmt::format("ps_crud of client {} read before the {} call", client, op), before_line},
      {"target before", target,
       fmt::format("the target of client {} read before the {} call", client, op), before_line},
      {"last_seen", seen, fmt::format("last_seen of client {} after the call", client), now_line},
      {"rows published", "yes",
       fmt::format("the update hook on ps_data__* tables during the {} call", op), now_line}};
  std::vector<sim::CauseStep> chain{
      {fmt::format("before the {} call the gate of client {} is closed (ps_crud {}, target {}, "
                   "last_seen {})",
                   op, client, crud, target, seen),
       before_line},
      {fmt::format("the {} call writes ps_data__* rows: the checkpoint is published past the "
                   "barrier",
                   op),
       now_line}};
  return sim::Violation{"barrier-holds",
                        at,
                        fmt::format("client {}", client),
                        fmt::format("{} published rows while the gate was closed (ps_crud {}, "
                                    "target {}, last_seen {}{})",
                                    op, crud, target, seen, who),
                        std::move(inputs),
                        std::move(chain)};
}

// ---------------------------------------------------------------------------------
// open (docs/protocol.md §2.1.1)

namespace {
// The database a fresh client's open() makes, migrated and with the schema: built once per
// process (per core, schema and SDK) in a scratch store and copied into each new client's file,
// instead of running the core's migrations for every client of every seed (issue 20).  open()
// then runs as before on the copy; replace_schema finds its schema already there.  Empty when
// the build failed: open() then reports the failure itself, as without a copy.
const std::vector<uint8_t>& fresh_database(const CoreVersion& core, const std::string& schema,
                                           bool legacy) {
  static std::map<std::string, std::vector<uint8_t>> built;  // a process-wide cache
  const std::string key = fmt::format("{}\n{}\n{}", core.path, schema, legacy);
  auto it = built.find(key);
  if (it != built.end()) return it->second;
  std::vector<uint8_t> bytes;
  try {
    bytes = sim::build_in_scratch_store("fresh.db", [&] {
      Database db("fresh.db", core);
      if (legacy) db.query_text("SELECT powersync_init()");
      db.begin();
      db.query_text("SELECT powersync_replace_schema(?)", {schema});
      db.commit();
    });
  } catch (const std::exception&) {
    bytes.clear();
  }
  return built.emplace(key, std::move(bytes)).first->second;
}
}  // namespace

void Client::open() {
  sim::FileStore* files = sim::bound_file_store();
  // fsync-lies makes a file's first sync its only durable state; the copy would move it.
  if (files != nullptr && !files->fsync_lies() && !files->exists(file_name_)) {
    const auto& bytes =
        fresh_database(core_, schema_json(options_.stream_tables), opens_like_an_old_sdk());
    if (!bytes.empty()) files->install(file_name_, bytes);
  }
  db_ = std::make_unique<Database>(file_name_, core_, files ? files->cost_meter() : nullptr);
  // The SDK's own open (docs/protocol.md §2.1.1): its version check, its schema transaction and
  // its status seed are the client engine's SQL, not the framework's; the client_id pin is ours.
  {
    const Database::SdkSql sdk(db());
    auto version = db().query_text("SELECT powersync_rs_version()").value_or("");
    // A pinned core's name is a version prefix ("0.5.3"); a --core-path core's name is
    // the full powersync_rs_version() it reported when it was described.
    if (version != core_.name && version.rfind(core_.name + "/", 0) != 0) {
      throw std::runtime_error(fmt::format("core at {} reports version '{}', expected {}",
                                           core_.path, version, core_.name));
    }
    if (opens_like_an_old_sdk()) {
      // Old SDKs run powersync_init() themselves, in autocommit (0.4.x accepts that; 0.5.x
      // refuses: docs/protocol.md §1.1.2, docs/protocol.md §2.5 item 7).  It migrates a newer
      // file down.
      db().query_text("SELECT powersync_init()");
    }
    db().begin();
    db().query_text("SELECT powersync_replace_schema(?)", {schema_json(options_.stream_tables)});
  }
  // The core's client_id is random (OS entropy); make it a function of the scenario.
  db().query_text("UPDATE ps_kv SET value = ? WHERE key = 'client_id' RETURNING value",
                  {options_.client_id});
  {
    const Database::SdkSql sdk(db());
    db().commit();
    db().take_touched();
    status_ = nlohmann::json::parse(
        db().query_text("SELECT powersync_offline_sync_status()").value_or("{}"));
  }
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
  // docs/protocol.md §2.1.2: a new implementation with a fresh CheckpointStateSignals (pending) and
  // a fresh outer signal, then three loops on it.
  outer_ = std::make_shared<sim::AbortSignal>();
  nested_ = std::make_shared<sim::AbortSignal>();  // disconnect() left the old one aborted
  checkpoint_state_ = CheckpointState::Pending;
  checkpoint_error_.clear();
  checkpoint_state_changed_.notify();
  running_loops_ = 3;
  sync_impl_ = true;
  // generateSyncStreamImplementation builds a new remote per connect() (@powersync/node 1.1.0
  // `new NodeRemote(connector, ...)`), whose credentials cache starts empty: the first request
  // of every connect fetches credentials again (docs/protocol.md §2.1.7).
  credentials_.reset();
  trace_.log(name_, "connect");
  // The repost loop first: in the SDK it reaches waitForCheckpointRequestsReady synchronously
  // inside connect(), the upload loop only after several awaits (obtainLock, nextCrudItem,
  // updateLocalTarget's transaction), and CheckpointStateSignals.updateState wakes listeners
  // in registration order (@powersync/shared-internals 1.3.0 lib/client/sync/stream/
  // CheckpointState.js; AbstractStreamingSyncImplementation.js connect()).  So at the seed the
  // repost loop reads `current` before the upload path allocates `next` (`syncsim diff`
  // restart seed 3).  It does nothing else before that wait, so no other order moves.
  loop_.spawn(run_loop(repost_loop()), name_ + ".repost");
  loop_.spawn(run_loop(upload_loop()), name_ + ".upload");
  loop_.spawn(run_loop(download_loop()), name_ + ".download");
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
  // ConnectionManager.performDisconnect nulls the implementation before it awaits
  // sync.disconnect(): requestCheckpoint()/waitForSync() reject from here on (§2.3.1).
  sync_impl_ = false;
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
  {
    const Database::SdkSql sdk(db());
    db().begin();
    db().query_text("SELECT powersync_clear(1)");
    db().commit();
    db().take_touched();  // the cleared ps_crud must not schedule an upload (no loop runs)
    status_ = nlohmann::json::parse(
        db().query_text("SELECT powersync_offline_sync_status()").value_or("{}"));
  }
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
  sync_impl_ = false;  // close() disconnects first
  outer_->abort(reason);
  nested_->abort(reason);
  // The real SDK's close() disconnects first (BasePowerSyncDatabase.close): its loops wind
  // down (powersync_control('stop')) until close() drops the realm, as the port's loops do.
  if (js_) js_->begin_close();
  kill_hook_ = nullptr;
  kill_point_.reset();
}

void Client::close() {
  if (js_) js_->kill();  // a kill, or the end of a graceful close: the realm goes now
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
  return query_int_watched(db(), Watched::Buckets,
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
  // 0.4.x has no checkpoint requests; a key left by a 0.5.x life is stale there (docs/protocol.md
  // §2.5).
  if (!state_in_kv()) return std::nullopt;
  return kv_int("last_requested_checkpoint_request_id");
}

std::optional<int64_t> Client::sdk_read_target() {
  if (options_.sdk == SdkBehaviour::Js130) {
    return control_int("target_checkpoint_request_id", std::nullopt);  // docs/protocol.md §2.2.4
  }
  // Pre-#1049 SDKs read `$local.target_op` (docs/protocol.md §2.5 item 3).
  const Database::SdkSql sdk(db());
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
  const bool line = op == "line_text" || op == "line_binary";
  const bool can_publish = line || op == "completed_upload";
  new_control_call();
  {
    // The SDK's write transaction around every call (docs/protocol.md §2.0): its SQL, not ours.
    const Database::SdkTxn sdk(db());
    db().begin();
  }
  // barrier-holds (docs/invariants.md §1): ps_crud and target read before the call, last_seen
  // after it; publication detected by the update hook on ps_data__* tables.
  bool crud_before = false;
  std::optional<int64_t> target_before;
  if (can_publish) {
    static const std::string kCrudExists = "SELECT EXISTS(SELECT 1 FROM ps_crud)";
    crud_before = query_int_watched(db(), Watched::Crud, kCrudExists).value_or(0) != 0;
    target_before = target();  // `$local.target_op` on 0.4.x (docs/invariants.md §1)
  }
  const uint64_t before_line = trace_.lines();
  db().take_touched();
  std::optional<std::string> result;
  try {
    result = db().control(op, payload);
  } catch (...) {
    const Database::SdkTxn sdk(db());
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
    // The line's text only when the gate was closed: most applies are not judged further.
    const std::string* text = gate_closed && line ? sync_line(op, payload) : nullptr;
    if (gate_closed && text != nullptr && is_priority0_partial(*text)) {
      // docs/invariants.md §1, docs/protocol.md §1.3.6: a partial_checkpoint_complete with priority
      // 0 publishes past the barrier by design; only these applies are exempt, and they are
      // counted.
      ++stats_.priority0_bypasses;
      trace_.log(name_, "priority-0 partial checkpoint published past the barrier");
    } else if (gate_closed) {
      report_violation(loop_, trace_, verdicts_, name_,
                       barrier_violation(options_.index, loop_.clock().elapsed(), op, crud_before,
                                         target_before, seen, before_line, trace_.lines(), ""));
    }
  }
  {
    const Database::SdkTxn sdk(db());
    db().commit();
  }
  if (observer_) observer_->on_control(*this, op, payload, result);
  after_write_lock(touched);
  if (touched.data_tables && observer_) observer_->on_published(*this);
  return result;
}

std::vector<nlohmann::json> Client::control(const std::string& op,
                                            const std::optional<std::string>& payload) {
  auto result = control_text(op, payload);
  if (result && !result->empty() && (*result)[0] == '[') {
    // parse()'s trees, cheaper; statuses kept as text for handle_instruction
    // (engine/control_reply.hpp).
    return parse_control_reply(*result, RawStatus::Keep);
  }
  return {};
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
// workload writes and observables

void Client::local_write(LocalWrite write) {
  write.seq = ++write_seq_;
  const std::string& t = write.table;
  if (t != "todos" && t != "notes" && !(t == "items" && options_.stream_tables)) {
    throw std::invalid_argument("unknown table " + t);
  }
  // The app's own transaction is the workload, which the bench's sampler tells apart from SQL
  // the framework adds (sim/cost_region.hpp); not across fire_kill, which may close db().
  {
    const Database::WorkloadSql app(db());
    db().begin();
  }
  try {
    {
      const Database::WorkloadSql app(db());
      if (!write.description) {
        write.changed = db().query_int("DELETE FROM " + t + " WHERE id = ? RETURNING 0", {write.id})
                            .has_value();
      } else if (db().query_int("SELECT 1 FROM " + t + " WHERE id = ?", {write.id})) {
        db().query_int("UPDATE " + t + " SET description = ? WHERE id = ? RETURNING 0",
                       {*write.description, write.id});
      } else {
        db().query_int("INSERT INTO " + t + "(id, description) VALUES (?, ?) RETURNING 0",
                       {write.id, *write.description});
      }
      if (write.with_event) {
        db().query_int(
            "INSERT INTO events(id, description) VALUES (?, ?) RETURNING 0",
            {fmt::format("e{}-{}", options_.index, write.seq), fmt::format("{}/{}", t, write.id)});
      }
    }
    if (kill_point_ == KillPoint::MidTransaction) {
      // The app dies before COMMIT: this write never happened (docs/invariants.md §1).
      trace_.log(name_, "killed inside the transaction of write {}/{}", t, write.id);
      fire_kill(KillPoint::MidTransaction);
      return;
    }
    {
      const Database::WorkloadSql app(db());
      db().commit();
    }
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
  const std::optional<std::string>* row = read_row_cached(table, id);
  if (row == nullptr) return std::nullopt;
  return *row;
}

const std::optional<std::string>* Client::read_row_cached(std::string_view table,
                                                          std::string_view id) {
  // read-your-writes reads every acknowledged row after each publication and again after the
  // apply that acknowledged it: cached per row while it did not change (engine/watched_read.hpp).
  return query_description(db(), table, id);
}

std::map<std::string, std::optional<std::string>> Client::read_table(const std::string& table) {
  std::map<std::string, std::optional<std::string>> out;
  for (const auto& r : db().query_rows("SELECT id, description FROM " + table)) {
    out[r[0].value_or("")] = r[1];
  }
  return out;
}

std::optional<int64_t> Client::kv_int(std::string_view key) {
  // The barrier and the invariants read these around every control call: cached per key
  // (engine/watched_read.hpp).
  return query_kv_int(db(), key);
}

std::optional<int64_t> Client::bucket_unapplied(const std::string& bucket) {
  return db().query_int("SELECT last_op - last_applied_op FROM ps_buckets WHERE name = ?",
                        {bucket});
}

int64_t Client::crud_count() {
  // The invariants' gate reads (after every control call) and the abstract state's samples:
  // cached while no ps_crud row changed (engine/watched_read.hpp).
  static const std::string kSql = "SELECT count(*) FROM ps_crud";
  return query_int_watched(db(), Watched::Crud, kSql).value_or(0);
}

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

std::map<std::string, int64_t> Client::bucket_applied() {
  std::map<std::string, int64_t> out;
  for (const auto& row :
       db().query_rows("SELECT name, last_applied_op FROM ps_buckets WHERE name != '$local'", {})) {
    if (row.size() == 2 && row[0] && row[1]) out[*row[0]] = std::stoll(*row[1]);
  }
  return out;
}

const std::string* Client::sync_line(const std::string& op,
                                     const std::optional<std::string>& payload) {
  if (!payload) return nullptr;
  if (op == "line_text") return &*payload;
  if (op != "line_binary") return nullptr;
  if (decoded_for_ != control_call_) {
    decoded_line_ = sync_line_text(op, payload);
    decoded_for_ = control_call_;
  }
  return decoded_line_ ? &*decoded_line_ : nullptr;
}

std::optional<std::string_view> Client::sync_line_key(const std::string& op,
                                                      const std::optional<std::string>& payload) {
  // Only a line's payload is cached: the pseudo calls observers also see (a target's change)
  // carry a local payload under a call's number, and are not lines.
  if (!payload || (op != "line_text" && op != "line_binary")) return std::nullopt;
  if (key_for_.call != control_call_ || key_for_.payload != &*payload) {
    line_key_ = engine::sync_line_key(op, payload);
    key_for_ = {control_call_, &*payload};
  }
  return line_key_;
}

std::optional<std::optional<int64_t>> Client::bson_line_write_checkpoint(
    const std::string& payload) {
  if (write_checkpoint_for_.call != control_call_ || write_checkpoint_for_.payload != &payload) {
    line_write_checkpoint_ = engine::bson_line_write_checkpoint(payload);
    write_checkpoint_for_ = {control_call_, &payload};
  }
  return line_write_checkpoint_;
}

bool Client::last_apply_was_full() {
  return db().query_int("SELECT count(*) = 1 AND max(priority) = 2147483647 FROM ps_sync_state")
             .value_or(0) == 1;
}

int64_t Client::applied_position() {
  if (options_.stream_tables) {
    // Sync streams (issue 7): stream buckets come and go with subscriptions (a removed
    // one takes its last_applied_op with it), so the position is that of the world's
    // always-synced buckets (global[], notes["<user>"]; "<n>#..." after a sync-config
    // reprocessing, docs/protocol.md §3.4).
    return db()
        .query_int(
            "SELECT max(last_applied_op) FROM ps_buckets WHERE name = 'global[]' "
            "OR name LIKE 'notes[%' OR name LIKE '%#global[]' OR name LIKE '%#notes[%'")
        .value_or(0);
  }
  return db()
      .query_int("SELECT max(last_applied_op) FROM ps_buckets WHERE name != '$local'")
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
