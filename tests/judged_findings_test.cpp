// Hunt repros judged after the hunt (docs/findings-world.md W14-W31): each test runs the shrunk
// scenario (scenarios/findings/, or inline for the older ones) and shows the fact the judgement
// rests on, or that its signature is the known entry it was judged to be; and the focused hunt
// files (scenarios/hunts/) stay world.json but for the weights they change.

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "engine/js/js_host.hpp"
#include "scenarios/explore/findings.hpp"
#include "scenarios/explore/swarm.hpp"
#include "scenarios/format/scenario.hpp"
#include "scenarios/world/runner.hpp"
#include "tests/support/scenario_helpers.hpp"

namespace syncsim::scenarios {
namespace {

using nlohmann::json;
using test_support::describe;
using test_support::finding;
using test_support::project_known_findings;
using test_support::run;

// The known-findings entry a run's violation matches, as the hunt would group it.
std::string known_id_of(const Scenario& s, const RunResult& r) {
  if (!r.violation) return "(no violation)";
  const FindingSignature sig =
      signature_of(r.violation->invariant, explanation_class(r.violation->message), s);
  const std::vector<KnownFinding> known = project_known_findings();
  const KnownFinding* k = match_known(known, sig);
  return k ? k->id : "(unknown: " + sig.text() + ")";
}

// A finding's fault kind is an ingredient: the same seed, with every fault of that kind removed
// (at least one) and no expectation, passes.
void expect_passes_without(Scenario s, uint64_t seed, FaultKind kind) {
  s.expect = Expectation{};
  const std::size_t before = s.faults.size();
  std::erase_if(s.faults, [kind](const Fault& f) { return f.kind == kind; });
  ASSERT_LT(s.faults.size(), before) << "no fault of kind " << static_cast<int>(kind);
  const RunResult without = run(s, seed);
  EXPECT_TRUE(without.passed) << static_cast<int>(kind) << ": " << describe(without);
}

// A run (as test_support::run) with its whole trace, not only the kept tail, so a test reads
// the verdict and the trace from one run.
struct TracedRun {
  RunResult result;
  std::string trace;
  // The number of trace lines containing `needle`.
  [[nodiscard]] std::size_t count(const std::string& needle) const {
    std::istringstream in(trace);
    std::size_t n = 0;
    for (std::string line; std::getline(in, line);) n += line.find(needle) != std::string::npos;
    return n;
  }
};

TracedRun run_traced(const Scenario& s, uint64_t seed) {
  std::ostringstream trace;
  RunOptions o;
  o.seed = seed;
  o.keep_trace_lines = 30;
  o.trace_sink = &trace;
  RunResult r = run_scenario(s, o);
  return {std::move(r), trace.str()};
}

TEST(Findings, ARecordDeletedWedgeSeenAfterQuiesceIsTheDowngradeAfterRetentionOne) {
  // W26: the streams hunt's seed 2336.  A requests-mode client downgraded to 0.4.11 (legacy
  // only) stays away past retention; the compact job deletes its record; after quiesce
  // requests-complete fails first with the liveness judge's [record-deleted] class.
  Scenario s = finding("downgrade-retention-requests-complete");
  const RunResult r = run(s, 2336);
  ASSERT_TRUE(r.expectation_met) << describe(r);
  ASSERT_TRUE(r.violation.has_value());
  EXPECT_EQ(r.violation->invariant, "requests-complete");
  EXPECT_EQ(known_id_of(s, r), "wedge-switch-mode-retention");
  // The root cause, part by part: without the downgrade, or with retention longer than the
  // absence, the same seed completes every request.
  expect_passes_without(s, 2336, FaultKind::Downgrade);
  s.expect = Expectation{};
  Scenario long_retention = s;
  long_retention.service.checkpoint_request_retention_minutes = 10;
  EXPECT_TRUE(run(long_retention, 2336).passed) << describe(run(long_retention, 2336));
}

TEST(Findings, CoBatchedFailuresBehindAKeyAtTheMaximumAreLockstepNotAWedge) {
  // W27: the streams hunt's seed 2927.  A foreign installation stores 2^63-1 for client 4's
  // key; every generated write checkpoint for that key overflows and fails its whole batch.
  // With jitter-free links, clients 1, 3 and 4 upload on one cadence and reach the service in
  // the same microsecond every round, so their requests share those batches for ever.
  Scenario s = finding("lockstep-batches-behind-max-key");
  const TracedRun lockstep = run_traced(s, 2927);
  ASSERT_TRUE(lockstep.result.expectation_met) << describe(lockstep.result);
  EXPECT_GT(lockstep.count("checkpoint request of u1/"), 0u);
  // One millisecond of jitter per message breaks the lockstep: the key's own batches still
  // fail (the service's behaviour), no other key shares them, and every request completes.
  s.expect = Expectation{};
  s.network.jitter_ms = 1;
  s.invariants = {"requests-complete", "no-wedge"};
  const TracedRun jittered = run_traced(s, 2927);
  EXPECT_TRUE(jittered.result.passed) << describe(jittered.result);
  EXPECT_GT(jittered.count("overflows 2^63-1"), 0u) << "the key's batches still fail";
  const std::size_t u1_failed = jittered.count("checkpoint request of u1/");
  const std::size_t u3_failed = jittered.count("checkpoint request of u3/");
  EXPECT_EQ(u1_failed + u3_failed, 0u) << "no other key shares a failing batch";
}

TEST(Findings, TheQuiesceCoversAMysqlHeartbeatAndTheNetworksRoundTrips) {
  // W28: the world hunt's seed 5104 (session 11), shrunk.  The quiesce derived for a MySQL
  // source waits one 30 s binlog heartbeat and two round trips (each direction took 2.72 s).
  // Since session 23 the heartbeat no longer acknowledges (it repeats the last transaction's
  // position), and this seed is W41 (AMysqlRequestOnAnIdleBinlogIsNeverAcknowledged below).
  const Scenario s = finding("mysql-ack-after-latency");
  Scenario postgres = s;
  postgres.service.source = "postgres";
  EXPECT_EQ(quiesce_duration(s) - quiesce_duration(postgres), 30 * sim::kSeconds);
  Scenario slower = s;
  slower.network.latency_down_ms += 1000;
  EXPECT_EQ(quiesce_duration(slower) - quiesce_duration(s), 2 * sim::kSeconds);
}

TEST(Findings, AnAnsweredMaximumIdIsAConcreteTargetTheStreamEmits) {
  // W29: the world hunt's seed 5419 (session 11), shrunk.  The service answers client 2 with a
  // foreign installation's 2^63-1, the value of the MAX sentinel; the stream emits it and the
  // gate reopens.  The liveness judge had taken it for the sentinel and reported a wedge.
  const Scenario s = finding("max-id-answered-as-target");
  const TracedRun t = run_traced(s, 5419);
  EXPECT_TRUE(t.result.passed) << describe(t.result);
  EXPECT_GT(t.result.checks.at("no-wedge"), 0u);
  EXPECT_GT(t.count("target := 9223372036854775807"), 0u) << "the target was MAX";
}

TEST(Findings, ALegacySwitchBackThatLowersLastSeenIsTheKnownUserSwitch) {
  // W30: the world hunt's seed 5204 (session 11), shrunk: W17's root cause (a legacy switch back
  // to an earlier user without disconnectAndClear) seen through gate-never-recloses.
  Scenario s = finding("legacy-switch-back-gate-recloses");
  const RunResult r = run(s, 5204);
  ASSERT_TRUE(r.expectation_met) << describe(r);
  EXPECT_EQ(known_id_of(s, r), "legacy-user-switch-back-lowers-last-seen");
  expect_passes_without(s, 5204, FaultKind::SwitchUser);
}

// W43: the guided world-no-mysql hunt's seed 30561 (session 24), shrunk: W6's root cause (a
// legacy switch to a new user without disconnectAndClear) seen through read-your-writes.  The
// previous user's applied write checkpoint already satisfies the new user's first target, so a
// checkpoint replicated before the reopen's upload publishes the rows without the client's write.
TEST(Findings, ALegacySwitchToANewUserThatLosesAnOwnWriteIsTheKnownUserSwitch) {
  Scenario s = finding("legacy-switch-new-user-read-your-writes");
  const RunResult r = run(s, 30561);
  ASSERT_TRUE(r.expectation_met) << describe(r);
  EXPECT_EQ(known_id_of(s, r), "legacy-user-switch-read-your-writes");
  expect_passes_without(s, 30561, FaultKind::SwitchUser);
}

// W42: world seed 21799 (session 24), shrunk.  A sync config change while client 2 is away: the
// new config's snapshot must carry the `checkpoints` rows into its custom write checkpoints (the
// event table's rows pass save(), which fires the event), or the returning legacy client's
// target (177) is never emitted.  The model's snapshot skipped that table.
TEST(Findings, AReprocessingSnapshotCarriesTheCustomWriteCheckpoints) {
  const Scenario s = finding("custom-checkpoint-after-reprocessing");
  const TracedRun t = run_traced(s, 21799);
  EXPECT_TRUE(t.result.passed) << describe(t.result);
  EXPECT_EQ(t.count("custom write checkpoint u2/client-2-4392d086 = 177 (sync rules 2,"), 1u)
      << "the snapshot re-creates the record under the new sync rules";
}

TEST(Findings, AStreamsFirstLineAfterTheConnectionIsAPathForTargetMax) {
  // W31: the guided world hunt's seed 184 (session 13), shrunk.  A service restart ends client
  // 3's upload round between complete() (target MAX) and its GET; at the reconnect the
  // connection is established a millisecond before the first line, which starts the round that
  // sets a concrete target.  The liveness judge reported a wedge in that millisecond.
  const Scenario s = finding("legacy-first-line-after-restart");
  const TracedRun t = run_traced(s, 184);
  EXPECT_TRUE(t.result.passed) << describe(t.result);
  EXPECT_GT(t.result.checks.at("no-wedge"), 0u);
  EXPECT_EQ(t.count("c3 Created write checkpoint: 11"), 1u)
      << "the round the first line started set the target";
}

// W33: with clients.post_checkpoint_request "backend" the published SDK's connector posts its
// checkpoint requests (the seed and updateLocalTarget's) through the app backend, as the port's
// does; before the fix the js-real host's connector had no postCheckpointRequest and every
// request went to /sync/checkpoint-request directly (abortable, unlike the backend route).
TEST(Findings, AJsRealConnectorPostsCheckpointRequestsThroughTheBackend) {
  if (auto why = engine::js::js_real_unavailable("0.5.3")) GTEST_SKIP() << *why;
  Scenario s = test_support::catalog("basic");
  s.clients.sdk = "js-real";
  s.clients.post_checkpoint_request = "backend";
  s.duration_s = 10;
  s.faults.clear();
  const TracedRun t = run_traced(s, 1);
  EXPECT_TRUE(t.result.passed) << describe(t.result);
  EXPECT_GE(t.count("backend forwards checkpoint request of"), 3U) << "a seed per client at least";
  EXPECT_EQ(t.count("POST /sync/checkpoint-request"), 0U);
  EXPECT_GE(t.count("POST /backend/checkpoint-request"), 3U);
}

// W33's direct-route half: a foreign near-max id raised the answers of client 1's first key
// only; a switch_user while its request is on the wire (aborted at the close) reopens on a new
// key with target MAX, and the targets it stores there are its own small ids.  target-no-regress
// judges targets per key in requests mode too; it failed here before (seeds 1..5).
TEST(Findings, ASwitchUserStartsTheNewKeysTargetsInRequestsModeToo) {
  const Scenario s = finding("switch-user-foreign-max-direct");
  const TracedRun t = run_traced(s, 1);
  EXPECT_TRUE(t.result.passed) << describe(t.result);
  EXPECT_GT(t.result.checks.at("target-no-regress"), 0U);
  const std::size_t switched = t.trace.find("fault switch_user client 1");
  ASSERT_NE(switched, std::string::npos);
  EXPECT_NE(t.trace.rfind("c1 target := 9223372036854775800", switched), std::string::npos)
      << "the first key's target was the foreign id";
  const std::size_t after = t.trace.find("c1 target := ", switched);
  ASSERT_NE(after, std::string::npos);
  const std::string value = t.trace.substr(after + 13, t.trace.find('\n', after) - after - 13);
  EXPECT_LT(std::stoll(value), 1000) << "the new key's first target is the client's own id";
}

// W34 (world seeds 9074 and 9326): client 2's app restarts while its first stream request is
// on the wire.  The aborted fetch closes its connection, so the service never counts a stream
// of the previous life against its two slots, and the new life's stream is admitted.  Before,
// every stream of the new life got 429 and requests-complete failed (seeds 1..5).
TEST(Findings, AStreamRequestAbortedByARestartHoldsNoConnectionSlot) {
  const Scenario s = finding("restart-during-stream-open");
  const TracedRun t = run_traced(s, 1);
  EXPECT_TRUE(t.result.passed) << describe(t.result);
  const std::size_t restart = t.trace.find("fault restart client 2");
  ASSERT_NE(restart, std::string::npos);
  EXPECT_EQ(t.trace.rfind(" u2/", restart), std::string::npos)
      << "the first request is still on the wire at the restart";
  EXPECT_EQ(t.trace.find("rejected"), std::string::npos) << "no stream was refused";
  const std::size_t reopened = t.trace.find("world client 2 reopens");
  ASSERT_NE(reopened, std::string::npos);
  EXPECT_NE(t.trace.find("svc stream open #", reopened), std::string::npos);
  EXPECT_NE(t.trace.find(" u2/", reopened), std::string::npos);
}

// A client refused with 429 until the end is explained by who holds the slots: with the
// connection-slot-leak mutant a stream client 2 closes at its restart (now after its stream is
// open) keeps its slot, and the explanation names the full process and both keys (W34's wedge,
// as a maintainer reads it).
TEST(Findings, ARefusedStreamIsExplainedByTheStreamsThatFillItsProcess) {
  Scenario s = finding("restart-during-stream-open");
  ASSERT_EQ(s.faults.size(), 1U);
  s.faults[0].at_ms = 8000;
  s.mutants = {"connection-slot-leak"};
  const TracedRun t = run_traced(s, 1);
  ASSERT_TRUE(t.result.violation.has_value()) << describe(t.result);
  const std::string full = "process 1 has 2 sync streams open, its limit (new ones get 429):";
  const std::size_t at = t.trace.find(full);
  ASSERT_NE(at, std::string::npos) << t.trace.substr(t.trace.size() - 3000);
  const std::string keys = t.trace.substr(at + full.size(), t.trace.find('\n', at) - at);
  EXPECT_NE(keys.find(" u1/"), std::string::npos) << keys;
  EXPECT_NE(keys.find(" u2/"), std::string::npos) << keys;
  // Without the mutant no process is full at the end, and the sentence is absent.
  s.mutants.clear();
  EXPECT_EQ(run_traced(s, 1).trace.find("sync streams open"), std::string::npos);
}

// W35 (world seed 10513, shrunk): after a switch_user without a clear, the new user's first
// applied checkpoint has no ops; monotonic-reads judges one user's view at a time.  It failed
// here before ("server state up to op 0, older than op 1").
TEST(Findings, MonotonicReadsStartsANewFloorAtAUserSwitch) {
  const Scenario s = finding("switch-user-monotonic-reads");
  const TracedRun t = run_traced(s, 10513);
  EXPECT_TRUE(t.result.passed) << describe(t.result);
  EXPECT_GT(t.result.checks.at("monotonic-reads"), 0U);
  EXPECT_NE(t.trace.find("fault switch_user client 2"), std::string::npos);
}

// W37 (world seed 10836, shrunk): a compact job's CLEAR is stored behind the barrier (the bucket
// reads last_applied_op 0, the rows stay), then a power loss on an honest disk keeps that state;
// the reopened database is excused at its iteration start as W19's is.  It failed here before
// ("at iteration start: ... up to op 0, older than op 5").  A disk that lies about fsync may undo
// the commits, and there the same run still breaks monotonic-reads.
TEST(Findings, APowerLossOnAnHonestDiskKeepsAStoredClearExcused) {
  Scenario s = finding("power-loss-after-stored-clear");
  const TracedRun t = run_traced(s, 10836);
  EXPECT_TRUE(t.result.passed) << describe(t.result);
  EXPECT_GT(t.result.checks.at("monotonic-reads"), 0U);
  const std::size_t loss = t.trace.find("fault power loss client 3");
  ASSERT_NE(loss, std::string::npos);
  EXPECT_NE(t.trace.find("c3 open core=0.5.2", loss), std::string::npos);
  s.mutants = {"fsync-lies"};
  const TracedRun lying = run_traced(s, 10836);
  ASSERT_TRUE(lying.result.violation.has_value()) << describe(lying.result);
  EXPECT_EQ(lying.result.violation->invariant, "monotonic-reads");
}

// World seed 17436 (docs/findings-world.md W40), shrunk: mongo with a separate read-back step.
// Client 1's batch writes 10, a delete_request fault deletes the key's records before the
// batch's find, a batch of the same client's request 9 inserts 9, and the find answers 9 for
// the posted 10 (MongoWriteCheckpointAPI v1.24.0 reads back after its bulkWrite).  That answer
// is the real service's under an outside deletion, so route-response-per-request excuses it
// (the run failed "request 10 answered 9, below the posted id" before); nothing else breaks.
TEST(Findings, AReadBackAfterADeletionAnswersALaterBatchsLowerIdAndIsExcused) {
  const TracedRun t = run_traced(finding("read-back-after-deletion"), 17436);
  EXPECT_TRUE(t.result.passed) << describe(t.result);
  EXPECT_GT(t.result.checks.at("route-response-per-request"), 0U);
  const std::size_t deleted = t.trace.find("svc deleted 1 checkpoint-request record(s) of u1/");
  ASSERT_NE(deleted, std::string::npos);
  const std::size_t excused = t.trace.find(
      "answers 9: its records were deleted after this batch wrote 10, and a later batch wrote 9",
      deleted);
  ASSERT_NE(excused, std::string::npos);
  EXPECT_NE(t.trace.find("svc request u1/client-1-0da0b927 10 -> 9", excused), std::string::npos);
}

// The signature hunt gives a run's violation.
FindingSignature violation_signature(const RunResult& r, const Scenario& s) {
  return signature_of(r.violation->invariant, explanation_class(r.violation->message), s);
}

// World seed 506 (docs/findings-world.md W14), shrunk by the hunt: a foreign installation posts
// 1000 under client 2's key, client 2 adopts target 1000, retention (1 min, compact job every
// 53 s) deletes that record, and the checkpoint carrying client 2's own repost lowers
// last_seen below the target.  The run breaks gate-never-recloses, and its signature is the
// known cloned-database root cause; without retention the same foreign id is not that entry.
TEST(Findings, SeedFiveHundredSixShrunkIsTheKnownClonedDatabaseThroughRetention) {
  const json shrunk = json::parse(R"({"format": 1, "name": "cloned-database-retention",
    "clients": {"fleet": [{"checkpoint_mode": "requests", "core": "0.5.3", "count": 3}],
                "crud_upload_throttle_ms": 1000, "repost_delay_ms": 10000,
                "retry_delay_ms": 5000},
    "duration_s": 129, "expect": "pass",
    "faults": [{"at_ms": 12630, "client": 3, "duration_ms": 41131, "kind": "quiet"},
               {"at_ms": 92358, "client": 2, "kind": "foreign_request", "request_id": 1000,
                "on": {"event": "checkpoint_blocked", "nth": 1}}],
    "network": {"latency_down_ms": 48, "latency_up_ms": 48},
    "service": {"api_processes": 2, "batch_latency_max_ms": 19,
                "checkpoint_request_retention_minutes": 1, "compact_interval_s": 53,
                "flavour": "postgres", "heartbeat_ms": 10671, "replication_lag_ms": 99,
                "snapshot_ms": 1769, "source": "mongodb"},
    "workload": {"delete_pct": 1, "insert_only_pct": 35, "keyspace": 8, "notes_pct": 6,
                 "request_checkpoint_pct": 26, "wait_for_sync_pct": 11,
                 "write_interval_min_ms": 1497, "write_interval_max_ms": 2994}})");
  const Scenario s = test_support::load(shrunk);
  const RunResult r = test_support::run(s, 1);
  ASSERT_TRUE(r.violation.has_value()) << test_support::describe(r);
  EXPECT_EQ(r.violation->invariant, "gate-never-recloses") << r.violation->message;
  const auto known = project_known_findings();
  FindingSignature sig = violation_signature(r, s);
  EXPECT_EQ(sig.text(),
            "gate-never-recloses; faults=compact_interval+foreign_request+quiet; cores=0.5.3; "
            "modes=requests; flavour=postgres; foreign_ids=1000");
  ASSERT_NE(match_known(known, sig), nullptr) << sig.text();
  EXPECT_EQ(match_known(known, sig)->id, "cloned-database-retention");
  sig.faults = {"foreign_request", "quiet"};  // no record deleted by retention: not that entry
  EXPECT_EQ(match_known(known, sig), nullptr);
  sig.faults = {"compact", "foreign_request"};
  sig.foreign_ids = {"9223372036854775807"};  // a near-max id wedges the counter instead
  EXPECT_EQ(match_known(known, sig), nullptr);
}

// A judged finding's shrunk run fails `invariant` with explanation class `klass`, and its
// signature is the known-findings entry `id`.
void expect_known_finding(const Scenario& s, uint64_t seed, const std::string& invariant,
                          const std::string& klass, const std::string& id) {
  const RunResult r = test_support::run(s, seed);
  ASSERT_TRUE(r.violation.has_value()) << test_support::describe(r);
  EXPECT_EQ(r.violation->invariant, invariant) << r.violation->message;
  const FindingSignature sig = violation_signature(r, s);
  EXPECT_EQ(sig.explanation_class, klass) << r.violation->message;
  const auto known = project_known_findings();
  ASSERT_NE(match_known(known, sig), nullptr) << sig.text();
  EXPECT_EQ(match_known(known, sig)->id, id);
}

// W42's second part: with the snapshot above, v1.24.0's mongo custom change query (no sync_rules_id
// filter) lets sync rules 2's record 19 reach sync rules 1's stream at lsn 49, before sync rules 1
// replicated the upload (position 50).  Restricted to the connection's own config, it passes.
TEST(Findings, ACustomCheckpointOfAReprocessingConfigReachesTheActiveConfigsStreams) {
  Scenario s = finding("custom-checkpoints-across-sync-configs");
  expect_known_finding(s, 8, "service-ack-after-replication", "",
                       "custom-checkpoints-across-sync-configs");
  s.service.custom_changes = "own-config";
  s.expect = Expectation{};
  const RunResult fixed = test_support::run(s, 8);
  EXPECT_TRUE(fixed.passed) << describe(fixed);
}

// W38 (world seed 11552, shrunk): a foreign installation's supplied 1000 makes a legacy client's
// generated record request-derived, and a compact job past retention deletes it while it is
// pending (postgres): no-wedge[record-deleted], the known cloned-database root cause through
// retention.  Each of the foreign request, the compact job and postgres storage is needed.
TEST(Findings, ALegacyRecordAForeignRequestMadeDeletableIsTheKnownClonedDatabase) {
  Scenario s = finding("cloned-database-retention-wedge");
  expect_known_finding(s, 11552, "no-wedge", "record-deleted", "cloned-database-retention-wedge");
  for (const FaultKind kind : {FaultKind::ForeignRequest, FaultKind::Compact}) {
    expect_passes_without(s, 11552, kind);
  }
  s.service.flavour = "mongo";  // mongo deletes only processed request records
  EXPECT_TRUE(test_support::run(s, 11552).passed);
}

// W39 (world seed 18156, shrunk): after a replication-only restart the replay re-commits lsn 4,
// which client 2's open connection had passed, and marks its request 3 processed there; Mongo
// storage never emits it on that connection.  The signature is the known entry; a full restart
// (the connections reconnect) and postgres storage (a lookup per notification) pass.
TEST(Findings, AReplicationOnlyRestartLeavesARequestProcessedBelowAnOpenConnection) {
  Scenario s = finding("replication-restart-processed-below-connection");
  expect_known_finding(s, 18156, "requests-complete", "record-not-emitted",
                       "replication-restart-processed-below-connection");
  ASSERT_EQ(s.faults.size(), 1U);
  Scenario full = s;
  full.faults[0].role = "all";  // every process restarts: the streams reconnect
  EXPECT_TRUE(test_support::run(full, 18156).passed);
  s.service.flavour = "postgres";
  s.service.read_back_step = "with-write";  // postgres answers with its write
  EXPECT_TRUE(test_support::run(s, 18156).passed);
}

// W41 (world seed 5104, shrunk; W28's scenario): client 2's write checkpoint is read at the MySQL
// source's last transaction after replication passed it; the binlog heartbeat repeats that
// position, so no checkpoint follows, and on mongo storage it marks the record processed at
// the connection's own LSN, which that connection never emits.  Postgres storage waits for a
// next transaction that never comes (the v1.24.0 blocked keepalive).  v1.25.0's keepalive
// (service.mysql_keepalive, an allowed checkpoint no stream sees) fails the same way on both
// storages.  A source with markers (postgres, mongodb) passes.
TEST(Findings, AMysqlRequestOnAnIdleBinlogIsNeverAcknowledged) {
  Scenario s = finding("mysql-ack-after-latency");
  expect_known_finding(s, 5104, "requests-complete", "record-not-emitted",
                       "mysql-idle-keepalive-below-connection");
  const RunResult r = test_support::run(s, 5104);
  ASSERT_TRUE(r.violation.has_value());
  EXPECT_NE(r.violation->message.find("replicated (processed at lsn"), std::string::npos)
      << r.violation->message;
  Scenario postgres_storage = s;
  postgres_storage.service.flavour = "postgres";
  postgres_storage.service.duplicate_window = "write";
  expect_known_finding(postgres_storage, 5104, "requests-complete", "record-not-emitted",
                       "mysql-idle-keepalive-below-connection");
  for (Scenario v125 : {s, postgres_storage}) {
    v125.service.mysql_keepalive = "v1.25.0";
    expect_known_finding(v125, 5104, "requests-complete", "record-not-emitted",
                         "mysql-idle-keepalive-below-connection");
  }
  for (const char* source : {"postgres", "mongodb"}) {
    Scenario marked = s;
    marked.service.source = source;
    EXPECT_TRUE(test_support::run(marked, 5104).passed) << source;
  }
}

// W15 (docs/findings-world.md): after disconnectAndClear the request-id floor is the service
// record, and a delete_request fault deleted that record before the next allocation, so the seed
// restarts at 1. Guided world seed 72, shrunk (one js-real client). It failed with
// "allocated request id 2 but id 18 was ... held by the service" before the checker's fix.
TEST(Findings, ClearThenDeletedRecordRestartsTheCounterWithoutARegression) {
  const json shrunk = json::parse(R"(
    {"clients": {"crud_upload_throttle_ms": 1000, "fixed_quirks": [],
    "fleet": [{"checkpoint_mode": "requests", "core": "0.5.3", "count": 1, "sdk": "js-real"}],
    "post_checkpoint_request": "service", "repost_delay_ms": 10000, "retry_delay_ms": 5000,
    "stream_encoding": "json"}, "duration_s": 30, "faults": [{"at_ms": 7502, "client": 1,
    "down_ms": 3348, "kind": "switch_user", "on": {"client": null, "event": "upload_in_flight",
    "nth": 3}}, {"at_ms": 20220, "client": 1, "kind": "disconnect"}, {"at_ms": 21994,
    "client": 1, "down_ms": 3090, "kind": "kill", "on": {"client": null,
    "event": "mapping_stored", "nth": 3}, "when": "now"}, {"at_ms": 25174, "client": 1,
    "down_ms": 286, "kind": "disconnect_and_clear", "on": {"client": 1,
    "event": "upload_in_flight", "nth": 1}}, {"at_ms": 25763, "client": 1,
    "kind": "delete_request", "on": {"client": 1, "event": "checkpoint_applied", "nth": 2}}],
    "format": 1, "invariants": ["barrier-holds", "checksums-agree", "completed-upload-notified",
    "converges", "gate-never-recloses", "monotonic-reads", "no-lost-writes", "no-wedge",
    "read-your-writes", "request-id-monotonic", "requests-complete",
    "retention-deletes-only-what-it-may", "route-response-per-request",
    "service-ack-after-replication", "service-stored-id-monotonic", "stream-progress",
    "stream-rows-covered", "stream-synced-after-applied", "target-no-regress",
    "wait-for-sync-keeps-promise"], "network": {"latency_down_ms": 5, "latency_up_ms": 5},
    "quiesce_s": null, "service": {"batch_latency_max_ms": 1,
    "checkpoint_request_retention_minutes": 60, "compact_interval_s": 0, "flavour": "postgres",
    "heartbeat_ms": 60000, "max_concurrent_streams": 1, "notes_priority": 3,
    "replication_lag_ms": 57, "snapshot_ms": 1633, "todos_priority": 3,
    "token_lifetime_s": 86400, "write_checkpoint_mode": "managed"},
    "workload": {"delete_pct": 26, "insert_only_pct": 33, "keyspace": 20, "notes_pct": 16,
    "request_checkpoint_pct": 0, "wait_for_sync_pct": 52, "write_interval_max_ms": 1036,
    "write_interval_min_ms": 518}, "name": "clear-then-deleted-record", "expect": "pass"}
  )");
  const Scenario s = test_support::load(shrunk);
  const RunResult r = test_support::run(s, 72);
  EXPECT_FALSE(r.violation.has_value()) << test_support::describe(r);
  EXPECT_GT(r.checks.at("request-id-monotonic"), 0U);  // judged, not skipped
}

// W19: a CLEAR stored behind a closed gate resets last_applied_op before any apply; the rows
// shown are unchanged, so monotonic-reads does not fail at the next iteration start (the
// shrunk world hunt seed 1901, which failed before the fix).
TEST(Findings, AClearStoredBeforeTheApplyIsNoOlderRead) {
  const json shrunk = json::parse(R"(
    {"clients": {"crud_upload_throttle_ms": 5282, "fixed_quirks": [], "fleet":
    [{"checkpoint_mode": "requests", "core": "0.5.2", "count": 1, "sdk": "auto"},
    {"checkpoint_mode": "legacy", "core": "0.4.12", "count": 1, "sdk": "auto"}],
    "post_checkpoint_request": "service", "repost_delay_ms": 102901, "retry_delay_ms": 27860,
    "stream_encoding": "json"}, "duration_s": 385, "expect": "pass", "faults": [{"at_ms": 55229,
    "client": 2, "core": "0.5.3", "down_ms": 541, "kind": "upgrade"}, {"at_ms": 143907,
    "duration_ms": null, "kind": "stall"}, {"at_ms": 145591, "client": 2, "down_ms": 263838,
    "kind": "restart"}, {"at_ms": 227730, "client": 1, "down_ms": 363223, "kind":
    "disconnect_client", "on": {"client": 1, "event": "request_posted", "nth": 1}}], "format": 1,
    "invariants": ["barrier-holds", "checksums-agree", "completed-upload-notified", "converges",
    "gate-never-recloses", "monotonic-reads", "no-lost-writes", "no-wedge", "read-your-writes",
    "request-id-monotonic", "requests-complete", "retention-deletes-only-what-it-may",
    "route-response-per-request", "service-ack-after-replication", "service-stored-id-monotonic",
    "stream-progress", "stream-rows-covered", "stream-synced-after-applied", "target-no-regress",
    "wait-for-sync-keeps-promise"], "name": "clear-before-apply", "network": {"latency_down_ms":
    46, "latency_up_ms": 46}, "quiesce_s": null, "service": {"batch_failure": "any",
    "batch_failure_pct": 19, "batch_latency_max_ms": 7, "checkpoint_request_retention_minutes": 2,
    "compact_interval_s": 41, "flavour": "postgres", "heartbeat_ms": 60000,
    "max_concurrent_streams": 2, "notes_priority": 3, "replication_lag_ms": 96, "snapshot_ms":
    1607, "todos_priority": 3, "token_lifetime_s": 82, "write_checkpoint_mode": "managed"},
    "workload": {"delete_pct": 30, "insert_only_pct": 46, "keyspace": 11, "notes_pct": 20,
    "request_checkpoint_pct": 20, "wait_for_sync_pct": 17, "write_interval_max_ms": 2172,
    "write_interval_min_ms": 724}}
  )");
  const Scenario s = test_support::load(shrunk);
  const RunResult r = test_support::run(s, 1901);
  EXPECT_FALSE(r.violation.has_value()) << test_support::describe(r);
  EXPECT_GT(r.checks.at("monotonic-reads"), 0U);  // judged, not skipped
}

// W20: world seed 475, shrunk by the hunt.  A compact job (every 21 s, up to the latest
// checkpoint 335) puts a CLEAR at op 325 over ops 2..325 while client 2's download of
// checkpoint 322 (after 314) waits on a 767 ms page fetch; the fetch of (314, 322] then finds
// nothing, no MOVE/CLEAR past 322 is read, checkpoint_complete 322 is sent and the core rejects
// the checksum.  powersync-service v1.24.0 does the same (PostgresCompactor.clearBucket), so it
// is the known compaction-clear-past-slow-download; the client recovers (every other invariant
// holds), and with 1 ms fetches no download is overtaken.
TEST(Findings, SeedFourSeventyFiveClearPastASlowDownloadIsKnown) {
  json shrunk = json::parse(R"(
    {"clients": {"crud_upload_throttle_ms": 1000, "fixed_quirks": [], "fleet":
    [{"checkpoint_mode": "legacy", "core": "0.4.11", "count": 2, "sdk": "js-legacy"},
    {"checkpoint_mode": "legacy", "core": "0.4.6", "count": 2, "sdk": "auto"}],
    "post_checkpoint_request": "service", "repost_delay_ms": 10000, "retry_delay_ms": 5000,
    "stream_encoding": "json"}, "duration_s": 16, "exempt_invariants": ["applied-id-monotonic"],
    "expect": "pass", "faults": [{"at_ms": 1841, "client": 2, "duration_ms": 37224,
    "kind": "quiet"}, {"at_ms": 6515, "client": 4, "down_ms": 335147, "kind": "restart"}],
    "format": 1, "invariants": [], "mutants": [], "name": "clear-past-slow-download",
    "network": {"latency_down_ms": 40, "latency_up_ms": 46}, "quiesce_s": null,
    "service": {"api_processes": 2, "batch_latency_max_ms": 12,
    "checkpoint_request_retention_minutes": 3, "compact_interval_s": 21,
    "fetch_latency_ms": 767, "flavour": "postgres",
    "heartbeat_ms": 60000, "notes_priority": 3, "replication_lag_ms": 25925, "snapshot_ms": 178,
    "todos_priority": 3, "token_lifetime_s": 193, "write_checkpoint_mode": "managed"},
    "sometimes": [], "workload": {"delete_pct": 12, "insert_only_pct": 0, "keyspace": 3,
    "notes_pct": 30, "request_checkpoint_pct": 0, "wait_for_sync_pct": 65,
    "write_interval_max_ms": 115, "write_interval_min_ms": 115}}
  )");
  const Scenario s = test_support::load(shrunk);
  const RunResult r = test_support::run(s, 475);
  ASSERT_TRUE(r.violation.has_value()) << test_support::describe(r);
  EXPECT_EQ(r.violation->invariant, "checksums-agree") << r.violation->message;
  EXPECT_NE(r.violation->message.find("Checksums didn't match"), std::string::npos);
  const auto known = project_known_findings();
  FindingSignature sig = violation_signature(r, s);
  EXPECT_EQ(sig.text(),
            "checksums-agree; faults=compact_interval+quiet+restart; cores=0.4.11+0.4.6; "
            "modes=legacy; flavour=postgres");
  ASSERT_NE(match_known(known, sig), nullptr) << sig.text();
  EXPECT_EQ(match_known(known, sig)->id, "compaction-clear-past-slow-download");
  sig.faults = {"quiet", "restart"};  // no compact job: a checksum failure is not that entry
  EXPECT_EQ(match_known(known, sig), nullptr);
  // Recovered: the SDK deletes the failed bucket and downloads it again; every other invariant
  // holds and the run converges.
  json recovered = shrunk;
  recovered["invariants"] = json::array();
  for (const char* inv :
       {"barrier-holds", "completed-upload-notified", "converges", "gate-never-recloses",
        "monotonic-reads", "no-lost-writes", "no-wedge", "read-your-writes", "request-id-monotonic",
        "requests-complete", "retention-deletes-only-what-it-may", "route-response-per-request",
        "service-ack-after-replication", "service-stored-id-monotonic", "stream-progress",
        "stream-rows-covered", "stream-synced-after-applied", "target-no-regress",
        "wait-for-sync-keeps-promise"}) {
    recovered["invariants"].push_back(inv);
  }
  const RunResult after = test_support::run(test_support::load(recovered), 475);
  EXPECT_FALSE(after.violation.has_value()) << test_support::describe(after);
  EXPECT_GT(after.checks.at("converges"), 0U);
  // Fast fetches: the compact job never falls inside a download's read.
  shrunk["service"]["fetch_latency_ms"] = 1;
  const RunResult fast = test_support::run(test_support::load(shrunk), 475);
  EXPECT_FALSE(fast.violation.has_value()) << test_support::describe(fast);
}

// W21: world seed 575, as the hunt shrank it.  Client 4 (legacy, 0.5.2) uploads its last entries
// (target MAX) as an upgrade closes the app; life 2's first upload round, started by connect(),
// is in updateLocalTarget fetching credentials for its write-checkpoint GET when the stream
// opens, so no request is on the wire yet.  That round is a path to reopen the gate (the GET
// goes out at 135.372 s); no-wedge used to see only the CRUD upload flag and failed at 135.358 s.
TEST(Findings, SeedFiveSeventyFiveAWriteCheckpointOnItsWayIsAPath) {
  json shrunk = json::parse(R"(
    {"clients": {"crud_upload_throttle_ms": 8, "fixed_quirks": [], "fleet": [{"checkpoint_mode":
    "requests", "core": "0.5.2", "count": 2, "sdk": "js-1.3.0"}, {"checkpoint_mode": "legacy",
    "core": "0.5.2", "count": 2, "sdk": "auto"}], "post_checkpoint_request": "service",
    "repost_delay_ms": 10000, "retry_delay_ms": 1322, "stream_encoding": "json"}, "duration_s": 165,
    "expect": "pass", "faults": [{"at_ms": 7529, "client": 3, "duration_ms": 26738, "kind":
    "quiet"}, {"at_ms": 18564, "client": 2, "down_ms": 1811, "kind": "power_loss", "on": {"client":
    3, "event": "checkpoint_applied", "nth": 1}, "when": "now"}, {"at_ms": 32394, "client": 3,
    "down_ms": 4669, "kind": "switch_user", "user": "first"}, {"at_ms": 125829, "client": 4, "core":
    "0.5.3", "down_ms": 2795, "kind": "upgrade", "on": {"client": 3, "event": "request_posted",
    "nth": 2}}], "format": 1, "invariants": [], "mutants": [], "name":
    "write-checkpoint-on-its-way", "network": {"latency_down_ms": 12, "latency_up_ms": 12},
    "quiesce_s": null, "service": {"batch_failure": "any", "batch_failure_pct": 5,
    "batch_latency_max_ms": 4306, "checkpoint_request_retention_minutes": 1440, "checksum_reads":
    "v3-documents", "compact_interval_s": 0, "flavour": "mongo", "heartbeat_ms": 9961,
    "max_concurrent_streams": 4, "notes_priority": 3, "replication_lag_ms": 325, "snapshot_ms":
    55235, "streams": [{"default": false, "name": "s0", "parameterised": true, "priority": 1},
    {"default": false, "name": "s1", "parameterised": true, "priority": 3}], "todos_priority": 3,
    "token_lifetime_s": 86400, "write_checkpoint_mode": "managed"}, "sometimes": [], "workload":
    {"delete_pct": 16, "insert_only_pct": 0, "keyspace": 16, "notes_pct": 38,
    "request_checkpoint_pct": 12, "streams": {"burst_interval_ms": 0, "burst_size": 5,
    "interval_max_ms": 13587, "interval_min_ms": 4083, "item_keyspace": 4, "item_write_pct": 50,
    "max_held": 4, "param_values": 8, "priority_override_pct": 29, "subscribe_pct": 50, "ttl_s": 0,
    "unsubscribe_all_pct": 10}, "wait_for_sync_pct": 100, "write_interval_max_ms": 1564,
    "write_interval_min_ms": 782}}
  )");
  const RunResult r = test_support::run(test_support::load(shrunk), 575);
  EXPECT_FALSE(r.violation.has_value()) << test_support::describe(r);
  EXPECT_GT(r.checks.at("no-wedge"), 0U);  // judged, not skipped
}

// W16: the applied-id regression after a legacy user switch without clear is the known root
// cause of legacy-user-switch-without-clear, and only with a legacy client and a switch_user.
TEST(Findings, LegacyUserSwitchAppliedIdIsKnown) {
  const auto known = project_known_findings();
  FindingSignature sig;
  sig.invariant = "applied-id-monotonic";
  sig.faults = {"power_loss", "restart", "switch_user"};
  sig.cores = {"0.4.6", "0.5.3"};
  sig.modes = {"legacy", "requests"};
  sig.flavour = "mongo";
  ASSERT_NE(match_known(known, sig), nullptr) << sig.text();
  EXPECT_EQ(match_known(known, sig)->id, "legacy-user-switch-applied-id");
  sig.modes = {"requests"};
  EXPECT_EQ(match_known(known, sig), nullptr) << sig.text();
  sig.modes = {"legacy", "requests"};
  sig.faults = {"power_loss", "restart"};
  EXPECT_EQ(match_known(known, sig), nullptr) << sig.text();
}

// The 2000-seed world hunt's two wedges of known root causes (docs/findings-world.md W17, W18), by
// their shrunk signatures; without the fault that causes them they are not those entries.
TEST(Findings, LegacySwitchBackAndDowngradeAfterRetentionWedgesAreKnown) {
  const auto known = project_known_findings();
  FindingSignature back;  // seed 228
  back.invariant = "no-wedge";
  back.explanation_class = "record-below-target";
  back.faults = {"compact_interval", "disconnect_client", "switch_user"};
  back.cores = {"0.4.11"};
  back.modes = {"legacy"};
  back.flavour = "mongo";
  ASSERT_NE(match_known(known, back), nullptr) << back.text();
  EXPECT_EQ(match_known(known, back)->id, "legacy-user-switch-back");
  back.faults = {"compact_interval", "disconnect_client"};
  EXPECT_EQ(match_known(known, back), nullptr) << back.text();
  FindingSignature down;  // seed 383
  down.invariant = "no-wedge";
  down.explanation_class = "record-deleted";
  down.faults = {"compact_interval", "downgrade", "quiet"};
  down.cores = {"0.4.11", "0.5.3"};
  down.modes = {"requests"};
  down.flavour = "mongo";
  ASSERT_NE(match_known(known, down), nullptr) << down.text();
  EXPECT_EQ(match_known(known, down)->id, "wedge-switch-mode-retention");
  down.faults = {"compact_interval", "quiet"};
  EXPECT_EQ(match_known(known, down), nullptr) << down.text();
}

// World hunt finding (issue 14): a disconnect_client whose down time outlasts quiesce used to
// leave the client disconnected with writes queued (converges failed); quiesce heals it now.
TEST(WorldQuiesce, ALongDisconnectClientReconnectsAtQuiesce) {
  Scenario s = load_scenario_file(std::string(SYNCSIM_SOURCE_DIR) + "/scenarios/catalog/basic.json",
                                  validation_context());
  s.name = "long-disconnect";
  s.clients.count = 2;
  s.duration_s = 20;
  s.faults.clear();
  Fault f;
  f.at_ms = 5000;
  f.kind = FaultKind::DisconnectClient;
  f.client = 1;
  f.down_ms = 500000;  // far beyond the run and its quiesce phase
  s.faults.push_back(f);
  RunOptions o;
  o.seed = 1;
  o.keep_trace_lines = 20;
  const RunResult r = run_scenario(s, o);
  EXPECT_TRUE(r.passed) << r.stop.message << "\n" << r.pending;
  EXPECT_GT(r.checks.at("converges"), 0u);
}

TEST(Findings, ADowngradeAfterRetentionRestartsTheLegacyCounterBelowTheAppliedId) {
  // W32: seed 383 of the focused js-real hunt, shrunk.  Client 1's acknowledged request 10, a
  // downgrade to 0.4.11 (legacy only) away past retention, the compact job deletes the record:
  // back in legacy mode it applies the local 10, then the restarted counter's 1.  The file runs
  // the published SDK; the port fails the same way at the same instant, and runs here (<1 s).
  Scenario s = finding("downgrade-retention-applied-id");
  for (auto& g : s.clients.fleet) g.sdk = "auto";
  const RunResult r = run(s, 383);
  ASSERT_TRUE(r.expectation_met) << describe(r);
  ASSERT_TRUE(r.violation.has_value());
  EXPECT_NE(r.violation->message.find("applied request id 1 after 10"), std::string::npos)
      << r.violation->message;
  EXPECT_EQ(known_id_of(s, r), "downgrade-retention-applied-id");
  // The downgrade is an ingredient: without it the same seed passes.
  expect_passes_without(s, 383, FaultKind::Downgrade);
}

// The focused js-real hunt (scenarios/hunts/world-js-real.json, docs/findings-world.md session
// 19, 20): the file is world.json but for its name, description and three weights, so a change to
// the world reaches it; and every group it draws runs the published SDK on a 0.5.x core.
TEST(FocusedHunt, TheJsRealWorldDrawsOnlyPublishedSdkGroups) {
  std::ifstream in(std::string(SYNCSIM_SOURCE_DIR) + "/scenarios/hunts/world-js-real.json");
  const json hunt = json::parse(in);
  json world = test_support::catalog_json("world");
  auto& w = world["swarm"]["world"]["weights"];
  w["fleet.core"] = {{"0.5.3", 1}, {"0.5.2", 1}, {"0.4.12", 0}, {"0.4.11", 0}, {"0.4.6", 0}};
  w["fleet.sdk"] = {{"auto", 0}, {"js-1.3.0", 0}, {"js-legacy", 0}, {"js-real", 1}};
  w["service.streams_js_real"] = {{"none", 3}, {"some", 1}};
  world["name"] = hunt.at("name");
  world["description"] = hunt.at("description");
  const json drift = json::diff(world, hunt);
  EXPECT_TRUE(drift.empty()) << "world-js-real.json drifted from world.json: " << drift.dump();
  // Without node or the pinned SDK a drawn js-real group runs the port (world_swarm.cpp).
  if (auto why = engine::js::js_real_unavailable("0.5.2")) GTEST_SKIP() << *why;
  const Scenario s = test_support::load(hunt);
  std::set<std::string> seen;
  int with_streams = 0;
  for (uint64_t seed = 1; seed <= 60; ++seed) {
    const SwarmDraw d = draw_swarm(s, seed, validation_context());
    for (const auto& g : d.scenario.clients.fleet) {
      EXPECT_EQ(g.sdk, "js-real") << "seed " << seed;
      EXPECT_TRUE(g.core == "0.5.2" || g.core == "0.5.3") << "seed " << seed << ": " << g.core;
      seen.insert(g.core + "/" + g.checkpoint_mode);
    }
    with_streams += !d.scenario.service.streams.empty();
  }
  EXPECT_EQ(seen.size(), 4u) << "both 0.5.x cores in both modes";
  // service.streams_js_real draws sync streams for about a quarter of the seeds.
  EXPECT_GE(with_streams, 5);
  EXPECT_LE(with_streams, 30);
}

// The hunt without a MySQL source (scenarios/hunts/world-no-mysql.json, docs/findings-world.md
// session 24): world.json but for its name, description and one weight, so a change to the world
// reaches it; and no seed draws a MySQL source.
TEST(FocusedHunt, TheWorldWithoutMysqlNeverDrawsAMysqlSource) {
  std::ifstream in(std::string(SYNCSIM_SOURCE_DIR) + "/scenarios/hunts/world-no-mysql.json");
  const json hunt = json::parse(in);
  json world = test_support::catalog_json("world");
  world["swarm"]["world"]["weights"]["service.source"] = {
      {"postgres", 2}, {"mongodb", 1}, {"mysql", 0}};
  world["name"] = hunt.at("name");
  world["description"] = hunt.at("description");
  const json drift = json::diff(world, hunt);
  EXPECT_TRUE(drift.empty()) << "world-no-mysql.json drifted from world.json: " << drift.dump();
  const Scenario s = test_support::load(hunt);
  std::set<std::string> sources;
  for (uint64_t seed = 1; seed <= 60; ++seed) {
    sources.insert(draw_swarm(s, seed, validation_context()).scenario.service.source);
  }
  EXPECT_EQ(sources, (std::set<std::string>{"mongodb", "postgres"}));
}

// world.json leaves service.streams_js_real's "some" at weight 0: its js-real fleets draw no
// streams, so its seeds draw what they drew before the dimension existed.
TEST(FocusedHunt, TheWorldDrawsNoStreamsForJsRealFleets) {
  if (auto why = engine::js::js_real_unavailable("0.5.2")) GTEST_SKIP() << *why;
  const Scenario s = test_support::catalog("world");
  int js_real_fleets = 0;
  for (uint64_t seed = 1; seed <= 300; ++seed) {
    const SwarmDraw d = draw_swarm(s, seed, validation_context());
    bool all_js_real = true;
    for (const auto& g : d.scenario.clients.fleet) all_js_real = all_js_real && g.sdk == "js-real";
    if (!all_js_real) continue;
    ++js_real_fleets;
    EXPECT_TRUE(d.scenario.service.streams.empty()) << "seed " << seed;
  }
  EXPECT_GT(js_real_fleets, 0) << "the world draws fleets all on js-real";
}

}  // namespace
}  // namespace syncsim::scenarios
