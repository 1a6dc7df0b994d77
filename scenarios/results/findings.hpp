// Findings: what a sweep or hunt found, one entry per distinct failure, so that a nightly
// job can tell a new failure from one already known.  A findings document is
//   {"build": <build id>, "findings": [<finding>...]}   (sorted by signature)
// and a finding is
//   {"signature": "<scenario>: <invariant>" (or "<scenario>: stop <kind>"),
//    "scenario": ..., "what": <invariant or stop kind>, "seeds": <how many seeds hit it>,
//    "first_seed": <the smallest>, "repro": <that seed's repro>}
// Documents merge by signature: seeds add up, the smallest first_seed (with its repro) wins.
// Other members of a finding (e.g. a hunt's) are kept from the entry whose first_seed wins.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace syncsim::scenarios {

// The finding of one run of a results document; nullopt for a run that met its expectation.
std::optional<nlohmann::json> finding_of_run(const nlohmann::json& run);

class FindingSet {
 public:
  // Adds one finding (of a run or of a findings document); throws MergeError if it has no
  // string "signature".
  void add(const nlohmann::json& finding, const std::string& source);
  // Every finding of a findings document; throws MergeError on a malformed one.
  void add_document(const nlohmann::json& doc, const std::string& source);
  [[nodiscard]] nlohmann::json document(const std::string& build) const;
  [[nodiscard]] std::size_t size() const { return by_signature_.size(); }
  // Signatures not in `known`, in order.
  [[nodiscard]] std::vector<nlohmann::json> new_findings(const std::set<std::string>& known) const;

 private:
  std::map<std::string, nlohmann::json> by_signature_;
};

// The signatures of a findings document, or of a plain JSON array of signature strings.
std::set<std::string> known_signatures(const nlohmann::json& doc, const std::string& source);

}  // namespace syncsim::scenarios
