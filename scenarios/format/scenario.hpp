// The scenario file format: one JSON file describes one simulated world.  The same file is a
// CI test, a replay input and a design-review exhibit, so the loader is strict: unknown fields,
// wrong types and out-of-range values are all rejected, and every problem of a file is reported
// at once (one line each, naming the field's JSON path, the value and what is allowed).
//
// Units are part of the field names (`_ms`, `_s`, `_pct`).  Every field has a default except
// `format`.  This module knows nothing about the rest of the program: the valid core versions,
// invariant ids and mutant ids come in through ValidationContext.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace syncsim::scenarios {

// A group of clients that share a core, an SDK behaviour and a checkpoint mode (one entry of
// clients.fleet; the uniform form is one group).
struct ClientGroup {
  // Number of clients in the group, 1..1000 (all groups together at most 1000).
  int count = 1;
  // Core version; must be one of ValidationContext::cores.
  std::string core = "0.5.3";
  // "requests" or "legacy" (see ClientsSpec::checkpoint_mode).
  std::string checkpoint_mode = "requests";
  // Which SDK behaviour drives the core: "auto" (the core's own: js-1.3.0 for 0.5.x,
  // js-legacy for 0.4.x), "js-1.3.0" or "js-legacy".  js-legacy works in legacy mode only;
  // js-1.3.0 refuses cores below 0.5.2 (docs/protocol.md §2.1.1, §2.5 item 7).
  std::string sdk = "auto";
  // Version skew (sdk "js-real" only): the pinned SDK project to run instead of the one that
  // pairs with the core ("sdk-1.43.1", "sdk-1.47.0", "sdk-1.54.0", "sdk-2.3.0"; "" = paired).
  // A core the project's own version check refuses is rejected unless sdk_package_force.
  // An upgrade/downgrade is an app update: the new life runs the core's paired SDK again.
  std::string sdk_package = {};
  // Run the sdk_package even where its version check refuses the core (the check is bypassed
  // and the trace says so).
  bool sdk_package_force = false;

  bool operator==(const ClientGroup&) const = default;
};

// The simulated PowerSync clients (SDK + core).  All clients share these settings.
struct ClientsSpec {
  // Number of simulated clients, 1..1000.
  int count = 3;
  // Version of the sync core the clients run; must be one of ValidationContext::cores.
  std::string core = "0.5.3";
  // How the client learns that its uploads are in a checkpoint: "requests" (the client posts
  // its own checkpoint_request_id to POST /sync/checkpoint-request, docs/protocol.md §3.2) or
  // "legacy" (the service generates the id via GET /write-checkpoint2.json, docs/protocol.md
  // §3.1.2).
  std::string checkpoint_mode = "requests";
  // Delay before reconnecting after the sync stream fails, in ms, 1..600000 (SDK retryDelayMs).
  int64_t retry_delay_ms = 5000;
  // Minimum gap between two CRUD upload runs, in ms, 0..600000 (SDK crudUploadThrottleMs).
  int64_t crud_upload_throttle_ms = 1000;
  // Delay before re-posting a checkpoint request that got no answer, in ms, 10000..600000
  // (the SDK clamps it to at least 10 s, so smaller values could not happen in reality).
  int64_t repost_delay_ms = 10000;
  // Encoding of the sync stream's lines the client asks for: "json" or "bson".
  std::string stream_encoding = "json";
  // SDK behaviour of every client (uniform form): "auto" | "js-1.3.0" | "js-legacy".
  std::string sdk = "auto";
  // Version skew of every client (uniform form), as ClientGroup::sdk_package and
  // ClientGroup::sdk_package_force.
  std::string sdk_package = {};
  bool sdk_package_force = false;
  // Mixed fleet: groups of clients, numbered in order (client 1 is the first group's
  // first).  When present, count is the sum of the groups' counts and the uniform
  // count/core/checkpoint_mode/sdk fields are rejected.  Empty = the uniform form.
  std::vector<ClientGroup> fleet;
  // Where the SDK sends checkpoint requests (docs/protocol.md §2.2.6): "service" (POST
  // /sync/checkpoint-request) or "backend" (the connector's postCheckpointRequest through the
  // app backend, which forwards after a seeded delay and is never aborted, quirk §2.7.3).
  std::string post_checkpoint_request = "service";
  // docs/protocol.md §2.7 quirks to switch to their fixed behaviour, each from
  // ValidationContext::quirks, no duplicates; default none (all reproduced).
  std::vector<std::string> fixed_quirks;

