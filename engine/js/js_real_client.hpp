// One js-real client life (issue 16): the published JS SDK (run by engine/js/host.mjs)
// drives this Client's SQLite connection with the real core.  Statements the SDK issues
// run here, synchronously, on the life's connection; its fetches go over the client's sim
// Link; its credentials carry the scenario's token lifetime; its log lines enter the trace.
// The observer events checkers need are derived from what passes through here (control
// calls, upload and checkpoint-request routes), never from patching the SDK.
#pragma once

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "engine/database.hpp"
#include "engine/js/js_host.hpp"
#include "engine/js/read_connections.hpp"
#include "sim/net.hpp"
#include "sim/sync.hpp"

namespace syncsim::engine {
class Client;
enum class TargetStoredBy;  // engine/sdk_shim.hpp
}  // namespace syncsim::engine

namespace syncsim::engine::js {

class JsRealClient : public HostedClient {
 public:
  JsRealClient(Client& client, JsHost& host);
  ~JsRealClient() override;
  JsRealClient(const JsRealClient&) = delete;
  JsRealClient& operator=(const JsRealClient&) = delete;

  void open();                   // a new SDK instance (BasePowerSyncDatabase) for this life
  void connect();                // PowerSyncDatabase.connect(connector, options)
  sim::Task<void> disconnect();  // PowerSyncDatabase.disconnect(), until it resolved
  // The app's PowerSyncDatabase.requestCheckpoint() and CheckpointRequest.waitForSync() on the
  // real SDK (engine/workload.cpp): the host answers with a notice; a rejection is thrown as
  // SyncApiError with the SDK's message, the end of the life as ClientClosed.
  sim::Task<int64_t> request_checkpoint();
  sim::Task<void> wait_for_sync(int64_t id, std::shared_ptr<sim::AbortSignal> abort);
  // The app wrote through C++ (the workload): what the update hook saw.
  void tables_changed(bool ps_crud, bool data_tables);
  // The app's sync-stream call (engine/sdk_shim_streams.cpp): {action: "subscribe", handle,
  // name, params, ttl?, priority?} | {action: "release", handle} | {action:
  // "unsubscribe_all", name, params}, run through the SDK's syncStream API.
  void stream_call(nlohmann::json call);
  // The app closes gracefully: PowerSyncDatabase.close() begins (it disconnects first).
  void begin_close();
  // The app died or closed: the SDK instance makes no further calls.
  void kill();
  [[nodiscard]] bool sync_running() const { return connected_; }
  // A sync stream is delivering to the SDK (the port's connected(), which a js-real life does
  // not keep).
  [[nodiscard]] bool stream_open() const { return !streams_.empty(); }
  // powersync_control calls by op ("start", "line_text", "line_binary", ...).
  [[nodiscard]] const std::map<std::string, uint64_t>& control_calls() const {
    return control_calls_;
  }
  // powersync_operations inserts by op ("save", "sync_local", ...): the 1.x JavaScript client.
  [[nodiscard]] const std::map<std::string, uint64_t>& operations() const { return operations_; }
  [[nodiscard]] std::size_t requests_in_flight() const { return in_flight_.size(); }
  // What the real SDK is waiting for, for the liveness judge's explanation: requests on the
  // wire, open streams, the host's next fake timer.
  [[nodiscard]] std::string pending() const;
  // What the real SDK waits on now, the liveness judge's paths for this life (docs/invariants.md
  // §3.1 "js-real"): read from what passes through here and the host's armed timers, never
  // from the port's state.
  struct Waiting {
    bool app_connected = false;         // connect() called, no disconnect() since
    std::vector<std::string> requests;  // "#5 GET /write-checkpoint2.json?…": answered later
    bool stream_open = false;           // a sync stream is delivering to the SDK
    bool first_line_pending = false;    // an open stream that has delivered no line yet
    std::optional<sim::Micros> stream_token_expires_at;  // the open stream's token
    std::vector<std::string> timers;  // armed timers that may act (the trigger cleanup left out)
    std::optional<sim::Micros> next_timer_at;  // the earliest of them
  };
  [[nodiscard]] Waiting waiting() const;

