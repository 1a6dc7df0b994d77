// A service-side line fault (issue 14 §1): the model's sync stream sends an adversarial
// line sequence, as a buggy service would.  Armed by a `line_fault` fault for one client's
// connection; fires once, on the first eligible line of that key's stream:
//   data_after_complete     - the next data line is sent again after the next
//                             checkpoint_complete (data outside any checkpoint)
//   duplicate_line          - the next data line is sent twice
//   out_of_order            - the next data line is held and sent after the line after it
//   corrupt_checksum        - the next checkpoint / checkpoint_diff line carries a wrong
//                             checksum for its first bucket
//   lower_write_checkpoint  - the next checkpoint / checkpoint_diff line carries a
//                             write_checkpoint one below the highest already sent on the key
// Each kind exempts the invariants it breaks by construction and keeps its pass criterion:
// the client notices (a checksum failure, a re-sync) or recovers, and converges after heal
// (line_fault_rules(); docs/invariants.md §2 "Line faults").
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace syncsim::model {

struct LineFaultRule {
  std::string kind;
  std::vector<std::string> exempts;  // invariant ids
  std::string pass;                  // the kind's own pass criterion
};
// Every kind, in the order above.
const std::vector<LineFaultRule>& line_fault_rules();
const LineFaultRule* find_line_fault(const std::string& kind);
std::vector<std::string> line_fault_kinds();

class LineFaultInjector {
 public:
  // Arms `kind` (a line_fault_kinds() name) for the connections of `key`.
  void arm(const std::string& kind, const std::string& key);
  // Quiesce: armed faults that have not fired never fire; a held line is dropped (its
  // connection's later checkpoints resend what matters).  Returns the keys a
  // lower_write_checkpoint fired on: their connections believe the real id went out and will
  // not send it again, so the heal ends those streams (the reconnect's first checkpoint
  // carries the real write_checkpoint; world hunt seed 73).
  std::set<std::string> disarm();
  // The lines to send in place of `line` on a connection of `key`: {line} unless a fault
  // fires.  Cheap when nothing is armed for the key beyond a write_checkpoint read.
  std::vector<nlohmann::json> rewrite(const std::string& key, const nlohmann::json& line);
  // Whether rewrite() must see `line`: a fault is armed for the key, or it is a checkpoint
  // line (its write_checkpoint is tracked).  Other lines go out untouched and uncopied.
  [[nodiscard]] bool intercepts(const std::string& key, const nlohmann::json& line) const;
  [[nodiscard]] uint64_t fired() const { return fired_; }
  // Whether a fault is armed for the key.  When none is, a line goes out unchanged, and a
  // checkpoint line's write_checkpoint is tracked by sent_unchanged() instead of rewrite()
  // (issue 20: the line's text is written without a tree, docs/performance-framework.md
  // "(perf13)").
  [[nodiscard]] bool armed_for(const std::string& key) const;
  void sent_unchanged(const std::string& key, std::optional<int64_t> write_checkpoint);

 private:
  struct Armed {
    std::string kind;
    std::string key;
    std::optional<nlohmann::json> held;  // a data line waiting to be sent again / late
  };
  std::vector<Armed> armed_;
  std::map<std::string, int64_t> highest_write_checkpoint_;  // per key, as sent
  std::set<std::string> lowered_;                            // keys lower_write_checkpoint hit
  uint64_t fired_ = 0;
};

}  // namespace syncsim::model
