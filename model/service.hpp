// The in-process model of the PowerSync service plus the app backend, reachable only
// through the simulated network (sim::HttpServer).  Routes:
//   POST /sync/stream              docs/protocol.md §3.3 (sync_stream.hpp)
//   POST /sync/checkpoint-request  docs/protocol.md §3.1.2, §3.1.7, §3.2.1 (validation: docs/cli.md
//   §1) GET  /write-checkpoint2.json   docs/protocol.md §3.1.2, §3.1.7 (legacy, generated ids) POST
//   /backend/upload           the app backend (docs/scenarios.md §1)
// Both managed routes go through the batcher (docs/protocol.md §0.1).  Not modelled: the oldest
// /write-checkpoint.json route, RSocket.  Custom write checkpoints: docs/protocol.md §3.1.10
// (model/custom_checkpoints.hpp).
// The default world (docs/scenarios.md §1): `todos` rows go to the global bucket every user
// syncs; `notes` rows to a per-user bucket of their owner.
#pragma once

#include <memory>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "model/backend.hpp"
#include "model/bucket_storage.hpp"
#include "model/checkpoint_batcher.hpp"
#include "model/checkpoint_store.hpp"
#include "model/replication.hpp"
#include "model/source_db.hpp"
#include "model/stream_definitions.hpp"
#include "model/sync_stream.hpp"
#include "sim/invariants.hpp"
#include "sim/net.hpp"

