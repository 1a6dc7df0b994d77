#include "scenarios/results/findings.hpp"

#include <fmt/format.h>

#include "scenarios/results/results.hpp"

namespace syncsim::scenarios {

std::optional<nlohmann::json> finding_of_run(const nlohmann::json& run) {
  if (run.at("expectation_met").get<bool>()) return std::nullopt;
  const auto scenario = run.at("scenario").get<std::string>();
  std::string what;
  std::string signature;
  if (run.contains("violation") && run["violation"].is_object()) {
    what = run["violation"].value("invariant", std::string("?"));
    signature = fmt::format("{}: {}", scenario, what);
  } else {
    // No violation: the run stopped early (crash, bound) or an `expect: violates` was not met.
    what = run.value("stop_kind", std::string("expectation not met"));
    signature = fmt::format("{}: stop {}", scenario, what);
  }
  return nlohmann::json{{"signature", signature},
                        {"scenario", scenario},
                        {"what", what},
                        {"seeds", 1},
                        {"first_seed", run.at("seed").get<uint64_t>()},
                        {"repro", run.value("repro", std::string())}};
}

void FindingSet::add(const nlohmann::json& f, const std::string& source) {
  if (!f.is_object() || !f.contains("signature") || !f["signature"].is_string()) {
    throw MergeError(fmt::format("{}: a finding without a string \"signature\": {}", source,
                                 f.dump().substr(0, 200)));
  }
  const auto sig = f["signature"].get<std::string>();
  auto [it, fresh] = by_signature_.emplace(sig, f);
  if (fresh) return;
  auto& have = it->second;
  const uint64_t seeds = have.value("seeds", uint64_t{1}) + f.value("seeds", uint64_t{1});
  const bool earlier = f.contains("first_seed") && f["first_seed"].is_number_integer() &&
                       (!have.contains("first_seed") ||
                        f["first_seed"].get<uint64_t>() < have["first_seed"].get<uint64_t>());
  if (earlier) have = f;
  have["seeds"] = seeds;
}

void FindingSet::add_document(const nlohmann::json& doc, const std::string& source) {
  if (!doc.is_object() || !doc.contains("findings") || !doc["findings"].is_array()) {
    throw MergeError(
        fmt::format("{}: not a findings document (needs a \"findings\" array)", source));
  }
  for (const auto& f : doc["findings"]) add(f, source);
}

nlohmann::json FindingSet::document(const std::string& build) const {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& [sig, f] : by_signature_) list.push_back(f);
  return {{"build", build}, {"findings", std::move(list)}};
}

std::vector<nlohmann::json> FindingSet::new_findings(const std::set<std::string>& known) const {
  std::vector<nlohmann::json> out;
  for (const auto& [sig, f] : by_signature_) {
    if (!known.contains(sig)) out.push_back(f);
  }
  return out;
}

std::set<std::string> known_signatures(const nlohmann::json& doc, const std::string& source) {
  std::set<std::string> out;
  const nlohmann::json* list = &doc;
  if (doc.is_object() && doc.contains("findings")) list = &doc["findings"];
  if (!list->is_array()) {
    throw MergeError(fmt::format(
        "{}: known findings are a findings document or an array of signatures", source));
  }
  for (const auto& f : *list) {
    if (f.is_string()) {
      out.insert(f.get<std::string>());
    } else if (f.is_object() && f.contains("signature") && f["signature"].is_string()) {
      out.insert(f["signature"].get<std::string>());
    } else {
      throw MergeError(fmt::format("{}: a known finding without a signature: {}", source,
                                   f.dump().substr(0, 200)));
    }
  }
  return out;
}

}  // namespace syncsim::scenarios