  // HostedClient
  SqlReply sql(const HostMessage& call) override;
  nlohmann::json touched() override;
  nlohmann::json credentials() override;
  nlohmann::json draw(const std::string& what) override;
  nlohmann::json uploaded() override;
  void log(int level, const std::string& message) override;
  void act(const nlohmann::json& request) override;
  std::optional<ConnectionState> connection_state() override;

 private:
  sim::Task<void> run_fetch(nlohmann::json request, std::shared_ptr<bool> alive,
                            std::shared_ptr<sim::AbortSignal> abort);
  sim::Task<void> pump_stream(int64_t req, std::shared_ptr<sim::ClientStream> stream, bool bson,
                              std::shared_ptr<bool> alive);
  // A statement on read connection `slot` (the SDK's readLock): engine/js/read_connections.hpp.
  SqlReply read_sql(int slot, const std::string& text, const nlohmann::json& params);
  static bool can_publish(const std::string& op);
  void before_control(const std::string& op);
  void after_control(const std::string& op, const std::optional<std::string>& payload,
                     const std::optional<std::string>& result);
  // barrier-holds for a publishing call (gate read by before_control).
  void check_barrier(const std::string& op, bool published, bool priority0);
  // The 1.x JavaScript sync client's `INSERT INTO powersync_operations(op, data)`.
  void after_operation(const std::string& op, const std::optional<std::string>& data,
                       int64_t insert_id);
  // A `$local.target_op` write (1.x): on_target_set for a concrete id.
  void target_written(const nlohmann::json& value);
  // Which SDK function wrote the target: complete(writeCheckpoint) deletes the batch from
  // ps_crud in the same write transaction (handleCrudCheckpoint), updateLocalTarget never does.
  [[nodiscard]] TargetStoredBy target_writer() const;
  // Resets crud_deleted_in_transaction_ when `db` is outside a transaction (a new one starts).
  void note_transaction_start(sqlite3* db);
  void merge_touched(const TouchedTables& t);
  // The tables pending_touched_ names, as `touched` answers them (["ps_crud", "ps_data"]).
  [[nodiscard]] nlohmann::json touched_tables() const;
  void deliver(nlohmann::json event);
  struct ApiCall {
    bool done = false;
    std::string error;  // empty: resolved
    std::optional<int64_t> id;
  };
  // One API call: `event` with a fresh call number, then the host's notice for it.
  sim::Task<ApiCall> api_call(nlohmann::json event, std::shared_ptr<sim::AbortSignal> abort);

  Client& client_;
  JsHost& host_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  bool connected_ = false;
  bool killed_ = false;
  sim::Notifier disconnected_;
  std::map<int64_t, ApiCall> api_calls_;  // by call number, until its notice came
  int64_t next_api_call_ = 1;
  sim::Notifier api_done_;
  std::map<int64_t, std::shared_ptr<sim::AbortSignal>> in_flight_;
  std::map<int64_t, std::string> in_flight_paths_;  // req -> "POST /sync/stream"
  // An open sync stream, whether a line reached the SDK yet, and its token's expiry.
  struct OpenStream {
    std::shared_ptr<sim::ClientStream> stream;
    bool had_line = false;
    std::optional<sim::Micros> token_expires_at;
  };
  std::map<int64_t, OpenStream> streams_;
  std::map<std::string, uint64_t> control_calls_;
  std::map<std::string, uint64_t> operations_;
  // The crud entries of accepted uploads whose batch.complete() has not resolved yet.
  std::vector<nlohmann::json> accepted_uploads_;
  // What the update hook saw that the SDK's adapter has not asked for yet.
  TouchedTables pending_touched_;
  bool crud_deleted_in_transaction_ = false;  // `DELETE FROM ps_crud` in the open transaction
  struct GateBefore {
    bool crud = false;
    std::optional<int64_t> target;
    uint64_t line = 0;  // the trace line it was read at (barrier-holds' explanation)
  };
  std::optional<GateBefore> gate_before_;  // barrier-holds: state before a publishing call
  // The write connection's prepared statements (this life's connection: Client destroys
  // this object before its Database).
  std::unique_ptr<StatementCache> statements_;
  std::unique_ptr<ReadConnections> reads_;  // made at the first read
};

}  // namespace syncsim::engine::js
