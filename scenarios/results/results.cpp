#include "scenarios/results/results.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <map>
#include <set>

#include "scenarios/explore/sometimes.hpp"
#include "util/xml_escape.hpp"

namespace syncsim::scenarios {

std::string stop_kind_name(sim::StopKind kind) {
  switch (kind) {
    case sim::StopKind::None:
      return "none";
    case sim::StopKind::Finished:
      return "finished";
    case sim::StopKind::Failure:
      return "failure";
    case sim::StopKind::Bound:
      return "bound";
    case sim::StopKind::Crash:
      return "crash";
  }
  return "unknown";
}

void sort_runs(nlohmann::json& runs) {
  std::stable_sort(runs.begin(), runs.end(), [](const nlohmann::json& a, const nlohmann::json& b) {
    const auto& sa = a.at("scenario").get_ref<const std::string&>();
    const auto& sb = b.at("scenario").get_ref<const std::string&>();
    if (sa != sb) return sa < sb;
    return a.at("seed").get<uint64_t>() < b.at("seed").get<uint64_t>();
  });
}

nlohmann::json sweep_document(const std::string& build, nlohmann::json runs,
                              nlohmann::json headers) {
  sort_runs(runs);
  uint64_t passed = 0, failed = 0;
  for (const auto& r : runs) r.at("expectation_met").get<bool>() ? ++passed : ++failed;
  nlohmann::json sometimes = sometimes_summary_json(summarize_sometimes(runs));
  nlohmann::json doc = {{"build", build},
                        {"sometimes", std::move(sometimes)},
                        {"runs", std::move(runs)},
                        {"passed", passed},
                        {"failed", failed}};
  if (headers.is_object() && !headers.empty()) doc["scenarios"] = std::move(headers);
  return doc;
}

nlohmann::json strip_wall_times(const nlohmann::json& j) {
  if (j.is_object()) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& [k, v] : j.items()) {
      if (k != "wall_s") out[k] = strip_wall_times(v);
    }
    return out;
  }
  if (j.is_array()) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& v : j) out.push_back(strip_wall_times(v));
    return out;
  }
  return j;
}

nlohmann::json merge_results(const std::vector<NamedDocument>& inputs) {
  if (inputs.empty()) throw MergeError("nothing to merge");
  std::string build;
  std::string build_source;
  std::map<std::pair<std::string, uint64_t>, std::string> seen;  // -> source
  nlohmann::json runs = nlohmann::json::array();
  nlohmann::json headers = nlohmann::json::object();
  std::map<std::string, std::string> header_source;  // scenario -> input it came from
  for (const auto& in : inputs) {
    const auto& d = in.doc;
    if (!d.is_object() || !d.contains("build") || !d["build"].is_string() || !d.contains("runs") ||
        !d["runs"].is_array()) {
      throw MergeError(fmt::format(
          "{}: not a syncsim results document (needs \"build\" and \"runs\")", in.source));
    }
    const auto b = d["build"].get<std::string>();
    if (build_source.empty()) {
      build = b;
      build_source = in.source;
    } else if (b != build) {
      throw MergeError(fmt::format("builds differ: {} is build {}, {} is build {}", build_source,
                                   build, in.source, b));
    }
    for (const auto& r : d["runs"]) {
      if (!r.is_object() || !r.contains("scenario") || !r["scenario"].is_string() ||
          !r.contains("seed") || !r["seed"].is_number_unsigned() ||
          !r.contains("expectation_met") || !r["expectation_met"].is_boolean()) {
        throw MergeError(fmt::format("{}: a run without scenario, seed or expectation_met: {}",
                                     in.source, r.dump().substr(0, 200)));
      }
      const auto key = std::make_pair(r["scenario"].get<std::string>(), r["seed"].get<uint64_t>());
      auto [it, fresh] = seen.emplace(key, in.source);
      if (!fresh) {
        throw MergeError(
            fmt::format("{} seed {} occurs twice: in {} and in {} (overlapping shards?)", key.first,
                        key.second, it->second, in.source));
      }
      runs.push_back(r);
    }
    // Scenario headers (what a report names); shards of one sweep carry identical ones.
    if (const auto it = d.find("scenarios"); it != d.end() && it->is_object()) {
      for (const auto& [name, header] : it->items()) {
        auto [at, fresh] = header_source.emplace(name, in.source);
        if (fresh) {
          headers[name] = header;
        } else if (headers[name].value("scenario", nlohmann::json()) !=
                   header.value("scenario", nlohmann::json())) {
          throw MergeError(
              fmt::format("scenario {} differs between {} and {}", name, at->second, in.source));
        }
      }
    }
  }
  return sweep_document(build, std::move(runs), std::move(headers));
}

