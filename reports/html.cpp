#include "reports/html.hpp"

#include <fmt/format.h>

#include <set>

#include "reports/markdown.hpp"
#include "reports/svg.hpp"

namespace syncsim::reports {

namespace {

constexpr const char* kStyle = R"(<style>
body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#1f2328;max-width:1400px}
h1{font-size:22px}h2{font-size:18px;border-bottom:1px solid #d0d7de;padding-bottom:4px;margin-top:28px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #d0d7de;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.num{text-align:right}code{font:12px ui-monospace,monospace;background:#f6f8fa;padding:1px 3px}
.held,.PASS{color:#1a7f37}.violated,.FAIL,.differs{color:#cf222e;font-weight:bold}.vacuous{color:#9a6700}
.expected{color:#8250df}.scroll{overflow:auto;border:1px solid #d0d7de;max-height:900px}
svg text{font:11px system-ui,sans-serif;fill:#1f2328}
.lane-head{fill:#ddf4ff;stroke:#54aeff}.lane-name{font-weight:bold}.lifeline{stroke:#8c959f;stroke-dasharray:4 3}
.msg line{stroke:#0969da;stroke-width:1.3}.msg.reply line{stroke:#1a7f37;stroke-dasharray:5 3}marker path{fill:#57606a}
.note rect{fill:#fff8c5;stroke:#d4a72c}.fault rect{fill:#ffebe9;stroke:#cf222e}.violation rect{fill:#cf222e}.violation text{fill:#fff;font-weight:bold}
.time{fill:#57606a}.fault-window{fill:#ff8182;opacity:.6}.fault-tick{fill:#cf222e}.awaiting{fill:#54aeff;opacity:.55}
.write{fill:#57606a}.stream{fill:#8250df}.life{fill:#bc4c00}.violation-mark{fill:#000}.bar.s0{fill:#0969da}.bar.s1{fill:#bf8700}
.axis-line{stroke:#8c959f}.axis,.missing{fill:#57606a}.charts{display:flex;flex-wrap:wrap;gap:18px}.charts figure{margin:0}
figcaption{font-size:12px;color:#57606a}
</style>)";

std::string esc(const std::string& s) { return xml_escape(s); }

std::string status_class(const std::string& status) {
  if (status == "expected violation") return "expected";
  return status;
}

std::string header_table(const ReportModel& m) {
  std::string out = "<table>\n";
  out += fmt::format("<tr><th>scenario</th><td><code>{}</code> ({})</td></tr>\n", esc(m.scenario),
                     esc(m.scenario_path));
  out += fmt::format("<tr><th>build</th><td><code>{}</code></td></tr>\n", esc(m.build));
  for (const auto& [name, sha] : m.cores) {
    out += fmt::format("<tr><th>core {}</th><td>sha256 <code>{}</code></td></tr>\n", esc(name),
                       esc(sha));
  }
  if (!m.sqlite_sha256.empty()) {
    out += fmt::format("<tr><th>SQLite amalgamation</th><td>sha256 <code>{}</code></td></tr>\n",
                       esc(m.sqlite_sha256));
  }
  out += fmt::format("<tr><th>seeds</th><td>{}: {} as expected, {} not</td></tr>\n",
                     esc(m.seed_range), m.passed, m.failed);
  out += fmt::format("<tr><th>expect</th><td>{}</td></tr>\n", esc(m.expect));
  out += fmt::format("<tr><th>replay</th><td><code>{}</code></td></tr>\n", esc(m.run_command));
  if (!m.repro.empty()) {
    out += fmt::format("<tr><th>repro (seed {})</th><td><code>{}</code></td></tr>\n",
                       m.diagram.seed, esc(m.repro));
  }
  if (!m.swarm.empty()) {
    out += fmt::format("<tr><th>swarm draw (seed {})</th><td><code>{}</code></td></tr>\n",
                       m.diagram.seed, esc(m.swarm));
  }
  out += "</table>\n";
  return out;
}

std::string invariant_table(const ReportModel& m) {
  std::string out =
      "<table class=\"invariants\"><tr><th>invariant</th><th>status</th><th>checks</th><th>seeds "
      "checked</th><th>seeds violated</th><th>statement</th></tr>\n";
  for (const auto& r : m.invariants) {
    out += fmt::format(
        "<tr><td><code>{}</code></td><td class=\"{}\">{}</td><td class=\"num\">{}</td><td "
        "class=\"num\">{}/{}</td><td class=\"num\">{}</td><td>{}</td></tr>\n",
        esc(r.id), status_class(r.status), esc(r.status), r.checks, r.seeds_checked, m.seeds.size(),
        r.seeds_violated, esc(r.statement));
  }
  return out + "</table>\n";
}

std::string sometimes_table(const ReportModel& m) {
  if (m.sometimes.empty()) return "";
  std::string out =
      "<h3>Sometimes conditions</h3>\n<p>Counted in every run; a condition the scenario lists "
      "(<code>sometimes</code>) that happened in no seed is <span "
      "class=\"vacuous\">VACUOUS</span>: "
      "the pass says nothing about it.</p>\n<table class=\"sometimes\"><tr><th>condition</th>"
      "<th>listed</th><th>status</th><th>count</th><th>seeds "
      "happened</th><th>statement</th></tr>\n";
  for (const auto& r : m.sometimes) {
    const char* cls = r.status == "VACUOUS" ? "vacuous" : r.status == "happened" ? "held" : "";
    out += fmt::format(
        "<tr><td><code>{}</code></td><td>{}</td><td class=\"{}\">{}</td><td "
        "class=\"num\">{}</td><td class=\"num\">{}/{}</td><td>{}</td></tr>\n",
        esc(r.id), r.listed ? "yes" : "no", cls, esc(r.status), r.count, r.seeds_happened,
        m.seeds.size(), esc(r.statement));
  }
  return out + "</table>\n";
}

std::string coverage_table(const ReportModel& m) {
  std::string out = "<table class=\"coverage\"><tr><th>invariant \\ fault class</th>";
  for (const auto& c : m.fault_classes) out += fmt::format("<th>{}</th>", esc(c));
  out += "</tr>\n";
  for (const auto& r : m.invariants) {
    out += fmt::format("<tr><td><code>{}</code></td>", esc(r.id));
    for (const auto& c : m.fault_classes) {
      const auto& cell = m.coverage.at(r.id).at(c);
      out +=
          fmt::format("<td class=\"{}\">{} checked, {} violated</td>",
                      cell.seeds_violated ? "violated" : (cell.seeds_checked ? "held" : "vacuous"),
                      cell.seeds_checked, cell.seeds_violated);
    }
    out += "</tr>\n";
  }
  return out + "</table>\n";
}

std::string page(const std::string& title, const std::string& body) {
  return fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src "
      "'unsafe-inline'; img-src data:\">\n<title>{}</title>\n{}\n</head><body>\n{}</body></html>\n",
      esc(title), kStyle, body);
}

}  // namespace

std::string html_report(const ReportModel& m) {
  std::string body = fmt::format("<h1>syncsim report: {}</h1>\n", esc(m.scenario));
  if (!m.description.empty()) body += fmt::format("<p>{}</p>\n", esc(m.description));
  body += header_table(m);
  body +=
      "<h2>Invariants</h2>\n<p><em>vacuous</em>: never checked in any seed, so holding says "
      "nothing.</p>\n" +
      invariant_table(m) + sometimes_table(m);
  body +=
      "<h2>Coverage: invariant × fault class</h2>\n<p>Seeds (of those whose scenario "
      "schedules that fault class) in which the invariant was checked at least once, and in "
      "which it was violated.</p>\n" +
      coverage_table(m);
  body += "<h2>Metrics over seeds</h2>\n<div class=\"charts\">\n";
  for (const auto& s : m.metrics) {
    body += fmt::format("<figure>{}<figcaption>{} ({}): median {}, max {}</figcaption></figure>\n",
                        svg_bar_chart(s), esc(s.title), esc(s.unit), optional_text(s.median()),
                        optional_text(s.max()));
  }
  body += "</div>\n";
  const auto& d = m.diagram;
  body += fmt::format("<h2>Timeline of faults and client states (seed {})</h2>\n", d.seed);
  body +=
      "<p>Red: fault windows (ticks: instant faults). Blue: a client awaiting the ack of its "
      "target (barrier closed). Grey ticks: local writes; purple: stream (re)opened; orange: the "
      "app reopened (a new life after a lifecycle fault).</p>\n";
  body += svg_state_timeline(d);
  body += fmt::format("<h2>Sequence diagram (seed {})</h2>\n<p>{}. ", d.seed, esc(d.why));
  if (d.total > d.events.size()) {
    body += fmt::format("Shows events {}..{} of {} recorded.", d.first + 1,
                        d.first + d.events.size(), d.total);
  } else {
    body += fmt::format("Shows all {} recorded events.", d.total);
  }
  if (!d.active_faults.empty()) {
    std::string open;
    for (const auto& f : d.active_faults) open += (open.empty() ? "" : ", ") + f;
    body += fmt::format(" Already open at the start of the window: {}.", esc(open));
  }
  body += "</p>\n<div class=\"scroll\">\n" + svg_sequence(d) + "</div>\n";
  body +=
      "<h2>Seeds</h2>\n<table><tr><th>seed</th><th>verdict</th><th>events</th><th>trace "
      "hash</th><th>violation</th></tr>\n";
  for (const auto& s : m.seeds) {
    body += fmt::format(
        "<tr><td class=\"num\">{}</td><td class=\"{}\">{}</td><td "
        "class=\"num\">{}</td><td><code>{}</code></td><td>{}</td></tr>\n",
        s.seed, s.verdict, s.verdict, s.events, esc(s.trace_hash), esc(s.violation));
  }
  body += "</table>\n<h2>Fault schedule</h2>\n<ul>\n";
  for (const auto& f : m.faults) body += fmt::format("<li>{}</li>\n", esc(f));
  if (m.faults.empty()) body += "<li>(none)</li>\n";
  body += "</ul>\n<h2>Parameters</h2>\n<table><tr><th>parameter</th><th>value</th></tr>\n";
  for (const auto& [k, v] : m.parameters) {
    body += fmt::format("<tr><td><code>{}</code></td><td>{}</td></tr>\n", esc(k), esc(v));
  }
  body += "</table>\n";
  return page("syncsim report: " + m.scenario, body);
}

std::string html_comparison(const ReportModel& a, const ReportModel& b) {
  std::string body =
      fmt::format("<h1>syncsim comparison: {} vs {}</h1>\n", esc(a.scenario), esc(b.scenario));
  body += "<h2>Variants</h2>\n<table><tr><th></th><th>A</th><th>B</th></tr>\n";
  body += fmt::format(
      "<tr><th>scenario</th><td><code>{}</code> ({})</td><td><code>{}</code> ({})</td></tr>\n",
      esc(a.scenario), esc(a.scenario_path), esc(b.scenario), esc(b.scenario_path));
  body += fmt::format("<tr><th>build</th><td><code>{}</code></td><td><code>{}</code></td></tr>\n",
                      esc(a.build), esc(b.build));
  body += fmt::format(
      "<tr><th>verdicts (seeds {} / {})</th><td>{} as expected, {} not</td><td>{} as expected, {} "
      "not</td></tr>\n",
      esc(a.seed_range), esc(b.seed_range), a.passed, a.failed, b.passed, b.failed);
  std::map<std::string, std::pair<std::string, std::string>> params;
  for (const auto& [k, v] : a.parameters) params[k].first = v;
  for (const auto& [k, v] : b.parameters) params[k].second = v;
  for (const auto& [k, v] : params) {
    if (v.first != v.second) {
      body += fmt::format("<tr><th><code>{}</code></th><td>{}</td><td>{}</td></tr>\n", esc(k),
                          esc(v.first), esc(v.second));
    }
  }
  std::string ca, cb;
  for (const auto& [n, s] : a.cores) ca += fmt::format("{} <code>{}</code>", esc(n), esc(s));
  for (const auto& [n, s] : b.cores) cb += fmt::format("{} <code>{}</code>", esc(n), esc(s));
  body += fmt::format("<tr><th>core sha256</th><td>{}</td><td>{}</td></tr>\n", ca, cb);
  body += fmt::format(
      "<tr><th>replay</th><td><code>{}</code></td><td><code>{}</code></td></tr>\n</table>\n",
      esc(a.run_command), esc(b.run_command));

  body +=
      "<h2>Invariants</h2>\n<table><tr><th>invariant</th><th>A</th><th>B</th><th>differs</th></"
      "tr>\n";
  std::map<std::string, const InvariantRow*> ra, rb;
  std::set<std::string> ids;
  for (const auto& r : a.invariants) ra[r.id] = &r, ids.insert(r.id);
  for (const auto& r : b.invariants) rb[r.id] = &r, ids.insert(r.id);
  for (const auto& id : ids) {
    auto show = [](const InvariantRow* r) {
      return r ? fmt::format("<span class=\"{}\">{}</span> ({} checks)", status_class(r->status),
                             esc(r->status), r->checks)
               : std::string("not checked");
    };
    const bool differs = !ra.count(id) || !rb.count(id) || ra[id]->status != rb[id]->status;
    body += fmt::format(
        "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td class=\"{}\">{}</td></tr>\n",
        esc(id), show(ra.count(id) ? ra[id] : nullptr), show(rb.count(id) ? rb[id] : nullptr),
        differs ? "differs" : "", differs ? "yes" : "no");
  }
  body +=
      "</table>\n<h2>Metrics</h2>\n<table><tr><th>metric</th><th>unit</th><th>A median</th><th>B "
      "median</th><th>Δ median</th><th>A max</th><th>B max</th><th>Δ max</th></tr>\n";
  for (std::size_t i = 0; i < a.metrics.size() && i < b.metrics.size(); ++i) {
    const auto& x = a.metrics[i];
    const auto& y = b.metrics[i];
    body += fmt::format(
        "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td "
        "class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td "
        "class=\"num\">{}</td></tr>\n",
        esc(x.title), esc(x.unit), optional_text(x.median()), optional_text(y.median()),
        metric_delta(x.median(), y.median()), optional_text(x.max()), optional_text(y.max()),
        metric_delta(x.max(), y.max()));
  }
  body +=
      "</table>\n<p>Bars per seed: <span style=\"color:#0969da\">■ A</span> <span "
      "style=\"color:#bf8700\">■ B</span></p>\n<div class=\"charts\">\n";
  for (std::size_t i = 0; i < a.metrics.size() && i < b.metrics.size(); ++i) {
    body += fmt::format("<figure>{}<figcaption>{} ({})</figcaption></figure>\n",
                        svg_paired_bar_chart(a.metrics[i], b.metrics[i]), esc(a.metrics[i].title),
                        esc(a.metrics[i].unit));
  }
  body += "</div>\n";
  return page(fmt::format("syncsim comparison: {} vs {}", a.scenario, b.scenario), body);
}

}  // namespace syncsim::reports
