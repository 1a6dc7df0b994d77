// The SDK shim: a C++ port of the JS SDK's sync client (@powersync/shared-internals 1.3.0,
// the spec is protocol/docs/protocol.md §2.8) driving the real core extension.  The structure
// follows the SDK so a reviewer can read them side by side:
//   download_loop()  = streamingSync            (docs/protocol.md §2.1.3)
//   iteration()      = rustSyncIteration        (docs/protocol.md §2.1.4)
//   seed()           = seedCheckpointRequestState
//   upload_loop()    = crudUploadLoop / _uploadAllCrud (docs/protocol.md §2.2.2)
//   update_local_target() = SqliteBucketStorage.updateLocalTarget (docs/protocol.md §2.2.4)
//   write_checkpoint_for_upload() = the callback _uploadAllCrud passes to it (docs/protocol.md
//   §2.2.2) get_legacy_write_checkpoint() = getLegacyWriteCheckpoint (docs/protocol.md §2.2.4,
//   legacy) request_next_checkpoint() = requestNextCheckpointFromService (docs/protocol.md §2.2.4,
//   requests) repost_loop()    = repostUnacknowledgedCheckpointRequests (docs/protocol.md §2.3.3)
//   wait_ready()     = CheckpointStateSignals.waitForCheckpointRequestsReady (docs/protocol.md
//   §2.3.2) get_credentials() / invalidate_credentials() = AbstractRemote.getCredentials /
//                      invalidateCredentials; fetch_credentials() = connector.fetchCredentials
//                      (docs/protocol.md §2.1.7)
//   request_checkpoint() = BPD.requestCheckpoint; wait_for_sync() = CheckpointRequest.waitForSync
//                      (docs/protocol.md §2.3.1)
//   disconnect() / disconnect_and_clear() = BPD.disconnect / disconnectAndClear (docs/protocol.md
//   §2.1.9)
// Both checkpoint modes of SDK 1.3.0 with a 0.5.x core (ClientOptions::checkpoint_mode), and
// the older SDK behaviour that drives 0.4.x cores (SdkBehaviour::JsLegacy, docs/protocol.md §2.5
// item 7). One Client is one life of the app: a restart, kill or up/downgrade closes it and opens a
// new Client on the same VFS file (scenarios/world/world.cpp).
// The quirks of docs/protocol.md §2.7 are reproduced unless ClientOptions::fixed_quirks names them.
#pragma once

#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/database.hpp"
#include "engine/status_text.hpp"
#include "sim/invariants.hpp"
#include "sim/net.hpp"
#include "sim/prng.hpp"
#include "sim/trace.hpp"

