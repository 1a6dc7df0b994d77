#include "engine/js/js_real_client.hpp"

// GCC 12+ false positive on Asio's awaitable frame operator delete (the frame's own
// allocator pairs new and delete); seen here only because of the coroutines below.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

#include <fmt/format.h>
#include <sqlite3.h>

#include <iterator>

#include "engine/barrier_explanation.hpp"
#include "engine/control_reply.hpp"
#include "engine/js/bridge.hpp"
#include "engine/sdk_shim.hpp"
#include "engine/sync_line.hpp"

namespace syncsim::engine::js {
namespace {

const char* level_name(int level) {
  if (level >= 50) return "error";
  if (level >= 40) return "warn";
  return "info";
}

std::string header(const nlohmann::json& headers, const std::string& name) {
  for (const auto& [k, v] : headers.items()) {
    std::string lower = k;
    for (char& c : lower) c = char(std::tolower(static_cast<unsigned char>(c)));
    if (lower == name && v.is_string()) return v.get<std::string>();
  }
  return "";
}

}  // namespace

JsRealClient::JsRealClient(Client& client, JsHost& host) : client_(client), host_(host) {
  host_.attach(client_.name(), this);
}

JsRealClient::~JsRealClient() {
  *alive_ = false;
  host_.detach(client_.name());
}

void JsRealClient::deliver(nlohmann::json event) {
  event["client"] = client_.name();
  host_.deliver(event);
}

void JsRealClient::open() {
  const auto& o = client_.options_;
  nlohmann::json options = {
      {"checkpoint_mode", o.checkpoint_mode == CheckpointMode::Legacy ? "legacy" : "requests"},
      {"retry_delay_ms", o.retry_delay / sim::kMillis},
      {"crud_upload_throttle_ms", o.crud_upload_throttle / sim::kMillis},
      {"stream_tables", o.stream_tables},
      // The backend answers uploads with a custom write checkpoint (our connector's complete()).
      {"custom_write_checkpoints", o.custom_write_checkpoints},
      // The connector's postCheckpointRequest through the app backend (sdk_client.mjs).
      {"post_checkpoint_request_via_backend", o.post_checkpoint_request_via_backend}};
  // Version skew: the SDK's own version check is bypassed and traced (sdk_client*.mjs).
  if (o.sdk_package_forced) options["sdk_package_force"] = true;
  nlohmann::json event = {{"op", "open"}, {"user", o.user}, {"options", options}};
  // The SDK that pairs with this life's core (an app update switches SDK and core together),
  // or the scenario's sdk_package override.
  if (!o.sdk_package.empty()) {
    event["sdk"] = o.sdk_package;
    client_.trace_.log(client_.name(), "sdk_package {} with core {} ({})", o.sdk_package,
                       client_.core().name,
                       o.sdk_package_forced ? "forced past the SDK's version check"
                                            : "version skew the SDK accepts");
  } else if (auto project = js_real_project_for_core(client_.core().name)) {
    event["sdk"] = *project;
  }
  deliver(std::move(event));
}

void JsRealClient::connect() {
  connected_ = true;
  deliver({{"op", "connect"}});
}

sim::Task<void> JsRealClient::disconnect() {
  if (!connected_) co_return;
  auto alive = alive_;
  deliver({{"op", "disconnect"}});
  while (*alive && connected_) {
    co_await sim::wait_for(client_.loop_, std::nullopt, &disconnected_);
  }
}

sim::Task<JsRealClient::ApiCall> JsRealClient::api_call(nlohmann::json event,
                                                        std::shared_ptr<sim::AbortSignal> abort) {
  auto alive = alive_;
  if (killed_) throw ClientClosed();
  const int64_t call = next_api_call_++;
  api_calls_[call];
  event["call"] = call;
  deliver(std::move(event));
  bool abort_sent = false;
  while (*alive && !api_calls_[call].done) {
    if (abort && abort->aborted() && !abort_sent) {
      abort_sent = true;  // the AbortController the app passed to waitForSync({signal})
      deliver({{"op", "abort_wait"}, {"call", call}, {"reason", abort->reason()}});
      continue;
    }
    co_await sim::wait_for(client_.loop_, std::nullopt, &api_done_,
                           abort_sent ? nullptr : abort.get());
  }
  if (!*alive) throw ClientClosed();
  ApiCall out = std::move(api_calls_[call]);
  api_calls_.erase(call);
  co_return out;
}

sim::Task<int64_t> JsRealClient::request_checkpoint() {
  // Built outside the co_await expression: g++ 12 miscompiles braced temporaries there.
  nlohmann::json event = {{"op", "request_checkpoint"}};
  ApiCall r = co_await api_call(std::move(event), nullptr);
  if (!r.error.empty() || !r.id) throw SyncApiError(r.error, "");
  co_return *r.id;
}

sim::Task<void> JsRealClient::wait_for_sync(int64_t id, std::shared_ptr<sim::AbortSignal> abort) {
  nlohmann::json event = {{"op", "wait_for_sync"}, {"id", std::to_string(id)}};
  ApiCall r = co_await api_call(std::move(event), std::move(abort));
  if (!r.error.empty()) throw SyncApiError(r.error, "");
}

void JsRealClient::tables_changed(bool ps_crud, bool data_tables) {
  if (killed_ || (!ps_crud && !data_tables)) return;
  nlohmann::json tables = nlohmann::json::array();
  if (ps_crud) tables.push_back("ps_crud");
  if (data_tables) tables.push_back("ps_data");
  deliver({{"op", "tables_changed"}, {"tables", tables}});
}

void JsRealClient::stream_call(nlohmann::json call) {
  if (killed_) return;
  call["op"] = "stream";
  deliver(std::move(call));
}

void JsRealClient::begin_close() {
  if (killed_ || !connected_) return;
  if (host_.draining()) {  // a fault fired by something the SDK did: after this drain
    client_.loop_.after(0, [this, alive = alive_] {
      if (*alive) begin_close();
    });
    return;
  }
  deliver({{"op", "disconnect"}});
}

void JsRealClient::kill() {
  if (killed_) return;
  killed_ = true;
  if (reads_) {
    client_.trace_.log(client_.name(),
                       "js reads: {} on the write connection, {} on snapshots ({} made)",
                       reads_->on_writer(), reads_->on_snapshot(), reads_->snapshots());
  }
  *alive_ = false;
  for (auto& [req, abort] : in_flight_) abort->abort("the app was closed");
  for (auto& [req, open] : streams_) open.stream->close();
  in_flight_.clear();
  streams_.clear();
  in_flight_paths_.clear();
  connected_ = false;
  disconnected_.notify();
  api_done_.notify();  // pending API calls end with the life (ClientClosed)
  deliver({{"op", "close"}});
}

namespace {

SqlReply sql_error(const std::string& message, int code, bool before_failed = false) {
  nlohmann::json reply = {{"op", "sql_error"}, {"message", message}};
  if (before_failed) {
    reply["before_failed"] = true;
  } else {
    reply["code"] = code;
  }
  return {reply.dump(), message};
}

// {"op":"rows","columns":...,"rows":...,"changes":...,"insert_id":...: the reply's head, written
// as text from the rows' own (docs/performance-js-real.md "(js20)").
std::string rows_reply(const StatementRows& rows, int64_t changes, int64_t insert_id) {
  std::string out;
  out.reserve(64 + rows.columns_text.size() + rows.rows_text.size());
  out += R"({"op":"rows","columns":)";
  out += rows.columns_text;
  out += R"(,"rows":)";
  out += rows.rows_text;
  fmt::format_to(std::back_inserter(out), R"(,"changes":{},"insert_id":{})", changes, insert_id);
  return out;
}

}  // namespace

SqlReply JsRealClient::sql(const HostMessage& call) {
  const std::string& text = call.sql;
  const nlohmann::json& params = call.params;
  try {
    sqlite3* db = client_.db().raw();
    // A BEGIN the host deferred to travel with this client's next statement, on the writer or
    // a reader (engine/js/sdk_client.mjs sql()): it runs, and the read pool sees it, exactly
    // where it would have alone -- no call of this client's came in between.
    if (!statements_) statements_ = std::make_unique<StatementCache>(db);
    for (const auto& before : call.before) {
      note_transaction_start(db);
      if (reads_) reads_->before_write(before);
      try {  // prepared once per life (the statement cache), as sqlite3_exec() ran it
        run_statements(db, before, nlohmann::json::array(), false, statements_.get(), RowsAs::Text);
      } catch (const SqlError& e) {
        return sql_error(e.what(), 0, true);
      }
    }
    if (call.read > 0) return read_sql(int(call.read), text, params);
    note_transaction_start(db);
    if (reads_) reads_->before_write(text);
    const bool control = text.find("powersync_control(") != std::string::npos &&
                         params.size() == 2 && params[0].is_string();
    // The 1.x JavaScript sync client drives the core through this virtual table instead.
    const bool operation = !control && params.size() == 2 && params[0].is_string() &&
                           text.find("INSERT INTO powersync_operations") != std::string::npos;
    if (control || operation) before_control(params[0].get<std::string>());
    if (!statements_) statements_ = std::make_unique<StatementCache>(db);
    const StatementRows rows =
        run_statements(db, text, params, false, statements_.get(), RowsAs::Text);
    const int changes = sqlite3_changes(db);
    const int64_t insert_id = sqlite3_last_insert_rowid(db);
    if (text.rfind("DELETE FROM ps_crud WHERE", 0) == 0) crud_deleted_in_transaction_ = true;
    if (control)
      after_control(params[0].get<std::string>(), text_or_bytes(params[1]), rows.first_value);
    if (operation)
      after_operation(params[0].get<std::string>(), text_or_bytes(params[1]), insert_id);
    if (!params.empty() && changes > 0 &&
        text.find("SET target_op = CAST(?") != std::string::npos) {
      target_written(params[0]);
    }
    // What the host may answer itself until the next event: whether a BEGIN would start a
    // transaction, what the update hook saw (sdk_client.mjs sql(), touched()).
    merge_touched(client_.db().take_touched());
    std::string line = rows_reply(rows, changes, insert_id);
    line += sqlite3_get_autocommit(db) != 0 ? R"(,"autocommit":true,"touched":[)"
                                            : R"(,"autocommit":false,"touched":[)";
    if (pending_touched_.ps_crud) line += R"("ps_crud")";
    if (pending_touched_.data_tables)
      line += pending_touched_.ps_crud ? R"(,"ps_data")" : R"("ps_data")";
    line += "]}";
    return {std::move(line), std::nullopt};
  } catch (const ClientClosed& e) {
    return sql_error(e.what(), SQLITE_MISUSE);
  } catch (const SqlError& e) {
    return sql_error(e.what(), e.code());
  }
}

SqlReply JsRealClient::read_sql(int slot, const std::string& text, const nlohmann::json& params) {
  sqlite3* writer = client_.db().raw();
  if (!statements_) statements_ = std::make_unique<StatementCache>(writer);
  if (!reads_)
    reads_ = std::make_unique<ReadConnections>(writer, client_.core().path, statements_.get());
  const StatementRows rows = reads_->run(slot, text, params, RowsAs::Text);
  // updateLocalTarget reads the target on a read connection (SqliteBucketStorage.js).
  if (text.find("powersync_control(") != std::string::npos && params.size() == 2 &&
      params[0].is_string()) {
    after_control(params[0].get<std::string>(), text_or_bytes(params[1]), rows.first_value);
  }
  // A reader's statement: better-sqlite3 reports no changes and no insert id for it.
  return {rows_reply(rows, 0, 0) + "}", std::nullopt};
}

bool JsRealClient::can_publish(const std::string& op) {
  return op == "line_text" || op == "line_binary" || op == "completed_upload" ||
         op == "sync_local";  // powersync_operations (the 1.x JavaScript sync client)
}

void JsRealClient::before_control(const std::string& op) {
  // barrier-holds, as Client::control_text judges it for the shim: ps_crud and the target
  // before the call (inside the SDK's own transaction), last_seen and publication after.
  merge_touched(client_.db().take_touched());
  gate_before_.reset();
  if (!can_publish(op)) return;
  const bool crud = client_.db().query_int("SELECT EXISTS(SELECT 1 FROM ps_crud)").value_or(0) != 0;
  gate_before_ = GateBefore{crud, client_.target(), client_.trace_.lines()};
}

void JsRealClient::merge_touched(const TouchedTables& t) {
  pending_touched_.ps_crud = pending_touched_.ps_crud || t.ps_crud;
  pending_touched_.data_tables = pending_touched_.data_tables || t.data_tables;
}

void JsRealClient::after_control(const std::string& op, const std::optional<std::string>& payload,
                                 const std::optional<std::string>& result) {
  ++control_calls_[op];
  client_.trace_.log(client_.name(), "js control {} ({} bytes) -> {} bytes", op,
                     payload ? payload->size() : 0, result ? result->size() : 0);
  const TouchedTables touched = client_.db().take_touched();
  merge_touched(touched);
  const bool published = touched.data_tables && can_publish(op);
  client_.new_control_call();
  const std::string* line = client_.sync_line(op, payload);
  check_barrier(op, published,
                line != nullptr && line->find(R"({"partial_checkpoint_complete")") == 0 &&
                    line->find(R"("priority":0})") != std::string::npos);
  auto* observer = client_.observer_;
  if (!observer) return;
  observer->on_control(client_, op, payload, result);
  if (published) observer->on_published(client_);
  // The SDK stores a target through this call (targetCheckpointRequestId(tx, update));
  // a concrete id is what the shim reports as on_target_set (target-no-regress and
  // completed-upload-notified judge it).  Reads pass no payload; MAX marks "unknown".
  if (op == "target_checkpoint_request_id" && payload && !payload->empty() &&
      payload->find_first_not_of("0123456789") == std::string::npos &&
      *payload != "9223372036854775807") {
    observer->on_target_set(client_, std::stoll(*payload), target_writer());
  }
  if (!result || result->empty() || result->front() != '[') return;  // not an instruction list
  // The core's own reply parser (engine/control_reply.hpp): no tree for the statuses, which
  // nothing here reads (docs/performance-js-real.md "(js20)").
  std::vector<nlohmann::json> instructions;
  try {
    instructions = parse_control_reply(*result, RawStatus::Keep);
  } catch (const nlohmann::json::exception&) {
    return;
  }
  for (const auto& i : instructions) {
    if (i.is_object() && i.contains("DidCompleteSync")) {
      const auto& d = i["DidCompleteSync"];
      std::optional<int64_t> applied;
      if (d.is_object() && d.contains("applied_checkpoint_request_id")) {
        const auto& id = d["applied_checkpoint_request_id"];
        if (id.is_number_integer()) applied = id.get<int64_t>();
        if (id.is_string()) applied = std::stoll(id.get<std::string>());
      } else if (!client_.state_in_kv()) {
        // A 0.4.x core (the 1.54.0 Rust client on 0.4.12) sends DidCompleteSync{} without an
        // id; the write checkpoint it applied is `$local.last_applied_op`, as the port reads
        // it (engine/sdk_shim_download.cpp).
        applied = client_.last_applied();
      }
      client_.trace_.log(client_.name(), "applied checkpoint{}",
                         applied ? " id " + std::to_string(*applied) : "");
      observer->on_sync_applied(client_, applied);
    }
    if (!i.is_object() || !i.contains("LogLine")) continue;
    const std::string line = i["LogLine"].value("line", "");
    if (line.find("Could not apply checkpoint due to local data") != std::string::npos) {
      observer->on_checkpoint_blocked(client_);
    }
    if (i["LogLine"].value("severity", "") == "WARNING") observer->on_core_warning(client_, line);
  }
}

void JsRealClient::check_barrier(const std::string& op, bool published, bool priority0) {
  if (!published || !gate_before_ || !client_.verdicts_) return;
  client_.verdicts_->checked("barrier-holds");
  const auto seen = client_.last_seen();
  const bool closed =
      gate_before_->crud || (gate_before_->target && *gate_before_->target > seen.value_or(0));
  if (closed && !priority0) {
    report_violation(
        client_.loop_, client_.trace_, client_.verdicts_, client_.name(),
        barrier_violation(client_.options_.index, client_.loop_.clock().elapsed(), op,
                          gate_before_->crud, gate_before_->target, seen, gate_before_->line,
                          client_.trace_.lines(), "; the real SDK"));
  }
}

void JsRealClient::after_operation(const std::string& op, const std::optional<std::string>& data,
                                   int64_t insert_id) {
  // SqliteBucketStorage (1.x): `INSERT INTO powersync_operations(op, data)`; for sync_local
  // the core answers through the insert id (1: applied; otherwise the barrier withheld it).
  ++operations_[op];
  client_.trace_.log(client_.name(), "js operation {} ({} bytes) -> insert_id {}", op,
                     data ? data->size() : 0, insert_id);
  const TouchedTables touched = client_.db().take_touched();
  merge_touched(touched);
  const bool published = touched.data_tables && can_publish(op);
  // A partial (priority) sync_local names its priority; priority 0 passes the barrier.
  check_barrier(op, published, data && data->find(R"({"priority":0,)") == 0);
  auto* observer = client_.observer_;
  if (observer) observer->on_js_operation(client_, op, insert_id);
  if (op == "sync_local" && (!data || data->empty())) {
    if (insert_id == 1) {
      // 0.4.x: the write checkpoint the apply reached is `$local.last_applied_op`, as the
      // port reads it after DidCompleteSync (engine/sdk_shim_download.cpp).
      const auto applied = client_.last_applied();
      client_.trace_.log(client_.name(), "applied checkpoint{}",
                         applied ? " id " + std::to_string(*applied) : "");
      if (observer) observer->on_sync_applied(client_, applied);
    } else {
      client_.trace_.log(client_.name(), "checkpoint blocked by the barrier");
      if (observer) observer->on_checkpoint_blocked(client_);
    }
  }
  if (published && observer) observer->on_published(client_);
}

void JsRealClient::target_written(const nlohmann::json& value) {
  // `UPDATE ps_buckets SET target_op = CAST(? as INTEGER) WHERE name='$local'` (1.x: upload
  // completion, updateLocalTarget); a concrete id is on_target_set, MAX means "unknown".
  std::string text = value.is_string() ? value.get<std::string>() : value.dump();
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos ||
      text == "9223372036854775807") {
    return;
  }
  if (auto* observer = client_.observer_) {
    observer->on_target_set(client_, std::stoll(text), target_writer());
  }
}