namespace {
// JUnit is standalone XML: apostrophes and control characters too.
std::string xml_escape(const std::string& s) { return util::xml_escape(s, util::XmlEscape::Xml10); }

std::string failure_text(const nlohmann::json& r) {
  if (r.contains("violation")) {
    const auto& v = r["violation"];
    return fmt::format("violated {} at t={}s ({}): {}", v.value("invariant", "?"),
                       v.value("at_s", 0.0), v.value("subject", ""), v.value("message", ""));
  }
  return "stopped: " + r.value("stop", std::string("?"));
}
}  // namespace

std::string junit_xml(const nlohmann::json& doc, const std::string& timestamp) {
  std::map<std::string, std::vector<const nlohmann::json*>> by_scenario;
  for (const auto& r : doc.at("runs"))
    by_scenario[r.at("scenario").get<std::string>()].push_back(&r);
  std::map<std::string, SometimesSummary> sometimes;
  for (auto& row : summarize_sometimes(doc.at("runs"))) {
    sometimes.emplace(row.scenario, std::move(row));
  }
  std::map<std::string, uint64_t> failures_of;
  double total_time = 0;
  for (const auto& [scenario, runs] : by_scenario) {
    for (const auto* r : runs) {
      failures_of[scenario] += (*r)["expectation_met"].get<bool>() ? 0 : 1;
      total_time += r->value("wall_s", 0.0);
    }
  }
  auto vacuous_suite = [&](const std::string& scenario) {
    const auto sm = sometimes.find(scenario);
    return sm != sometimes.end() && !sm->second.vacuous.empty() && failures_of[scenario] == 0;
  };
  uint64_t vacuous_suites = 0;
  for (const auto& [scenario, runs] : by_scenario) vacuous_suites += vacuous_suite(scenario);
  const std::string build = doc.value("build", std::string());
  const auto headers = doc.value("scenarios", nlohmann::json::object());
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += fmt::format("<testsuites name=\"syncsim\" tests=\"{}\" failures=\"{}\" time=\"{:.3f}\">\n",
                     doc.at("runs").size() + sometimes.size(),
                     doc.value("failed", uint64_t{0}) + vacuous_suites, total_time);
  for (const auto& [scenario, runs] : by_scenario) {
    const uint64_t failures = failures_of[scenario];
    const auto sm = sometimes.find(scenario);
    const bool listed = sm != sometimes.end();
    const bool vacuous = vacuous_suite(scenario);
    double suite_time = 0;
    for (const auto* r : runs) suite_time += r->value("wall_s", 0.0);
    out += fmt::format("  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" time=\"{:.3f}\"{}>\n",
                       xml_escape(scenario), runs.size() + (listed ? 1 : 0),
                       failures + (vacuous ? 1 : 0), suite_time,
                       timestamp.empty() ? "" : " timestamp=\"" + xml_escape(timestamp) + "\"");
    out += "    <properties>\n";
    out += fmt::format("      <property name=\"build\" value=\"{}\"/>\n", xml_escape(build));
    if (headers.contains(scenario)) {
      out += fmt::format("      <property name=\"scenario_path\" value=\"{}\"/>\n",
                         xml_escape(headers[scenario].value("scenario_path", std::string())));
    }
    for (const auto* r : runs) {
      if (!r->contains("swarm")) continue;
      out += fmt::format("      <property name=\"swarm.seed={}\" value=\"{}\"/>\n",
                         (*r)["seed"].get<uint64_t>(), xml_escape((*r)["swarm"].dump()));
    }
    out += "    </properties>\n";
    if (listed) {
      // Sometimes-properties over the suite's seeds (scenarios/explore/sometimes.hpp).
      std::string seeds;
      for (const auto& [id, n] : sm->second.listed) {
        seeds +=
            fmt::format("{}{}: {}/{} seeds", seeds.empty() ? "" : "\n", id, n, sm->second.seeds);
      }
      if (failures > 0 && !sm->second.vacuous.empty()) {
        seeds += fmt::format("\nvacuity not judged: {} seed(s) failed and stopped early", failures);
      }
      out += fmt::format("    <testcase classname=\"syncsim.{}\" name=\"sometimes\" time=\"0\">\n",
                         xml_escape(scenario));
      if (vacuous) {
        const auto message = fmt::format("vacuous: {} happened in none of the {} seeds",
                                         fmt::join(sm->second.vacuous, ", "), sm->second.seeds);
        out += fmt::format("      <failure type=\"vacuous\" message=\"{}\">{}</failure>\n",
                           xml_escape(message), xml_escape(message));
      }
      out += fmt::format("      <system-out>{}</system-out>\n    </testcase>\n", xml_escape(seeds));
    }
    for (const auto* r : runs) {
      const auto seed = (*r)["seed"].get<uint64_t>();
      out += fmt::format("    <testcase classname=\"syncsim.{}\" name=\"seed={}\" time=\"{:.3f}\"",
                         xml_escape(scenario), seed, r->value("wall_s", 0.0));
      if ((*r)["expectation_met"].get<bool>()) {
        if (r->contains("violation")) {  // an expected violation: say that it happened
          out += fmt::format(
              ">\n      <system-out>expected violation: {}</system-out>\n    "
              "</testcase>\n",
              xml_escape(failure_text(*r)));
        } else {
          out += "/>\n";
        }
        continue;
      }
      const std::string repro = r->value("repro", std::string());
      const std::string type = r->contains("violation")
                                   ? (*r)["violation"].value("invariant", std::string("?"))
                                   : r->value("stop_kind", std::string("stopped"));
      out += fmt::format(
          ">\n      <failure type=\"{}\" message=\"{}\">{}\nrepro: {}\nreplay: syncsim replay "
          "'{}' --trace trace.txt</failure>\n    </testcase>\n",
          xml_escape(type), xml_escape(failure_text(*r)), xml_escape(failure_text(*r)),
          xml_escape(repro), xml_escape(repro));
    }
    out += "  </testsuite>\n";
  }
  out += "</testsuites>\n";
  return out;
}