namespace syncsim::engine {

// The target a local write stores until its upload is acknowledged: the core's MAX op id
// (docs/protocol.md §1), "some write not yet acknowledged", never a concrete checkpoint.
inline constexpr int64_t kMaxOpId = std::numeric_limits<int64_t>::max();

class Client;
namespace js {
class JsHost;
class JsRealClient;
}  // namespace js

// The invariants the engine checks itself (docs/architecture.md §1: checkers live beside what they
// watch): barrier-holds.
void register_engine_invariants(sim::InvariantCatalog& catalog);

struct LocalWrite {
  std::string table;
  std::string id;
  std::optional<std::string> description;  // nullopt = delete
  uint64_t seq = 0;                        // per client, increasing
  // Also insert a row into the insert-only `events` table in the same SQLite transaction
  // (docs/protocol.md §1.3.7: one tx_id for both from 0.5.3, two up to 0.5.2).
  bool with_event = false;
  bool changed = true;  // false: a delete of an absent row (no ps_crud entry, nothing to upload)
};

// Which SDK function stored a concrete target: updateLocalTarget after an upload round
// (docs/protocol.md §2.2.4), or a batch's complete(writeCheckpoint) in custom write-checkpoint
// mode (handleCrudCheckpoint, §3.1.10); MutantReset is EngineMutant::ResetTargetOnReconnect's.
enum class TargetStoredBy { UpdateLocalTarget, CrudComplete, MutantReset };

// Hooks for cross-layer checkers (scenarios/); the engine only reports what it did.
class ClientObserver {
 public:
  virtual ~ClientObserver() = default;
  virtual void on_local_write(Client&, const LocalWrite&) {}
  // A crud batch was accepted by the backend and completed locally.
  virtual void on_uploaded(Client&, const nlohmann::json& /*crud entries*/) {}
  // The SDK stored a concrete target (never MAX, the "unknown" marker).
  virtual void on_target_set(Client&, int64_t /*target*/, TargetStoredBy /*by*/) {}
  // The core logged a warning (e.g. "Checksums didn't match").
  virtual void on_core_warning(Client&, const std::string& /*line*/) {}
  // DidCompleteSync (a full checkpoint was applied), with its applied request id.
  virtual void on_sync_applied(Client&, std::optional<int64_t> /*applied_id*/) {}
  // A sync apply changed visible rows.
  virtual void on_published(Client&) {}
  // disconnectAndClear wiped the client's local state (docs/protocol.md §2.1.9): its unuploaded
  // writes are gone and its checkpoint-request state restarts (docs/invariants.md §1 exemptions).
  virtual void on_cleared(Client&) {}
  // Protocol moments for fault triggers (scenarios/explore/fault_triggers.hpp).  A CRUD upload
  // request is about to go on the wire (it is sent before the shim next suspends).
  virtual void on_upload_sent(Client&) {}
  // A checkpoint request is about to go on the wire: POST /sync/checkpoint-request (seed,
  // upload, requestCheckpoint(), repost), through the backend, or legacy GET
  // /write-checkpoint2.json.
  virtual void on_checkpoint_request_sent(Client&) {}
  // The core withheld a checkpoint because of the barrier ("Could not apply checkpoint due
  // to local data": ps_crud non-empty or target > last_seen).
  virtual void on_checkpoint_blocked(Client&) {}
  // Every powersync_control call the shim made (after its transaction committed), with the
  // core's raw result; not called for calls that failed.
  virtual void on_control(Client&, const std::string& /*op*/,
                          const std::optional<std::string>& /*payload*/,
                          const std::optional<std::string>& /*result*/) {}
  // For the sometimes-properties (scenarios/explore/sometimes.hpp): a seed's POST was answered
  // (docs/protocol.md §2.1.4), the repost loop re-posted an id (§2.3.3), an upload attempt failed
  // (§2.2.2).
  virtual void on_seeded(Client&, int64_t /*posted*/, int64_t /*answered*/) {}
  virtual void on_reposted(Client&, int64_t /*id*/) {}
  virtual void on_upload_failed(Client&) {}
  // waitForSync(id) resolved (docs/protocol.md §2.3.1): wait-for-sync-keeps-promise.
  virtual void on_wait_resolved(Client&, int64_t /*id*/) {}
  // The 1.x JavaScript sync client (js-real on 0.4.6) never calls powersync_control; what
  // checkers read from control calls comes from these facts instead: it opened a sync stream
  // (POST /sync/stream, where the Rust client calls `start`), it was sent a sync line (JSON
  // text), it inserted into powersync_operations (`insert_id` is the core's answer;
  // sync_local: 1 applied, anything else withheld).
  virtual void on_js_stream_opened(Client&) {}
  virtual void on_js_line(Client&, const std::string& /*line*/) {}
  virtual void on_js_operation(Client&, const std::string& /*op*/, int64_t /*insert_id*/) {}
};

// Deliberately injected engine bugs, used to show a checker can fail.
enum class EngineMutant {
  // A simulated core bug: a row is written into a data table while the gate is closed.
  PublishWhileBlocked,
  // An SDK that "resets a stale target" on reconnect: a concrete target above last_seen is
  // lowered to last_seen at iteration start (target-no-regress, read-your-writes).
  ResetTargetOnReconnect,
  // complete() deletes a crud batch that was never sent (every third batch): no-lost-writes.
  CompleteWithoutUpload,
  // The seed posts "1" instead of the id the core asked for (max(last_requested, target, 1),
  // docs/protocol.md §2.3.4), so a deleted record restarts the counter: request-id-monotonic.
  SeedFromOne,
  // The repost loop re-posts the id it read when its timer started, skipping the "a new
  // request was made" and "already applied" checks (docs/protocol.md §2.3.3).  Harmless against a
  // correct service, which keeps the maximum (docs/protocol.md §3.1.5); with the service mutant
  // lower-id-replaces the stale id lowers the stored id mid-connection: applied-id-monotonic.
  RepostStaleId,
  // updateLocalTarget stores the target without re-checking ps_crud and sqlite_sequence
  // after the checkpoint call (docs/protocol.md §2.2.4 step 3 skipped): a write racing the request
  // is
  // covered by a target that does not include it.
  SkipSequenceCheck,
  // The seed stores the id the client posted instead of the service's answer (docs/protocol.md
  // §2.1.4):
  // after a clear or a lower local counter, new ids fall below the service's record.
  SeedLocalCounter,
  // completed_upload is never injected (docs/protocol.md §2.2.4 step 4): a checkpoint blocked
  // before
  // the target was stored is not retried until the next checkpoint line.
  DropCompletedUpload,
  // updateLocalTarget stores the id the client posted instead of the service's answer
  // (docs/protocol.md §2.2.4, quirk §2.7.6): the target can be below the id that acknowledges the
  // upload.
  TargetPostedId,
  // waitForSync(id) also resolves once last_seen >= id: a checkpoint that validated but
  // that the gate withheld (announced, not applied) keeps the promise too early.
  WaitResolvesOnSeen,
  // js-real clients only (the harness, engine/js/js_real_client.cpp): a sync stream's end or
  // reset never reaches the published SDK, as over a half-open connection; the SDK waits on a
  // stream that delivers nothing.  No-wedge's mutant for js-real (docs/invariants.md §3.1).
  StreamEndUnseen,
};

// docs/protocol.md §2.7 quirks, reproduced by default; naming one in ClientOptions::fixed_quirks
// switches the shim to the obvious fix (scenario clients.fixed_quirks).
enum class Quirk {
  // §2.7.2 "waiter-wakes-only-when-pending": a checkpoint waiter ends the retry delay early
  // only while the state is pending.  Fixed: a waiter that finds a stale error also wakes it.
  WaiterWakesOnlyWhenPending,
  // §2.7.3 "stale-seed-outcome": a seed that finishes after its iteration ended still sets
  // the state (error or a stale ready).  Fixed: a stale seed's outcome is dropped.
  StaleSeedOutcome,
  // §2.7.4 "prefetch-double-fetch": FetchCredentials{did_expire:false} fetches and discards.
  // Fixed: the prefetched credentials are cached and used by the restart.
  PrefetchDoubleFetch,
  // §2.7.7 "extra-upload-round": the SDK's own DELETE FROM ps_crud schedules one more upload
  // round.  Fixed: only app writes to ps_crud trigger uploads.
  ExtraUploadRound,
  // §2.7.8 "repost-until-applied": the repost loop re-POSTs the current id until a checkpoint
  // with it is applied.  Fixed: it stops once the service accepted an id >= current.
  RepostUntilApplied,
  // §2.7.1 "custom-checkpoint-inverted": complete(writeCheckpoint) sets the target only when
  // ps_crud is still non-empty after the delete.  Fixed: only when it is empty (Dart, docs).
  CustomCheckpointInverted,
};
// The scenario names of the quirks, e.g. "stale-seed-outcome"; nullopt for an unknown name.
std::optional<Quirk> quirk_from_name(const std::string& name);
std::vector<std::string> quirk_names();

// ResolvedSyncOptions.checkpointMode (docs/protocol.md §2.1.2).  `Requests` covers both the
// 'requests' string and the {requests:{retryDelay}} form (repost_delay carries the latter).  Legacy
// obtains write checkpoints from GET /write-checkpoint2.json; the SDK's default is legacy,
// the shim's is requests (the scenario format's default).
enum class CheckpointMode { Legacy, Requests };

// Which SDK drives the core (engine/core_registry.hpp kSdk*).  Js130 sets the target with
// powersync_control; JsLegacy (SDKs bundling 0.4.x cores) calls powersync_init() itself,
// works in legacy mode only and keeps the target in `$local` via SQL (docs/protocol.md §2.5 items
// 3, 7; docs/protocol.md §1.3.9). JsReal: the published JS SDK itself drives the core (engine/js/,
// issue 16).
enum class SdkBehaviour { Js130, JsLegacy, JsReal };

// Parses a kSdk* name; throws std::invalid_argument for anything else.
SdkBehaviour sdk_behaviour_from_name(const std::string& name);

// Where an app death hits the client (the kill/power_loss faults, docs/faults.md §1).
enum class KillPoint {
  MidTransaction,  // inside the next local write's transaction, before COMMIT
  MidUpload,       // once the next CRUD upload request is on the wire
};

// A database access by an app life that was killed or closed: its loops end with this.
class ClientClosed : public std::runtime_error {
 public:
  ClientClosed() : std::runtime_error("the app was closed") {}
};

struct ClientOptions {
  int index = 1;          // 1-based client number
  std::string user;       // JWT subject
  std::string client_id;  // overwrites the core's random client_id (docs/architecture.md §2)
  sim::Micros retry_delay = 5 * sim::kSeconds;
  sim::Micros crud_upload_throttle = 1 * sim::kSeconds;
  sim::Micros repost_delay = 10 * sim::kSeconds;
  CheckpointMode checkpoint_mode = CheckpointMode::Requests;
  SdkBehaviour sdk = SdkBehaviour::Js130;
  // connector.fetchCredentials (docs/protocol.md §2.1.7): seeded uniform latency 0..max; the
  // token's subject is `user`, its expiry fetch time + token_lifetime (scenario
  // service.token_lifetime_s).
  sim::Micros fetch_credentials_latency_max = 50 * sim::kMillis;
  sim::Micros token_lifetime = 86400 * sim::kSeconds;
  // The connector implements postCheckpointRequest through the app backend (docs/protocol.md
  // §2.2.6); false = POST /sync/checkpoint-request directly.
  bool post_checkpoint_request_via_backend = false;
  std::vector<Quirk> fixed_quirks;
  // Custom write-checkpoint mode (docs/protocol.md §3.1.10, §2.2.3): the connector passes the
  // backend's answer `write_checkpoint` to complete(writeCheckpoint).
  bool custom_write_checkpoints = false;
  std::vector<EngineMutant> mutants;
  // The stream world (issue 7): the schema also has the `items` table that stream buckets
  // sync.  Off: the schema of every scenario before issue 7.
  bool stream_tables = false;
  // SdkBehaviour::JsReal: the run's host process (engine/js/js_host.hpp).
  std::shared_ptr<js::JsHost> js_host;
  // SdkBehaviour::JsReal version skew: the pinned SDK project this life runs instead of the
  // core's paired one ("" = paired), and whether its own version check is bypassed (the
  // scenario's sdk_package_force on a core the package refuses; engine/js/README.md).
  std::string sdk_package;
  bool sdk_package_forced = false;
};

// SyncStream.subscribe options (ConnectionManager.stream(...).subscribe): ttl in seconds
// (core default 86400 when absent) and a priority override 0..3 (docs/protocol.md §1.4.1).
struct StreamSubscribeOptions {
  std::optional<int64_t> ttl_s;
  std::optional<int> priority;
};

// One entry of the core's status `streams` (docs/protocol.md §1.2.5), as the SDK exposes it
// (SyncStatus.forStream / syncStreams).
struct StreamStatusEntry {
  std::string name;
  nlohmann::json parameters;  // object or null
  std::optional<int> priority;
  bool active = false;
  bool is_default = false;
  bool has_explicit_subscription = false;
  std::optional<int64_t> expires_at;      // µs (0.5.x)
  std::optional<int64_t> last_synced_at;  // µs (0.5.x)
  int64_t total = 0;                      // progress.total
  int64_t downloaded = 0;                 // progress.downloaded
};
std::vector<StreamStatusEntry> parse_stream_statuses(const nlohmann::json& status);

// What BPD.requestCheckpoint / CheckpointRequest.waitForSync reject with (docs/protocol.md §2.3.1);
// the message is the SDK's, `cause` the underlying download/upload error if any.
class SyncApiError : public std::runtime_error {
 public:
  SyncApiError(const std::string& message, std::string cause)
      : std::runtime_error(message), cause_(std::move(cause)) {}
  [[nodiscard]] const std::string& cause() const { return cause_; }

