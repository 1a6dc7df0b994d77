#include "reports/markdown.hpp"

#include <fmt/format.h>

#include <set>

#include "reports/mermaid.hpp"

namespace syncsim::reports {

namespace {

std::string cell(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '|')
      out += "\\|";
    else if (c == '\n')
      out += ' ';
    else
      out += c;
  }
  return out;
}

std::string header(const ReportModel& m) {
  std::string out;
  out += fmt::format("| | |\n|---|---|\n");
  out += fmt::format("| scenario | `{}` ({}) |\n", cell(m.scenario), cell(m.scenario_path));
  out += fmt::format("| build | `{}` |\n", cell(m.build));
  for (const auto& [name, sha] : m.cores)
    out += fmt::format("| core {} | sha256 `{}` |\n", name, sha);
  if (!m.sqlite_sha256.empty())
    out += fmt::format("| SQLite amalgamation | sha256 `{}` |\n", m.sqlite_sha256);
  out += fmt::format("| seeds | {}: {} as expected, {} not |\n", m.seed_range, m.passed, m.failed);
  out += fmt::format("| expect | {} |\n", cell(m.expect));
  out += fmt::format("| replay | `{}` |\n", cell(m.run_command));
  if (!m.repro.empty())
    out += fmt::format("| repro (seed {}) | `{}` |\n", m.diagram.seed, cell(m.repro));
  if (!m.swarm.empty())
    out += fmt::format("| swarm draw (seed {}) | `{}` |\n", m.diagram.seed, cell(m.swarm));
  return out;
}

std::string invariant_table(const ReportModel& m) {
  std::string out =
      "| invariant | status | checks | seeds checked | seeds violated | statement |\n"
      "|---|---|---:|---:|---:|---|\n";
  for (const auto& r : m.invariants) {
    out += fmt::format("| `{}` | {} | {} | {}/{} | {} | {} |\n", r.id, r.status, r.checks,
                       r.seeds_checked, m.seeds.size(), r.seeds_violated, cell(r.statement));
  }
  return out;
}

std::string sometimes_table(const ReportModel& m) {
  if (m.sometimes.empty()) return "";
  std::string out =
      "\n### Sometimes conditions\n\n"
      "Counted in every run; a condition the scenario lists (`sometimes`) that happened in no "
      "seed is **VACUOUS**: the pass says nothing about it.\n\n"
      "| condition | listed | status | count | seeds happened | statement |\n"
      "|---|---|---|---:|---:|---|\n";
  for (const auto& r : m.sometimes) {
    out += fmt::format("| `{}` | {} | {} | {} | {}/{} | {} |\n", r.id, r.listed ? "yes" : "no",
                       r.status == "VACUOUS" ? "**VACUOUS**" : r.status, r.count, r.seeds_happened,
                       m.seeds.size(), cell(r.statement));
  }
  return out;
}

std::string coverage_table(const ReportModel& m) {
  std::string out = "| invariant |";
  std::string rule = "|---|";
  for (const auto& c : m.fault_classes) {
    out += fmt::format(" {} |", c);
    rule += "---|";
  }
  out += "\n" + rule + "\n";
  for (const auto& r : m.invariants) {
    out += fmt::format("| `{}` |", r.id);
    for (const auto& c : m.fault_classes) {
      const auto& cellv = m.coverage.at(r.id).at(c);
      out += fmt::format(" {} checked, {} violated |", cellv.seeds_checked, cellv.seeds_violated);
    }
    out += "\n";
  }
  return out;
}

std::string quantile_cell(const Distribution* d, double q) {
  const auto v = d ? d->quantile(q) : std::nullopt;
  return v ? std::to_string(*v) : "–";
}

std::string percentile_row(const std::string& name, const Distribution* d) {
  return fmt::format("| {} | {} | {} | {} | {} | {} |\n", cell(name), d ? d->samples.size() : 0,
                     quantile_cell(d, 0.5), quantile_cell(d, 0.9), quantile_cell(d, 0.99),
                     quantile_cell(d, 1.0));
}

constexpr const char* kPercentileHead =
    "| distribution (ms, pooled over seeds) | samples | p50 | p90 | p99 | max |\n"
    "|---|---:|---:|---:|---:|---:|\n";

std::string headline_table(const ReportModel& m) {
  std::string out = fmt::format("**{}**\n\n", cell(m.verdict));
  if (m.headline.empty()) return out;
  out += "| headline | median over seeds (range) |\n|---|---:|\n";
  for (const auto& key : m.headline) {
    const auto s = metric_or_empty(m, key);
    out += fmt::format("| {} | {} |\n", cell(s.title), spread_text(s));
  }
  return out + "\n";
}

