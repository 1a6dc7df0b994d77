// The invariant catalog (docs/invariants.md §1): every checker has an id, a one-line statement,
// the place it is checked, and the mutant or injected fault that shows it can fail.
// sim/ provides the registry; model/, engine/ and scenarios/ register their own.
#pragma once

#include <map>
#include <optional>
#include <string>
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
  [[nodiscard]] bool enabled(const std::string& id) const;
  void checked(const std::string& id) { ++checks_[id]; }
  void violate(Violation v);
  [[nodiscard]] const std::optional<Violation>& first() const { return first_; }
  [[nodiscard]] const std::map<std::string, uint64_t>& checks() const { return checks_; }
  [[nodiscard]] const std::vector<std::string>& enabled_ids() const { return enabled_; }

 private:
  std::vector<std::string> enabled_;
  std::map<std::string, uint64_t> checks_;
  std::optional<Violation> first_;
};

}  // namespace syncsim::sim
