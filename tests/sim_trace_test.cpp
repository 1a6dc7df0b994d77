// Unit tests of the simulation kernel's trace (sim/trace.hpp): its hash and its kept tail.
#include <gtest/gtest.h>

#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "sim/clock.hpp"
#include "sim/trace.hpp"

namespace syncsim::sim {
namespace {

// ---------------------------------------------------------------------------------------
// Trace
// ---------------------------------------------------------------------------------------

uint64_t fnv1a(const std::string& text) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : text) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

TEST(Trace, HashIsFnv1aOverTheFormattedLines) {
  VirtualClock clock;
  Trace trace(clock);
  const uint64_t empty = trace.hash();
  EXPECT_EQ(empty, fnv1a(""));
  std::ostringstream sink;
  trace.set_sink(&sink);
  trace.log("svc", "x={} y={}", 1, "two");
  clock.advance_to(kEpoch + 1500);
  trace.log("repl", "done");
  EXPECT_EQ(sink.str(), "0 svc x=1 y=two\n1500 repl done\n");
  EXPECT_EQ(trace.hash(), fnv1a(sink.str()));
  EXPECT_EQ(trace.lines(), 2u);
  EXPECT_EQ(trace.hash_hex().size(), 16u);
  EXPECT_EQ(std::stoull(trace.hash_hex(), nullptr, 16), trace.hash());
}

uint64_t run_trace(const std::vector<std::string>& texts, Micros step) {
  VirtualClock clock;
  Trace trace(clock);
  for (const auto& t : texts) {
    clock.advance_to(clock.now() + step);
    trace.log("c", "{}", t);
  }
  return trace.hash();
}

TEST(Trace, HashIsDeterministicAndSensitiveToEveryLine) {
  const std::vector<std::string> base{"alpha", "beta", "gamma"};
  EXPECT_EQ(run_trace(base, 10), run_trace(base, 10));
  EXPECT_NE(run_trace(base, 10), run_trace({"alpha", "beta", "gammb"}, 10));
  EXPECT_NE(run_trace(base, 10), run_trace({"alphx", "beta", "gamma"}, 10));
  EXPECT_NE(run_trace(base, 10), run_trace({"beta", "alpha", "gamma"}, 10)) << "order counts";
  EXPECT_NE(run_trace(base, 10), run_trace({"alpha", "beta"}, 10));
  EXPECT_NE(run_trace(base, 10), run_trace(base, 11)) << "the timestamp is part of the line";
}

TEST(Trace, KeepLastKeepsTheTail) {
  VirtualClock clock;
  Trace none(clock);
  none.log("c", "line {}", 0);
  EXPECT_TRUE(none.recent().empty()) << "nothing is kept unless asked";

  Trace trace(clock);
  trace.keep_last(3);
  for (int i = 0; i < 5; ++i) {
    clock.advance_to(clock.now() + 7);
    trace.log("c", "line {}", i);
  }
  const std::deque<std::string> want{"21 c line 2", "28 c line 3", "35 c line 4"};
  EXPECT_EQ(trace.recent(), want);
  EXPECT_EQ(trace.lines(), 5u);
}

}  // namespace
}  // namespace syncsim::sim