 private:
  std::string cause_;
};

struct ClientStats {
  uint64_t iterations = 0;
  uint64_t download_errors = 0;
  uint64_t uploads = 0;
  uint64_t upload_rounds = 0;           // crudUploadLoop rounds (_uploadAllCrud calls)
  uint64_t checkpoint_posts = 0;        // POST /sync/checkpoint-request (requests mode)
  uint64_t reposts = 0;                 // of those, by the repost loop (docs/protocol.md §2.3.3)
  uint64_t legacy_checkpoint_gets = 0;  // GET /write-checkpoint2.json (legacy mode)
  uint64_t applied_checkpoints = 0;
  uint64_t blocked_checkpoints = 0;  // "Could not apply checkpoint due to local data"
  uint64_t local_writes = 0;
  uint64_t credential_fetches = 0;  // connector.fetchCredentials calls (docs/protocol.md §2.1.7)
  uint64_t credential_prefetches = 0;   // of those, FetchCredentials{did_expire:false} prefetches
  uint64_t unauthorized = 0;            // HTTP 401 answers (each invalidated the credentials)
  uint64_t checkpoint_requests_ok = 0;  // requestCheckpoint() resolved
  uint64_t checkpoint_requests_failed = 0;  // requestCheckpoint() rejected
  uint64_t waits_for_sync_ok = 0;           // waitForSync() resolved
  uint64_t waits_for_sync_failed = 0;       // waitForSync() rejected (error, disconnect, abort)
  uint64_t disconnects = 0;                 // disconnect() / disconnectAndClear() calls
  uint64_t clears = 0;                      // disconnectAndClear() calls
  // Sync streams (issue 7).
  uint64_t stream_subscribes = 0;       // SyncStream.subscribe() calls
  uint64_t stream_releases = 0;         // SyncStreamSubscription.unsubscribe() calls
  uint64_t stream_unsubscribe_all = 0;  // SyncStream.unsubscribeAll() calls
  uint64_t subscription_updates = 0;    // update_subscriptions injected into an iteration
  // Reconnects caused by subscriptions: update_subscriptions answered CloseSyncStream
  // {hide_disconnect:true} (churn), or a token_expires_in line did (a subscription expired
  // or its TTL refresh changed the request, docs/protocol.md §1.4.1).
  uint64_t subscription_restarts = 0;
  uint64_t keepalive_restarts = 0;
  uint64_t priority0_bypasses =
      0;  // priority-0 partial applies past a closed gate (docs/invariants.md §1)
  uint64_t status_updates = 0;  // UpdateSyncStatus instructions the core emitted
  uint64_t status_bytes = 0;    // their serialized size
};

class Client {
 public:
  Client(sim::Loop& loop, sim::Trace& trace, sim::Prng rng, sim::Link& link,
         const CoreVersion& core, ClientOptions options, ClientObserver* observer,
         sim::Verdicts* verdicts);
  ~Client();