  bool operator==(const ClientsSpec&) const = default;
};

// The PowerSync service and its source database.
// One sync stream of the service's sync config (issue 7, docs/protocol.md §3.3.3): its buckets hold
// the `items` rows written for it (model/service.hpp item_bucket()).
struct StreamSpec {
  // Stream name, 1..40 characters [a-z0-9_], unique; not "global" or "notes" (the default
  // streams of the todos/notes world).  Required.
  std::string name;
  // Whether every client syncs it unless it opts out (include_defaults); a default stream
  // takes no parameters.
  bool is_default = false;
  // Bucket priority 0..3 (lower = higher priority), unless a subscription overrides it.
  int priority = 3;
  // Whether subscriptions pass {"id": <value>} and get one bucket per value (else one bucket).
  bool parameterised = true;

  bool operator==(const StreamSpec&) const = default;
};

struct ServiceSpec {
  // Bucket storage backend: "mongo" or "postgres".
  std::string flavour = "mongo";
  // The replicated source database (model/source_db.hpp SourceFlavour): "postgres"
  // (markers via logical messages), "mongodb" (cluster time, _powersync_checkpoints
  // markers) or "mysql" (head = executed GTID, no marker: acks wait for the binlog heartbeat
  // after 30 s without binlog events; heartbeat_ms does not apply).
  std::string source = "postgres";
  // Where a write-checkpoint batch reads the source head: "source" (as the source flavour
  // does: postgres/mongodb strictly after the last commit, mysql at it) or "last-commit"
  // (the model before issue 17, every flavour at its last commit: a caught-up source acks
  // without a later event; for comparison only).
  std::string head = "source";
  // Which service release's MySQL binlog keepalive (docs/protocol.md §3.1.4 "MySQL keepalives";
  // a MySQL source only): "v1.24.0" (the GTID event's position, below the commit LSN: the
  // keepalive's checkpoint is blocked) or "v1.25.0" (PR #706: the commit LSN itself, so the
  // checkpoint is allowed, at the last one's op id and LSN).
  std::string mysql_keepalive = "v1.24.0";
  // Mongo's custom write-checkpoint change query (docs/protocol.md §3.1.10): "all-configs"
  // (v1.24.0: records of every sync config, so a reprocessing config's reach the active one's
  // streams, findings-world.md W42) or "own-config" (the fix: the connection's config only).
  std::string custom_changes = "all-configs";
  // Replication lag (source commit -> visible to the service) at the start, in ms, 0..3600000.
  // "lag" faults change it during the run.
  int64_t replication_lag_ms = 200;
  // Interval of keepalive checkpoints on an idle stream, in ms, 5000..60000 (the service's
  // heartbeat_interval_seconds accepts 5..60).
  int64_t heartbeat_ms = 60000;
  // Lifetime of the client's auth token, in seconds, 60..31536000 (one minute .. one year).
  int64_t token_lifetime_s = 86400;
  // WriteCheckpointMode: "managed" or "custom".  In custom mode both managed checkpoint routes
  // (/write-checkpoint2.json and /sync/checkpoint-request) are rejected (docs/protocol.md §3.1.2,
  // §3.1.10).
  std::string write_checkpoint_mode = "managed";
  // api.parameters.checkpoint_request_retention_minutes, 1..525600 (one minute .. one year): a
  // compact job deletes checkpoint-request records older than this (docs/protocol.md §3.2.1).
  int64_t checkpoint_request_retention_minutes = 60;
  // Interval of the scheduled compact job, in seconds, 0..86400; 0 = no scheduled compact job
  // ("compact" faults still run one).
  int64_t compact_interval_s = 0;
  // Each step of a write-checkpoint batch (head read, storage write, marker) takes a seeded
  // uniform 0..this many ms, 0..60000, so concurrent batches can finish out of order
  // (docs/protocol.md §3.1.3).
  int64_t batch_latency_max_ms = 20;
  // Issue 17 (docs/protocol.md §3.1.3, §3.3.1, §3.3.3): API processes sharing storage, 1..16,
  // each with its own batcher; a load balancer spreads requests and streams by seed.
  int api_processes = 1;
  // Where a mongo upsert matches: "write" (its server-side execution, so only truly
  // concurrent upserts duplicate) or "head-read" (the model before issue 17, inflated).
  std::string duplicate_window = "write";
  // How mongo answers generated keys (docs/protocol.md §3.1.5 "Read-back with duplicates"):
  // "service" (v1.24.0: two or more generated keys in a batch answer each key's last
  // document) or "incremented" (the model before issue 17: the document the batch incremented).
  std::string read_back = "service";
  // docs/protocol.md §3.1.5 "Read-back round trip": "with-write" (default: the answer is read
  // atomically with the write) or "separate" (mongo: a find one storage round trip later, so a
  // concurrent batch can interleave; MongoWriteCheckpointAPI v1.24.0).
  std::string read_back_step = "with-write";
  // docs/protocol.md §3.3.4: "atomic" (default) or "torn" (a page read spanning a compaction
  // of its bucket sees ops from before and after it; the client may fail its checksum).
  std::string compaction_reads = "atomic";
  // docs/protocol.md §3.3.4 "The checksum-invalidated candidate skip": "atomic" (default: a
  // line's checksums are read with the checkpoint it is for) or "v3-documents" (storage v3:
  // checksums from document metadata, read one fetch after the candidate was taken; a
  // candidate a compaction's merged document straddles is skipped).
  std::string checksum_reads = "atomic";
  // Sync streams per API process before 429 (max_concurrent_connections), 0..100000;
  // 0 = unlimited (the model before issue 17).
  int64_t max_concurrent_streams = 200;
  // Batch failures beyond restarts: each batch fails with batch_failure_pct % (0..100) in
  // mode batch_failure: "head_read" | "marker" | "partial_write" | "no_sync_config" | "any".
  int64_t batch_failure_pct = 0;
  std::string batch_failure = "any";
  // "page" (sync.ts: a MOVE/CLEAR beyond the checkpoint withholds the complete only when its
  // storage page is the last) or "sticky" (the model before issue 17: the whole download).
  std::string compaction_invalidation = "page";
  // What one fetch_latency_ms pays for: "page" (one storage page read over all the group's
  // buckets, getBucketDataBatch's one find; the default since session 12) or "chunk" (each
  // bucket's chunk of a page its own fetch: the model before session 9, docs/findings-world.md
  // W23).
  std::string fetch_per = "page";
  // What a sync_config_change fault does (docs/protocol.md §3.4 "Sync config reprocessing"):
  // "reprocess" (a new sync-rules instance snapshots and replicates in the background, with
  // versioned bucket names, and activates when caught up; then the old one's streams end) or
  // "end-streams" (the model before issue 17: every stream ends at once, same buckets).
  std::string sync_config_change = "reprocess";
  // How long a reprocessing's initial snapshot takes, in ms, 0..600000.
  int64_t snapshot_ms = 1000;
  // How long one page fetch of a sync download takes (one getBucketDataBatch find), in ms,
  // 0..60000, jittered ±10 %; 0 = instantaneous (nothing happens mid-download).  A compact
  // job within a fetch can tear the page (compaction_reads "torn", docs/protocol.md §3.3.4).
  int64_t fetch_latency_ms = 1;
  // Priority of the shared `todos` bucket, 0..3; lower number = higher priority (docs/protocol.md
  // §3.3.3).
  int todos_priority = 3;
  // Priority of the per-user `notes` bucket, 0..3; lower number = higher priority.
  int notes_priority = 3;
  // Sync-stream definitions (issue 7), at most 8; empty = no sync streams (the request's
  // `streams` is ignored).  Needs js-1.3.0 (0.5.x) clients only.
  std::vector<StreamSpec> streams;