namespace syncsim::model {

// Deliberately injected service bugs, used to show a checker can fail.  Off by default.
enum class ServiceMutant {
  // #134-like: ids visible without the head <= checkpoint LSN filter (acked too early).
  AckBeforeReplication,
  // Replication stops at the middle of the run and never resumes.
  ReplicationStall,
  // #201-like: the source marker is written before the mapping is stored.
  MarkerBeforeMapping,
  // No checkpoint_complete after a diff that only changes write_checkpoint (pre-1.7.1).
  NoCompleteForWriteCheckpointOnly,
  // checkpoint_request_id <= 0 accepted by the route (pre-2968208).
  AcceptNonPositiveIds,
  // A lower supplied id replaces the stored one.
  LowerIdReplaces,
  // Mongo retention cleanup also deletes pending request records.
  CleanupDeletesPending,
  // A mongo connection replaces its write_checkpoint with any newly processed value, also
  // a lower one (drops I7's "only when greater", docs/protocol.md §3.1.9).
  WriteCheckpointMayDrop,
  // Sync streams (issue 7): a connection still gets the buckets of subscriptions its key's
  // earlier connections had and this request no longer lists (a removed or expired
  // subscription keeps syncing), with an empty `subscriptions` list.
  RemovedSubscriptionKeepsBuckets,
  // A managed route answers the key's stored id as its batch read it before writing (a
  // stale read), not what the batch stored: route-response-per-request.
  StaleRouteResponse,
  // An equal retry does not refresh checkpoint_requested_at, so retention deletes a record
  // a request refreshed within the window: retention-deletes-only-what-it-may.
  EqualRetryKeepsAge,
  // A new mongo connection's initial lookup answers one below the stored id (a stale
  // replica read): an open gate re-closes at reconnect (gate-never-recloses).
  StaleWriteCheckpointOnConnect,
  // GET /write-checkpoint2.json answers one above the id its batch stored (an off-by-one):
  // a legacy target nothing will acknowledge (no-wedge).
  GeneratedAnswerAhead,
  // Issue 17: a closed sync stream keeps its slot of max_concurrent_streams (a leaked request
  // queue entry), so after storms every reconnect gets 429 forever (converges).
  ConnectionSlotLeak,
  // Issue 17, custom mode: the backend's custom write checkpoint reaches storage when the
  // upload commits, not through replication, so a stream can carry it before the upload's
  // data is in a checkpoint (service-ack-after-replication).
  CustomCheckpointBeforeReplication,
  // Issue 17, sync-config reprocessing: when the new sync rules activate, the replaced
  // instance's job stops but its open sync streams are not ended (the STOP state is not
  // observed), so their clients stay on buckets that never advance again (converges).
  StoppedConfigKeepsStreams,
  // A compaction's CLEAR leaves the first replaced op's checksum out of its sum, so every
  // client that downloads the CLEAR holds a checksum the ops never had (checksums-agree).
  ClearLosesChecksum,
  // A torn compaction read (service.compaction_reads torn) resumes its scan one op past
  // where it stopped: that op is never sent, so the client's bucket checksum misses it
  // (checksums-agree; the core reports "Checksums didn't match").
  TornReadSkipsOp,
  // v3 checksums (service.checksum_reads v3-documents): a candidate checkpoint that a
  // compaction's merged document straddles is served with that document's checksum instead
  // of being skipped, so the line's checksum counts ops past its checkpoint
  // (checksums-agree; the core reports "Checksums didn't match").
  StraddledChecksumServed,
  // A chunk's MOVE/CLEAR past the checkpoint never withholds checkpoint_complete, so a client
  // applies a checkpoint whose superseded rows it downloaded as MOVEs without data
  // (consistent-checkpoint).
  CompleteDespiteInvalidation,
};

// What a sync_config_change does (docs/protocol.md §3.4 "Sync config reprocessing").
//   Reprocess  - the service's way: a new sync-rules instance snapshots and replicates in
//                the background while the old one serves; versioned bucket names; at its
//                first checkpoint it activates, the old one stops and its streams end.
//   EndStreams - the model before issue 17: every stream ends at once, same buckets.
enum class SyncConfigChange { Reprocess, EndStreams };

enum class WriteCheckpointMode { Managed, Custom };

// MySQL binlog heartbeat: KEEPALIVE_INACTIVITY_THRESHOLD = 30 s (BinLogListener, v1.24.0 and
// v1.25.0); heartbeat_interval_seconds does not apply to MySQL (BinLogReplicationJob.keepAlive).
inline constexpr sim::Micros kMysqlBinlogHeartbeat = 30 * sim::kSeconds;

struct ServiceConfig {
  StorageFlavour flavour = StorageFlavour::Mongo;
  SourceFlavour source = SourceFlavour::Postgres;  // source_db.hpp
  // The model before issue 17, for comparison: every source reads the head AT its last
  // commit, so a caught-up source acks a new mapping with no later event (too early).
  bool head_at_last_commit = false;
  // The MySQL binlog keepalive's release (replication.hpp MysqlKeepalive, docs/protocol.md
  // §3.1.4 "MySQL keepalives"); only a MySQL source has one.
  MysqlKeepalive mysql_keepalive = MysqlKeepalive::V1_24_0;
  WriteCheckpointMode write_checkpoint_mode = WriteCheckpointMode::Managed;
  sim::Micros replication_lag = 200 * sim::kMillis;
  sim::Micros heartbeat = 60 * sim::kSeconds;
  sim::Micros token_lifetime = 86400 * sim::kSeconds;
  // The app backend forwards a connector's postCheckpointRequest to the service after a
  // seeded uniform 0..this delay (docs/protocol.md §2.2.6).
  sim::Micros backend_forward_delay_max = 50 * sim::kMillis;
  sim::Micros checkpoint_request_retention = 60 * 60 * sim::kSeconds;  // §2.2.1 default 60 min
  sim::Micros compact_interval = 0;                                    // 0 = no scheduled job
  sim::Micros batch_latency_max = 20 * sim::kMillis;
  std::vector<ServiceMutant> mutants;
  // Sync stream (sync_stream.hpp): priority by bucket definition ("global", "notes";
  // default 3), the per-batch fetch delay, and the line encoding.
  std::map<std::string, int> bucket_priorities;
  sim::Micros stream_batch_delay = sim::kMillis;
  // stream_batch_delay is paid once per storage page (true) or per bucket chunk (false).
  bool fetch_per_page = false;
  StreamEncoding stream_encoding = StreamEncoding::Json;
  // Sync streams (docs/protocol.md §3.3.1–3.3.3, issue 7).  nullopt: the request's `streams` is
  // ignored and lines carry no `streams`/`subscriptions` (every scenario before issue 7).
  // Set: the request's `streams` is resolved against these definitions; the world's
  // `todos`/`notes` bucket definitions become the default streams "global" and "notes"
  // (docs/protocol.md §3.3.2 "Legacy bucket_definitions appear as default streams"), and rows of
  // the `items` table go to stream buckets (item_bucket()).
  std::optional<StreamConfig> streams;
  // Issue 17, docs/protocol.md §3.1.3 "Several API processes": N API processes share storage;
  // each has its own batcher (own same-turn batching, 3 batches in flight); a load balancer
  // sends each request and stream to a seeded process.
  int api_processes = 1;
  DuplicateWindow duplicate_window = DuplicateWindow::Write;  // checkpoint_batcher.hpp
  // api.parameters.max_concurrent_connections (DEFAULT_MAX_CONCURRENT_CONNECTIONS = 200):
  // sync streams per process beyond it get 429 (docs/protocol.md §3.3.1 "Connection limit").
  // 0 = unlimited (the model before issue 17).
  int max_concurrent_streams = 200;
  // Batch failures beyond a restart (docs/protocol.md §3.1.3 "Batch failures"): each batch
  // fails with this chance, with a mode drawn uniformly from `batch_failures`.
  int batch_failure_pct = 0;
  std::vector<BatchFailure> batch_failures;
  // docs/protocol.md §3.3.3 step 6: true = the model before issue 17, a MOVE/CLEAR beyond the
  // checkpoint withholds the complete for the whole download, not only its storage page.
  bool sticky_invalidation = false;
  // docs/protocol.md §3.1.9 "Change feed": true = the model before issue 17, mongo change
  // detection takes the greatest id processed in the window and has no 1000-record limit.
  bool change_feed_takes_max = false;
  // Mongo custom change query restricted to the connection's sync config (findings-world.md W42's
  // fix; v1.24.0 has no such filter, docs/protocol.md §3.1.10).
  bool custom_changes_own_config = false;
  // docs/protocol.md §3.1.5 "Read-back with duplicates": how mongo answers generated keys
  // (Incremented = the model before issue 17).
  GeneratedReadBack generated_read_back = GeneratedReadBack::Service;
  // docs/protocol.md §3.1.5 "Read-back round trip": mongo's answer is a separate find one
  // storage round trip after the write (CheckpointBatcher, BatcherConfig::separate_read_back).
  // Off by default (the answer is read with the write, the model before).
  bool separate_read_back = false;
  // docs/protocol.md §3.3.4 "Compaction is not atomic with sync reads": a page read spanning a
  // compaction of its bucket is torn (ConnectionContext::torn_reads).  Off by default.
  bool torn_compaction_reads = false;
  // docs/protocol.md §3.3.4 "The checksum-invalidated candidate skip": storage v3's
  // document-level checksums (ConnectionContext::v3_checksum_documents).  Off by default.
  bool v3_checksum_documents = false;
  // With v3: the skip also while a download is being superseded (ConnectionContext::
  // v3_superseding_skip); off is the model before (service.checksum_reads v3-idle-only).
  bool v3_superseding_skip = true;
  SyncConfigChange sync_config_change = SyncConfigChange::Reprocess;
  // How long a reprocessing's initial snapshot takes (slot created -> noCommitBefore read).
  sim::Micros snapshot_duration = sim::kSeconds;
};

struct ServiceMetrics {
  uint64_t checkpoint_requests = 0;  // both managed routes, valid or not
  uint64_t generated_requests = 0;   // GET /write-checkpoint2.json answered
  uint64_t supplied_requests = 0;    // POST /sync/checkpoint-request answered
  uint64_t rejected_requests = 0;    // 400 / custom-mode rejections
  uint64_t failed_requests = 0;      // batch errors, restarts
  uint64_t markers_written = 0;      // source markers (§3.1.4)
  uint64_t uploads = 0;
  uint64_t streams_opened = 0;
  uint64_t compact_jobs = 0;
  uint64_t requests_deleted = 0;  // retention cleanup + explicit deletion
  uint64_t restarts = 0;
  uint64_t replication_restarts = 0;  // replication-only restarts (API processes stay up)
  uint64_t rejected_streams = 0;      // 429: a process at max_concurrent_streams
  uint64_t sync_config_changes = 0;
  uint64_t sync_config_activations = 0;    // reprocessed sync rules that became active
  std::vector<sim::Micros> ack_latencies;  // request received -> first line acking it
  // The same, for requests first acknowledged by a later id (hidden by a newer request).
  std::vector<sim::Micros> hidden_ack_latencies;
  std::vector<sim::Micros> direct_ack_latencies;  // acknowledged by their own id
  // Hidden requests: latency minus the replication lag at arrival, i.e. the wait beyond what
  // replicating their own position needed.
  std::vector<sim::Micros> hidden_extra_delays;
};

std::string global_bucket();
std::string notes_bucket(const std::string& user);

// The stream world's `items` rows (issue 7): the row id is "<stream>:<value>:<n>" (value
// empty for a stream without parameters, written by engine/workload.cpp); the row goes to
// the stream's bucket for that value, `<stream>["<value>"]` or `<stream>[]` (the bucket
// names of model/stream_definitions.cpp with fan_out 1).  nullopt: not an item id, or a
// stream the config does not define.
struct ItemId {
  std::string stream;
  std::string value;
};
std::optional<ItemId> parse_item_id(const std::string& id);
std::optional<std::string> item_bucket(const StreamConfig& config, const std::string& id);

// The service's own invariants (docs/invariants.md §1), checked in model/.
void register_service_invariants(sim::InvariantCatalog& catalog);

// Per key, the source position at which each id-establishing request was received, so an
// emission of write_checkpoint n can be judged against every request it acknowledges
// (service-ack-after-replication, docs/invariants.md §1).  Equal retries and stale requests do not
// establish an id.  Entries outlive record deletion: they only ever require positions
// that were received earlier, so keeping them cannot hide a violation.
class AckLedger {
 public:
  // `lag`: the replication lag when the request arrived (its own ack can come no sooner).
  // `line`, `batch_line`, `batch_head`: where the request and its batch were logged.
  void established(const std::string& key, int64_t id, Lsn received_at, sim::Micros when,
                   sim::Micros lag, uint64_t line = 0, uint64_t batch_line = 0, Lsn batch_head = 0);
  // The latest received position among requests with id <= n (nullopt: none).
  [[nodiscard]] std::optional<Lsn> required_for(const std::string& key, int64_t n) const;
  // The request behind required_for: its id, position and trace lines.
  struct Requirement {
    int64_t id = 0;
    Lsn received_at = 0;
    uint64_t line = 0, batch_line = 0;
    Lsn batch_head = 0;
  };
  [[nodiscard]] std::optional<Requirement> requirement_for(const std::string& key, int64_t n) const;
  // First emission of ids up to n: the requests acked now, with their receive times; `by_later`
  // when the request's own id is below n (a newer request hid it, docs/protocol.md §3.2.2).
  struct Acked {
    sim::Micros when = 0;
    sim::Micros lag = 0;
    bool by_later = false;
  };
  std::vector<Acked> acked(const std::string& key, int64_t n);