  void open();     // BasePowerSyncDatabase.initialize (docs/protocol.md §2.1.1)
  void connect();  // starts the three loops (docs/protocol.md §2.1.2); only while not running
  // Aborts the loops and waits until all three finished (docs/protocol.md §2.1.9); then every
  // pending and future checkpoint waiter of that connection rejects with the disconnected error.
  sim::Task<void> disconnect();
  // disconnect(), then powersync_clear(1) and a fresh offline status (docs/protocol.md §2.1.9).
  sim::Task<void> disconnect_and_clear();
  // The three loops of a connect() are still running (until disconnect() finished).
  [[nodiscard]] bool sync_running() const { return running_loops_ > 0 || js_sync_running(); }

  // BPD.requestCheckpoint (docs/protocol.md §2.3.1): the service's answer (maybe above the
  // allocated id).  Throws SyncApiError (disconnected, legacy mode) or the readiness/POST error.
  sim::Task<int64_t> request_checkpoint();
  // CheckpointRequest.waitForSync (docs/protocol.md §2.3.1): resolves once the live status shows
  // `id` applied; throws SyncApiError on a sync error, a disconnect, or `abort` (its reason).
  sim::Task<void> wait_for_sync(int64_t id, std::shared_ptr<sim::AbortSignal> abort);
  // isCheckpointRequestApplied on the live status (internal_last_applied_… >= id).
  [[nodiscard]] bool is_checkpoint_request_applied(int64_t id) const;