TargetStoredBy JsRealClient::target_writer() const {
  return crud_deleted_in_transaction_ ? TargetStoredBy::CrudComplete
                                      : TargetStoredBy::UpdateLocalTarget;
}

void JsRealClient::note_transaction_start(sqlite3* db) {
  if (sqlite3_get_autocommit(db) != 0) crud_deleted_in_transaction_ = false;
}

std::string JsRealClient::pending() const {
  std::string requests;
  for (const auto& [req, what] : in_flight_paths_) {
    if (!in_flight_.contains(req) && !streams_.contains(req)) continue;
    requests += fmt::format("{}#{} {}{}", requests.empty() ? "" : ", ", req, what,
                            streams_.contains(req) ? " (streaming)" : "");
  }
  std::string timers;
  for (const auto& t : host_.armed_timers(client_.name())) {
    timers += fmt::format("{}{}", timers.empty() ? "" : ", ", t.text);
  }
  return fmt::format("js-real SDK ({}); requests: {}; armed timers: {}",
                     killed_ ? "closed" : (connected_ ? "connected" : "not connected"),
                     requests.empty() ? "none" : requests, timers.empty() ? "none" : timers);
}

namespace {
// The trigger manager's cleanup (every 120 s it drops temporary triggers left by closed
// connections) touches no sync state: never a path to reopen a gate (docs/invariants.md §3.1).
bool trigger_cleanup(const std::string& timer) {
  return timer.find("TriggerManagerImpl") != std::string::npos ||
         timer.find(" by cleanupCallback (") != std::string::npos;
}
}  // namespace