  bool operator==(const ServiceSpec&) const = default;
};

// One-way network delays, the same for every client.
struct NetworkSpec {
  // Client -> service delay, in ms, 0..60000.
  int64_t latency_up_ms = 10;
  // Service -> client delay, in ms, 0..60000.
  int64_t latency_down_ms = 10;
  // Extra delay per message, uniform 0..jitter_ms, each client link drawing its own
  // (docs/scenarios.md); 0 = none, so equal cadences stay in lockstep.
  int64_t jitter_ms = 0;

  bool operator==(const NetworkSpec&) const = default;
};

// Sync-stream subscription churn (issue 7): each client subscribes to and releases
// streams while it runs (engine/workload.hpp run_stream_churn).  Only with service.streams.
struct StreamWorkloadSpec {
  // Wait between two churn steps, uniform [min, max] ms, 1..3600000, max >= min.
  int64_t interval_min_ms = 1000;
  int64_t interval_max_ms = 5000;
  // Share of steps that subscribe (else release a held subscription), in percent, 0..100.
  int subscribe_pct = 60;
  // Share of releases that call unsubscribeAll() (the subscription ends now) instead of
  // dropping the handle (it lives on for its TTL), in percent, 0..100.
  int unsubscribe_all_pct = 20;
  // Most subscriptions a client holds at once, 1..100.
  int max_held = 4;
  // Parameter values ("0".."n-1") a parameterised stream is subscribed with, 1..1000.
  int param_values = 8;
  // TTL passed to subscribe(), in seconds, 0..31536000; 0 = none (the core's 86400).
  int64_t ttl_s = 0;
  // Share of subscribes that pass a priority override (uniform 0..3), in percent, 0..100.
  int priority_override_pct = 0;
  // Every this many ms a navigation burst does `burst_size` steps at once, 0..3600000;
  // 0 = no bursts.
  int64_t burst_interval_ms = 0;
  int burst_size = 5;  // 1..100
  // Share of steps that also write an `items` row of a held subscription (or a default
  // stream), in percent, 0..100.
  int item_write_pct = 50;
  // Item row ids per stream bucket, 1..1000.
  int item_keyspace = 4;