  // Sync streams (issue 7; JS ConnectionManager.stream, docs/protocol.md §2.1.4
  // update_subscriptions, docs/protocol.md §1.4.1).  subscribe_stream = SyncStream.subscribe: the
  // core's `subscriptions` op with {subscribe:{stream:{name,params},ttl,priority}} (run even if the
  // subscription exists: it moves the expiry), then a handle on the refcounted locally active
  // subscription; a new one changes the active set (update_subscriptions while an iteration
  // runs).  release_stream = SyncStreamSubscription.unsubscribe: the refcount drops, at 0
  // the stream leaves the active set (the core keeps it until its TTL expires).
  // unsubscribe_all = SyncStream.unsubscribeAll: {unsubscribe:{name,params}} (ttl := NULL).
  uint64_t subscribe_stream(const std::string& name, const nlohmann::json& params,
                            StreamSubscribeOptions options);
  void release_stream(uint64_t handle);
  void unsubscribe_all(const std::string& name, const nlohmann::json& params);
  // activeStreams: [{name, params}] in subscription order.
  [[nodiscard]] nlohmann::json active_streams() const;
  // The live status's per-stream entries (docs/protocol.md §1.2.5).
  [[nodiscard]] std::vector<StreamStatusEntry> stream_statuses() const {
    return parse_stream_statuses(status_.tree());
  }
  [[nodiscard]] const nlohmann::json& sync_status() const { return status_.tree(); }
  // Counts an API outcome the workload observed (ClientStats).
  ClientStats& mutable_stats() { return stats_; }
  sim::Trace& trace() { return trace_; }

  // Lifecycle (docs/architecture.md §2, docs/faults.md §1).  begin_close() aborts the loops, which
  // run their finally blocks; close() closes the connection (an open transaction rolls back). After
  // close() every database access of this life throws ClientClosed, so loops still suspended end
  // without effects (a killed app's loops never run their finally blocks against the file).
  void begin_close(const std::string& reason);
  void close();
  [[nodiscard]] bool closed() const { return !db_; }
  // Calls `die` once when the app reaches `point` (the world kills the app there).
  void arm_kill(KillPoint point, std::function<void()> die);
  void disarm_kill() { kill_hook_ = nullptr; }
  // A new life continues the previous one's write numbering and counters.
  void continue_from(const Client& previous);
  [[nodiscard]] const std::string& file_name() const { return file_name_; }

  // Writes through the schema views, one transaction per write.
  void local_write(LocalWrite write);

  [[nodiscard]] int index() const { return options_.index; }
  [[nodiscard]] const std::string& user() const { return options_.user; }
  [[nodiscard]] const std::string& client_id() const { return options_.client_id; }
  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] const ClientStats& stats() const { return stats_; }
  [[nodiscard]] bool connected() const { return connected_; }
  [[nodiscard]] CheckpointMode checkpoint_mode() const { return options_.checkpoint_mode; }
  [[nodiscard]] SdkBehaviour sdk() const { return options_.sdk; }
  [[nodiscard]] const CoreVersion& core() const { return core_; }

  // Checkpoint state, hiding where the core keeps it: ps_kv keys on a v14 database (0.5.x),
  // the `$local` row of ps_buckets below (0.4.x: target_op, last_op, last_applied_op;
  // docs/protocol.md §1.1.2).  nullopt when absent; last_requested is always absent on 0.4.x.
  std::optional<int64_t> target();
  std::optional<int64_t> last_seen();
  std::optional<int64_t> last_applied();
  std::optional<int64_t> last_requested();