JsRealClient::Waiting JsRealClient::waiting() const {
  Waiting w;
  if (killed_) return w;
  w.app_connected = connected_;
  for (const auto& [req, abort] : in_flight_) {
    const auto path = in_flight_paths_.find(req);
    w.requests.push_back(
        fmt::format("#{} {}", req, path == in_flight_paths_.end() ? "" : path->second));
  }
  w.stream_open = stream_open();
  for (const auto& [req, open] : streams_) {
    w.first_line_pending = w.first_line_pending || !open.had_line;
    if (const auto exp = open.token_expires_at;
        exp && (!w.stream_token_expires_at || *exp < *w.stream_token_expires_at)) {
      w.stream_token_expires_at = exp;
    }
  }
  for (const auto& t : host_.armed_timers(client_.name())) {
    if (trigger_cleanup(t.text)) continue;
    w.timers.push_back(t.text);
    if (!w.next_timer_at || t.at < *w.next_timer_at) w.next_timer_at = t.at;
  }
  return w;
}

std::optional<ConnectionState> JsRealClient::connection_state() {
  if (killed_) return std::nullopt;
  try {
    sqlite3* db = client_.db().raw();
    return ConnectionState{sqlite3_get_autocommit(db) != 0, sqlite3_changes(db),
                           sqlite3_last_insert_rowid(db)};
  } catch (const ClientClosed&) {
    return std::nullopt;
  }
}

