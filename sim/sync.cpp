#include "sim/sync.hpp"

#include <algorithm>

namespace syncsim::sim {

void Signal::add_waiter(std::shared_ptr<detail::Wake> wake, int which) {
  // Waits that another source already won leave entries behind; prune them now and then
  // so a long-lived signal (an outer abort) does not grow without bound.
  if (waiters_.size() >= prune_at_) {
    std::erase_if(waiters_, [](const auto& w) { return w.first->done(); });
    prune_at_ = std::max<std::size_t>(16, waiters_.size() * 2);
  }
  waiters_.emplace_back(std::move(wake), which);
}

bool Signal::has_waiters() const {
  return std::any_of(waiters_.begin(), waiters_.end(),
                     [](const auto& w) { return !w.first->done(); });
}

void Signal::wake_all() {
  auto waiters = std::move(waiters_);
  waiters_.clear();
  for (auto& [wake, which] : waiters) wake->fire(which);
}

namespace {
template <typename Handler>
class WakeImpl : public detail::Wake {
 public:
  WakeImpl(Loop& loop, Handler handler) : loop_(loop), handler_(std::move(handler)) {}
  ~WakeImpl() override { loop_.untrack(*this); }
  void fire(int which) override {
    if (done_) return;
    done_ = true;
    loop_.untrack(*this);
    if (timer_) loop_.cancel(*timer_);
    // Resume through the executor, never inline from inside another handler.
    asio::post(loop_.io(), [h = std::move(*handler_), which]() mutable { h(which); });
    handler_.reset();
  }
  void abandon() override {
    if (done_) return;
    done_ = true;
    if (timer_) loop_.cancel(*timer_);
    // Destroying the handler destroys the suspended frames (unwound through the executor).
    std::optional<Handler> dropped = std::move(handler_);
    handler_.reset();
  }
  std::optional<TimerId> timer_;

 private:
  Loop& loop_;
  std::optional<Handler> handler_;
};
}  // namespace

Task<int> wait_any(Loop& loop, std::vector<Signal*> signals, std::optional<Micros> deadline) {
  const bool any_signal =
      std::any_of(signals.begin(), signals.end(), [](Signal* sig) { return sig != nullptr; });
  if (!any_signal && !deadline) {
    // Thrown from the coroutine body so the run stops as a Crash (a throw inside
    // async_initiate would terminate the process).
    throw std::logic_error("wait_any with nothing to wait for would never return");
  }
  for (std::size_t i = 0; i < signals.size(); ++i) {
    if (signals[i] && signals[i]->is_set()) co_return static_cast<int>(i);
  }
  co_return co_await asio::async_initiate<decltype(asio::use_awaitable), void(int)>(
      [&loop, &signals, deadline](auto handler) {
        using H = decltype(handler);
        auto wake = std::make_shared<WakeImpl<H>>(loop, std::move(handler));
        loop.track(wake);
        for (std::size_t i = 0; i < signals.size(); ++i) {
          if (signals[i]) signals[i]->add_waiter(wake, static_cast<int>(i));
        }
        if (deadline) {
          // The timer owns the wait strongly: a deadline-only wait has no other owner.
          wake->timer_ = loop.at(*deadline, [wake] { wake->fire(kTimedOut); });
        }
      },
      asio::use_awaitable);
}

}  // namespace syncsim::sim