  // Observables (read with plain SELECTs on the client's connection).
  std::optional<std::optional<std::string>> read_row(const std::string& table,
                                                     const std::string& id);  // outer: exists
  // The same without a copy: nullptr for no row, else the cached description (an empty optional
  // for NULL), valid until the database next changes or the next read_row*.
  const std::optional<std::string>* read_row_cached(std::string_view table, std::string_view id);
  std::map<std::string, std::optional<std::string>> read_table(const std::string& table);
  std::optional<int64_t> kv_int(std::string_view key);
  int64_t crud_count();
  // last_op - last_applied_op of a bucket in ps_buckets (nullopt: no row), sync streams.
  std::optional<int64_t> bucket_unapplied(const std::string& bucket);
  struct BucketChecksum {
    int64_t last_op = 0;   // the last op downloaded (the checksum covers ops up to it)
    int32_t checksum = 0;  // add_checksum + op_checksum, u32 wrapping, as signed
  };
  // Every synced bucket's downloaded position and checksum from ps_buckets (docs/protocol.md §1
  // §ps_buckets).
  std::map<std::string, BucketChecksum> bucket_checksums();
  // Every synced bucket's last_applied_op (the op up to which its rows are published).
  std::map<std::string, int64_t> bucket_applied();
  // The JSON text of the sync line the control call being reported carried (nullptr: not a
  // line): a line_text payload as it is, a line_binary BSON document decoded once per call
  // however many observers read it (engine/sync_line.hpp).  Whoever runs a control call starts
  // it with new_control_call().
  const std::string* sync_line(const std::string& op, const std::optional<std::string>& payload);
  // The line's key without its text (engine/sync_line.hpp's sync_line_key): nullopt when not a line
  // or unsure, and the caller reads sync_line().  Like sync_line, once per control call however
  // many observers ask.
  std::optional<std::string_view> sync_line_key(const std::string& op,
                                                const std::optional<std::string>& payload);
  std::optional<std::string_view> sync_line_key(
      const std::string& op, std::optional<std::string>&& payload) = delete;  // a view into it
  // A line_binary line's write_checkpoint from its bytes (engine/sync_line_peek.hpp's
  // bson_line_write_checkpoint, same answers), once per control call.
  std::optional<std::optional<int64_t>> bson_line_write_checkpoint(const std::string& payload);
  void new_control_call() { ++control_call_; }
  // Whether the newest apply was a full one: a partial apply leaves its priority's row in
  // ps_sync_state beside the sentinel, a full apply only the sentinel (docs/protocol.md §1
  // §ps_sync_state).
  bool last_apply_was_full();
  // The newest server state the database shows: max(last_applied_op) over synced buckets.
  int64_t applied_position();
  [[nodiscard]] std::string pending();

  // What the SDK will do next, for the liveness judge (scenarios/checks/liveness.*): checkpoint
  // requests on the wire (seed, upload, requestCheckpoint(), repost, legacy GET); the
  // download loop's phase; the repost timer (deadline and the id it read) while armed; the
  // upload loop's retry deadline while armed; whether an upload round is running or queued;
  // whether updateLocalTarget awaits its write checkpoint (its credentials fetch comes before
  // the request is on the wire: docs/findings-world.md W21); the cached token's expiry (the stream
  // ends then and the SDK reconnects).
  [[nodiscard]] int requests_in_flight() const { return requests_in_flight_; }
  [[nodiscard]] const std::string& download_phase() const { return phase_; }
  struct RepostTimer {
    sim::Micros at = 0;
    std::optional<int64_t> id;
  };
  [[nodiscard]] const std::optional<RepostTimer>& repost_timer() const { return repost_timer_; }
  [[nodiscard]] std::optional<sim::Micros> upload_retry_at() const { return upload_retry_at_; }
  [[nodiscard]] bool upload_pending() const { return uploading_ || crud_notified_; }
  [[nodiscard]] bool awaiting_write_checkpoint() const { return target_callbacks_ > 0; }
  // An iteration runs whose first line has not come yet: that line starts an upload round
  // (docs/protocol.md §2.1.4), also after `connection established` (docs/findings-world.md W31).
  [[nodiscard]] bool awaiting_first_line() const { return first_line_pending_; }
  [[nodiscard]] std::optional<sim::Micros> token_expires_at() const {
    return credentials_ ? std::optional<sim::Micros>(credentials_->expires_at) : std::nullopt;
  }
  [[nodiscard]] std::optional<int64_t> status_applied_id() const { return applied_request_id_; }
  [[nodiscard]] std::optional<int64_t> highest_accepted() const { return highest_accepted_; }
  [[nodiscard]] bool repost_stops_when_accepted() const {
    return quirk_fixed(Quirk::RepostUntilApplied);
  }

  // The js-real side of this life (SdkBehaviour::JsReal), null otherwise.
  [[nodiscard]] const js::JsRealClient* js_real() const { return js_.get(); }