nlohmann::json JsRealClient::touched_tables() const {
  nlohmann::json tables = nlohmann::json::array();
  if (pending_touched_.ps_crud) tables.push_back("ps_crud");
  if (pending_touched_.data_tables) tables.push_back("ps_data");
  return tables;
}

nlohmann::json JsRealClient::touched() {
  try {
    merge_touched(client_.db().take_touched());
  } catch (const ClientClosed&) {
  }
  nlohmann::json tables = touched_tables();
  pending_touched_ = {};
  return {{"op", "tables"}, {"tables", std::move(tables)}};
}

nlohmann::json JsRealClient::credentials() {
  // The token is "<subject>:<expiry µs>"; fetches present it and the sim service reads it as
  // a JWT's sub and exp (docs/protocol.md §2.1.7).
  const auto& o = client_.options_;
  return {{"op", "token"},
          {"token", fmt::format("{}:{}", o.user, client_.loop_.now() + o.token_lifetime)}};
}

nlohmann::json JsRealClient::uploaded() {
  // on_uploaded once the SDK completed the batch (ps_crud deleted, target MAX written), as
  // the port reports it after complete() (engine/sdk_shim_upload.cpp).
  if (!accepted_uploads_.empty()) {
    const nlohmann::json crud = std::move(accepted_uploads_.front());
    accepted_uploads_.erase(accepted_uploads_.begin());
    if (auto* observer = client_.observer_) observer->on_uploaded(client_, crud);
  }
  return {{"op", "ok"}};
}