  bool operator==(const StreamWorkloadSpec&) const = default;
};

// What the simulated users do during the run phase.
struct WorkloadSpec {
  // Each client waits uniform[min, max] ms between two local writes; min is 1..3600000.
  int64_t write_interval_min_ms = 500;
  // Upper bound of that wait, in ms, write_interval_min_ms..3600000.
  int64_t write_interval_max_ms = 3000;
  // Number of row ids shared by all clients, 1..100000; fewer ids = more write contention.
  int keyspace = 16;
  // Share of writes that go to the per-client private notes table, in percent, 0..100.
  int notes_pct = 20;
  // Share of writes that delete a row instead of upserting it, in percent, 0..100.
  int delete_pct = 10;
  // Share of writes that also insert a row into the insert-only `events` table in the same
  // transaction, in percent, 0..100 (docs/protocol.md §1.3.7; the tx_id experiment of `syncsim
  // diff`).
  int insert_only_pct = 0;
  // Share of workload steps that also call requestCheckpoint() (docs/protocol.md §2.3.1), in
  // percent, 0..100 (requests mode only).
  int request_checkpoint_pct = 0;
  // Share of those requests then awaited with waitForSync() (60 s abort), in percent, 0..100.
  int wait_for_sync_pct = 0;
  // Requests without writes: every client calls requestCheckpoint() every this many ms,
  // whether or not it wrote (requests mode only), 1..3600000; 0 (default) = never.
  int64_t request_interval_ms = 0;
  // Subscription churn (issue 7); used only when service.streams is not empty.
  StreamWorkloadSpec streams;

  bool operator==(const WorkloadSpec&) const = default;
};

// The fields each kind takes besides at_ms and kind; any other field is rejected for that kind.
enum class FaultKind {
  Lag,                 // "lag": lag_ms (required), duration_ms: set the replication lag
  Disconnect,          // "disconnect": client (required): cut that client's sync stream
  Stall,               // "stall": duration_ms: replication stops
  Storm,               // "storm": fraction_pct: reconnect storm, many sync streams cut at once
  RequestLost,         // "request_lost": client, lost (required), route, count: HTTP loss
  DeleteRequest,       // "delete_request": client (required): delete its checkpoint-request record
  Compact,             // "compact": run a compact job now
  ServiceRestart,      // "service_restart": down_ms: restart the service
  SyncConfigChange,    // "sync_config_change": all streams end, buckets re-created
  DisconnectClient,    // "disconnect_client": client (required), down_ms: disconnect(), reconnect
  DisconnectAndClear,  // "disconnect_and_clear": client (required), down_ms: the same + clear
  // Client lifecycle (docs/architecture.md §2, docs/faults.md §1); each takes client (required) and
  // down_ms.
  Restart,     // "restart": the app closes its database and reopens it after down_ms
  Kill,        // "kill": when: the app dies (no finally blocks), reopens after down_ms
  PowerLoss,   // "power_loss": when: like kill, and writes not yet synced are lost
  Upgrade,     // "upgrade": core (required): reopen with a newer core and its SDK
  Downgrade,   // "downgrade": core (required): reopen with an older core and its SDK
  SwitchMode,  // "switch_mode": reopen in the other checkpoint mode (js-1.3.0 only)
  SwitchUser,  // "switch_user": reopen with a new token subject on the same database
  // "foreign_request": client (required), request_id (required): another installation that
  // shares the client's client_id (a restored backup, a cloned database) posts
  // checkpoint_request_id = request_id to POST /sync/checkpoint-request as the client's user;
  // devices: that many other installations of the user post it too.
  ForeignRequest,
  // "quiet": client (required), duration_ms: the client's app stops writing (a quiet phase;
  // requests without writes go on) for duration_ms, or for good when absent / null.
  Quiet,
  // "line_fault": client (required), line (required): the service's stream to that client
  // sends one adversarial line sequence (model/line_fault.hpp; exemptions docs/invariants.md).
  LineFault,
};