std::string explanation_section(const ReportModel& m) {
  if (!m.explanation) return "";
  const auto& x = *m.explanation;
  std::string out = fmt::format("## Why seed {} failed\n\n**{}**\n\n", x.seed, cell(x.violation));
  if (!x.inputs.empty()) {
    out +=
        "What the invariant compared:\n\n| input | value | from | trace line "
        "|\n|---|---|---|---:|\n";
    for (const auto& in : x.inputs) {
      out += fmt::format("| {} | `{}` | {} | {} |\n", cell(in.name), cell(in.value),
                         cell(in.source), in.line ? std::to_string(in.line) : "");
    }
    out += "\n";
  }
  if (!x.chain.empty()) {
    out += "How it came about (the `CAUSE` lines of the trace):\n\n";
    for (std::size_t i = 0; i < x.chain.size(); ++i) {
      out += fmt::format(
          "{}. {}{}\n", i + 1, cell(x.chain[i].first),
          x.chain[i].second ? fmt::format(" (trace line {})", x.chain[i].second) : std::string());
    }
    out += "\n";
  }
  if (x.twin_removed.empty()) return out;
  out += fmt::format("Twin: the same seed without {}: {}.", x.twin_removed, x.twin_verdict);
  if (x.line == 0) return out + " Their traces are identical.\n\n";
  out += fmt::format(" The runs first part at trace line {}:\n\n```\n", x.line);
  for (const auto& c : x.context) out += "      " + c + "\n";
  return out + "run:  " + x.run_line + "\ntwin: " + x.twin_line + "\n```\n\n";
}

std::string metric_table(const ReportModel& m) {
  std::string out = "| metric | unit | median | max | per seed |\n|---|---|---:|---:|---|\n";
  for (const auto& key : m.shown) {
    const auto s = metric_or_empty(m, key);
    std::string per_seed;
    for (const auto& [seed, v] : s.by_seed) {
      per_seed += fmt::format("{}{}:{}", per_seed.empty() ? "" : " ", seed, optional_text(v));
    }
    out += fmt::format("| {} | {} | {} | {} | {} |\n", s.title, s.unit, optional_text(s.median()),
                       optional_text(s.max()), per_seed);
  }
  return out;
}

std::string diagram_section(const Diagram& d) {
  std::string out = fmt::format("Seed {}: {}. ", d.seed, d.why);
  if (d.total > d.events.size()) {
    out += fmt::format("Shows events {}..{} of {} recorded.", d.first + 1,
                       d.first + d.events.size(), d.total);
  } else {
    out += fmt::format("Shows all {} recorded events.", d.total);
  }
  out += " Times are simulated seconds since the start; ⚡ marks a fault.\n\n";
  out += "```mermaid\n" + mermaid_sequence(d) + "```\n";
  return out;
}

std::string comparison_headline_table(const ReportModel& a, const ReportModel& b) {
  const auto keys = comparison_headline(a, b);
  if (keys.empty()) return "";
  std::string out =
      "| headline | A median (range) | B median (range) | B − A per seed [min, max] | reading "
      "|\n|---|---:|---:|---|---|\n";
  for (const auto& key : keys) {
    const auto x = metric_or_empty(a, key), y = metric_or_empty(b, key);
    const auto d = difference(x, y);
    out += fmt::format("| {} | {} | {} | {} | {} |\n", cell(x.title), spread_text(x),
                       spread_text(y), difference_text(d, x.unit), difference_reading(d));
  }
  return out + "\n";
}

}  // namespace

std::string metric_delta(const std::optional<uint64_t>& a, const std::optional<uint64_t>& b) {
  if (!a || !b) return "–";
  if (*a == *b) return "=";
  const int64_t d = static_cast<int64_t>(*b) - static_cast<int64_t>(*a);
  return fmt::format("{:+}", d);
}

std::string markdown_report(const ReportModel& m) {
  std::string out = fmt::format("# syncsim report: {}\n\n", m.scenario);
  out += headline_table(m);
  if (!m.description.empty()) out += fmt::format("> {}\n\n", m.description);
  out += explanation_section(m);
  out += header(m) + "\n";
  out +=
      "## Seeds\n\n| seed | verdict | events | trace hash | violation |\n|---:|---|---:|---|---|\n";
  for (const auto& s : m.seeds) {
    out += fmt::format("| {} | {} | {} | `{}` | {} |\n", s.seed, s.verdict, s.events, s.trace_hash,
                       cell(s.violation));
  }
  out +=
      "\n## Invariants\n\n"
      "*vacuous*: never checked in any seed, so holding says nothing.\n\n" +
      invariant_table(m) + sometimes_table(m);
  out +=
      "\n## Coverage: invariant × fault class\n\n"
      "Seeds (of those whose scenario schedules that fault class) in which the invariant was "
      "checked at least once, and in which it was violated.\n\n" +
      coverage_table(m);
  out += "\n## Distributions over all seeds\n\n";
  out += kPercentileHead;
  for (const auto& d : m.distributions) out += percentile_row(d.title, &d);
  out += "\nThe HTML report plots them (CDFs and latency over simulated time).\n";
  out += "\n## Metrics over seeds\n\n" + metric_table(m);
  out += "\n## Sequence diagram\n\n" + diagram_section(m.diagram);
  out += "\n## Fault schedule\n\n";
  if (m.faults.empty()) out += "(none)\n";
  for (const auto& f : m.faults) out += fmt::format("- {}\n", f);
  out += "\n## Parameters\n\n| parameter | value |\n|---|---|\n";
  for (const auto& [k, v] : m.parameters) out += fmt::format("| `{}` | {} |\n", k, cell(v));
  return out;
}

