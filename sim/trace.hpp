// The trace: one line per event, "<µs since start> <component> <text>", folded into a
// running FNV-1a hash.  The hash is the determinism fingerprint of a run; lines are only
// kept (file or ring buffer) when asked for, so a sweep pays for hashing only.
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <deque>
#include <ostream>
#include <string>
#include <string_view>

#include "sim/clock.hpp"

namespace syncsim::sim {

class Trace {
 public:
  explicit Trace(const VirtualClock& clock) : clock_(clock) {}

  void set_sink(std::ostream* sink) { sink_ = sink; }
  // Keep the last `n` lines in memory (failure context, determinism diffs).
  void keep_last(std::size_t n) { keep_ = n; }

  template <typename... Args>
  void log(std::string_view component, fmt::format_string<Args...> format, Args&&... args) {
    buffer_.clear();
    // The "<µs> <component> " prefix by hand: the same bytes as "{} {} " without parsing a
    // format string on every line (issue 20).
    const fmt::format_int micros(clock_.elapsed());
    buffer_.append(micros.data(), micros.data() + micros.size());
    buffer_.push_back(' ');
    buffer_.append(component.data(), component.data() + component.size());
    buffer_.push_back(' ');
    fmt::format_to(std::back_inserter(buffer_), format, std::forward<Args>(args)...);
    buffer_.push_back('\n');
    commit();
  }

  [[nodiscard]] uint64_t hash() const { return hash_; }
  [[nodiscard]] uint64_t lines() const { return lines_; }
  [[nodiscard]] const std::deque<std::string>& recent() const { return recent_; }
  [[nodiscard]] std::string hash_hex() const { return fmt::format("{:016x}", hash_); }

 private:
  void commit();

  const VirtualClock& clock_;
  std::ostream* sink_ = nullptr;
  std::size_t keep_ = 0;
  std::deque<std::string> recent_;
  fmt::memory_buffer buffer_;
  uint64_t hash_ = 0xcbf29ce484222325ULL;
  uint64_t lines_ = 0;
};

}  // namespace syncsim::sim
