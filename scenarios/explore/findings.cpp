#include "scenarios/explore/findings.hpp"

#include "scenarios/explore/abstract_state.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>
#include <stdexcept>

#include "util/xml_escape.hpp"

namespace syncsim::scenarios {

namespace {

using json = nlohmann::json;

std::string join(const std::vector<std::string>& v, const std::string& sep) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

bool is_legacy_only(const std::string& core) { return core.starts_with("0.4."); }

}  // namespace

std::string explanation_class(const std::string& message) {
  const std::string open = "[class:";
  const auto at = message.find(open);
  if (at == std::string::npos) return "";
  const auto end = message.find(']', at);
  if (end == std::string::npos) return "";
  return message.substr(at + open.size(), end - at - open.size());
}

std::string FindingSignature::text() const {
  return fmt::format("{}{}; faults={}; cores={}; modes={}; flavour={}{}{}", invariant,
                     explanation_class.empty() ? "" : "[" + explanation_class + "]",
                     faults.empty() ? "none" : join(faults, "+"), join(cores, "+"),
                     join(modes, "+"), flavour,
                     foreign_ids.empty() ? "" : "; foreign_ids=" + join(foreign_ids, "+"),
                     source.empty() ? "" : "; source=" + source);
}

json FindingSignature::to_json() const {
  json j = {{"invariant", invariant}, {"class", explanation_class},
            {"faults", faults},       {"cores", cores},
            {"modes", modes},         {"flavour", flavour}};
  if (!foreign_ids.empty()) j["foreign_ids"] = foreign_ids;  // other signatures keep their shape
  if (!source.empty()) j["source"] = source;
  return j;
}

FindingSignature signature_of(const std::string& invariant, const std::string& cls,
                              const Scenario& s) {
  std::set<std::string> faults, cores, modes, foreign_ids;
  for (const auto& f : s.faults) {
    if (f.kind != FaultKind::ForeignRequest) continue;
    std::string id = f.request_id;
    if (id.size() >= 2 && id.front() == '"' && id.back() == '"') id = id.substr(1, id.size() - 2);
    foreign_ids.insert(id);
  }
  for (const auto& g : client_groups(s.clients)) {
    cores.insert(g.core);
    modes.insert(g.checkpoint_mode);
  }
  for (const auto& f : s.faults) {
    faults.insert(to_string(f.kind));
    if (!f.core.empty()) cores.insert(f.core);
  }
  // Compact jobs the service runs on its own act like compact faults (world hunt, W5).
  if (s.service.compact_interval_s > 0) faults.insert("compact_interval");
  return {invariant,
          cls,
          {faults.begin(), faults.end()},
          {cores.begin(), cores.end()},
          {modes.begin(), modes.end()},
          s.service.flavour,
          {foreign_ids.begin(), foreign_ids.end()},
          s.service.source == "mysql" ? s.service.source : std::string()};
}

std::vector<KnownFinding> parse_known_findings(const json& j, const std::string& source) {
  auto bad = [&](const std::string& path, const std::string& what) {
    return std::runtime_error(source + ": " + path + ": " + what);
  };
  if (!j.is_object() || j.value("format", 0) != 1 || !j.contains("known") ||
      !j["known"].is_array()) {
    throw bad("", "must be {\"format\": 1, \"known\": [{\"id\", \"why\", \"pattern\"}, ...]}");
  }
  static const std::vector<std::string> pattern_keys = {
      "invariant", "class",     "faults_include",  "faults_any", "faults_exclude",
      "cores_any", "modes_any", "foreign_ids_any", "flavour",    "source"};
  std::vector<KnownFinding> out;
  for (std::size_t i = 0; i < j["known"].size(); ++i) {
    const auto& e = j["known"][i];
    const std::string path = fmt::format("known[{}]", i);
    if (!e.is_object())
      throw bad(path, e.dump() + " must be an object {\"id\", \"why\", \"pattern\"}");
    for (const auto& [k, v] : e.items()) {
      if (k != "id" && k != "why" && k != "pattern") {
        throw bad(path + "." + k, "unknown field; allowed: id, why, pattern");
      }
    }
    for (const char* k : {"id", "why"}) {
      if (!e.contains(k) || !e[k].is_string() || e[k].get<std::string>().empty()) {
        throw bad(path + "." + k, "must be a non-empty string");
      }
    }
    if (!e.contains("pattern") || !e["pattern"].is_object()) {
      throw bad(path + ".pattern", "must be an object with any of: " + join(pattern_keys, ", "));
    }
    for (const auto& [k, v] : e["pattern"].items()) {
      if (!contains(pattern_keys, k)) {
        throw bad(path + ".pattern." + k, "unknown field; allowed: " + join(pattern_keys, ", "));
      }
      const bool list = k == "faults_include" || k == "faults_any" || k == "faults_exclude" ||
                        k == "cores_any" || k == "modes_any" || k == "foreign_ids_any";
      if (list ? !(v.is_array() &&
                   std::all_of(v.begin(), v.end(), [](const json& x) { return x.is_string(); }))
               : !v.is_string()) {
        throw bad(path + ".pattern." + k,
                  v.dump() + (list ? " must be an array of strings" : " must be a string"));
      }
    }
    out.push_back({e["id"].get<std::string>(), e["why"].get<std::string>(), e["pattern"]});
  }
  return out;
}

const KnownFinding* match_known(const std::vector<KnownFinding>& known,
                                const FindingSignature& sig) {
  const KnownFinding* best = nullptr;
  for (const auto& k : known) {
    const json& p = k.pattern;
    bool ok = true;
    if (p.contains("invariant")) ok = ok && p["invariant"] == sig.invariant;
    if (p.contains("class")) ok = ok && p["class"] == sig.explanation_class;
    if (p.contains("flavour")) ok = ok && p["flavour"] == sig.flavour;
    if (p.contains("source")) {
      // Only a MySQL source is in a signature; "postgres" and "mongodb" both match the rest.
      ok = ok && (sig.source.empty() ? p["source"] != "mysql" : p["source"] == sig.source);
    }
    if (p.contains("faults_include")) {
      for (const auto& f : p["faults_include"]) ok = ok && contains(sig.faults, f);
    }
    // A fault that names another root cause (a foreign installation's ids, say) rules it out.
    if (p.contains("faults_exclude")) {
      for (const auto& f : p["faults_exclude"]) ok = ok && !contains(sig.faults, f);
    }
    auto any = [&](const char* key, const std::vector<std::string>& have) {
      if (!p.contains(key)) return true;
      return std::any_of(p[key].begin(), p[key].end(),
                         [&](const json& x) { return contains(have, x.get<std::string>()); });
    };
    ok = ok && any("faults_any", sig.faults) && any("cores_any", sig.cores) &&
         any("modes_any", sig.modes) && any("foreign_ids_any", sig.foreign_ids);
    // The most specific match wins (near-max-id's pattern is cloned-database's plus the ids).
    if (ok && (!best || k.pattern.size() > best->pattern.size())) best = &k;
  }
  return best;
}

WorldCoverage::WorldCoverage(std::vector<std::string> kinds, std::vector<std::string> cores,
                             std::vector<std::string> sometimes)
    : kinds_(std::move(kinds)), cores_(std::move(cores)), sometimes_(std::move(sometimes)) {}

bool WorldCoverage::unreachable(const std::string& core, const std::string& mode) const {
  return is_legacy_only(core) && mode == "requests";
}

void WorldCoverage::add_run(const json& run) {
  if (!run.contains("swarm") || !run["swarm"].contains("clients.fleet")) return;
  ++runs_;
  const json& p = run["swarm"];
  const std::string flavour = p.value("service.flavour", std::string("mongo"));
  // Client number -> its group's (core, mode).
  std::vector<std::pair<std::string, std::string>> clients;
  std::set<std::string> modes;
  for (const auto& g : p["clients.fleet"]) {
    for (int i = 0; i < g["count"].get<int>(); ++i) {
      clients.emplace_back(g["core"].get<std::string>(), g["checkpoint_mode"].get<std::string>());
    }
    modes.insert(g["checkpoint_mode"].get<std::string>());
  }
  const json faults = p.contains("faults") ? p["faults"] : json::array();
  for (const auto& f : faults) {
    const auto kind = f["kind"].get<std::string>();
    if (f.contains("client")) {
      const auto& [core, mode] = clients.at(f["client"].get<std::size_t>() - 1);
      ++cells_[fmt::format("{}|{}|{}|{}", kind, mode, core, flavour)];
    } else {
      std::set<std::pair<std::string, std::string>> groups(clients.begin(), clients.end());
      for (const auto& [core, mode] : groups) {
        ++cells_[fmt::format("{}|{}|{}|{}", kind, mode, core, flavour)];
      }
    }
  }
  if (run.contains("abstract_states")) {
    for (const auto& cell : run["abstract_states"]) ++abstract_[cell.get<std::string>()];
  }
  // Protocol moments reached (the sometimes-conditions), per mode and flavour.
  if (!run.contains("sometimes")) return;
  for (const auto& [cond, n] : run["sometimes"].items()) {
    if (n.get<uint64_t>() == 0) continue;
    for (const auto& mode : modes) ++state_[fmt::format("{}|{}|{}", cond, mode, flavour)];
  }
}

uint64_t WorldCoverage::count(const std::string& kind, const std::string& mode,
                              const std::string& core, const std::string& flavour) const {
  auto it = cells_.find(fmt::format("{}|{}|{}|{}", kind, mode, core, flavour));
  return it == cells_.end() ? 0 : it->second;
}

std::vector<std::string> WorldCoverage::unreached() const {
  std::vector<std::string> out;
  for (const auto& kind : kinds_) {
    for (const auto& core : cores_) {
      for (const char* mode : {"requests", "legacy"}) {
        if (unreachable(core, mode)) continue;
        for (const char* flavour : {"mongo", "postgres"}) {
          if (count(kind, mode, core, flavour) == 0) {
            out.push_back(fmt::format("{} x {} x {} x {}", kind, mode, core, flavour));
          }
        }
      }
    }
  }
  return out;
}

std::size_t WorldCoverage::reached_state_cells() const { return state_.size(); }

uint64_t WorldCoverage::abstract_count(const std::string& cell) const {
  auto it = abstract_.find(cell);
  return it == abstract_.end() ? 0 : it->second;
}

std::vector<std::string> WorldCoverage::unreached_abstract() const {
  std::vector<std::string> out;
  for (const auto& cell : abstract_state_cells()) {
    if (abstract_count(cell) == 0 && !abstract_state_unreachable().contains(cell)) {
      out.push_back(cell);
    }
  }
  return out;
}

namespace {

// Rows gate x record, columns mode x phase; a cell is the runs that reached it.
std::string abstract_markdown(const WorldCoverage& c) {
  static const std::vector<std::string> gates = {"open", "closed-crud", "closed-target"};
  static const std::vector<std::string> records = {"absent", "pending", "processed", "deleted"};
  static const std::vector<std::string> phases = {"first-streaming",     "first-connecting",
                                                  "first-offline",       "reopened-streaming",
                                                  "reopened-connecting", "reopened-offline"};
  std::string out = fmt::format(
      "\nAbstract protocol state reached (runs that reached each cell, observed during the "
      "runs: scenarios/explore/abstract_state.hpp): {} of {} cells, {} declared unreachable "
      "(`-`); **0** = never reached.\n\n| gate / record |",
      c.reached_abstract_cells(), abstract_state_cells().size(),
      abstract_state_unreachable().size());
  for (const char* mode : {"requests", "legacy"}) {
    for (const auto& p : phases) out += fmt::format(" {} {} |", mode, p);
  }
  out += "\n|---|";
  for (std::size_t i = 0; i < 2 * phases.size(); ++i) out += "---|";
  out += "\n";
  for (const auto& g : gates) {
    for (const auto& r : records) {
      out += fmt::format("| {} / {} |", g, r);
      for (const char* mode : {"requests", "legacy"}) {
        for (const auto& p : phases) {
          const std::string cell = fmt::format("{}|{}|{}|{}", mode, g, r, p);
          const uint64_t n = c.abstract_count(cell);
          out += n > 0                                         ? fmt::format(" {} |", n)
                 : abstract_state_unreachable().contains(cell) ? std::string(" - |")
                                                               : std::string(" **0** |");
        }
      }
      out += "\n";
    }
  }
  const auto missing = c.unreached_abstract();
  out += fmt::format("\nAbstract-state cells never reached (feasible): {}{}\n", missing.size(),
                     missing.empty() ? "." : ":");
  for (std::size_t i = 0; i < missing.size() && i < 60; ++i) out += "- " + missing[i] + "\n";
  if (missing.size() > 60) out += fmt::format("- ... and {} more\n", missing.size() - 60);
  if (!abstract_state_unreachable().empty()) {
    out += "\nDeclared unreachable:\n";
    for (const auto& [cell, why] : abstract_state_unreachable()) {
      out += "- " + cell + ": " + why + "\n";
    }
  }
  return out;
}

}  // namespace

std::string WorldCoverage::markdown() const {
  std::string out = fmt::format(
      "Fault kind x core/mode over {} drawn runs; each cell is `mongo/postgres` runs that "
      "drew the fault for such a client; **0** = feasible but never reached; `-` = "
      "unreachable by construction (0.4.x cores run legacy mode only).\n\n| kind |",
      runs_);
  std::vector<std::pair<std::string, std::string>> cols;
  for (const auto& core : cores_) {
    for (const char* mode : {"requests", "legacy"}) cols.emplace_back(core, mode);
  }
  for (const auto& [core, mode] : cols) out += fmt::format(" {} {} |", core, mode);
  out += "\n|---|";
  for (std::size_t i = 0; i < cols.size(); ++i) out += "---|";
  out += "\n";
  for (const auto& kind : kinds_) {
    out += "| " + kind + " |";
    for (const auto& [core, mode] : cols) {
      if (unreachable(core, mode)) {
        out += " - |";
        continue;
      }
      const auto m = count(kind, mode, core, "mongo");
      const auto p = count(kind, mode, core, "postgres");
      out += (m == 0 || p == 0) ? fmt::format(" **{}/{}** |", m, p) : fmt::format(" {}/{} |", m, p);
    }
    out += "\n";
  }
  const auto missing = unreached();
  out += fmt::format("\nNever reached (feasible): {} of {} cells{}\n", missing.size(),
                     kinds_.size() * 2 * (cores_.size() * 2 - 3), missing.empty() ? "." : ":");
  for (std::size_t i = 0; i < missing.size() && i < 40; ++i) out += "- " + missing[i] + "\n";
  if (missing.size() > 40) out += fmt::format("- ... and {} more\n", missing.size() - 40);
  out +=
      "\nProtocol moments reached (runs in which the sometimes-condition happened), by "
      "checkpoint mode and flavour:\n\n| condition | requests mongo | requests postgres | "
      "legacy mongo | legacy postgres |\n|---|---|---|---|---|\n";
  for (const auto& cond : sometimes_) {
    out += "| " + cond + " |";
    for (const char* mode : {"requests", "legacy"}) {
      for (const char* flavour : {"mongo", "postgres"}) {
        auto it = state_.find(fmt::format("{}|{}|{}", cond, mode, flavour));
        const uint64_t n = it == state_.end() ? 0 : it->second;
        out += n == 0 ? " **0** |" : fmt::format(" {} |", n);
      }
    }
    out += "\n";
  }
  return out + abstract_markdown(*this);
}

json WorldCoverage::to_json() const {
  return {{"runs", runs_},
          {"cells", cells_},
          {"unreached", unreached()},
          {"protocol_moments", state_},
          {"unreachable_rule", "0.4.x cores x requests mode (js-legacy runs legacy mode only)"},
          {"abstract_states",
           {{"cells", abstract_},
            {"reached", abstract_.size()},
            {"of", abstract_state_cells().size()},
            {"unreached", unreached_abstract()},
            {"declared_unreachable", abstract_state_unreachable()}}}};
}

std::string quirk_that_passes(const Scenario& shrunk, const RunOptions& opts,
                              const std::vector<std::string>& quirks,
                              const std::string& invariant) {
  Scenario base = shrunk;
  base.expect = Expectation{};
  // No flag changes the published SDK, so for js-real groups the port stands in, once it fails
  // the same invariant on the seed (docs/findings-world.md W1: the SDK's bug is the quirk).
  bool js_real = base.clients.sdk == "js-real";
  if (js_real) base.clients.sdk = "auto";
  for (auto& g : base.clients.fleet) {
    if (g.sdk != "js-real") continue;
    g.sdk = "auto";
    js_real = true;
  }
  if (js_real) {
    const RunResult port = run_scenario(base, opts);
    if (!port.violation || port.violation->invariant != invariant) return "";
  }
  for (const auto& q : quirks) {
    const auto& fixed = base.clients.fixed_quirks;
    if (std::find(fixed.begin(), fixed.end(), q) != fixed.end()) continue;
    Scenario s = base;
    s.clients.fixed_quirks.push_back(q);
    if (run_scenario(s, opts).passed) return q;
  }
  return "";
}

namespace {
std::string quirk_sentence(const Finding& f) {
  return fmt::format(
      "Passes with `clients.fixed_quirks: [\"{}\"]` and nothing else changed: the root cause "
      "is that reproduced SDK quirk (docs/protocol.md §2.7), not a new one.",
      f.passes_with_quirk);
}
}  // namespace

json findings_json(const HuntSummary& h, const std::vector<Finding>& findings,
                   const WorldCoverage& coverage) {
  json list = json::array();
  for (const auto& f : findings) {
    list.push_back({{"signature", f.signature.to_json()},
                    {"signature_text", f.signature.text()},
                    {"known", f.known_id.empty() ? json(nullptr) : json(f.known_id)},
                    {"known_why", f.known_why},
                    {"passes_with_fixed_quirk",
                     f.passes_with_quirk.empty() ? json(nullptr) : json(f.passes_with_quirk)},
                    {"first_seed", f.first_seed},
                    {"seeds", f.seeds},
                    {"repro", f.repro},
                    {"drawn", f.drawn},
                    {"shrunk_scenario", f.shrunk_file},
                    {"shrunk_repro", f.shrunk_repro},
                    {"shrunk_replays_bit_for_bit", f.shrunk_replays},
                    {"steps", {{"before", f.steps_before}, {"after", f.steps_after}}},
                    {"explanation", f.explanation},
                    {"timeline", f.timeline}});
  }
  uint64_t fresh = 0;
  for (const auto& f : findings) fresh += f.is_new() ? 1 : 0;
  return {{"format", 1},        {"swarm_files", h.swarm_files},
          {"seeds", h.seeds},   {"runs", h.runs},
          {"failed", h.failed}, {"new_findings", fresh},
          {"findings", list},   {"coverage", coverage.to_json()}};
}

std::string findings_markdown(const HuntSummary& h, const std::vector<Finding>& findings,
                              const WorldCoverage& coverage) {
  std::string out = fmt::format(
      "# Hunt findings\n\n{} over seeds {}: {} runs, {} failed, {} distinct findings "
      "({:.0f} s wall, {} jobs).\n\n",
      join(h.swarm_files, ", "), h.seeds, h.runs, h.failed, findings.size(), h.wall_s, h.jobs);
  for (std::size_t i = 0; i < findings.size(); ++i) {
    const auto& f = findings[i];
    out += fmt::format("## Finding {}: {} ({})\n\n", i + 1, f.signature.text(), f.label());
    if (!f.known_id.empty()) out += "Known because: " + f.known_why + "\n\n";
    if (!f.passes_with_quirk.empty()) out += quirk_sentence(f) + "\n\n";
    out += "**What broke:** " + f.explanation + "\n\n";
    std::string seeds;
    for (std::size_t k = 0; k < f.seeds.size() && k < 30; ++k) {
      seeds += (seeds.empty() ? "" : ", ") + std::to_string(f.seeds[k]);
    }
    if (f.seeds.size() > 30) seeds += fmt::format(", ... ({} in all)", f.seeds.size());
    out += fmt::format("Seeds: {}. First seed's draw: {}\n\n", seeds, f.drawn);
    if (f.shrunk_file.empty()) {  // sweep --findings keeps failures unshrunk
      out += "Not shrunk: `syncsim shrink '" + f.repro + "' --out shrunk.json`\n\n";
      out += "**Repro**: `syncsim replay '" + f.repro + "'`\n\n";
      continue;
    }
    out += fmt::format("Shrunk {} -> {} steps: `{}` ({}).\n\n", f.steps_before, f.steps_after,
                       f.shrunk_file,
                       f.shrunk_replays ? "replays bit for bit" : "DOES NOT replay bit for bit");
    out += "**Minimal timeline** (shrunk run):\n\n```\n";
    for (const auto& line : f.timeline) out += line + "\n";
    out += "```\n\n**Repro** (shrunk): `syncsim replay '" + f.shrunk_repro + "'`  \n";
    out += "**Repro** (first seed, drawn): `syncsim replay '" + f.repro + "'`\n\n";
  }
  out += "## Coverage\n\n" + coverage.markdown();
  return out;
}

namespace {

std::string escape(const std::string& s) { return util::xml_escape(s); }

}  // namespace

std::string findings_html(const HuntSummary& h, const std::vector<Finding>& findings,
                          const WorldCoverage& coverage) {
  std::string out =
      "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Hunt findings</title>"
      "<style>body{font-family:sans-serif;max-width:70em;margin:auto}pre{background:#f4f4f4;"
      "padding:.5em;overflow-x:auto}.new{color:#b00}.known{color:#070}</style></head><body>\n";
  out += fmt::format(
      "<h1>Hunt findings</h1><p>{} over seeds {}: {} runs, {} failed, {} distinct "
      "findings ({:.0f} s wall, {} jobs).</p>\n",
      escape(join(h.swarm_files, ", ")), escape(h.seeds), h.runs, h.failed, findings.size(),
      h.wall_s, h.jobs);
  for (std::size_t i = 0; i < findings.size(); ++i) {
    const auto& f = findings[i];
    out += fmt::format("<section><h2>Finding {}: {} <span class=\"{}\">({})</span></h2>\n", i + 1,
                       escape(f.signature.text()), f.is_new() ? "new" : "known", escape(f.label()));
    if (!f.known_id.empty()) out += "<p>Known because: " + escape(f.known_why) + "</p>\n";
    if (!f.passes_with_quirk.empty()) out += "<p>" + escape(quirk_sentence(f)) + "</p>\n";
    out += "<p><b>What broke:</b> " + escape(f.explanation) + "</p>\n";
    if (f.shrunk_file.empty()) {  // sweep --findings keeps failures unshrunk
      out += fmt::format(
          "<p>First seed {} of {} hitting it (not shrunk).</p>\n<h3>Repro</h3><pre>"
          "syncsim replay '{}'</pre></section>\n",
          f.first_seed, f.seeds.size(), escape(f.repro));
      continue;
    }
    out += fmt::format(
        "<p>First seed {} of {} hitting it; shrunk {} &rarr; {} steps: <code>{}"
        "</code> ({}).</p>\n",
        f.first_seed, f.seeds.size(), f.steps_before, f.steps_after, escape(f.shrunk_file),
        f.shrunk_replays ? "replays bit for bit" : "does NOT replay bit for bit");
    out += "<h3>Minimal timeline</h3><pre>";
    for (const auto& line : f.timeline) out += escape(line) + "\n";
    out += "</pre><h3>Repro</h3><pre>syncsim replay '" + escape(f.shrunk_repro) +
           "'\nsyncsim replay '" + escape(f.repro) + "'</pre></section>\n";
  }
  out += "<h2>Coverage</h2><pre>" + escape(coverage.markdown()) + "</pre></body></html>\n";
  return out;
}

}  // namespace syncsim::scenarios