nlohmann::json JsRealClient::draw(const std::string& what) {
  // The same generator, in the same order, as the port's delayRetry and connector: both
  // engines then spend the same virtual time, and `syncsim diff` names port differences.
  if (what == "random") return {{"op", "drawn"}, {"value", client_.sdk_random()}};
  if (what == "credentials_latency") {
    return {{"op", "drawn"}, {"value", client_.credentials_latency()}};
  }
  throw std::runtime_error("js-real: unknown draw " + what);
}

void JsRealClient::log(int level, const std::string& message) {
  client_.trace_.log(client_.name(), "sdk {}: {}", level_name(level), message);
}

void JsRealClient::act(const nlohmann::json& request) {
  const std::string op = request.value("op", "");
  if (op == "notice") {
    const std::string what = request.value("what", "");
    if (what == "disconnected") {
      connected_ = false;
      disconnected_.notify();
    } else if (what == "requested" || what == "waited") {  // an API call settled
      auto it = api_calls_.find(request.value("call", int64_t{0}));
      if (it == api_calls_.end()) return;
      it->second.done = true;
      it->second.error = request.value("error", "");
      if (it->second.error.starts_with("Error: ")) it->second.error.erase(0, 7);  // errorText
      if (request.contains("id")) it->second.id = std::stoll(request["id"].get<std::string>());
      api_done_.notify();
    }
    return;
  }
  const int64_t req = request.value("req", int64_t{0});
  if (op == "abort") {
    if (auto it = in_flight_.find(req); it != in_flight_.end()) {
      it->second->abort("aborted by the SDK");
      in_flight_.erase(it);
    }
    if (auto it = streams_.find(req); it != streams_.end()) {
      it->second.stream->close();
      streams_.erase(it);
    }
    return;
  }
  if (killed_) return;
  std::erase_if(in_flight_paths_, [&](const auto& entry) {
    return !in_flight_.contains(entry.first) && !streams_.contains(entry.first);
  });
  // The signal travels with the fetch: the SDK may abort it in the same drain, before the
  // fetch's task first runs (an update_subscriptions that closes the stream being opened).
  auto abort = std::make_shared<sim::AbortSignal>();
  in_flight_[req] = abort;
  in_flight_paths_[req] = request.value("method", "") + " " + request.value("path", "");
  client_.loop_.spawn(run_fetch(request, alive_, std::move(abort)), client_.name() + ".js-fetch");
}