std::string utc_timestamp_now() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

namespace {
std::vector<ScenarioSummary> summarize_runs(const nlohmann::json& doc) {
  std::vector<ScenarioSummary> rows;
  std::map<std::string, std::size_t> index;
  for (const auto& r : doc.at("runs")) {
    const auto name = r.at("scenario").get<std::string>();
    auto [it, fresh] = index.emplace(name, rows.size());
    if (fresh) {
      rows.emplace_back();
      rows.back().scenario = name;
    }
    auto& row = rows[it->second];
    ++row.seeds;
    if (r.at("expectation_met").get<bool>()) {
      ++row.passed;
      continue;
    }
    ++row.failed;
    const auto seed = r.at("seed").get<uint64_t>();
    if (!row.first_failing_seed || seed < *row.first_failing_seed) {
      row.first_failing_seed = seed;
      row.first_failing_repro = r.value("repro", std::string());
      row.first_failure = r.contains("violation")
                              ? r["violation"].value("invariant", std::string("?"))
                              : r.value("stop", std::string("?"));
    }
  }
  return rows;
}

}  // namespace

std::vector<ScenarioSummary> summarize(const nlohmann::json& doc) {
  std::vector<ScenarioSummary> rows = summarize_runs(doc);
  for (const auto& s : summarize_sometimes(doc.at("runs"))) {
    for (auto& row : rows) {
      if (row.scenario != s.scenario) continue;
      row.lists_sometimes = true;
      // A failing scenario's runs stopped early: its listed conditions are not judged.
      if (row.failed == 0) row.vacuous = s.vacuous;
    }
  }
  return rows;
}

std::string summary_table(const std::vector<ScenarioSummary>& rows) {
  std::size_t width = 8;
  for (const auto& r : rows) width = std::max(width, r.scenario.size());
  std::string out = fmt::format("{:<{}} {:>7} {:>7} {:>7} {:>9}  {}\n", "scenario", width, "seeds",
                                "pass", "fail", "sometimes", "first failing seed");
  for (const auto& r : rows) {
    out += fmt::format(
        "{:<{}} {:>7} {:>7} {:>7} {:>9}  {}\n", r.scenario, width, r.seeds, r.passed, r.failed,
        !r.lists_sometimes  ? "-"
        : r.vacuous.empty() ? "ok"
                            : "VACUOUS",
        r.first_failing_seed ? fmt::format("{} ({})  repro: {}", *r.first_failing_seed,
                                           r.first_failure, r.first_failing_repro)
                             : "-");
  }
  return out;
}

}  // namespace syncsim::scenarios