std::string markdown_comparison(const ReportModel& a, const ReportModel& b) {
  std::string out = fmt::format("# syncsim comparison: {} vs {}\n\n", a.scenario, b.scenario);
  out += fmt::format("A = `{}` ({}), B = `{}` ({}), seeds A {} / B {}.\n\n", a.scenario,
                     cell(a.scenario_path), b.scenario, cell(b.scenario_path), a.seed_range,
                     b.seed_range);
  out += fmt::format("**A: {}**  \n**B: {}**\n\n", cell(a.verdict), cell(b.verdict));
  out += comparison_headline_table(a, b);
  out += "## Variants\n\n| | A | B |\n|---|---|---|\n";
  out += fmt::format("| build | `{}` | `{}` |\n", a.build, b.build);
  out += fmt::format("| verdicts | {} as expected, {} not | {} as expected, {} not |\n", a.passed,
                     a.failed, b.passed, b.failed);
  out += fmt::format("| replay | `{}` | `{}` |\n", cell(a.run_command), cell(b.run_command));
  // Parameters that differ (and every core hash, since a core is a variant too).
  std::map<std::string, std::pair<std::string, std::string>> params;
  for (const auto& [k, v] : a.parameters) params[k].first = v;
  for (const auto& [k, v] : b.parameters) params[k].second = v;
  for (const auto& [k, v] : params) {
    if (v.first != v.second)
      out += fmt::format("| `{}` | {} | {} |\n", k, cell(v.first), cell(v.second));
  }
  std::string cores_a, cores_b;
  for (const auto& [n, s] : a.cores) cores_a += fmt::format("{} `{}`", n, s.substr(0, 16));
  for (const auto& [n, s] : b.cores) cores_b += fmt::format("{} `{}`", n, s.substr(0, 16));
  out += fmt::format("| core sha256 | {} | {} |\n", cores_a, cores_b);

  out += "\n## Invariants\n\n| invariant | A | B | differs |\n|---|---|---|---|\n";
  std::set<std::string> ids;
  std::map<std::string, std::string> sa, sb;
  for (const auto& r : a.invariants)
    ids.insert(r.id), sa[r.id] = fmt::format("{} ({} checks)", r.status, r.checks);
  for (const auto& r : b.invariants)
    ids.insert(r.id), sb[r.id] = fmt::format("{} ({} checks)", r.status, r.checks);
  for (const auto& id : ids) {
    const auto& x = sa.count(id) ? sa[id] : std::string("not checked");
    const auto& y = sb.count(id) ? sb[id] : std::string("not checked");
    const bool differs = x.substr(0, x.find(" (")) != y.substr(0, y.find(" ("));
    out += fmt::format("| `{}` | {} | {} | {} |\n", id, x, y, differs ? "**yes**" : "no");
  }
  out +=
      "\n## Metrics (median over seeds, B − A per seed with its range)\n\n"
      "| metric | A median (range) | B median (range) | B − A | reading |\n"
      "|---|---:|---:|---|---|\n";
  for (const auto& key : a.shown) {
    const auto x = metric_or_empty(a, key), y = metric_or_empty(b, key);
    const auto d = difference(x, y);
    out += fmt::format("| {} | {} | {} | {} | {} |\n", x.title, spread_text(x), spread_text(y),
                       difference_text(d, x.unit), difference_reading(d));
  }
  out += "\n## Distributions over all seeds\n\n";
  out += kPercentileHead;
  for (const auto& d : a.distributions) {
    out += percentile_row("A: " + d.title, &d);
    out += percentile_row("B: " + d.title, b.distribution(d.key));
  }
  out += "\n## Seeds whose verdict differs\n\n";
  std::map<uint64_t, std::string> va;
  for (const auto& s : a.seeds) va[s.seed] = s.verdict;
  std::string differ;
  for (const auto& s : b.seeds) {
    auto it = va.find(s.seed);
    if (it != va.end() && it->second != s.verdict) {
      differ += fmt::format("- seed {}: A {}, B {} {}\n", s.seed, it->second, s.verdict,
                            cell(s.violation));
    }
  }
  out += differ.empty() ? "(none)\n" : differ;
  return out;
}

}  // namespace syncsim::reports