 private:
  friend class js::JsRealClient;
  [[nodiscard]] bool js_sync_running() const;
  enum class CheckpointState { Pending, Ready, Error, Disconnected };
  enum class EventKind {
    Line,
    End,
    Reset,
    Aborted,
    CompletedUpload,
    RefreshedToken,
    UpdateSubscriptions,  // text: the activeStreams JSON at injection time
    Error
  };
  struct Event {
    EventKind kind;
    std::string text;
  };

  // --- download (docs/protocol.md §2.1.3-2.1.5)
  sim::Task<void> download_loop();
  sim::Task<bool> iteration();
  sim::Task<Event> next_event(sim::ClientStream& stream, sim::Queue<Event>& injected,
                              sim::AbortSignal& nested);
  sim::Task<void> seed(std::shared_ptr<sim::AbortSignal> nested,
                       std::shared_ptr<sim::Queue<Event>> events, std::string id);
  void handle_instruction(nlohmann::json& instruction);  // moves the status out of it
  void mark_disconnected();
  void reset_stale_target();  // mutant ResetTargetOnReconnect only
  sim::Task<void> delay_retry(sim::Micros delay, sim::AbortSignal* nested, bool resume);

  // --- checkpoint readiness (docs/protocol.md §2.3.2)
  void set_checkpoint_state(CheckpointState s, std::string error = "");
  void download_iteration_ended();
  sim::Task<bool> wait_ready(sim::AbortSignal* abort, bool wake);

  // --- upload (docs/protocol.md §2.2)
  sim::Task<void> upload_loop();
  sim::Task<void> upload_all();
  sim::Task<void> upload_data();
  sim::Task<bool> update_local_target();
  sim::Task<std::string> write_checkpoint_for_upload();
  [[nodiscard]] std::optional<std::string> custom_write_checkpoint(
      const sim::HttpResponse& response) const;
  sim::Task<std::string> get_legacy_write_checkpoint();
  sim::Task<std::string> request_next_checkpoint(sim::AbortSignal* abort);
  sim::Task<std::string> post_checkpoint_request(const std::string& id, sim::AbortSignal* abort);
  void trigger_crud_upload();
  void notify_completed_uploads();

  // --- credentials (docs/protocol.md §2.1.7)
  struct Credentials {
    std::string subject;
    sim::Micros expires_at = 0;
  };
  sim::Task<Credentials> fetch_credentials();
  // The draws this client's SDK makes, shared with the js-real host (engine/js/) so that both
  // engines spend the same virtual time and `syncsim diff` isolates port differences:
  // sdk_random() is the SDK's Math.random() (53 bits from rng_, as V8 builds its doubles);
  // sdk_jitter() is delayRetry's `setTimeout(end, delay * (0.9 + Math.random() * 0.2))`
  // (AbstractStreamingSyncImplementation.js delayRetry, docs/protocol.md §2.1.5), truncated to
  // whole ms as the timer does; credentials_latency() is our connector's fetchCredentials
  // latency, whole ms in 0..max.
  double sdk_random();
  sim::Micros sdk_jitter(sim::Micros delay);
  sim::Micros credentials_latency();
  // When a JS timer armed now with `delay` fires: Node's timers (and the host's fake timers)
  // count from the loop's whole-ms clock, so the deadline is now truncated to ms + delay.
  [[nodiscard]] sim::Micros sdk_timer_deadline(sim::Micros delay) const;
  sim::Task<Credentials> get_credentials();
  void invalidate_credentials(const char* why);
  sim::Task<void> prefetch_credentials(std::shared_ptr<sim::Queue<Event>> events);
  // buildRequest: an authenticated request; note_status() invalidates on a 401.
  sim::Task<sim::HttpRequest> build_request(std::string method, std::string path, std::string body);
  void note_status(int status);
  void status_changed() { status_changed_.notify(); }
  sim::Task<void> run_loop(sim::Task<void> loop);
  [[nodiscard]] bool quirk_fixed(Quirk q) const;

  // --- repost (docs/protocol.md §2.3.3)
  sim::Task<void> repost_loop();

  // One powersync_control call in its own write transaction; judges barrier-holds.  The
  // raw result; control() parses instructions, control_int() an integer result.
  std::optional<std::string> control_text(const std::string& op,
                                          const std::optional<std::string>& payload);
  std::vector<nlohmann::json> control(const std::string& op,
                                      const std::optional<std::string>& payload);
  std::optional<int64_t> control_int(const std::string& op,
                                     const std::optional<std::string>& payload);
  void after_write_lock(const TouchedTables& touched);
  void violation(const std::string& invariant, const std::string& message);
  [[nodiscard]] bool has_mutant(EngineMutant m) const;
  [[nodiscard]] std::string start_payload() const;
  // The open connection; throws ClientClosed once this life was closed.
  Database& db();
  // Whether the core keeps checkpoint state in ps_kv (v14) rather than `$local`.
  [[nodiscard]] bool state_in_kv() const { return core_.migration_level >= 14; }
  // An app on a 0.4.x core's SDK (the port of it, or the published 1.x SDK: its platform
  // package opens the file the same way) runs powersync_init() itself.
  [[nodiscard]] bool opens_like_an_old_sdk() const {
    return options_.sdk == SdkBehaviour::JsLegacy ||
           (options_.sdk == SdkBehaviour::JsReal && !state_in_kv());
  }
  std::optional<int64_t> local_column(const char* column);
  // The SDK side of the target (docs/protocol.md §2.2.3, §2.2.4; §2.5 item 3 for JsLegacy): read it
  // in updateLocalTarget, write it in complete()/updateLocalTarget inside the caller's transaction.
  // write_target returns the previous target where the core reports it.
  std::optional<int64_t> sdk_read_target();
  std::optional<std::string> sdk_write_target(const std::string& value);
  void report_target_write(const std::string& value, const std::optional<std::string>& previous);
  void fire_kill(KillPoint point);

