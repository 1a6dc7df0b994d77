// The status-size probe behind bench/stream_status_bench (issue 7): its instruction
// scanner, and that on the real core 0.5.3 it measures what it claims — one status
// entry per subscription, progress summed over each subscription's buckets (docs/protocol.md
// §1.2.5, §1.4.2), both checkpoints applied.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "bench/stream_status_probe.hpp"
#include "engine/core_registry.hpp"

namespace syncsim::bench {
namespace {

TEST(InstructionScanner, FindsTopLevelInstructionsByNameOnly) {
  const std::string text =
      R"([{"LogLine":{"severity":"DEBUG","line":"}{ \"UpdateSyncStatus\" ]["}},)"
      R"({"UpdateSyncStatus":{"status":{"streams":[{"name":"a"}]}}}, {"DidCompleteSync":{}}])";
  auto found = instructions_named(text, "UpdateSyncStatus");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0], R"({"UpdateSyncStatus":{"status":{"streams":[{"name":"a"}]}}})");
  EXPECT_EQ(instructions_named(text, "DidCompleteSync").size(), 1u);
  EXPECT_TRUE(instructions_named(text, "Update").empty());
  EXPECT_TRUE(instructions_named("[]", "LogLine").empty());
  EXPECT_THROW(instructions_named(R"({"a":1})", "a"), std::runtime_error);
  EXPECT_THROW(instructions_named(R"([{"a":"1}])", "a"), std::runtime_error);
  EXPECT_THROW(instructions_named(R"([{"a":1} {"b":2}])", "a"), std::runtime_error);
}

const engine::CoreVersion& core() {
  const auto* c = engine::find_core("0.5.3");
  if (c == nullptr) throw std::runtime_error("core 0.5.3 not registered");
  return *c;
}

struct Expect {
  ProbeShape shape;
  int64_t progress_total;  // sum over status entries of the buckets each subscription has
};

TEST(StatusProbe, OneStatusEntryPerSubscriptionOnCore053) {
  // buckets >= subs: each bucket one subscription; buckets < subs: each subscription one bucket.
  for (const Expect& e : {Expect{{2, 3, 4}, 2 * 4}, Expect{{3, 4, 2}, 3 * 4},
                          Expect{{2, 1, 5, 4}, 2 * 5}, Expect{{3, 1, 2, 1, true}, 3 * 2}}) {
    SCOPED_TRACE(e.shape.label());
    ProbeResult r = run_status_probe(e.shape, core());
    EXPECT_TRUE(r.applied);
    const int64_t subs = static_cast<int64_t>(e.shape.streams) * e.shape.subs_per_stream;
    EXPECT_EQ(r.request_subscriptions, e.shape.default_streams ? 0 : subs);
    EXPECT_EQ(r.status_stream_entries, subs);
    EXPECT_EQ(r.status_progress_total, e.progress_total);
    EXPECT_GT(r.initial.updates, 0);
    EXPECT_GE(r.initial.max_bytes, r.initial.min_bytes);
    EXPECT_EQ(r.initial.control_calls,
              e.shape.total_buckets() + 2 + (e.shape.priorities == 4 ? 1 : 0));
    EXPECT_EQ(r.diff.control_calls, 3);
  }
}

TEST(StatusProbe, RejectsBadShapes) {
  EXPECT_THROW(run_status_probe(ProbeShape{0, 1, 1}, core()), std::invalid_argument);
  EXPECT_THROW(run_status_probe(ProbeShape{1, 2, 1, 1, true}, core()), std::invalid_argument);
  EXPECT_THROW(run_status_probe(ProbeShape{1, 1, 1, 3}, core()), std::invalid_argument);
}

}  // namespace
}  // namespace syncsim::bench