// A protocol event that fires a fault (the fault's `on` field): the fault happens at the
// nth occurrence of `event` at or after its at_ms (at_ms only arms it).  A trigger that has
// not fired by quiesce never fires; the run lists it (RunResult::faults_unfired).
struct FaultTrigger {
  // "upload_in_flight" (a CRUD upload request is on the wire), "mapping_stored" (the
  // service stored the client's checkpoint-request / write-checkpoint mapping),
  // "checkpoint_blocked" (the core withheld a checkpoint: ps_crud non-empty or target >
  // last_seen), "request_posted" (the client sent a checkpoint request) or
  // "checkpoint_applied" (the client applied a full checkpoint).  Required.
  std::string event;
  // Whose event, 1..clients.count; 0 (absent or JSON null) = any client's.
  int client = 0;
  // Fire on the nth matching occurrence after arming, 1..1000.
  int nth = 1;

  bool operator==(const FaultTrigger&) const = default;
};

// One injected fault.  Faults happen during the run phase.  A member the fault's kind does not
// take keeps its default (the loader rejects the field, and to_json does not write it).
struct Fault {
  // When the fault happens, in ms since the start of the run, 0..duration_s*1000.  Required.
  int64_t at_ms = 0;
  // What happens: "lag" | "disconnect" | "stall" | "storm" | "request_lost" | "delete_request"
  // | "compact" | "service_restart" | "sync_config_change".  Required.
  FaultKind kind = FaultKind::Lag;
  // lag (required there): replication lag from at_ms on, in ms, 0..3600000000.
  int64_t lag_ms = 0;
  // disconnect, request_lost, delete_request (required there): 1-based client number,
  // 1..clients.count.  disconnect: that client's sync stream is cut.  request_lost: whose
  // requests are lost.  delete_request: that client's checkpoint-request record is deleted
  // from service storage.
  int client = 0;
  // lag, stall (optional there): how long the fault lasts, in ms, 1..86400000.  lag: afterwards
  // the lag returns to service.replication_lag_ms (a spike).  stall: afterwards replication
  // resumes.  Absent (or JSON null) = until the quiesce phase heals it.
  std::optional<int64_t> duration_ms = std::nullopt;
  // storm (optional there): share of the clients whose sync streams are cut at once, in
  // percent, 1..100 (which ones is chosen by the run's seed).
  int fraction_pct = 100;
  // request_lost (required there): "request" (dropped before the service sees it) or
  // "response" (the service processed it, the reply is lost).
  std::string lost = "";
  // request_lost (optional there): which of the client's requests are lost: "checkpoint" (the
  // checkpoint routes) | "upload" (CRUD uploads to the backend) | "any".
  std::string route = "checkpoint";
  // request_lost (optional there): how many of the client's next matching requests are lost,
  // 1..1000.
  int count = 1;
  // service_restart (optional there): how long the service is unavailable, in ms, 0..600000;
  // storage is kept, in-memory state (connections, batches) is lost.  The lifecycle kinds:
  // how long the app is down before it reopens the database.  disconnect_client,
  // disconnect_and_clear (optional there): how long the client stays disconnected.
  int64_t down_ms = 1000;
  // service_restart (optional there): "all" (every process) or "replication" (split roles:
  // only the replication process restarts; API processes and open streams stay).
  std::string role = "all";
  // kill, power_loss (optional there): "now" (at at_ms), "mid_transaction" (inside the next
  // local write's transaction at or after at_ms) or "mid_upload" (once the next CRUD upload
  // is on the wire).  A trigger that has not happened by quiesce never fires.
  std::string when = "now";
  // upgrade, downgrade (required there): the core the app reopens with (its SDK behaviour:
  // js-1.3.0 for 0.5.x in the client's own checkpoint mode, js-legacy for 0.4.x in legacy
  // mode).  Must be another core than the client's.
  std::string core = "";
  // foreign_request (required there): the checkpoint_request_id posted, verbatim: a JSON
  // number or string of any value (the service validates it, docs/protocol.md §3.1.2), kept as JSON
  // text so out-of-range values survive a round trip.
  std::string request_id = "";
  // foreign_request (optional there, issue 17): that many other installations of the client's
  // user (other devices, each its own client_id "<client_id>.d<i>", so each its own service
  // key) post the same request_id at the same instant, 0..5000.  Many keys processed between
  // two checkpoints exercise the mongo change feed's 1000-record limit (docs/protocol.md
  // §3.1.9 "Change feed").  0 (the default) = only the clone.
  int devices = 0;
  // switch_user (optional there): whom the app reopens as: "new" (a new token subject, the
  // default), "previous" (the user before the client's last switch; its own if none) or
  // "first" (the client's first user): back to an earlier user on the same database.
  std::string user = "new";
  // line_fault (required there): data_after_complete | duplicate_line | out_of_order |
  // corrupt_checksum | lower_write_checkpoint (model/line_fault.hpp).
  std::string line = "";
  // Every kind (optional): fire at a protocol event instead of at at_ms.  Not together with a
  // kill/power_loss `when` other than "now".
  std::optional<FaultTrigger> on = std::nullopt;