  sim::Loop& loop_;
  sim::Trace& trace_;
  sim::Prng rng_;
  sim::Link& link_;
  const CoreVersion& core_;
  ClientOptions options_;
  ClientObserver* observer_;
  sim::Verdicts* verdicts_;
  std::string name_;
  std::string file_name_;
  std::unique_ptr<Database> db_;
  std::unique_ptr<js::JsRealClient> js_;  // declared after db_: destroyed before it
  std::optional<KillPoint> kill_point_;
  std::function<void()> kill_hook_;
  ClientStats stats_;
  uint64_t control_call_ = 0;                // sync_line's cache key
  uint64_t decoded_for_ = 0;                 // the control call decoded_line_ belongs to
  std::optional<std::string> decoded_line_;  // a line_binary payload as JSON text
  // The same per-call caches for sync_line_key and bson_line_write_checkpoint: the call and the
  // payload they were computed for (nullptr: none).
  struct LinePeek {
    uint64_t call = 0;
    const std::string* payload = nullptr;
  };
  LinePeek key_for_;
  std::optional<std::string_view> line_key_;
  LinePeek write_checkpoint_for_;
  std::optional<std::optional<int64_t>> line_write_checkpoint_;

  // JS-side sync status (docs/protocol.md §2.1.5)
  StatusTree status_;  // the tree, or UpdateSyncStatus text until read
  bool connected_ = false;
  bool connecting_ = false;
  std::optional<int64_t> applied_request_id_;  // internal_last_applied_checkpoint_request_id
  std::optional<std::string> download_error_;
  std::optional<std::string> upload_error_;
  bool uploading_ = false;

  std::shared_ptr<sim::AbortSignal> outer_;  // a fresh one per connect()
  int running_loops_ = 0;
  // ConnectionManager.syncStreamImplementation: set by connect(), null as soon as disconnect()
  // (or close()) begins, while the loops still wind down (docs/protocol.md §2.3.1).
  bool sync_impl_ = false;
  sim::Notifier loops_done_;
  sim::Notifier status_changed_;  // the JS statusChanged event (waitForSync re-evaluates)
  std::optional<Credentials> credentials_;
  sim::Prng credentials_rng_ = rng_.split("credentials");
  std::optional<int64_t> last_posted_id_;    // the last id requestNextCheckpoint posted
  std::optional<int64_t> highest_accepted_;  // the service's highest answer (quirk §2.7.8 fix)
  std::shared_ptr<sim::AbortSignal> nested_;
  std::shared_ptr<sim::Queue<Event>> events_;  // set while an iteration accepts injections
  // injectable(): a pull from the stream is in flight (a next() found nothing to serve and was
  // then answered by an injected event); the line it fetches is served before injected events.
  bool source_fetch_in_flight_ = false;
  std::string phase_ = "idle";  // what the download loop is doing (pending())

  CheckpointState checkpoint_state_ = CheckpointState::Pending;
  std::string checkpoint_error_;
  sim::Notifier checkpoint_state_changed_;
  std::shared_ptr<sim::Latch<bool>>
      waiter_;  // ends the retry delay early (docs/protocol.md §2.3.2)

  int requests_in_flight_ = 0;
  bool first_line_pending_ = false;  // awaiting_first_line()
  int target_callbacks_ = 0;  // updateLocalTarget's callback running (awaiting_write_checkpoint())
  std::optional<RepostTimer> repost_timer_;
  std::optional<sim::Micros> upload_retry_at_;
  bool crud_notified_ = false;
  sim::Notifier crud_notifier_;
  uint64_t write_seq_ = 0;
  uint64_t mutant_batches_ = 0;  // CompleteWithoutUpload

  // locallyActiveSubscriptions: key "<name>|<params JSON>" -> refcount, in insertion order
  // (a JS Map), and the handles given out.
  struct ActiveSubscription {
    std::string key;
    std::string name;
    nlohmann::json params;
    int refcount = 0;
  };
  std::vector<ActiveSubscription> active_subscriptions_;
  std::map<uint64_t, std::string> stream_handles_;  // handle -> key
  uint64_t next_stream_handle_ = 1;
  void subscriptions_may_have_changed();
};

}  // namespace syncsim::engine