 private:
  struct Entry {
    Lsn received_at = 0;
    sim::Micros when = 0;
    sim::Micros lag = 0;
    bool acked = false;
    uint64_t line = 0, batch_line = 0;
    Lsn batch_head = 0;
  };
  std::map<std::string, std::multimap<int64_t, Entry>> by_key_;
};

std::string global_bucket();
std::string notes_bucket(const std::string& user);

// What the service answered to a managed checkpoint request, for scenario-level observers
// (scenarios/explore/sometimes.hpp); the service only reports.  `supplied`: the posted id (nullopt
// for a generated write checkpoint), `before`: the key's stored id just before its batch
// wrote, `id`: the answer.
class ServiceObserver {
 public:
  virtual ~ServiceObserver() = default;
  virtual void on_request_answered(const std::string& /*key*/, std::optional<int64_t> /*supplied*/,
                                   std::optional<int64_t> /*before*/, int64_t /*id*/) {}
};

class Service : public sim::HttpServer {
 public:
  Service(sim::Loop& loop, sim::Trace& trace, sim::Prng rng, ServiceConfig config);
  ~Service() override;
  void start();
  // Invariant violations go here (nullptr: unchecked, e.g. unit tests).
  void set_verdicts(sim::Verdicts* verdicts) { verdicts_ = verdicts; }
  void set_observer(ServiceObserver* observer) { observer_ = observer; }