  bool operator==(const Fault&) const = default;
};

// An inclusive range a swarm run draws a knob from (JSON: [lo, hi]).
struct SwarmRange {
  int64_t lo = 0;
  int64_t hi = 0;

  bool operator==(const SwarmRange&) const = default;
};

// Faults a swarm run adds to the scenario's own (JSON: swarm.faults).
struct SwarmFaults {
  // How many faults to add, within 0..100.
  SwarmRange count;
  // The kinds to draw from (uniformly), each a fault kind scenarios/explore/swarm.hpp can draw; no
  // duplicates, at least one.
  std::vector<std::string> kinds;
  // Share of the added faults that get an `on` trigger (a random protocol event of a random
  // client), in percent, 0..100.  Default 0.
  int triggered_pct = 0;

  bool operator==(const SwarmFaults&) const = default;
};

// Swarm testing (scenarios/explore/swarm.hpp): with --swarm every seed draws concrete knob values
// from these ranges; without it the scenario's own values are used.
struct SwarmSpec {
  // Knob name (e.g. "service.replication_lag_ms", scenarios/explore/swarm.hpp swarm_knobs()) ->
  // range; ordered by name, which is the draw order.
  std::map<std::string, SwarmRange> knobs;
  std::optional<SwarmFaults> faults;
  // The world swarm (scenarios/explore/world_swarm.hpp): {"weights": {dimension: {class:
  // weight}}, "fault_counts": {class: [min, max]}}; draws the whole scenario.  Not together
  // with knobs, `faults` or the scenario's own faults.
  std::optional<nlohmann::json> world;

  bool operator==(const SwarmSpec&) const = default;
};

// The expected outcome.  JSON: "expect": "pass" | {"violates": "<invariant id>"}.
struct Expectation {
  // true: every checked invariant must hold.
  bool pass = true;
  // When !pass: the invariant id the run must violate (one of ValidationContext::invariants).
  std::string violates;

  bool operator==(const Expectation&) const = default;
};

