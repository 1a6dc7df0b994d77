// What a loop timer runs (docs/architecture.md §2): a move-only `void()` callable, kept inline
// when small.  A coroutine's completion handler is move-only, so with std::function every
// `Loop::sleep_for` wrapped it in a shared_ptr, and captures over 16 bytes (a link's delivery
// lambdas) went to the heap; here both sit in the timer's own storage (issue 20 (a)).
#pragma once

#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>

namespace syncsim::sim {

class TimerCallback {
 public:
  TimerCallback() = default;

  template <typename F,
            typename = std::enable_if_t<!std::is_same_v<std::decay_t<F>, TimerCallback>>>
  TimerCallback(
      F&& fn) {  // NOLINT(google-explicit-constructor): lambdas convert, as to std::function
    using Fn = std::decay_t<F>;
    if constexpr (fits_inline<Fn>()) {
      ::new (static_cast<void*>(storage_)) Fn(std::forward<F>(fn));
      ops_ = &kInlineOps<Fn>;
    } else {
      ::new (static_cast<void*>(storage_)) Fn*(new Fn(std::forward<F>(fn)));
      ops_ = &kHeapOps<Fn>;
    }
  }

  TimerCallback(TimerCallback&& other) noexcept : ops_(other.ops_) {
    if (ops_ != nullptr) ops_->relocate(storage_, other.storage_);
    other.ops_ = nullptr;
  }
  TimerCallback& operator=(TimerCallback&& other) noexcept {
    if (this != &other) {
      reset();
      ops_ = other.ops_;
      if (ops_ != nullptr) ops_->relocate(storage_, other.storage_);
      other.ops_ = nullptr;
    }
    return *this;
  }
  TimerCallback(const TimerCallback&) = delete;
  TimerCallback& operator=(const TimerCallback&) = delete;
  ~TimerCallback() { reset(); }

  explicit operator bool() const { return ops_ != nullptr; }
  void operator()() { ops_->invoke(storage_); }

 private:
  static constexpr std::size_t kInlineSize = 48;

  struct Ops {
    void (*invoke)(void*);
    void (*relocate)(void* to, void* from);  // move-constructs into `to`, destroys `from`
    void (*destroy)(void*);
  };

  template <typename Fn>
  static constexpr bool fits_inline() {
    // Constant for each Fn, which clang-tidy's check reads as redundant.
    // NOLINTNEXTLINE(misc-redundant-expression)
    return sizeof(Fn) <= kInlineSize && alignof(Fn) <= alignof(std::max_align_t) &&
           std::is_nothrow_move_constructible_v<Fn>;
  }

  template <typename Fn>
  static constexpr Ops kInlineOps = {
      [](void* p) { (*static_cast<Fn*>(p))(); },
      [](void* to, void* from) {
        ::new (to) Fn(std::move(*static_cast<Fn*>(from)));
        static_cast<Fn*>(from)->~Fn();
      },
      [](void* p) { static_cast<Fn*>(p)->~Fn(); },
  };

  template <typename Fn>
  static constexpr Ops kHeapOps = {
      [](void* p) { (**static_cast<Fn**>(p))(); },
      [](void* to, void* from) { ::new (to) Fn*(*static_cast<Fn**>(from)); },
      [](void* p) { delete *static_cast<Fn**>(p); },
  };

  void reset() {
    if (ops_ == nullptr) return;
    const Ops* ops = ops_;
    ops_ = nullptr;
    ops->destroy(storage_);
  }

  alignas(std::max_align_t) unsigned char storage_[kInlineSize];
  const Ops* ops_ = nullptr;
};

}  // namespace syncsim::sim