  // Faults (docs/faults.md §1).
  // The whole process restarts: batches, connections and in-flight markers are lost,
  // storage is kept; requests fail while it is down; replication replays (docs/architecture.md §3,
  // docs/faults.md §1).
  void restart(sim::Micros down);
  // Split roles (`start -r sync` restarted, `-r api` kept, docs/protocol.md §3.4 "Replication-only
  // restart"): replication is down for `down` and replays; API processes, their batches
  // and open streams stay.
  void restart_replication(sim::Micros down);
  // A compact job: retention cleanup (docs/architecture.md §1) and bucket compaction
  // (docs/architecture.md §2).
  void compact();
  // Deletes the request-derived checkpoint-request records of a key (explicit deletion,
  // docs/protocol.md §3.6.2.3); a generated (legacy) record is permanent and stays
  // (docs/protocol.md §3.2.1).
  void delete_request(const std::string& key);
  // A new sync config (docs/protocol.md §3.4 "Sync config reprocessing", model/sync_rules.cpp):
  // reprocessed in the background and activated when caught up, or (EndStreams) every stream
  // ends at once.
  void change_sync_config();
  // Lag and stall faults act on every running replication job (one process replicates
  // every sync-rules instance from one source, docs/protocol.md §3.4).
  void set_replication_lag(sim::Micros lag);
  void stall_replication();
  void resume_replication();
  // The active sync rules' id (1 until a reprocessing activates).
  [[nodiscard]] int sync_rules_id() const { return sync_rules_id_; }
  // The sync-rules instance a bucket name belongs to: "<id>#..." (versioned), else 1.
  static int bucket_version(const std::string& bucket);
  // checksums-agree: the bucket's checksum at `op`, recomputed by the replication job of
  // the instance the bucket belongs to (buckets of a replaced instance included).
  [[nodiscard]] int32_t checksum_at(const std::string& bucket, OpId op) const;
  // consistent-checkpoint: the bucket's never-compacted PUT/REMOVE ledger, from the same job.
  [[nodiscard]] const std::vector<Replication::LedgerOp>& ledger(const std::string& bucket) const;
  // The storage checkpoint with op id `op` of any sync-rules instance: (instance, LSN).  Op
  // ids of different instances are not ordered like their source positions (monotonic-reads
  // compares LSNs across a reprocessing).
  struct CheckpointOf {
    int sync_rules_id = 1;
    Lsn lsn = 0;
  };
  [[nodiscard]] std::optional<CheckpointOf> checkpoint_of(OpId op) const;
  [[nodiscard]] std::size_t sync_rules_instances() const { return 1 + reprocessed_.size(); }
  // The sync-rules instance that serves streams now (1 until a reprocessing activates another).
  [[nodiscard]] int active_sync_rules_id() const;
  // Ends the open streams of `keys` (their clients reconnect): the heal of a line fault
  // whose connection state no longer matches what the client was sent.
  void end_streams_of(const std::set<std::string>& keys);

