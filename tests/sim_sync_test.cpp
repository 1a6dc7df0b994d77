// Unit tests of the simulation kernel's coroutine primitives (sim/sync.hpp): wait_for,
// Notifier, AbortSignal, Latch and Queue.
//
// g++ 12 coroutine rules followed here: no braced-init lists or aggregate temporaries
// inside a co_await expression (requests and deadlines are built as named locals first),
// no moving init-captures of coroutine parameters; coroutines are free functions taking
// their parameters by value or pointer.
#include <gtest/gtest.h>
#include <malloc.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sim/clock.hpp"
#include "sim/loop.hpp"
#include "sim/sync.hpp"
#include "tests/support/sim_kernel_helpers.hpp"

namespace syncsim::sim {
namespace {

using test_support::ms;

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

}  // namespace
}  // namespace syncsim::sim
