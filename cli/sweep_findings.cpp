#include "cli/sweep_findings.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <tuple>

#include "cli/output.hpp"
#include "scenarios/explore/findings.hpp"

namespace syncsim::cli {

namespace fs = std::filesystem;
using nlohmann::json;

std::string write_sweep_findings(const std::string& dir_text, const SweepFindingsInput& in) {
  const fs::path dir(dir_text);
  std::error_code ec;
  fs::create_directories(dir / "scenarios", ec);
  if (ec) return fmt::format("cannot create {}: {}", (dir / "scenarios").string(), ec.message());
  // (scenario, invariant, class) -> the failing runs, in seed order within a scenario.
  std::map<std::tuple<std::string, std::string, std::string>, std::vector<const json*>> groups;
  uint64_t failed = 0;
  for (const auto& r : *in.runs) {
    if (r["expectation_met"].get<bool>()) continue;
    ++failed;
    const std::string inv = r.contains("violation") ? r["violation"]["invariant"].get<std::string>()
                                                    : r.value("stop_kind", std::string("unknown"));
    const std::string cls = r.contains("violation")
                                ? scenarios::explanation_class(r["violation"]["message"])
                                : std::string();
    groups[{r["scenario"].get<std::string>(), inv, cls}].push_back(&r);
  }
  std::vector<scenarios::Finding> findings;
  std::vector<std::string> scenario_files;
  for (const auto& [key, members] : groups) {
    const auto& [name, inv, cls] = key;
    const json& first = *members.front();
    scenarios::Finding f;
    f.signature = scenarios::signature_of(inv, cls, in.loaded->at(name));
    f.first_seed = first["seed"].get<uint64_t>();
    for (const auto* m : members) f.seeds.push_back((*m)["seed"].get<uint64_t>());
    f.repro = first.value("repro", std::string());
    if (first.contains("violation")) {
      const auto& v = first["violation"];
      f.explanation =
          fmt::format("{} at t={:.6f}s ({}): {}", v.value("invariant", ""), v.value("at_s", 0.0),
                      v.value("subject", ""), v.value("message", ""));
    } else {
      f.explanation = first.value("stop", std::string());
    }
    if (first.contains("swarm")) f.drawn = first["swarm"].dump();
    findings.push_back(std::move(f));
    // A byte-for-byte copy, so its content hash is the one the repro names.
    const std::string copy = "scenarios/" + name + ".json";
    std::ifstream src(in.paths->at(name), std::ios::binary);
    const std::string text{std::istreambuf_iterator<char>(src), std::istreambuf_iterator<char>()};
    if (!src) return fmt::format("cannot read {}", in.paths->at(name));
    write_output("--findings", (dir / copy).string(), text);
    scenario_files.push_back(copy);
  }
  std::vector<std::string> files;
  for (const auto& [name, path] : *in.paths) files.push_back(path);
  const scenarios::HuntSummary summary{files,  in.seeds,  in.runs->size(),
                                       failed, in.wall_s, in.jobs};
  const scenarios::WorldCoverage coverage({}, {}, {});
  json doc = scenarios::findings_json(summary, findings, coverage);
  // Additive fields: who wrote it, and where each finding's scenario copy is.
  doc["source"] = "sweep";
  for (std::size_t i = 0; i < findings.size(); ++i) {
    doc["findings"][i]["scenario_file"] = scenario_files[i];
  }
  write_output("--findings", (dir / "findings.json").string(), doc.dump(2) + "\n");
  write_output("--findings", (dir / "findings.md").string(),
               scenarios::findings_markdown(summary, findings, coverage));
  write_output("--findings", (dir / "findings.html").string(),
               scenarios::findings_html(summary, findings, coverage));
  return "";
}

}  // namespace syncsim::cli