sim::Task<void> JsRealClient::run_fetch(nlohmann::json request, std::shared_ptr<bool> alive,
                                        std::shared_ptr<sim::AbortSignal> abort) {
  const int64_t req = request["req"].get<int64_t>();
  if (abort->aborted()) {  // aborted in the drain that made it: it never left the app
    client_.trace_.log(client_.name(), "js fetch #{} aborted before it was sent", req);
    co_return;
  }
  const auto& o = client_.options_;
  sim::HttpRequest http{request.value("method", "GET"), request.value("path", ""),
                        request.value("body", ""), ""};
  const std::string auth = header(request["headers"], "authorization");
  if (auth.rfind("Token ", 0) == 0) {
    const std::string token = auth.substr(6);
    const auto colon = token.rfind(':');
    http.subject = token.substr(0, colon);
    if (colon != std::string::npos) http.token_expires_at = std::stoll(token.substr(colon + 1));
  }
  // The SDK's own accept (BSON first on 2.x and 1.54.0, none on 1.x over HTTP): the model
  // negotiates the stream's encoding from it (docs/protocol.md §3.3.1).
  http.accept = header(request["headers"], "accept");
  const bool backend = http.path.rfind("/backend/", 0) == 0;
  if (backend) http.subject = o.user;  // the app backend has its own session
  const bool upload = http.path == "/backend/upload";
  auto* observer = client_.observer_;
  if (observer && upload) observer->on_upload_sent(client_);
  // A kill armed for mid-upload happens once the request is on the wire, as the port fires
  // it (engine/sdk_shim_upload.cpp); until `syncsim diff` kill.json showed every seed's
  // client 3 uploading on, js-real clients never reached this kill point.
  if (upload && client_.kill_point_ == KillPoint::MidUpload) {
    client_.loop_.at(client_.loop_.now(), [&c = client_] { c.fire_kill(KillPoint::MidUpload); });
  }
  if (observer &&
      (http.path == "/sync/checkpoint-request" || http.path == "/backend/checkpoint-request" ||
       http.path.rfind("/write-checkpoint2.json", 0) == 0)) {
    observer->on_checkpoint_request_sent(client_);
  }
  client_.trace_.log(client_.name(), "js fetch #{} {} {}", req, http.method, http.path);
  // The JavaScript sync client (no powersync_control in this life; the Rust client has called
  // `start` before its stream) opens a stream: what `start` tells the checkers.
  const bool javascript_stream = control_calls_.empty() && http.path.rfind("/sync/stream", 0) == 0;
  if (observer && javascript_stream) observer->on_js_stream_opened(client_);
  if (request.value("stream", false)) {
    sim::Link::StreamOpen open;
    try {
      // The SDK's abort closes the connection at once, as the port's (docs/findings-world.md W34).
      open = co_await client_.link_.open_stream(http, abort.get());
    } catch (const sim::NetworkError& e) {
      open.head = sim::HttpResponse::reset(e.what());
    } catch (const sim::Aborted&) {
      co_return;  // the SDK saw its fetch rejected when it aborted it
    }
    if (!*alive || abort->aborted()) {
      if (open.stream) open.stream->close();
      co_return;
    }
    in_flight_.erase(req);
    if (open.head.is_reset()) {
      deliver({{"op", "reset"}, {"req", req}, {"why", open.head.body}});
      co_return;
    }
    const bool ok = open.head.status == 200;
    // What the model negotiated; its lines arrive already encoded (one BSON document or one
    // JSON text per line) and go to the SDK unchanged.
    const bool bson = ok && open.stream && open.stream->content_type() == kBsonStream;
    deliver({{"op", "response"},
             {"req", req},
             {"status", open.head.status},
             {"content_type", ok ? (bson ? kBsonStream : kNdjson) : "application/json"},
             {"body", open.head.body}});
    if (!ok || !*alive) co_return;
    streams_[req] = {open.stream, false, http.token_expires_at};
    co_await pump_stream(req, open.stream, bson, alive);
    co_return;
  }
  sim::HttpResponse response;
  try {
    response = co_await client_.link_.request(http, abort.get());
  } catch (const sim::Aborted&) {
    co_return;
  } catch (const sim::NetworkError& e) {
    response = sim::HttpResponse::reset(e.what());  // the SDK's fetch rejects
  }
  if (!*alive || abort->aborted()) co_return;
  in_flight_.erase(req);
  if (response.is_reset()) {
    deliver({{"op", "reset"}, {"req", req}, {"why", response.body}});
    co_return;
  }
  if (upload && response.status == 200) {
    client_.trace_.log(client_.name(), "js upload accepted");
    if (observer) {
      const auto body = nlohmann::json::parse(http.body, nullptr, false);
      if (body.is_object() && body.contains("crud")) accepted_uploads_.push_back(body["crud"]);
    }
  }
  deliver({{"op", "response"},
           {"req", req},
           {"status", response.status},
           {"content_type", "application/json"},
           {"body", response.body}});
}

