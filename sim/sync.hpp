// The few coroutine primitives the SDK shim needs (docs/architecture.md §2): Asio 1.74 has no
// channels, no awaitable ||/&& and no cancellation slots.
//
//  - Signal: something a coroutine can wait on.  A Notifier wakes the current waiters
//    (JS "notify"); an AbortSignal is sticky (JS AbortController).
//  - wait_any(): the race primitive: wait for the first of several signals and/or a
//    deadline; the losers are disarmed.
//  - Queue<T>: an unbounded FIFO channel.
//  - Latch<T>: a one-shot result (a JS promise that others can await).
#pragma once

#include <deque>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "sim/loop.hpp"

namespace syncsim::sim {

namespace detail {
// One pending wait; fired at most once by whichever source comes first (or abandoned by
// the loop's shutdown).
class Wake : public Suspension {
 public:
  virtual void fire(int which) = 0;
  [[nodiscard]] bool done() const { return done_; }

 protected:
  bool done_ = false;
};
}  // namespace detail

class Signal {
 public:
  Signal() = default;
  Signal(const Signal&) = delete;
  Signal& operator=(const Signal&) = delete;
  virtual ~Signal() = default;

  // Sticky signals (aborts, latches) stay set: waiting on a set signal returns at once.
  [[nodiscard]] virtual bool is_set() const { return false; }

  void add_waiter(std::shared_ptr<detail::Wake> wake, int which);
  // Whether a wait is still armed on this signal (one that another source already won is
  // not): a wake now would reach someone.
  [[nodiscard]] bool has_waiters() const;

 protected:
  void wake_all();

 private:
  std::vector<std::pair<std::shared_ptr<detail::Wake>, int>> waiters_;
  std::size_t prune_at_ = 16;
};

class Notifier : public Signal {
 public:
  void notify() { wake_all(); }
};

class AbortSignal : public Signal {
 public:
  [[nodiscard]] bool is_set() const override { return aborted_; }
  [[nodiscard]] bool aborted() const { return aborted_; }
  [[nodiscard]] const std::string& reason() const { return reason_; }
  void abort(std::string reason) {
    if (aborted_) return;
    aborted_ = true;
    reason_ = std::move(reason);
    wake_all();
  }

 private:
  bool aborted_ = false;
  std::string reason_;
};

// Thrown into a coroutine whose wait was aborted; carries the abort reason like JS.
class Aborted : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

constexpr int kTimedOut = -1;

// Waits until one of `signals` wakes (returns its index) or `deadline` passes (returns
// kTimedOut).  A null entry is ignored; no deadline: pass std::nullopt.
Task<int> wait_any(Loop& loop, std::vector<Signal*> signals, std::optional<Micros> deadline);

// wait_any with the signals as arguments.  Call sites must not build the vector with a
// braced list inside a co_await expression: g++ 12 miscompiles that ("array used as
// initializer"), so the vector is built here, outside any coroutine.
template <typename... S>
Task<int> wait_for(Loop& loop, std::optional<Micros> deadline, S... signals) {
  return wait_any(loop, std::vector<Signal*>{static_cast<Signal*>(signals)...}, deadline);
}

template <typename T>
class Queue {
 public:
  void push(T value) {
    items_.push_back(std::move(value));
    ready_.notify();
  }
  [[nodiscard]] bool empty() const { return items_.empty(); }
  [[nodiscard]] std::size_t size() const { return items_.size(); }
  T pop_now() {
    T v = std::move(items_.front());
    items_.pop_front();
    return v;
  }
  void clear() { items_.clear(); }
  Notifier& ready() { return ready_; }

  // Pops the next item; std::nullopt if `abort` fires first.
  Task<std::optional<T>> pop(Loop& loop, AbortSignal* abort) {
    while (items_.empty()) {
      if (abort && abort->aborted()) co_return std::nullopt;
      int which = co_await wait_for(loop, std::nullopt, &ready_, abort);
      if (which == 1) co_return std::nullopt;
    }
    co_return pop_now();
  }

 private:
  std::deque<T> items_;
  Notifier ready_;
};

// A one-shot result that several coroutines can await (a settled JS promise).
template <typename T>
class Latch : public Signal {
 public:
  [[nodiscard]] bool is_set() const override { return settled_; }
  void resolve(T value) {
    if (settled_) return;
    value_ = std::move(value);
    settled_ = true;
    wake_all();
  }
  void reject(std::string error) {
    if (settled_) return;
    error_ = std::move(error);
    settled_ = true;
    wake_all();
  }
  [[nodiscard]] bool settled() const { return settled_; }
  [[nodiscard]] bool ok() const { return settled_ && value_.has_value(); }
  [[nodiscard]] const std::optional<T>& value() const { return value_; }
  [[nodiscard]] const std::string& error() const { return error_; }

 private:
  bool settled_ = false;
  std::optional<T> value_;
  std::string error_;
};

}  // namespace syncsim::sim