struct Scenario {
  // File format version, must be 1.  The only required field.
  int format = 1;
  // Short identifier used in reports; default: the file stem ("scenario" when parsed from a
  // string or a JSON value).  Must not be empty.
  std::string name;
  // Free text: what the scenario demonstrates.  Default "".
  std::string description;
  ClientsSpec clients;
  ServiceSpec service;
  NetworkSpec network;
  WorkloadSpec workload;
  // Length of the run phase (workload + faults), in simulated seconds, 1..86400.
  int64_t duration_s = 60;
  // Length of the quiesce phase after the run (no writes, no faults, everything settles), in
  // simulated seconds, 0..86400.  Absent (or JSON null) = derived by the runner.
  std::optional<int64_t> quiesce_s;
  // Injected faults, sorted by at_ms by the loader (stable: equal times keep file order).
  std::vector<Fault> faults;
  // Invariant ids to check, each from ValidationContext::invariants, no duplicates;
  // empty or absent = check all.
  std::vector<std::string> invariants;
  // Invariant ids never checked, whatever `invariants` says (each from
  // ValidationContext::invariants, no duplicates; default none): the exemptions a drawn
  // world's settings carry (applied-id-monotonic on postgres, world_swarm.hpp).  Kept apart
  // from `invariants` so that a list whose only entry is exempt checks nothing, not all.
  std::vector<std::string> exempt_invariants;
  // Deliberately injected bugs (for testing the checkers), each from
  // ValidationContext::mutants, no duplicates; default none.
  std::vector<std::string> mutants;
  // Expected outcome; default pass.
  Expectation expect;
  // Ranges for swarm runs (--swarm); absent = the scenario cannot be swarmed.
  std::optional<SwarmSpec> swarm;
  // Sometimes-properties (docs/invariants.md §1): conditions the scenario is meant to exercise,
  // each from ValidationContext::sometimes, no duplicates; default none.  A run in which a listed
  // condition never happened passed vacuously (scenarios/explore/sometimes.hpp).
  std::vector<std::string> sometimes;
  // The metrics a report opens with (scenarios/format/metric_names.hpp keys), in that order, no
  // duplicates; default none (the report picks the request/ack numbers).
  std::vector<std::string> headline;

  bool operator==(const Scenario&) const = default;
};

// What the rest of the program knows; passed in so this module has no dependencies.
struct ValidationContext {
  std::vector<std::string> cores;       // supported core versions, e.g. {"0.5.3"}
  std::vector<std::string> invariants;  // e.g. {"barrier-holds", "read-your-writes", "converges"}
  std::vector<std::string> mutants;     // e.g. {"ack-before-replication", ...}
  // core -> the SDK behaviour that drives it by default ("js-1.3.0" / "js-legacy"); a core
  // missing here counts as js-1.3.0.
  std::map<std::string, std::string> core_sdks;
  std::vector<std::string> quirks;  // docs/protocol.md §2.7 quirk names for clients.fixed_quirks
  std::vector<std::string> sometimes;  // sometimes-condition ids, e.g. {"barrier-blocked"}
};

// All problems of one scenario source.  what() is every problem, one per line.
class ScenarioError : public std::runtime_error {
 public:
  // Each entry is one complete line, normally "<source>: <json path>: <message>".
  explicit ScenarioError(std::vector<std::string> problems);
  // The lines of what(), in the order the fields are checked (schema order).
  [[nodiscard]] const std::vector<std::string>& problems() const { return problems_; }

 private:
  std::vector<std::string> problems_;
};

// Validates `j` and returns the scenario, or throws ScenarioError listing every problem, each
// line prefixed with "<source_name>: ".  The name defaults to "scenario".
Scenario parse_scenario(const nlohmann::json& j, const ValidationContext& ctx,
                        const std::string& source_name);

// Like parse_scenario, from JSON text.  Syntax errors (with line/column) and duplicate keys are
// reported as ScenarioError too.
Scenario parse_scenario_text(const std::string& text, const ValidationContext& ctx,
                             const std::string& source_name);

// Reads and parses a file; the source name in messages is `path` as given, and the name
// defaults to the file stem.  An unreadable file gives "cannot read <path>: <reason>".
Scenario load_scenario_file(const std::string& path, const ValidationContext& ctx);

// The full form, every field explicit (quiesce_s and a fault's duration_ms are null when
// absent; a fault has exactly the fields its kind takes), so that
// parse_scenario(to_json(s), ...) == s for every valid s.
nlohmann::json to_json(const Scenario& s);

// The groups of a ClientsSpec (the uniform form is one group), and the group of the 1-based
// client `index`.
std::vector<ClientGroup> client_groups(const ClientsSpec& c);
ClientGroup group_of(const ClientsSpec& c, int index);
// The SDK a group's clients run: its sdk field, or for "auto" the core's (ctx.core_sdks).
std::string resolved_sdk(const std::string& sdk, const std::string& core,
                         const std::map<std::string, std::string>& core_sdks);

// The kind's name in the file format: "lag", "disconnect", "stall", "storm", "request_lost",
// "delete_request", "compact", "service_restart", "sync_config_change".
std::string to_string(FaultKind kind);

}  // namespace syncsim::scenarios