  // Called once per key whose checkpoint-request / write-checkpoint mapping a batch has
  // just stored (fault triggers, scenarios/explore/fault_triggers.hpp); empty = none.
  void set_mapping_stored_hook(std::function<void(const std::string& key)> hook) {
    mapping_stored_ = std::move(hook);
  }

  void handle(const sim::HttpRequest& request,
              std::function<void(sim::HttpResponse)> respond) override;
  sim::HttpResponse open_stream(const sim::HttpRequest& request,
                                std::shared_ptr<sim::ServerStream> stream) override;

  [[nodiscard]] std::vector<std::string> buckets_for(const std::string& user) const;
  // The rows a user should see once replication has caught up (for `converges`).
  [[nodiscard]] std::map<RowKey, Row> rows_for(const std::string& user) const;

  SourceDb& source() { return source_; }
  Backend& backend() { return backend_; }
  // The active sync rules' bucket storage and replication job.
  BucketStorage& storage() { return *active_storage_; }
  CheckpointStore& checkpoints() { return checkpoints_; }
  Replication& replication() { return *active_replication_; }
  [[nodiscard]] const Replication& replication() const { return *active_replication_; }
  LineFaultInjector& line_faults() { return line_faults_; }  // the line_fault fault
  [[nodiscard]] const ServiceMetrics& metrics() const { return metrics_; }
  [[nodiscard]] const CheckpointBatcher& batcher(std::size_t process = 0) const {
    return *batchers_.at(process);
  }
  [[nodiscard]] std::size_t api_processes() const { return batchers_.size(); }
  [[nodiscard]] const ServiceConfig& config() const { return config_; }
  [[nodiscard]] const StreamStats& stream_stats() const { return stream_stats_; }
  [[nodiscard]] bool has_mutant(ServiceMutant m) const;
  [[nodiscard]] std::string pending() const;
  // Sync streams: the stream buckets the key's latest connection resolved (for the
  // stream convergence check), and streams ended because their request failed (docs/architecture.md
  // §2).
  [[nodiscard]] std::vector<std::string> stream_buckets_of(const std::string& key) const;
  [[nodiscard]] uint64_t failed_stream_requests() const { return failed_stream_requests_; }
  // Liveness explanations (scenarios/checks/liveness.*): until when the process is down after a
  // restart fault, and the last deletion of a key's records (when, and by what).
  [[nodiscard]] sim::Micros down_until() const { return down_until_; }
  struct Deletion {
    sim::Micros at = 0;
    std::string cause;  // "retention" or "a delete_request fault"
  };
  [[nodiscard]] std::optional<Deletion> deletion_of(const std::string& key) const;

