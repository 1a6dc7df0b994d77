// Unit tests of the simulation kernel: Prng, Loop, the coroutine primitives of sync.hpp,
// the simulated network (Link) and the trace.
//
// g++ 12 coroutine rules followed here: no braced-init lists or aggregate temporaries
// inside a co_await expression (requests and deadlines are built as named locals first),
// no moving init-captures of coroutine parameters; coroutines are free functions taking
// their parameters by value or pointer.
#include <gtest/gtest.h>
#include <malloc.h>
#include <rapidcheck/gtest.h>

#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "sim/clock.hpp"
#include "sim/loop.hpp"
#include "sim/net.hpp"
#include "sim/prng.hpp"
#include "sim/sync.hpp"
#include "sim/trace.hpp"

namespace syncsim::sim {
namespace {

constexpr Micros ms(int64_t n) { return n * kMillis; }

std::vector<uint64_t> draws(Prng p, int n) {
  std::vector<uint64_t> out;
  for (int i = 0; i < n; ++i) out.push_back(p.next());
  return out;
}

// ---------------------------------------------------------------------------------------
// Prng
// ---------------------------------------------------------------------------------------

TEST(Prng, SameSeedGivesSameSequence) {
  Prng a(42);
  Prng b(42);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(a.next(), b.next()) << "draw " << i;
}

TEST(Prng, SequenceIsStableAcrossBuilds) {
  // A seed must mean the same run on every build (docs/architecture.md §2): pin the first draws of
  // xoshiro256** seeded through splitmix64 so an accidental algorithm change is caught.
  Prng p(0);
  const uint64_t first = p.next();
  const uint64_t second = p.next();
  EXPECT_EQ(first, 0x99ec5f36cb75f2b4ULL);
  EXPECT_EQ(second, 0xbf6e1f784956452aULL);
}

TEST(Prng, DifferentSeedsGiveDifferentSequences) {
  std::set<std::vector<uint64_t>> seen;
  for (uint64_t seed : {0ULL, 1ULL, 2ULL, 3ULL, 42ULL, 0xffffffffffffffffULL}) {
    seen.insert(draws(Prng(seed), 4));
  }
  EXPECT_EQ(seen.size(), 6u);
  // Not just the first draw: the streams stay apart.
  Prng a(7);
  Prng b(8);
  int equal = 0;
  for (int i = 0; i < 100; ++i) equal += a.next() == b.next() ? 1 : 0;
  EXPECT_EQ(equal, 0);
}

TEST(Prng, SplitIsDeterministicAndDoesNotAdvanceTheParent) {
  Prng p1(99);
  Prng p2(99);
  const Prng s1 = p2.split("a");
  (void)p2.split("b");
  (void)p2.split("a");
  EXPECT_EQ(draws(p1, 50), draws(p2, 50)) << "split() must not advance *this";
  EXPECT_EQ(draws(s1, 50), draws(Prng(99).split("a"), 50)) << "same parent + name, same stream";
}

TEST(Prng, SplitChildIsUnaffectedByLaterParentDraws) {
  Prng parent(1234);
  Prng child = parent.split("a");
  const auto reference = draws(Prng(1234).split("a"), 100);
  for (int i = 0; i < 1000; ++i) (void)parent.next();  // another component draws
  Prng other = parent.split("b");
  for (int i = 0; i < 1000; ++i) (void)other.next();  // and a sibling draws
  EXPECT_EQ(draws(child, 100), reference);
}

TEST(Prng, SplitStreamsDifferByNameAndFromTheParent) {
  const Prng parent(5);
  const auto a = draws(parent.split("a"), 20);
  const auto b = draws(parent.split("b"), 20);
  const auto empty = draws(parent.split(""), 20);
  const auto own = draws(parent, 20);
  EXPECT_NE(a, b);
  EXPECT_NE(a, own);
  EXPECT_NE(b, own);
  EXPECT_NE(empty, own);
  EXPECT_NE(draws(parent.split("conn1"), 20), draws(parent.split("conn2"), 20));
  // The same name under different parents gives different streams.
  EXPECT_NE(a, draws(Prng(6).split("a"), 20));
}

RC_GTEST_PROP(PrngProp, UniformIsBelowBound, (uint64_t seed, uint64_t bound)) {
  RC_PRE(bound > 0u);
  Prng p(seed);
  for (int i = 0; i < 50; ++i) RC_ASSERT(p.uniform(bound) < bound);
}

TEST(Prng, UniformEdgeCasesAndCoverage) {
  Prng p(3);
  EXPECT_EQ(p.uniform(0), 0u);
  EXPECT_EQ(p.uniform(1), 0u);
  // Small bound: every value shows up, none outside.
  std::vector<int> hits(3, 0);
  for (int i = 0; i < 600; ++i) {
    const uint64_t v = p.uniform(3);
    ASSERT_LT(v, 3u);
    ++hits[v];
  }
  for (int h : hits) EXPECT_GT(h, 100);
  // A bound above 2^63 exercises the rejection loop.
  const uint64_t big = (1ULL << 63) + 12345;
  bool upper_half = false;
  for (int i = 0; i < 200; ++i) {
    const uint64_t v = p.uniform(big);
    ASSERT_LT(v, big);
    upper_half = upper_half || v >= big / 2;
  }
  EXPECT_TRUE(upper_half);
}

RC_GTEST_PROP(PrngProp, RangeIsInclusive, (uint64_t seed, int32_t a, int32_t b)) {
  const int64_t lo = std::min<int64_t>(a, b);
  const int64_t hi = std::max<int64_t>(a, b);
  Prng p(seed);
  for (int i = 0; i < 50; ++i) {
    const int64_t v = p.range(lo, hi);
    RC_ASSERT(v >= lo);
    RC_ASSERT(v <= hi);
  }
}

TEST(Prng, RangeHitsBothEnds) {
  Prng p(11);
  EXPECT_EQ(p.range(3, 3), 3);
  EXPECT_EQ(p.range(-4, -4), -4);
  std::set<int64_t> seen;
  for (int i = 0; i < 300; ++i) seen.insert(p.range(-1, 1));
  EXPECT_EQ(seen, (std::set<int64_t>{-1, 0, 1}));
}

RC_GTEST_PROP(PrngProp, JitterStaysWithinTenPercent, (uint64_t seed)) {
  const int64_t d = *rc::gen::inRange<int64_t>(0, 1'000'000'000'000);
  Prng p(seed);
  for (int i = 0; i < 20; ++i) {
    const int64_t j = p.jitter(d);
    // The integer form d*900/1000 + uniform(d/5 + 1) (docs/architecture.md §2) ...
    RC_ASSERT(j >= d * 900 / 1000);
    RC_ASSERT(j <= d * 900 / 1000 + d / 5);
    // ... which is within [0.9 d, 1.1 d] up to the truncation of 0.9 d.
    RC_ASSERT(10 * j <= 11 * d);
    RC_ASSERT(10 * j > 9 * d - 10);
    if (d % 10 == 0) RC_ASSERT(10 * j >= 9 * d);
  }
}

TEST(Prng, JitterVariesAndReachesBothEnds) {
  Prng p(17);
  EXPECT_EQ(p.jitter(0), 0);
  std::set<int64_t> seen;
  for (int i = 0; i < 300; ++i) seen.insert(p.jitter(10));
  EXPECT_EQ(seen, (std::set<int64_t>{9, 10, 11}));
  std::set<int64_t> keepalives;
  for (int i = 0; i < 20; ++i) {
    const int64_t j = p.jitter(20 * kSeconds);
    ASSERT_GE(j, 18 * kSeconds);
    ASSERT_LE(j, 22 * kSeconds);
    keepalives.insert(j);
  }
  EXPECT_GT(keepalives.size(), 10u);
}

TEST(Prng, PercentExtremes) {
  Prng p(21);
  int yes = 0;
  for (int i = 0; i < 200; ++i) {
    EXPECT_FALSE(p.percent(0));
    EXPECT_TRUE(p.percent(100));
    yes += p.percent(50) ? 1 : 0;
  }
  EXPECT_GT(yes, 50);
  EXPECT_LT(yes, 150);
}

// ---------------------------------------------------------------------------------------
// Loop
// ---------------------------------------------------------------------------------------

TEST(Loop, StartsAtTheEpochAndJumpsToTheEarliestDeadline) {
  Loop loop;
  EXPECT_EQ(loop.now(), kEpoch);
  EXPECT_EQ(loop.clock().elapsed(), 0);
  std::vector<std::pair<int, Micros>> ran;
  loop.at(kEpoch + ms(300), [&] { ran.emplace_back(3, loop.now()); });
  loop.at(kEpoch + ms(100), [&] { ran.emplace_back(1, loop.now()); });
  loop.after(ms(200), [&] { ran.emplace_back(2, loop.now()); });
  EXPECT_TRUE(loop.run_until(kEpoch + kSeconds));
  const std::vector<std::pair<int, Micros>> want{
      {1, kEpoch + ms(100)}, {2, kEpoch + ms(200)}, {3, kEpoch + ms(300)}};
  EXPECT_EQ(ran, want);
  EXPECT_EQ(loop.now(), kEpoch + kSeconds);
  EXPECT_EQ(loop.events(), 3u);
  EXPECT_FALSE(loop.stopped());
}

TEST(Loop, EqualDeadlinesRunInRegistrationOrder) {
  Loop loop;
  std::vector<std::string> ran;
  loop.at(kEpoch + ms(20), [&] { ran.push_back("x"); });
  loop.at(kEpoch + ms(10), [&] { ran.push_back("y"); });
  loop.at(kEpoch + ms(20), [&] { ran.push_back("z"); });
  loop.after(ms(10), [&] { ran.push_back("w"); });
  for (int i = 0; i < 20; ++i) {
    loop.at(kEpoch + ms(30), [&ran, i] { ran.push_back(std::to_string(i)); });
  }
  ASSERT_TRUE(loop.run_until(kEpoch + ms(50)));
  std::vector<std::string> want{"y", "w", "x", "z"};
  for (int i = 0; i < 20; ++i) want.push_back(std::to_string(i));
  EXPECT_EQ(ran, want);
}

TEST(Loop, DeadlineInThePastRunsNowAfterEarlierRegistrations) {
  Loop loop;
  ASSERT_TRUE(loop.run_until(kEpoch + ms(100)));
  std::vector<std::pair<std::string, Micros>> ran;
  loop.at(loop.now(), [&] { ran.emplace_back("now", loop.now()); });
  loop.at(kEpoch, [&] { ran.emplace_back("past", loop.now()); });
  ASSERT_TRUE(loop.run_until(kEpoch + ms(200)));
  const std::vector<std::pair<std::string, Micros>> want{{"now", kEpoch + ms(100)},
                                                         {"past", kEpoch + ms(100)}};
  EXPECT_EQ(ran, want);
}

TEST(Loop, CancelPreventsTheCallback) {
  Loop loop;
  std::vector<int> ran;
  loop.after(ms(10), [&] { ran.push_back(1); });
  const TimerId doomed = loop.after(ms(20), [&] { ran.push_back(2); });
  const TimerId same_deadline = loop.after(ms(20), [&] { ran.push_back(3); });
  loop.cancel(doomed);
  ASSERT_TRUE(loop.run_until(kEpoch + kSeconds));
  EXPECT_EQ(ran, (std::vector<int>{1, 3}));
  loop.cancel(same_deadline);  // cancelling a timer that already ran is harmless
  EXPECT_EQ(loop.events(), 2u);
}

Task<void> sleeper(Loop* loop, Micros delay, std::vector<Micros>* woke) {
  woke->push_back(loop->now());
  co_await loop->sleep_for(delay);
  woke->push_back(loop->now());
}

TEST(Loop, SleepForAdvancesVirtualTimeExactly) {
  Loop loop;
  std::vector<Micros> a;
  std::vector<Micros> b;
  std::vector<Micros> zero;
  loop.spawn(sleeper(&loop, 1'234'567, &a), "a");
  loop.spawn(sleeper(&loop, 7, &b), "b");
  loop.spawn(sleeper(&loop, 0, &zero), "zero");
  ASSERT_TRUE(loop.run_until(kEpoch + 10 * kSeconds));
  EXPECT_EQ(a, (std::vector<Micros>{kEpoch, kEpoch + 1'234'567}));
  EXPECT_EQ(b, (std::vector<Micros>{kEpoch, kEpoch + 7}));
  EXPECT_EQ(zero, (std::vector<Micros>{kEpoch, kEpoch}));
}

TEST(Loop, RunUntilStopsAtUntilAndLeavesLaterTimersPending) {
  Loop loop;
  std::vector<Micros> ran;
  loop.at(kEpoch + ms(100), [&] { ran.push_back(loop.now()); });
  loop.at(kEpoch + ms(300), [&] { ran.push_back(loop.now()); });  // exactly at `until`
  loop.at(kEpoch + ms(301), [&] { ran.push_back(loop.now()); });
  loop.at(kEpoch + ms(500), [&] { ran.push_back(loop.now()); });
  EXPECT_TRUE(loop.run_until(kEpoch + ms(300)));
  EXPECT_EQ(ran, (std::vector<Micros>{kEpoch + ms(100), kEpoch + ms(300)}));
  EXPECT_EQ(loop.now(), kEpoch + ms(300));
  EXPECT_TRUE(loop.run_until(kEpoch + ms(400)));
  EXPECT_EQ(ran.size(), 3u);
  EXPECT_EQ(loop.now(), kEpoch + ms(400));
  EXPECT_TRUE(loop.run_until(kEpoch + kSeconds));
  EXPECT_EQ(ran, (std::vector<Micros>{kEpoch + ms(100), kEpoch + ms(300), kEpoch + ms(301),
                                      kEpoch + ms(500)}));
  // An `until` in the past never moves time backwards.
  EXPECT_TRUE(loop.run_until(kEpoch));
  EXPECT_EQ(loop.now(), kEpoch + kSeconds);
}

Task<void> thrower(Loop* loop, Micros delay) {
  co_await loop->sleep_for(delay);
  throw std::runtime_error("boom");
}

Task<void> int_thrower(Loop* loop) {
  co_await loop->sleep_for(1);
  throw 42;
}

TEST(Loop, ThrowingCoroutineStopsTheRunAsACrashNamingIt) {
  Loop loop;
  bool later_ran = false;
  loop.after(ms(10), [&] { later_ran = true; });
  loop.spawn(thrower(&loop, ms(5)), "exploder");
  EXPECT_FALSE(loop.run_until(kEpoch + kSeconds));
  EXPECT_TRUE(loop.stopped());
  EXPECT_EQ(loop.stop_reason().kind, StopKind::Crash);
  EXPECT_NE(loop.stop_reason().message.find("'exploder'"), std::string::npos)
      << loop.stop_reason().message;
  EXPECT_NE(loop.stop_reason().message.find("boom"), std::string::npos);
  EXPECT_FALSE(later_ran);
  EXPECT_EQ(loop.now(), kEpoch + ms(5));
  // A stopped loop stays stopped; the first reason is kept.
  loop.stop(StopKind::Failure, "second");
  EXPECT_EQ(loop.stop_reason().kind, StopKind::Crash);
  EXPECT_FALSE(loop.run_until(kEpoch + 2 * kSeconds));
  EXPECT_FALSE(later_ran);
}

TEST(Loop, NonStandardExceptionIsACrashToo) {
  Loop loop;
  loop.spawn(int_thrower(&loop), "odd one");
  EXPECT_FALSE(loop.run_until(kEpoch + kSeconds));
  EXPECT_EQ(loop.stop_reason().kind, StopKind::Crash);
  EXPECT_NE(loop.stop_reason().message.find("'odd one'"), std::string::npos);
  EXPECT_NE(loop.stop_reason().message.find("non-standard"), std::string::npos);
}

TEST(Loop, EventCapTripsAsABound) {
  Bounds bounds;
  bounds.max_events = 50;
  Loop loop(bounds);
  int ticks = 0;
  std::function<void()> tick = [&] {
    ++ticks;
    loop.after(ms(1), tick);
  };
  loop.after(ms(1), tick);
  EXPECT_FALSE(loop.run_until(kEpoch + 1000 * kSeconds));
  EXPECT_EQ(loop.stop_reason().kind, StopKind::Bound);
  EXPECT_NE(loop.stop_reason().message.find("event cap"), std::string::npos)
      << loop.stop_reason().message;
  EXPECT_EQ(ticks, 51);
  EXPECT_EQ(loop.now(), kEpoch + ms(51));
}

TEST(Loop, VirtualTimeCapTripsAsABound) {
  Bounds bounds;
  bounds.max_virtual_time = 10 * kSeconds;
  Loop loop(bounds);
  std::function<void()> tick = [&] { loop.after(kSeconds, tick); };
  loop.after(kSeconds, tick);
  EXPECT_FALSE(loop.run_until(kEpoch + 1000 * kSeconds));
  EXPECT_EQ(loop.stop_reason().kind, StopKind::Bound);
  EXPECT_NE(loop.stop_reason().message.find("virtual-time cap"), std::string::npos)
      << loop.stop_reason().message;
  EXPECT_EQ(loop.now(), kEpoch + 11 * kSeconds);
}

Task<void> spinner(Loop* loop, int64_t* spins) {
  while (true) {
    ++*spins;
    co_await loop->sleep_for(0);
  }
}

TEST(Loop, TimeStoppedAdvancingTripsAsABound) {
  Bounds bounds;
  bounds.max_events_without_time_advancing = 100;
  Loop loop(bounds);
  int64_t spins = 0;
  loop.after(ms(7), [&] { loop.spawn(spinner(&loop, &spins), "spinner"); });
  EXPECT_FALSE(loop.run_until(kEpoch + kSeconds));
  EXPECT_EQ(loop.stop_reason().kind, StopKind::Bound);
  EXPECT_NE(loop.stop_reason().message.find("time stopped advancing"), std::string::npos)
      << loop.stop_reason().message;
  EXPECT_EQ(loop.now(), kEpoch + ms(7));
  EXPECT_GT(spins, 10);
  EXPECT_LT(spins, 200);
}

TEST(Loop, ManyEventsAtAdvancingTimesDoNotTripTheStallBound) {
  Bounds bounds;
  bounds.max_events_without_time_advancing = 100;
  Loop loop(bounds);
  int ticks = 0;
  std::function<void()> tick = [&] {
    // Several events per instant, but time keeps moving.
    for (int i = 0; i < 20; ++i) asio::post(loop.io(), [] {});
    if (++ticks < 1000) loop.after(1, tick);
  };
  loop.after(1, tick);
  EXPECT_TRUE(loop.run_until(kEpoch + kSeconds)) << loop.stop_reason().message;
  EXPECT_EQ(ticks, 1000);
  EXPECT_GT(loop.events(), 20'000u);
}

Task<void> nothing() { co_return; }

TEST(Loop, WorkStartedBetweenRunsAtDifferentTimesIsNotAStall) {
  Bounds bounds;
  bounds.max_events_without_time_advancing = 100;
  Loop loop(bounds);
  for (int i = 0; i < 200; ++i) {
    loop.spawn(nothing(), "nothing");
    ASSERT_TRUE(loop.run_until(loop.now() + ms(1)))
        << "iteration " << i << ": " << loop.stop_reason().message;
  }
}

TEST(Loop, PendingListsReportersInOrderAndEvaluatesThemLazily) {
  Loop loop;
  EXPECT_NE(loop.pending().find("no component reported"), std::string::npos);
  int queued = 1;
  loop.add_pending_reporter("service", [&] { return "queue " + std::to_string(queued); });
  loop.add_pending_reporter("client 1", [] { return std::string("waiting for stream"); });
  queued = 5;
  const std::string p = loop.pending();
  EXPECT_EQ(p, "  service: queue 5\n  client 1: waiting for stream\n");
  loop.shutdown();
  EXPECT_NE(loop.pending().find("no component reported"), std::string::npos);
}

// ---------------------------------------------------------------------------------------
// wait_for / Notifier / AbortSignal / Latch / Queue
// ---------------------------------------------------------------------------------------

struct WaitResult {
  int which = -99;
  Micros at = 0;
};

Task<void> wait_two(Loop* loop, std::optional<Micros> deadline, Signal* a, Signal* b,
                    WaitResult* out) {
  const int which = co_await wait_for(*loop, deadline, a, b);
  out->which = which;
  out->at = loop->now();
}

Task<void> wait_one(Loop* loop, std::optional<Micros> deadline, Signal* a, WaitResult* out) {
  const int which = co_await wait_for(*loop, deadline, a);
  out->which = which;
  out->at = loop->now();
}

TEST(Wait, TimesOutExactlyAtTheDeadline) {
  Loop loop;
  Notifier n1;
  Notifier n2;
  WaitResult r;
  loop.spawn(wait_two(&loop, kEpoch + ms(250), &n1, &n2, &r), "waiter");
  ASSERT_TRUE(loop.run_until(kEpoch + ms(249)));
  EXPECT_EQ(r.which, -99) << "still waiting before the deadline";
  ASSERT_TRUE(loop.run_until(kEpoch + kSeconds));
  EXPECT_EQ(r.which, kTimedOut);
  EXPECT_EQ(r.at, kEpoch + ms(250));
}

TEST(Wait, NotifyBeforeTheDeadlineWinsWithItsIndex) {
  Loop loop;
  Notifier n1;
  Notifier n2;
  WaitResult r;
  loop.spawn(wait_two(&loop, kEpoch + ms(250), &n1, &n2, &r), "waiter");
  loop.at(kEpoch + ms(30), [&] { n2.notify(); });
  loop.at(kEpoch + ms(40), [&] { n1.notify(); });  // loser: must not resume it again
  ASSERT_TRUE(loop.run_until(kEpoch + ms(40)));
  EXPECT_EQ(r.which, 1);
  EXPECT_EQ(r.at, kEpoch + ms(30));
  // The losing deadline timer was cancelled: nothing at all happens at 250 ms.
  const uint64_t events = loop.events();
  ASSERT_TRUE(loop.run_until(kEpoch + kSeconds));
  EXPECT_EQ(loop.events(), events);
  EXPECT_EQ(r.which, 1);
}

TEST(Wait, NotifyWakesAllCurrentWaitersButIsNotSticky) {
  Loop loop;
  Notifier n;
  n.notify();  // nobody waiting: lost
  WaitResult r1;
  WaitResult r2;
  WaitResult r3;
  loop.spawn(wait_one(&loop, kEpoch + ms(100), &n, &r1), "w1");
  loop.spawn(wait_one(&loop, std::nullopt, &n, &r2), "w2");
  loop.at(kEpoch + ms(50), [&] { n.notify(); });
  ASSERT_TRUE(loop.run_until(kEpoch + ms(60)));
  EXPECT_EQ(r1.which, 0);
  EXPECT_EQ(r1.at, kEpoch + ms(50));
  EXPECT_EQ(r2.which, 0);
  EXPECT_EQ(r2.at, kEpoch + ms(50));
  // A waiter that arrives after the notify does not see it.
  loop.spawn(wait_one(&loop, kEpoch + ms(80), &n, &r3), "w3");
  ASSERT_TRUE(loop.run_until(kEpoch + kSeconds));
  EXPECT_EQ(r3.which, kTimedOut);
  EXPECT_EQ(r3.at, kEpoch + ms(80));
}

TEST(Wait, AlreadyAbortedSignalReturnsImmediately) {
  Loop loop;
  Notifier n;
  AbortSignal abort;
  abort.abort("closed by test");
  EXPECT_TRUE(abort.aborted());
  EXPECT_TRUE(abort.is_set());
  EXPECT_EQ(abort.reason(), "closed by test");
  abort.abort("again");
  EXPECT_EQ(abort.reason(), "closed by test") << "the first reason sticks";
  WaitResult r;
  WaitResult with_null;
  loop.spawn(wait_two(&loop, std::nullopt, &n, &abort, &r), "waiter");
  loop.spawn(wait_two(&loop, kEpoch + kSeconds, nullptr, &abort, &with_null), "null first");
  ASSERT_TRUE(loop.run_until(kEpoch));
  EXPECT_EQ(r.which, 1);
  EXPECT_EQ(r.at, kEpoch);
  EXPECT_EQ(with_null.which, 1);
  EXPECT_EQ(with_null.at, kEpoch);
}

TEST(Wait, AbortWakesAWaiterAndStaysSet) {
  Loop loop;
  Notifier n;
  AbortSignal abort;
  EXPECT_FALSE(abort.is_set());
  WaitResult before;
  WaitResult after;
  loop.spawn(wait_two(&loop, std::nullopt, &n, &abort, &before), "before");
  loop.at(kEpoch + ms(70), [&] { abort.abort("stop"); });
  loop.at(kEpoch + ms(90),
          [&] { loop.spawn(wait_two(&loop, kEpoch + kSeconds, &n, &abort, &after), "after"); });
  ASSERT_TRUE(loop.run_until(kEpoch + 2 * kSeconds));
  EXPECT_EQ(before.which, 1);
  EXPECT_EQ(before.at, kEpoch + ms(70));
  EXPECT_EQ(after.which, 1);
  EXPECT_EQ(after.at, kEpoch + ms(90));
}

Task<void> wait_nothing(Loop* loop) {
  const std::optional<Micros> none;
  co_await wait_for(*loop, none);
}

TEST(Wait, WaitingOnNothingIsAnError) {
  Loop loop;
  loop.spawn(wait_nothing(&loop), "hopeless");
  EXPECT_FALSE(loop.run_until(kEpoch + kSeconds));
  EXPECT_EQ(loop.stop_reason().kind, StopKind::Crash);
  EXPECT_NE(loop.stop_reason().message.find("nothing to wait for"), std::string::npos)
      << loop.stop_reason().message;
}

struct LatchResult {
  int which = -99;
  Micros at = 0;
  bool ok = false;
  std::optional<int> value;
  std::string error;
};

Task<void> await_latch(Loop* loop, Latch<int>* latch, LatchResult* out) {
  const std::optional<Micros> none;
  out->which = co_await wait_for(*loop, none, latch);
  out->at = loop->now();
  out->ok = latch->ok();
  out->value = latch->value();
  out->error = latch->error();
}

TEST(Wait, LatchResolvesOnceForEveryWaiter) {
  Loop loop;
  Latch<int> latch;
  LatchResult r1;
  LatchResult r2;
  LatchResult late;
  loop.spawn(await_latch(&loop, &latch, &r1), "r1");
  loop.spawn(await_latch(&loop, &latch, &r2), "r2");
  loop.at(kEpoch + ms(10), [&] {
    latch.resolve(7);
    latch.resolve(8);      // ignored
    latch.reject("late");  // ignored
  });
  loop.at(kEpoch + ms(20), [&] { loop.spawn(await_latch(&loop, &latch, &late), "late"); });
  ASSERT_TRUE(loop.run_until(kEpoch + kSeconds));
  for (const LatchResult* r : {&r1, &r2}) {
    EXPECT_EQ(r->which, 0);
    EXPECT_EQ(r->at, kEpoch + ms(10));
    EXPECT_TRUE(r->ok);
    EXPECT_EQ(r->value, 7);
  }
  EXPECT_EQ(late.which, 0);
  EXPECT_EQ(late.at, kEpoch + ms(20)) << "a settled latch is sticky";
  EXPECT_EQ(late.value, 7);
}

TEST(Wait, LatchRejection) {
  Loop loop;
  Latch<int> latch;
  EXPECT_FALSE(latch.settled());
  LatchResult r;
  loop.spawn(await_latch(&loop, &latch, &r), "r");
  loop.at(kEpoch + ms(3), [&] { latch.reject("nope"); });
  ASSERT_TRUE(loop.run_until(kEpoch + kSeconds));
  EXPECT_TRUE(latch.settled());
  EXPECT_EQ(r.which, 0);
  EXPECT_FALSE(r.ok);
  EXPECT_FALSE(r.value.has_value());
  EXPECT_EQ(r.error, "nope");
}

struct PopLog {
  std::vector<std::optional<std::string>> items;
  std::vector<Micros> at;
};

Task<void> pop_n(Loop* loop, Queue<std::string>* q, AbortSignal* abort, int n, PopLog* out) {
  for (int i = 0; i < n; ++i) {
    std::optional<std::string> v = co_await q->pop(*loop, abort);
    out->items.push_back(v);
    out->at.push_back(loop->now());
    if (!v) co_return;
  }
}

TEST(Queue, PopsInFifoOrderAndWaitsForPushes) {
  Loop loop;
  Queue<std::string> q;
  AbortSignal abort;
  q.push("a");
  q.push("b");
  EXPECT_EQ(q.size(), 2u);
  PopLog log;
  loop.spawn(pop_n(&loop, &q, &abort, 4, &log), "consumer");
  loop.at(kEpoch + ms(50), [&] {
    q.push("c");
    q.push("d");
  });
  ASSERT_TRUE(loop.run_until(kEpoch + kSeconds));
  const std::vector<std::optional<std::string>> want{"a", "b", "c", "d"};
  EXPECT_EQ(log.items, want);
  EXPECT_EQ(log.at, (std::vector<Micros>{kEpoch, kEpoch, kEpoch + ms(50), kEpoch + ms(50)}));
  EXPECT_TRUE(q.empty());
}

TEST(Queue, PopReturnsNulloptOnAbort) {
  Loop loop;
  Queue<std::string> q;
  AbortSignal abort;
  PopLog log;
  loop.spawn(pop_n(&loop, &q, &abort, 3, &log), "consumer");
  loop.at(kEpoch + ms(5), [&] { q.push("x"); });
  loop.at(kEpoch + ms(20), [&] { abort.abort("bye"); });
  loop.at(kEpoch + ms(30), [&] { q.push("too late"); });
  ASSERT_TRUE(loop.run_until(kEpoch + kSeconds));
  const std::vector<std::optional<std::string>> want{"x", std::nullopt};
  EXPECT_EQ(log.items, want);
  EXPECT_EQ(log.at, (std::vector<Micros>{kEpoch + ms(5), kEpoch + ms(20)}));
  EXPECT_EQ(q.size(), 1u) << "the late item stays queued";
}

TEST(Queue, QueuedItemsWinOverAnAlreadyAbortedSignal) {
  Loop loop;
  Queue<std::string> q;
  AbortSignal abort;
  abort.abort("gone");
  q.push("kept");
  PopLog log;
  loop.spawn(pop_n(&loop, &q, &abort, 2, &log), "consumer");
  ASSERT_TRUE(loop.run_until(kEpoch));
  const std::vector<std::optional<std::string>> want{"kept", std::nullopt};
  EXPECT_EQ(log.items, want);
}

Task<void> many_timeouts(Loop* loop, AbortSignal* abort, int n, int* timeouts) {
  for (int i = 0; i < n; ++i) {
    const std::optional<Micros> deadline = loop->now() + 1;
    const int which = co_await wait_for(*loop, deadline, abort);
    if (which == kTimedOut) ++*timeouts;
  }
}

Task<void> many_notified(Loop* loop, Notifier* n, AbortSignal* abort, int count, int* wins) {
  for (int i = 0; i < count; ++i) {
    const std::optional<Micros> none;
    const int which = co_await wait_for(*loop, none, n, abort);
    if (which == 0) ++*wins;
  }
}

std::size_t heap_in_use() {
#if defined(__GLIBC__)
  return mallinfo2().uordblks;
#else
  return 0;
#endif
}

TEST(Wait, StaleWaitersDoNotAccumulateOnALongLivedSignal) {
  Loop loop;
  AbortSignal abort;
  int timeouts = 0;
  loop.spawn(many_timeouts(&loop, &abort, 2'000, &timeouts), "warm-up");
  ASSERT_TRUE(loop.run_until(kEpoch + kSeconds));
  ASSERT_EQ(timeouts, 2'000);
  const std::size_t before = heap_in_use();
  loop.spawn(many_timeouts(&loop, &abort, 20'000, &timeouts), "timeouts");
  ASSERT_TRUE(loop.run_until(kEpoch + 2 * kSeconds));
  ASSERT_EQ(timeouts, 22'000);
  const std::size_t after = heap_in_use();
  // Each stale registration would keep a shared Wake (well over 100 bytes) alive:
  // 20000 of them are megabytes, pruned ones a few kilobytes.
  EXPECT_LT(after, before + 512 * 1024) << "before " << before << " after " << after;
}

TEST(Wait, StaleWaitersOnALongLivedSignalArePruned) {
  Loop loop;
  AbortSignal abort;
  Notifier n;
  int timeouts = 0;
  int wins = 0;
  loop.spawn(many_timeouts(&loop, &abort, 10'000, &timeouts), "timeouts");
  loop.spawn(many_notified(&loop, &n, &abort, 5'000, &wins), "notified");
  for (int i = 0; i < 5'000; ++i) loop.at(kEpoch + 1 + i, [&] { n.notify(); });
  ASSERT_TRUE(loop.run_until(kEpoch + kSeconds)) << loop.stop_reason().message;
  EXPECT_EQ(timeouts, 10'000);
  EXPECT_EQ(wins, 5'000);
  // After all those losing registrations the signal still works.
  WaitResult r;
  loop.spawn(wait_two(&loop, std::nullopt, &n, &abort, &r), "final");
  loop.at(kEpoch + 2 * kSeconds, [&] { abort.abort("end"); });
  ASSERT_TRUE(loop.run_until(kEpoch + 3 * kSeconds));
  EXPECT_EQ(r.which, 1);
  EXPECT_EQ(r.at, kEpoch + 2 * kSeconds);
}

// ---------------------------------------------------------------------------------------
// Ownership of suspended coroutines: the loop destroys every frame at shutdown
// ---------------------------------------------------------------------------------------

// Counts its destructions; a coroutine keeps one alive while it waits on the holder's
// Notifier, which holds the wait, which holds the coroutine: a shared_ptr cycle.
struct CycleHolder {
  explicit CycleHolder(int* destroyed) : destroyed_(destroyed) {}
  ~CycleHolder() { ++*destroyed_; }
  Notifier ready;
  int* destroyed_;
};

Task<void> wait_forever_holding(Loop* loop, std::shared_ptr<CycleHolder> holder, int* resumed) {
  co_await wait_for(*loop, std::nullopt, &holder->ready);
  ++*resumed;
}

TEST(Loop, ShutdownDestroysCoroutinesSuspendedOnASignalWithoutDeadline) {
  int destroyed = 0;
  int resumed = 0;
  Loop loop;
  for (int i = 0; i < 3; ++i) {
    loop.spawn(wait_forever_holding(&loop, std::make_shared<CycleHolder>(&destroyed), &resumed),
               "waiter");
  }
  ASSERT_TRUE(loop.run_until(kEpoch + kSeconds));
  EXPECT_EQ(loop.suspended(), 3u);
  EXPECT_EQ(destroyed, 0);  // nothing but the cycle refers to the holders
  loop.shutdown();
  EXPECT_EQ(destroyed, 3);  // the frames (and what they held) are gone
  EXPECT_EQ(resumed, 0);    // destroyed, never resumed
  EXPECT_EQ(loop.suspended(), 0u);
}

Task<void> wait_then_count(Loop* loop, Notifier* n,
                           [[maybe_unused]] std::shared_ptr<CycleHolder> holder, int* resumed) {
  co_await wait_for(*loop, std::nullopt, n);
  ++*resumed;
}

TEST(Loop, AWaitThatCompletesIsNoLongerTrackedAndRunsNormally) {
  int destroyed = 0;
  int resumed = 0;
  Loop loop;
  Notifier n;
  loop.spawn(wait_then_count(&loop, &n, std::make_shared<CycleHolder>(&destroyed), &resumed), "w");
  ASSERT_TRUE(loop.run_until(kEpoch + kSeconds));
  EXPECT_EQ(loop.suspended(), 1u);
  n.notify();
  EXPECT_EQ(loop.suspended(), 0u);  // untracked as soon as it fires
  ASSERT_TRUE(loop.run_until(kEpoch + 2 * kSeconds));
  EXPECT_EQ(resumed, 1);
  EXPECT_EQ(destroyed, 1);  // the frame finished and released its holder
  loop.shutdown();
  EXPECT_EQ(destroyed, 1);
}

// A wait on a signal that dies during the run is destroyed with it, as before: the loop
// tracks suspensions weakly and only abandons those still pending at shutdown.
TEST(Loop, AWaitWhoseSignalDiesIsDestroyedWithItNotKeptUntilShutdown) {
  int destroyed = 0;
  int resumed = 0;
  Loop loop;
  auto n = std::make_unique<Notifier>();
  loop.spawn(wait_then_count(&loop, n.get(), std::make_shared<CycleHolder>(&destroyed), &resumed),
             "w");
  ASSERT_TRUE(loop.run_until(kEpoch + kSeconds));
  n.reset();
  EXPECT_EQ(loop.suspended(), 0u);
  ASSERT_TRUE(loop.run_until(kEpoch + 2 * kSeconds));  // runs the frame's unwinding
  EXPECT_EQ(destroyed, 1);
  EXPECT_EQ(resumed, 0);
}

// A frame whose destructor starts another wait (a nested cleanup) is destroyed as well.
struct WaitOnDestroy {
  WaitOnDestroy(Loop* l, std::shared_ptr<CycleHolder> n) : loop(l), next(std::move(n)) {}
  ~WaitOnDestroy() { loop->spawn(wait_forever_holding(loop, std::move(next), &never), "cleanup"); }
  Loop* loop;
  std::shared_ptr<CycleHolder> next;
  static inline int never = 0;
};

Task<void> wait_holding_cleanup(Loop* loop, std::shared_ptr<CycleHolder> holder,
                                [[maybe_unused]] std::shared_ptr<WaitOnDestroy> cleanup) {
  co_await wait_for(*loop, std::nullopt, &holder->ready);
}

TEST(Loop, ShutdownAlsoDestroysWaitsStartedWhileUnwinding) {
  int destroyed = 0;
  Loop loop;
  auto cleanup = std::make_shared<WaitOnDestroy>(&loop, std::make_shared<CycleHolder>(&destroyed));
  loop.spawn(
      wait_holding_cleanup(&loop, std::make_shared<CycleHolder>(&destroyed), std::move(cleanup)),
      "outer");
  ASSERT_TRUE(loop.run_until(kEpoch + kSeconds));
  loop.shutdown();
  EXPECT_EQ(destroyed, 2);
  EXPECT_EQ(loop.suspended(), 0u);
}

// ---------------------------------------------------------------------------------------
// Link
// ---------------------------------------------------------------------------------------

class FakeServer : public HttpServer {
 public:
  explicit FakeServer(Loop& loop) : loop_(loop) {}

  void handle(const HttpRequest& request, std::function<void(HttpResponse)> respond) override {
    arrivals.emplace_back(request.path, loop_.now());
    HttpResponse response{200, "re:" + request.path + ":" + request.body};
    if (response_delay > 0) {
      loop_.after(response_delay, [respond, response] { respond(response); });
    } else {
      respond(response);
    }
  }

  HttpResponse open_stream(const HttpRequest& request,
                           std::shared_ptr<ServerStream> stream) override {
    arrivals.emplace_back(request.path, loop_.now());
    if (request.path == "/forbidden") {
      rejected.push_back(stream);
      return HttpResponse{403, "nope"};
    }
    streams.push_back(stream);
    return HttpResponse{200, ""};
  }

  Micros response_delay = 0;
  std::vector<std::pair<std::string, Micros>> arrivals;
  std::vector<std::shared_ptr<ServerStream>> streams;
  std::vector<std::shared_ptr<ServerStream>> rejected;

 private:
  Loop& loop_;
};

struct ResponseLog {
  std::vector<std::pair<std::string, Micros>> got;
  std::string error;
};

Task<void> do_request(Loop* loop, Link* link, std::string path, AbortSignal* abort,
                      ResponseLog* out) {
  HttpRequest request;
  request.method = "POST";
  request.path = path;
  request.body = "b";
  try {
    HttpResponse response = co_await link->request(request, abort);
    out->got.emplace_back(response.body, loop->now());
  } catch (const Aborted& e) {
    out->error = std::string("aborted: ") + e.what();
  }
}

TEST(Link, RequestResponseTakesUpPlusDownLatency) {
  Loop loop;
  FakeServer server(loop);
  Link link(loop, server, ms(10), ms(25));
  ResponseLog log;
  loop.spawn(do_request(&loop, &link, "/a", nullptr, &log), "client");
  ASSERT_TRUE(loop.run_until(kEpoch + kSeconds));
  ASSERT_EQ(server.arrivals.size(), 1u);
  EXPECT_EQ(server.arrivals[0].second, kEpoch + ms(10));
  ASSERT_EQ(log.got.size(), 1u);
  EXPECT_EQ(log.got[0].first, "re:/a:b");
  EXPECT_EQ(log.got[0].second, kEpoch + ms(35));
  EXPECT_EQ(link.stats().requests, 1u);

  // A server that answers later: the down latency starts when it responds.
  server.response_delay = ms(100);
  loop.spawn(do_request(&loop, &link, "/slow", nullptr, &log), "client2");
  ASSERT_TRUE(loop.run_until(kEpoch + 2 * kSeconds));
  ASSERT_EQ(log.got.size(), 2u);
  EXPECT_EQ(log.got[1].second, kEpoch + kSeconds + ms(135));
}

TEST(Link, AbortedRequestStillReachesTheServer) {
  Loop loop;
  FakeServer server(loop);
  Link link(loop, server, ms(10), ms(10));
  AbortSignal abort;
  ResponseLog log;
  loop.spawn(do_request(&loop, &link, "/x", &abort, &log), "client");
  loop.at(kEpoch + ms(5), [&] { abort.abort("user cancelled"); });
  ASSERT_TRUE(loop.run_until(kEpoch + kSeconds)) << loop.stop_reason().message;
  EXPECT_TRUE(log.got.empty());
  EXPECT_EQ(log.error, "aborted: user cancelled");
  ASSERT_EQ(server.arrivals.size(), 1u);
  EXPECT_EQ(server.arrivals[0].second, kEpoch + ms(10));
}

TEST(Link, UpDirectionStaysInOrderWhenLatencyIsLowered) {
  Loop loop;
  FakeServer server(loop);
  Link link(loop, server, ms(100), ms(1));
  ResponseLog log;
  loop.spawn(do_request(&loop, &link, "/first", nullptr, &log), "first");
  ASSERT_TRUE(loop.run_until(kEpoch));  // the first request is on the wire
  link.set_latency(ms(10), ms(1));
  loop.spawn(do_request(&loop, &link, "/second", nullptr, &log), "second");
  ASSERT_TRUE(loop.run_until(kEpoch + ms(50)));
  EXPECT_TRUE(server.arrivals.empty()) << "the second request may not overtake the first";
  ASSERT_TRUE(loop.run_until(kEpoch + kSeconds));
  const std::vector<std::pair<std::string, Micros>> want{{"/first", kEpoch + ms(100)},
                                                         {"/second", kEpoch + ms(100)}};
  EXPECT_EQ(server.arrivals, want);
  // Later sends use the new latency again once the queue has drained.
  loop.spawn(do_request(&loop, &link, "/third", nullptr, &log), "third");
  ASSERT_TRUE(loop.run_until(kEpoch + 2 * kSeconds));
  ASSERT_EQ(server.arrivals.size(), 3u);
  EXPECT_EQ(server.arrivals[2].second, kEpoch + kSeconds + ms(10));
}

struct StreamLog {
  int status = 0;
  std::string head_body;
  Micros opened_at = 0;
  bool has_stream = false;
  std::shared_ptr<ClientStream> client;
  std::vector<std::pair<std::string, Micros>> lines;
  std::optional<ClientStream::State> final_state;
  Micros final_at = 0;
  std::string error;
};

Task<void> read_stream(Loop* loop, Link* link, std::string path, StreamLog* out) {
  HttpRequest request;
  request.method = "POST";
  request.path = path;
  std::shared_ptr<ClientStream> stream;
  try {
    Link::StreamOpen open = co_await link->open_stream(request);
    out->status = open.head.status;
    out->head_body = open.head.body;
    out->opened_at = loop->now();
    out->has_stream = open.stream != nullptr;
    stream = open.stream;
  } catch (const NetworkError& e) {
    out->error = e.what();
    co_return;
  }
  if (!stream) co_return;
  out->client = stream;
  while (true) {
    while (stream->has_line()) out->lines.emplace_back(stream->take_line(), loop->now());
    if (stream->state() != ClientStream::State::Open) {
      out->final_state = stream->state();
      out->final_at = loop->now();
      co_return;
    }
    const std::optional<Micros> none;
    co_await wait_for(*loop, none, &stream->readable());
  }
}

Task<void> watch_closed(Loop* loop, std::shared_ptr<ServerStream> stream, Micros* closed_at) {
  const std::optional<Micros> none;
  while (!stream->closed()) co_await wait_for(*loop, none, &stream->closed_signal());
  *closed_at = loop->now();
}

TEST(Link, StreamLinesArriveInOrderAndEndIsSeen) {
  Loop loop;
  FakeServer server(loop);
  Link link(loop, server, ms(10), ms(20));
  StreamLog log;
  loop.spawn(read_stream(&loop, &link, "/stream", &log), "reader");
  ASSERT_TRUE(loop.run_until(kEpoch + ms(10)));
  ASSERT_EQ(server.streams.size(), 1u);
  auto stream = server.streams[0];
  EXPECT_EQ(link.open_streams(), 1u);
  stream->send("one");
  stream->send("two");
  ASSERT_TRUE(loop.run_until(kEpoch + ms(15)));
  stream->send("three");
  link.set_latency(ms(10), ms(1));  // lowered: "four" must still come after "three"
  stream->send("four");
  stream->end();
  stream->send("after end");  // dropped
  ASSERT_TRUE(loop.run_until(kEpoch + kSeconds));
  EXPECT_EQ(log.status, 200);
  EXPECT_TRUE(log.has_stream);
  EXPECT_EQ(log.opened_at, kEpoch + ms(30));
  const std::vector<std::pair<std::string, Micros>> want{{"one", kEpoch + ms(30)},
                                                         {"two", kEpoch + ms(30)},
                                                         {"three", kEpoch + ms(35)},
                                                         {"four", kEpoch + ms(35)}};
  EXPECT_EQ(log.lines, want);
  EXPECT_EQ(log.final_state, ClientStream::State::Ended);
  EXPECT_EQ(log.final_at, kEpoch + ms(35));
  EXPECT_TRUE(stream->closed());
  EXPECT_EQ(link.stats().lines_delivered, 4u);
  EXPECT_EQ(link.stats().streams_opened, 1u);
}

TEST(Link, JitterDelaysEachLineWithinItsBoundKeepsTheOrderAndRepeatsPerSeed) {
  // network.jitter_ms (docs/architecture.md §2): 0..max more per message, still in order.
  auto arrivals = [](uint64_t seed) {
    Loop loop;
    FakeServer server(loop);
    Link link(loop, server, ms(10), ms(20));
    link.set_jitter(ms(5), Prng(seed));
    StreamLog log;
    loop.spawn(read_stream(&loop, &link, "/stream", &log), "reader");
    EXPECT_TRUE(loop.run_until(kEpoch + ms(20)));
    EXPECT_EQ(server.streams.size(), 1u);
    for (int i = 0; i < 20; ++i) server.streams.at(0)->send(std::to_string(i));
    EXPECT_TRUE(loop.run_until(kEpoch + kSeconds));
    return log.lines;
  };
  const auto a = arrivals(7);
  ASSERT_EQ(a.size(), 20u);
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].first, std::to_string(i)) << "in order";
    EXPECT_GE(a[i].second, kEpoch + ms(20) + ms(20));
    EXPECT_LE(a[i].second, kEpoch + ms(20) + ms(20) + ms(5));
    if (i > 0) {
      EXPECT_GE(a[i].second, a[i - 1].second);
    }
  }
  EXPECT_EQ(arrivals(7), a) << "the same seed draws the same delays";
  EXPECT_NE(arrivals(8), a) << "the delays are drawn, not fixed";
}

TEST(Link, CutStreamsResetsTheClientClosesTheServerAndDropsLinesInFlight) {
  Loop loop;
  FakeServer server(loop);
  Link link(loop, server, ms(10), ms(50));
  StreamLog log;
  loop.spawn(read_stream(&loop, &link, "/stream", &log), "reader");
  ASSERT_TRUE(loop.run_until(kEpoch + ms(10)));
  ASSERT_EQ(server.streams.size(), 1u);
  auto stream = server.streams[0];
  Micros closed_at = 0;
  loop.spawn(watch_closed(&loop, stream, &closed_at), "server watcher");
  stream->send("delivered");  // arrives at 60 ms
  ASSERT_TRUE(loop.run_until(kEpoch + ms(100)));
  stream->send("in flight");  // would arrive at 150 ms
  ASSERT_TRUE(loop.run_until(kEpoch + ms(120)));
  EXPECT_FALSE(stream->closed());
  link.cut_streams();
  EXPECT_TRUE(stream->closed());
  EXPECT_EQ(link.open_streams(), 0u);
  stream->send("after cut");
  ASSERT_TRUE(loop.run_until(kEpoch + kSeconds));
  const std::vector<std::pair<std::string, Micros>> want{{"delivered", kEpoch + ms(60)}};
  EXPECT_EQ(log.lines, want);
  EXPECT_EQ(log.final_state, ClientStream::State::Reset);
  EXPECT_EQ(log.final_at, kEpoch + ms(120));
  EXPECT_EQ(closed_at, kEpoch + ms(120)) << "closed_signal must fire on a cut";
  EXPECT_EQ(link.stats().cuts, 1u);
  EXPECT_EQ(link.stats().lines_delivered, 1u);
}

TEST(Link, ClientCloseClosesTheServerSide) {
  Loop loop;
  FakeServer server(loop);
  Link link(loop, server, ms(10), ms(10));
  StreamLog log;
  loop.spawn(read_stream(&loop, &link, "/stream", &log), "reader");
  ASSERT_TRUE(loop.run_until(kEpoch + ms(20)));
  ASSERT_EQ(server.streams.size(), 1u);
  ASSERT_TRUE(log.client);
  auto stream = server.streams[0];
  Micros closed_at = 0;
  loop.spawn(watch_closed(&loop, stream, &closed_at), "server watcher");
  stream->send("in flight");
  ASSERT_TRUE(loop.run_until(kEpoch + ms(25)));
  log.client->close();
  EXPECT_EQ(log.client->state(), ClientStream::State::Closed);
  EXPECT_TRUE(stream->closed());
  ASSERT_TRUE(loop.run_until(kEpoch + kSeconds));
  EXPECT_EQ(closed_at, kEpoch + ms(25));
  EXPECT_TRUE(log.lines.empty()) << "a line arriving after close is dropped";
  EXPECT_EQ(link.open_streams(), 0u);
  log.client->close();  // idempotent
  EXPECT_EQ(log.client->state(), ClientStream::State::Closed);
}

TEST(Link, RejectedStreamYieldsNoStream) {
  Loop loop;
  FakeServer server(loop);
  Link link(loop, server, ms(10), ms(10));
  StreamLog log;
  loop.spawn(read_stream(&loop, &link, "/forbidden", &log), "reader");
  ASSERT_TRUE(loop.run_until(kEpoch + kSeconds));
  EXPECT_EQ(log.status, 403);
  EXPECT_EQ(log.head_body, "nope");
  EXPECT_FALSE(log.has_stream);
  EXPECT_EQ(log.opened_at, kEpoch + ms(20));
  ASSERT_EQ(server.rejected.size(), 1u);
  EXPECT_TRUE(server.rejected[0]->closed());
  EXPECT_EQ(link.open_streams(), 0u);
}

TEST(Link, CutWhileOpeningFailsTheOpen) {
  Loop loop;
  FakeServer server(loop);
  Link link(loop, server, ms(10), ms(10));
  StreamLog before_arrival;
  loop.spawn(read_stream(&loop, &link, "/stream", &before_arrival), "reader1");
  ASSERT_TRUE(loop.run_until(kEpoch + ms(5)));
  link.cut_streams();
  ASSERT_TRUE(loop.run_until(kEpoch + ms(100)));
  EXPECT_NE(before_arrival.error.find("reset"), std::string::npos) << before_arrival.error;
  EXPECT_TRUE(server.arrivals.empty()) << "a cut connection never reaches the server";

  StreamLog after_arrival;  // accepted by the server, head still on its way back
  loop.spawn(read_stream(&loop, &link, "/stream", &after_arrival), "reader2");
  ASSERT_TRUE(loop.run_until(kEpoch + ms(115)));
  ASSERT_EQ(server.streams.size(), 1u);
  link.cut_streams();
  ASSERT_TRUE(loop.run_until(kEpoch + kSeconds));
  EXPECT_NE(after_arrival.error.find("reset"), std::string::npos) << after_arrival.error;
  EXPECT_FALSE(after_arrival.has_stream);
  EXPECT_TRUE(server.streams[0]->closed());
  EXPECT_FALSE(loop.stopped());
}

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
