// Unit tests of the simulation kernel's Loop (sim/loop.hpp): timers, virtual time, crashes,
// bounds, pending reporters, and ownership of suspended coroutines at shutdown.
//
// g++ 12 coroutine rules followed here: no braced-init lists or aggregate temporaries
// inside a co_await expression (requests and deadlines are built as named locals first),
// no moving init-captures of coroutine parameters; coroutines are free functions taking
// their parameters by value or pointer.
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "sim/clock.hpp"
#include "sim/loop.hpp"
#include "sim/sync.hpp"
#include "tests/support/sim_kernel_helpers.hpp"

namespace syncsim::sim {
namespace {

using test_support::ms;

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

// The timer's callable (sim/timer_callback.hpp) is move-only, inline up to 48 bytes, on the heap
// beyond: both kinds run once at their deadline and are destroyed (with what they capture) when
// they ran or are cancelled, not later.
TEST(Loop, TimerCallablesAreMoveOnlyAndFreedWhenRunOrCancelled) {
  Loop loop;
  std::vector<int> ran;
  auto small_owned = std::make_unique<int>(1);
  auto small_watch = std::make_shared<int>(0);
  std::array<int64_t, 16> big{};
  big[15] = 2;
  auto big_watch = std::make_shared<int>(0);
  loop.after(ms(10),
             [&ran, owned = std::move(small_owned), small_watch] { ran.push_back(*owned); });
  loop.after(ms(20), [&ran, big, big_watch] { ran.push_back(static_cast<int>(big[15])); });
  auto cancelled_watch = std::make_shared<int>(0);
  const TimerId doomed = loop.after(ms(30), [&ran, big, cancelled_watch] { ran.push_back(3); });
  EXPECT_EQ(small_watch.use_count(), 2);
  EXPECT_EQ(big_watch.use_count(), 2);
  EXPECT_EQ(cancelled_watch.use_count(), 2);
  loop.cancel(doomed);
  EXPECT_EQ(cancelled_watch.use_count(), 1);  // the cancelled callable is gone at once
  ASSERT_TRUE(loop.run_until(kEpoch + kSeconds));
  EXPECT_EQ(ran, (std::vector<int>{1, 2}));
  EXPECT_EQ(small_watch.use_count(), 1);  // ran, then destroyed
  EXPECT_EQ(big_watch.use_count(), 1);
}

TEST(Loop, TimerCallbackMovesItsCallableAndLeavesTheSourceEmpty) {
  int calls = 0;
  TimerCallback a([&calls] { ++calls; });
  EXPECT_TRUE(static_cast<bool>(a));
  TimerCallback b(std::move(a));
  EXPECT_FALSE(static_cast<bool>(a));  // NOLINT(bugprone-use-after-move): checked on purpose
  b();
  std::array<int64_t, 16> big{};
  big[0] = 5;
  TimerCallback c([&calls, big] { calls += static_cast<int>(big[0]); });
  b = std::move(c);
  EXPECT_FALSE(static_cast<bool>(c));  // NOLINT(bugprone-use-after-move): checked on purpose
  b();
  EXPECT_EQ(calls, 6);
}

Task<void> sleep_holding(Loop* loop, [[maybe_unused]] std::shared_ptr<int> held, int* resumed) {
  co_await loop->sleep_for(kSeconds * 3600);
  ++*resumed;
}

// A coroutine asleep at shutdown is destroyed, never resumed: its handler lives in the timer.
TEST(Loop, ShutdownDestroysCoroutinesAsleepOnATimer) {
  int resumed = 0;
  auto held = std::make_shared<int>(0);
  Loop loop;
  loop.spawn(sleep_holding(&loop, held, &resumed), "sleeper");
  ASSERT_TRUE(loop.run_until(kEpoch + kSeconds));
  EXPECT_EQ(held.use_count(), 2);  // the sleeping frame holds it
  loop.shutdown();
  EXPECT_EQ(held.use_count(), 1);
  EXPECT_EQ(resumed, 0);
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

}  // namespace
}  // namespace syncsim::sim