 private:
  // Resolves the request's `streams` into `req` (buckets, priorities, subscriptions,
  // `streams`); returns an error message when the request fails as a whole (docs/architecture.md
  // §2).
  std::optional<std::string> resolve_request_streams(const nlohmann::json& body,
                                                     ConnectionRequest& req);
  void checkpoint_request(const sim::HttpRequest& request,
                          std::function<void(sim::HttpResponse)> respond);
  void write_checkpoint2(const sim::HttpRequest& request,
                         std::function<void(sim::HttpResponse)> respond);
  void enqueue(const std::string& key, std::optional<int64_t> supplied, bool generated,
               std::function<void(sim::HttpResponse)> respond);
  sim::HttpResponse upload(const sim::HttpRequest& request);
  void forward_checkpoint_request(const sim::HttpRequest& request,
                                  std::function<void(sim::HttpResponse)> respond);
  void write_marker();
  void on_batch_write(const std::vector<ManagedEntry>& entries,
                      const std::map<std::string, std::optional<int64_t>>& before,
                      const BatchWrite& write);
  void on_emission(const std::string& key, int64_t id, Lsn lsn);
  // route-response-per-request: one answer of a managed route against its own request.
  void check_route_response(const std::string& key, std::optional<int64_t> supplied,
                            const BatchOutcome& out, int64_t response);
  // retention-deletes-only-what-it-may: a compact job's deletions against the ledger.
  void check_retention(const std::map<std::string, std::vector<CheckpointRecord>>& before,
                       sim::Micros cutoff);
  void violation(const std::string& invariant, const std::string& message,
                 std::vector<sim::ViolationInput> inputs = {},
                 std::vector<sim::CauseStep> chain = {});
  void schedule_compaction();

