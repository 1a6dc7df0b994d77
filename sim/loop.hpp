// The simulation kernel: one io_context, one thread, virtual time (docs/architecture.md §2).
//
// Asio 1.74 does not expose its timer queue, so the loop keeps its own deadline registry
// ordered by (deadline, sequence number) and never uses Asio timers: when no handler is
// ready it jumps the clock to the earliest deadline and posts that one handler.  Equal
// deadlines therefore run in registration order, never in Asio heap order.
#pragma once

// clang-format off
#include <utility>  // before boost/asio.hpp under C++20 (docs/architecture.md §2)
#include <boost/asio.hpp>
// clang-format on

#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sim/clock.hpp"
#include "sim/timer_callback.hpp"

namespace syncsim::sim {

namespace asio = boost::asio;
template <typename T>
using Task = asio::awaitable<T>;

// Every run is bounded; a tripped bound ends the run with an explanation.
struct Bounds {
  uint64_t max_events = 50'000'000;
  Micros max_virtual_time = 30LL * 24 * 3600 * kSeconds;
  uint64_t max_events_without_time_advancing = 2'000'000;
  int64_t wall_clock_limit_ms = 10 * 60 * 1000;  // the one place real time is read
};

enum class StopKind { None, Finished, Failure, Bound, Crash };

struct StopReason {
  StopKind kind = StopKind::None;
  std::string message;
};

struct TimerId {
  Micros deadline = 0;
  uint64_t seq = 0;
  friend auto operator<=>(const TimerId&, const TimerId&) = default;
};

// A coroutine suspended on something other than a loop timer (a Signal).  Its frames are
// owned by its completion handler, which the signal holds; that signal often lives in an
// object the frame itself keeps alive (a shared_ptr cycle).  The loop therefore tracks
// every suspension and abandons the ones still pending at shutdown.
class Suspension {
 public:
  Suspension() = default;
  Suspension(const Suspension&) = delete;
  Suspension& operator=(const Suspension&) = delete;
  virtual ~Suspension() = default;

  // Drops the completion handler without running it: the suspended frames are destroyed
  // (Asio posts their unwinding to the executor).
  virtual void abandon() = 0;

 private:
  friend class Loop;
  std::optional<std::list<std::weak_ptr<Suspension>>::iterator> tracked_;
};

class Loop {
 public:
  explicit Loop(Bounds bounds = {});
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;
  ~Loop();

  asio::io_context& io() { return io_; }
  VirtualClock& clock() { return clock_; }
  [[nodiscard]] Micros now() const { return clock_.now(); }
  [[nodiscard]] uint64_t events() const { return events_; }

  // Runs `fn` (posted into the io_context) when virtual time reaches `deadline`.
  TimerId at(Micros deadline, TimerCallback fn);
  TimerId after(Micros delay, TimerCallback fn) { return at(now() + delay, std::move(fn)); }
  void cancel(TimerId id) { timers_.erase(id); }

  Task<void> sleep_for(Micros delay);

  // Registers a pending suspension (weakly: whoever holds it still decides its life during
  // the run); untrack() when it completes or dies.  shutdown() abandons the rest.
  void track(const std::shared_ptr<Suspension>& s);
  void untrack(Suspension& s);
  [[nodiscard]] std::size_t suspended() const { return suspended_.size(); }

  // Starts a coroutine.  An exception escaping it stops the run as a crash (a violated
  // assumption must stop the run, with the seed printed by the caller).
  void spawn(Task<void> task, std::string name);

  // Runs until virtual time `until` (all events with deadline <= until), until stopped, or
  // until nothing is left to do.  Returns false if the run was stopped.
  bool run_until(Micros until);

  void stop(StopKind kind, std::string message);
  [[nodiscard]] bool stopped() const { return reason_.kind != StopKind::None; }
  [[nodiscard]] const StopReason& stop_reason() const { return reason_; }

  // What each component is waiting for; printed when a bound trips or liveness fails.
  void add_pending_reporter(std::string name, std::function<std::string()> report);
  [[nodiscard]] std::string pending() const;

  // Destroys every suspended coroutine (timer waits and tracked suspensions) while the
  // objects they refer to are still alive.
  void shutdown();

 private:
  bool check_bounds();

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  VirtualClock clock_;
  Bounds bounds_;
  std::map<TimerId, TimerCallback> timers_;
  std::list<std::weak_ptr<Suspension>> suspended_;  // in registration order
  uint64_t next_seq_ = 0;
  uint64_t events_ = 0;
  uint64_t events_at_this_time_ = 0;
  Micros last_event_time_ = 0;
  std::chrono::steady_clock::time_point wall_start_;
  StopReason reason_;
  std::vector<std::pair<std::string, std::function<std::string()>>> reporters_;
};

}  // namespace syncsim::sim
