// consistent-checkpoint (scenarios/checks/snapshot_checks.*, docs/invariants.md §1): a client that
// applies a checkpoint shows the rows the source had at it.  The checker fails on the mutant that
// undoes the service's compaction invalidation, and on the finding of docs/findings.md W23 (a
// page invalidation the service forgets); the twins without them pass the same seed.
#include <gtest/gtest.h>

#include "scenarios/world/runner.hpp"
#include "tests/support/scenario_helpers.hpp"

namespace syncsim::scenarios {
namespace {

using test_support::catalog;
using test_support::describe;
using test_support::fault;
using test_support::run;

// compaction-pages with client 4, a reader that never writes (so the barrier never holds its
// checkpoints back) and clears and re-downloads the shared bucket at 21 s, during compaction.
Scenario with_reader() {
  Scenario s = catalog("compaction-pages");
  s.sometimes.clear();
  s.duration_s = 25;
  std::erase_if(s.faults, [](const Fault& f) { return f.at_ms >= 25000; });
  s.clients.count = 4;
  Fault quiet = fault(0, FaultKind::Quiet, 4);
  quiet.duration_ms = 3600000;
  s.faults.push_back(quiet);
  s.faults.push_back(fault(21000, FaultKind::DisconnectAndClear, 4));
  return s;
}

bool violated(const RunResult& r, const std::string& invariant) {
  return !r.passed && r.violation && r.violation->invariant == invariant;
}

TEST(ConsistentCheckpoint, CatchesACompleteSentDespiteACompactionPastTheCheckpoint) {
  Scenario mutant = with_reader();
  mutant.mutants = {"complete-despite-invalidation"};
  const RunResult m = run(mutant);
  EXPECT_TRUE(violated(m, "consistent-checkpoint")) << describe(m);
  const RunResult twin = run(with_reader());
  EXPECT_TRUE(twin.passed) << describe(twin);
  EXPECT_GT(twin.checks.at("consistent-checkpoint"), 0u);
}

TEST(ConsistentCheckpoint, AForgottenPageInvalidationShowsARowTheSourceDidNotHave) {
  // docs/findings.md W23: seed 15 of the finding's scenario; the service keeping the flag across
  // pages (compaction_invalidation sticky) passes the same seed.
  const Scenario finding = load_scenario_file(
      std::string(SYNCSIM_SOURCE_DIR) + "/scenarios/findings/compaction-forgotten-page.json",
      validation_context());
  const RunResult r = run(finding, 15);
  ASSERT_TRUE(violated(r, "consistent-checkpoint")) << describe(r);
  EXPECT_NE(r.violation->message.find("todos/k1160 as absent"), std::string::npos)
      << r.violation->message;
  EXPECT_GT(r.metrics.at("forgotten_invalidations"), 0u);
  Scenario sticky = finding;
  sticky.service.compaction_invalidation = "sticky";
  const RunResult s = run(sticky, 15);
  EXPECT_TRUE(s.passed) << describe(s);
}

}  // namespace
}  // namespace syncsim::scenarios