  sim::Loop& loop_;
  sim::Trace& trace_;
  sim::Prng rng_;
  sim::Prng backend_rng_ = rng_.split("backend");  // the app backend's forwarding delays
  ServiceConfig config_;
  SourceDb source_;
  Backend backend_;
  BucketStorage storage_;
  CheckpointStore checkpoints_;
  LineFaultInjector line_faults_;
  Replication replication_;
  std::vector<std::unique_ptr<CheckpointBatcher>> batchers_;  // one per API process
  sim::Prng balancer_rng_ = rng_.split("balancer");  // the load balancer (api_processes > 1)
  sim::Prng failure_rng_ = rng_.split("batch-failures");
  AckLedger ledger_;
  struct OpenStream {
    std::weak_ptr<sim::ServerStream> stream;
    std::size_t process = 0;
    std::string key;  // "<user>/<client_id>"
  };
  std::vector<OpenStream> streams_;
  std::string streams_pending() const;
  // The API process a load balancer sends the next request or stream to.
  std::size_t pick_process();
  sim::Micros down_until_ = 0;
  sim::Verdicts* verdicts_ = nullptr;
  ServiceObserver* observer_ = nullptr;
  ServiceMetrics metrics_;
  StreamStats stream_stats_;
  uint64_t next_connection_ = 1;
  std::function<void(const std::string& key)> mapping_stored_;
  // Per key: every stream bucket any connection resolved (with its priority), and those of
  // the latest connection.
  std::map<std::string, std::map<std::string, int>> stream_buckets_seen_;
  std::map<std::string, std::vector<std::string>> stream_buckets_latest_;
  uint64_t failed_stream_requests_ = 0;
  // Per key, written at every batch: when a supplied request last refreshed the record (an
  // id >= the stored one).
  struct RetentionLedger {
    std::optional<sim::Micros> refreshed_at;
  };
  std::map<std::string, RetentionLedger> retention_ledger_;
  std::map<std::string, Deletion> deletions_;
  // The active sync config's id (sync_rules_id); a config change makes a new one, which
  // resets custom write checkpoints (docs/protocol.md §3.1.10, §3.4).
  int sync_rules_id_ = 1;
  // A replicated custom write checkpoint of sync rules `id`, whose storage is `storage`.
  void on_custom_checkpoint(const std::string& key, int64_t checkpoint, int id,
                            BucketStorage& storage);
  // Sync-config reprocessing (model/sync_rules.cpp).  Instance 1 is storage_/replication_
  // (a storage-version-1 stream: unversioned bucket names); reprocessed ones follow.
  struct SyncRulesInstance {
    int id = 0;
    enum class State { Snapshot, Processing, Active, Stopped } state = State::Snapshot;
    std::unique_ptr<BucketStorage> storage;
    std::unique_ptr<Replication> replication;
  };
  std::vector<std::unique_ptr<SyncRulesInstance>> reprocessed_;
  BucketStorage* active_storage_ = &storage_;
  Replication* active_replication_ = &replication_;
  void end_streams();
  void start_reprocessing();
  void finish_snapshot(SyncRulesInstance& next, std::size_t slot_commit);
  void activate(SyncRulesInstance& next);
  // Every running replication job is told of a new source commit.
  void notify_replications();
  // A bucket name as the active sync rules name it ("<id>#name" after a reprocessing).
  [[nodiscard]] std::string versioned(const std::string& bucket) const;
  // The buckets a row belongs to under the sync config (unversioned names).
  [[nodiscard]] std::vector<std::string> route(const RowKey& key, const Row& row) const;
  // Renames every bucket of a resolved request to the active sync rules' names.
  void version_buckets(ConnectionRequest& req) const;
  [[nodiscard]] const Replication& replication_of(int sync_rules_id) const;
};

// The error envelope of docs/protocol.md §3.1.2.
sim::HttpResponse error_response(int status, const std::string& code,
                                 const std::string& description, const std::string& details);

// Decodes checkpoint_request_id like the service's codec (docs/protocol.md §3.1.2, docs/cli.md §1):
// a safe-integer JSON number or a `^-?[0-9]+$` string, within 1..2^63-1.  Returns the
// problem as text on failure.
std::variant<int64_t, std::string> decode_checkpoint_request_id(const nlohmann::json& value);

}  // namespace syncsim::model