sim::Task<void> JsRealClient::pump_stream(int64_t req, std::shared_ptr<sim::ClientStream> stream,
                                          bool bson, std::shared_ptr<bool> alive) {
  for (;;) {
    while (stream->has_line()) {
      if (!*alive || stream->state() == sim::ClientStream::State::Closed) co_return;
      std::string chunk = stream->take_line();  // the model's bytes (BSON or one JSON text)
      if (control_calls_.empty() && client_.observer_) {
        // The JavaScript sync client's lines for the sometimes-properties, as text.
        client_.observer_->on_js_line(client_,
                                      bson ? nlohmann::json::from_bson(chunk).dump() : chunk);
      }
      if (!bson) chunk += "\n";  // NDJSON framing
      if (auto it = streams_.find(req); it != streams_.end()) it->second.had_line = true;
      // Written as text: dump() would escape the base64 one character at a time (js20).
      std::string event = R"({"op":"chunk","client":)";
      append_json_string(event, client_.name());
      fmt::format_to(std::back_inserter(event), R"(,"req":{},"data":{{"b64":"{}"}}}})", req,
                     base64_encode(chunk));
      host_.deliver_text(std::move(event));
    }
    if (!*alive) co_return;
    if ((stream->state() == sim::ClientStream::State::Ended ||
         stream->state() == sim::ClientStream::State::Reset) &&
        client_.has_mutant(EngineMutant::StreamEndUnseen)) {
      // A half-open connection: the SDK keeps waiting on a stream that delivers nothing.
      streams_.erase(req);
      client_.trace_.log(client_.name(), "js stream #{} ended unseen by the SDK (mutant)", req);
      co_return;
    }
    switch (stream->state()) {
      case sim::ClientStream::State::Ended:
        streams_.erase(req);
        deliver({{"op", "end"}, {"req", req}});
        co_return;
      case sim::ClientStream::State::Reset:
        streams_.erase(req);
        deliver({{"op", "reset"}, {"req", req}, {"why", "stream reset"}});
        co_return;
      case sim::ClientStream::State::Closed:
        co_return;
      case sim::ClientStream::State::Open:
        break;
    }
    co_await sim::wait_for(client_.loop_, std::nullopt, &stream->readable());
  }
}

}  // namespace syncsim::engine::js
