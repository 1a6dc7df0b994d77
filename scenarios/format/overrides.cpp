#include "scenarios/format/overrides.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

namespace syncsim::scenarios {

namespace {

nlohmann::json value_of(const std::string& text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  return j.is_discarded() ? nlohmann::json(text) : j;
}

// Sets `value` at the dotted `key` of `doc`, creating objects on the way; a numeric segment
// indexes an existing array.
void set_path(nlohmann::json& doc, const std::string& key, nlohmann::json value,
              const std::string& whole) {
  nlohmann::json* at = &doc;
  std::size_t pos = 0;
  while (true) {
    const auto dot = key.find('.', pos);
    const std::string part = key.substr(pos, dot == std::string::npos ? dot : dot - pos);
    if (part.empty()) throw ScenarioError({"--set '" + whole + "': an empty key segment"});
    if (at->is_array()) {
      std::size_t index = 0;
      try {
        std::size_t used = 0;
        index = std::stoul(part, &used);
        if (used != part.size()) throw std::invalid_argument(part);
      } catch (const std::exception&) {
        throw ScenarioError({"--set '" + whole + "': '" + part +
                             "' indexes an array; allowed: 0.." +
                             std::to_string(at->empty() ? 0 : at->size() - 1)});
      }
      if (index >= at->size()) {
        throw ScenarioError({"--set '" + whole + "': index " + part +
                             " is past the end; allowed: 0.." +
                             std::to_string(at->empty() ? 0 : at->size() - 1)});
      }
      at = &(*at)[index];
    } else {
      if (!at->is_object()) *at = nlohmann::json::object();
      at = &(*at)[part];
    }
    if (dot == std::string::npos) break;
    pos = dot + 1;
  }
  *at = std::move(value);
}

}  // namespace

Scenario load_scenario_with_overrides(const std::string& path,
                                      const std::vector<std::string>& overrides,
                                      const ValidationContext& ctx) {
  if (overrides.empty()) return load_scenario_file(path, ctx);
  // The file alone first, so its own problems (and duplicate keys) are reported as usual.
  load_scenario_file(path, ctx);
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  auto doc = nlohmann::json::parse(text.str());
  if (!doc.contains("name")) doc["name"] = std::filesystem::path(path).stem().string();
  for (const auto& o : overrides) {
    const auto eq = o.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw ScenarioError({"--set '" + o + "' is not key=value (e.g. service.flavour=postgres)"});
    }
    set_path(doc, o.substr(0, eq), value_of(o.substr(eq + 1)), o);
  }
  return parse_scenario(doc, ctx, path + " with --set");
}

std::string invariants_override(const std::string& comma_list) {
  nlohmann::json ids = nlohmann::json::array();
  std::size_t pos = 0;
  while (pos <= comma_list.size()) {
    const auto comma = std::min(comma_list.find(',', pos), comma_list.size());
    if (comma > pos) ids.push_back(comma_list.substr(pos, comma - pos));
    pos = comma + 1;
  }
  return "invariants=" + ids.dump();
}

}  // namespace syncsim::scenarios
