// The invariant catalog (docs/invariants.md §1): every checker has an id, a one-line statement,
// the place it is checked, and the mutant or injected fault that shows it can fail.
// sim/ provides the registry; model/, engine/ and scenarios/ register their own.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "sim/clock.hpp"

namespace syncsim::sim {

class Trace;

struct InvariantInfo {
  std::string id;
  std::string statement;
  std::string checked_where;
  std::string shown_by;  // the mutant or fault whose detection a test asserts
  bool liveness = false;
};

class InvariantCatalog {
 public:
  void add(InvariantInfo info);
  [[nodiscard]] const InvariantInfo* find(const std::string& id) const;
  [[nodiscard]] std::vector<std::string> ids() const;  // sorted
  [[nodiscard]] const std::map<std::string, InvariantInfo>& all() const { return by_id_; }

 private:
  std::map<std::string, InvariantInfo> by_id_;
};

// What a violated invariant compared (issue 18): a value, where it came from, and the trace
// line at which that source was logged (0: not a trace line of its own).
struct ViolationInput {
  std::string name, value, source;
  uint64_t line = 0;
};

// One step of the causal chain that led to a violation, oldest first, with its trace line.
struct CauseStep {
  std::string what;
  uint64_t line = 0;
};

struct Violation {
  std::string invariant;
  Micros at = 0;        // µs since the start of the run
  std::string subject;  // "client 2", "service", ...
  std::string message;
  std::vector<ViolationInput> inputs{};  // empty: the checker gives none beyond its message
  std::vector<CauseStep> chain{};
};

// The inputs and the chain as trace lines ("INPUT ..." and "CAUSE i/n ..."), logged right
// after the VIOLATION line, so a trace alone explains the failure.
void log_explanation(Trace& trace, const Violation& v);

// Per-run bookkeeping: which invariants are enabled, how often each was checked, and the
// first violation (a run stops at its first violation).
class Verdicts {
 public:
  explicit Verdicts(std::vector<std::string> enabled);
  // By string_view: the checkers ask with literals on every control call (issue 20), so no
  // std::string is built per question, and one hash lookup answers it.
  [[nodiscard]] bool enabled(std::string_view id) const {
    auto it = slots_.find(id);
    return it != slots_.end() && it->second.enabled;
  }
  void checked(std::string_view id) {
    auto it = slots_.find(id);
    if (it == slots_.end()) it = slots_.emplace(std::string(id), Slot{}).first;
    ++it->second.checks;
  }
  void violate(Violation v);
  [[nodiscard]] const std::optional<Violation>& first() const { return first_; }
  // Every enabled id and every id checked at least once -> how often it was checked.
  [[nodiscard]] const std::map<std::string, uint64_t>& checks() const;
  [[nodiscard]] const std::vector<std::string>& enabled_ids() const { return enabled_; }

 private:
  struct Slot {
    bool enabled = false;
    uint64_t checks = 0;
  };
  struct IdHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view id) const { return std::hash<std::string_view>{}(id); }
  };
  std::vector<std::string> enabled_;  // sorted
  std::unordered_map<std::string, Slot, IdHash, std::equal_to<>> slots_;
  mutable std::map<std::string, uint64_t> checks_;  // checks()'s view, rebuilt on each call
  std::optional<Violation> first_;
};

}  // namespace syncsim::sim
