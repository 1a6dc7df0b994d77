#include "sim/loop.hpp"

#include <fmt/format.h>

#include <cassert>
#include <memory>

namespace syncsim::sim {

// One thread drives a loop's io_context, so Asio's scheduler needs no mutex (issue 20 (a)).
Loop::Loop(Bounds bounds)
    : io_(BOOST_ASIO_CONCURRENCY_HINT_UNSAFE),
      work_(asio::make_work_guard(io_)),
      bounds_(bounds),
      wall_start_(std::chrono::steady_clock::now()) {}

Loop::~Loop() { shutdown(); }

TimerId Loop::at(Micros deadline, TimerCallback fn) {
  if (deadline < now()) deadline = now();
  TimerId id{deadline, next_seq_++};
  timers_.emplace(id, std::move(fn));
  return id;
}

Task<void> Loop::sleep_for(Micros delay) {
  co_await asio::async_initiate<decltype(asio::use_awaitable), void()>(
      // The handler is move-only: the timer keeps it as it is (sim/timer_callback.hpp).
      [this, delay](auto handler) { after(delay, std::move(handler)); }, asio::use_awaitable);
}

void Loop::track(const std::shared_ptr<Suspension>& s) {
  assert(!s->tracked_);
  s->tracked_ = suspended_.insert(suspended_.end(), s);
}

void Loop::untrack(Suspension& s) {
  if (!s.tracked_) return;
  suspended_.erase(*s.tracked_);
  s.tracked_.reset();
}

void Loop::spawn(Task<void> task, std::string name) {
  asio::co_spawn(io_, std::move(task), [this, name = std::move(name)](const std::exception_ptr& e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      stop(StopKind::Crash, fmt::format("coroutine '{}' threw: {}", name, ex.what()));
    } catch (...) {
      stop(StopKind::Crash, fmt::format("coroutine '{}' threw a non-standard exception", name));
    }
  });
}

void Loop::stop(StopKind kind, std::string message) {
  if (stopped()) return;  // the first reason is the one that matters
  reason_ = StopReason{kind, std::move(message)};
}

bool Loop::check_bounds() {
  if (events_ > bounds_.max_events) {
    stop(StopKind::Bound, fmt::format("event cap of {} events reached", bounds_.max_events));
  } else if (clock_.elapsed() > bounds_.max_virtual_time) {
    stop(StopKind::Bound,
         fmt::format("virtual-time cap of {} s reached", bounds_.max_virtual_time / kSeconds));
  } else if (events_at_this_time_ > bounds_.max_events_without_time_advancing) {
    stop(StopKind::Bound,
         fmt::format("time stopped advancing: {} events at t={} us without progress",
                     events_at_this_time_, clock_.elapsed()));
  } else if ((events_ & 0xfff) == 0) {
    auto wall = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::steady_clock::now() - wall_start_)
                    .count();
    if (wall > bounds_.wall_clock_limit_ms) {
      stop(StopKind::Bound, fmt::format("wall-clock watchdog: {} ms", wall));
    }
  }
  return !stopped();
}

bool Loop::run_until(Micros until) {
  while (!stopped()) {
    // Run everything that is ready now, one handler at a time so bounds are checked.
    while (!stopped() && io_.poll_one() > 0) {
      if (now() != last_event_time_) {  // time moved (also between run_until calls)
        last_event_time_ = now();
        events_at_this_time_ = 0;
      }
      ++events_;
      ++events_at_this_time_;
      check_bounds();
    }
    if (stopped()) break;
    if (timers_.empty() || timers_.begin()->first.deadline > until) {
      if (until > now()) clock_.advance_to(until);
      return true;
    }
    auto node = timers_.extract(timers_.begin());
    if (node.key().deadline != last_event_time_) {
      last_event_time_ = node.key().deadline;
      events_at_this_time_ = 0;
    }
    clock_.advance_to(node.key().deadline);
    asio::post(io_, std::move(node.mapped()));
  }
  return false;
}

void Loop::add_pending_reporter(std::string name, std::function<std::string()> report) {
  reporters_.emplace_back(std::move(name), std::move(report));
}

std::string Loop::pending() const {
  std::string out;
  for (const auto& [name, report] : reporters_) {
    out += fmt::format("  {}: {}\n", name, report());
  }
  if (out.empty()) out = "  (no component reported)\n";
  return out;
}

void Loop::shutdown() {
  reporters_.clear();
  // Destroying a suspended awaitable posts its unwinding to the executor; run those now.
  // Unwinding one frame can release (or, in a destructor, start) other waits, so repeat
  // until no timer, no suspension and no handler is left.
  io_.restart();
  for (;;) {
    timers_.clear();
    while (io_.poll() > 0) {
    }
    if (suspended_.empty() && timers_.empty()) break;
    if (suspended_.empty()) continue;
    // A suspension untracks itself when destroyed, so every tracked one is alive.
    std::shared_ptr<Suspension> s = suspended_.front().lock();
    assert(s);
    untrack(*s);
    s->abandon();
  }
  assert(suspended_.empty() && timers_.empty());
}

}  // namespace syncsim::sim
