// Hunt repros judged after the hunt (docs/findings.md W26-W30): each test runs the shrunk
// scenario from scenarios/findings/ and shows the fact the judgement rests on.

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "scenarios/explore/findings.hpp"
#include "scenarios/world/runner.hpp"
#include "tests/support/scenario_helpers.hpp"

namespace syncsim::scenarios {
namespace {

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

// The number of trace lines containing `needle` (the whole trace, not the kept tail).
std::size_t trace_count(const Scenario& s, uint64_t seed, const std::string& needle) {
  std::ostringstream trace;
  RunOptions o;
  o.seed = seed;
  o.trace_sink = &trace;
  (void)run_scenario(s, o);
  std::istringstream in(trace.str());
  std::size_t n = 0;
  for (std::string line; std::getline(in, line);) n += line.find(needle) != std::string::npos;
  return n;
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
  s.expect = Expectation{};
  Scenario no_downgrade = s;
  std::erase_if(no_downgrade.faults, [](const Fault& f) { return f.kind == FaultKind::Downgrade; });
  ASSERT_LT(no_downgrade.faults.size(), s.faults.size());
  EXPECT_TRUE(run(no_downgrade, 2336).passed) << describe(run(no_downgrade, 2336));
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
  const RunResult lockstep = run(s, 2927);
  ASSERT_TRUE(lockstep.expectation_met) << describe(lockstep);
  EXPECT_GT(trace_count(s, 2927, "checkpoint request of u1/"), 0u);
  // One millisecond of jitter per message breaks the lockstep: the key's own batches still
  // fail (the service's behaviour), no other key shares them, and every request completes.
  s.expect = Expectation{};
  s.network.jitter_ms = 1;
  s.invariants = {"requests-complete", "no-wedge"};
  const RunResult jittered = run(s, 2927);
  EXPECT_TRUE(jittered.passed) << describe(jittered);
  EXPECT_GT(trace_count(s, 2927, "overflows 2^63-1"), 0u) << "the key's batches still fail";
  const std::size_t u1_failed = trace_count(s, 2927, "checkpoint request of u1/");
  const std::size_t u3_failed = trace_count(s, 2927, "checkpoint request of u3/");
  EXPECT_EQ(u1_failed + u3_failed, 0u) << "no other key shares a failing batch";
}

TEST(Findings, TheQuiesceCoversAMysqlHeartbeatAndTheNetworksRoundTrips) {
  // W28: the world hunt's seed 5104 (session 11), shrunk.  A MySQL source acknowledges at its
  // 30 s binlog heartbeat, and each direction takes 2.72 s: the quiesce derived without either
  // ended 1.2 s before client 2's write checkpoint arrived, and requests-complete failed.
  const Scenario s = finding("mysql-ack-after-latency");
  const RunResult r = run(s, 5104);
  EXPECT_TRUE(r.passed) << describe(r);
  EXPECT_GT(r.checks.at("requests-complete"), 0u);
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
  const RunResult r = run(s, 5419);
  EXPECT_TRUE(r.passed) << describe(r);
  EXPECT_GT(r.checks.at("no-wedge"), 0u);
  EXPECT_GT(trace_count(s, 5419, "target := 9223372036854775807"), 0u) << "the target was MAX";
}

TEST(Findings, ALegacySwitchBackThatLowersLastSeenIsTheKnownUserSwitch) {
  // W30: the world hunt's seed 5204 (session 11), shrunk: W17's root cause (a legacy switch back
  // to an earlier user without disconnectAndClear) seen through gate-never-recloses.
  Scenario s = finding("legacy-switch-back-gate-recloses");
  const RunResult r = run(s, 5204);
  ASSERT_TRUE(r.expectation_met) << describe(r);
  EXPECT_EQ(known_id_of(s, r), "legacy-user-switch-back-lowers-last-seen");
  s.expect = Expectation{};
  std::erase_if(s.faults, [](const Fault& f) { return f.kind == FaultKind::SwitchUser; });
  const RunResult without = run(s, 5204);
  EXPECT_TRUE(without.passed) << describe(without);
}

}  // namespace
}  // namespace syncsim::scenarios
