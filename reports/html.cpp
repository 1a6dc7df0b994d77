#include "reports/html.hpp"

#include <fmt/format.h>

#include <set>

#include "reports/markdown.hpp"
#include "reports/plots.hpp"
#include "reports/svg.hpp"

namespace syncsim::reports {

namespace {

constexpr const char* kStyle = R"(<style>
body{font:14px/1.45 system-ui,sans-serif;margin:12px 24px;color:#1f2328;max-width:1400px}
h1{font-size:22px;margin:4px 0}h2{font-size:18px;border-bottom:1px solid #d0d7de;padding-bottom:4px;margin-top:28px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #d0d7de;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.num{text-align:right}code{font:12px ui-monospace,monospace;background:#f6f8fa;padding:1px 3px}
.held,.PASS{color:#1a7f37}.violated,.FAIL,.differs{color:#cf222e;font-weight:bold}.vacuous{color:#9a6700}
.expected{color:#8250df}.scroll{overflow-x:auto;border:1px solid #d0d7de}
svg text{font:11px system-ui,sans-serif;fill:#1f2328}
.lane-head{fill:#ddf4ff;stroke:#54aeff}.lane-name{font-weight:bold}.lifeline{stroke:#8c959f;stroke-dasharray:4 3}
.msg line{stroke:#0969da;stroke-width:1.3}.msg.reply line{stroke:#1a7f37;stroke-dasharray:5 3}marker path{fill:#57606a}
.note rect{fill:#fff8c5;stroke:#d4a72c}.fault rect{fill:#ffebe9;stroke:#cf222e}.violation rect{fill:#cf222e}.violation text{fill:#fff;font-weight:bold}
.time{fill:#57606a}.fault-window{fill:#ff8182;opacity:.6}.fault-tick{fill:#cf222e}.awaiting{fill:#54aeff;opacity:.55}
.write{fill:#57606a}.stream{fill:#8250df}.life{fill:#bc4c00}.violation-mark{fill:#000}.bar.s0{fill:#0969da}.bar.s1{fill:#bf8700}
.axis-line{stroke:#8c959f}.axis,.missing{fill:#57606a}.charts{display:flex;flex-wrap:wrap;gap:18px}.charts figure{margin:0}
figcaption{font-size:12px;color:#57606a}
.headline{border:2px solid #1f2328;border-radius:6px;padding:6px 14px;margin:8px 0}
.verdict{font-size:15px;font-weight:bold;margin:3px 0}.headline table{margin:3px 0}
.headline td,.headline th{padding:1px 6px;font-size:13px}.headline td.num{white-space:nowrap}
.differs-yes{color:#cf222e;font-weight:bold}
.plot-title{font-weight:bold}.plot-area{fill:#fff;stroke:#8c959f}.grid{stroke:#eaeef2}
.first-screen{display:flex;flex-wrap:wrap;gap:12px;margin:6px 0}
.heal{fill:#d0d7de;opacity:.45}.armed{fill:none;stroke:#cf222e;stroke-width:1}.diagram-window{fill:#fff8c5;stroke:#d4a72c}
.violation-line{stroke:#000;stroke-width:2}.violation-label{font-weight:bold}
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

std::string verdict_class(const std::string& verdict) {
  return verdict.rfind("FAIL", 0) == 0 ? "FAIL" : "PASS";
}

// The first screen: the verdict and the scenario's headline numbers.
std::string headline_section(const ReportModel& m) {
  std::string out = fmt::format("<section class=\"headline\">\n<p class=\"verdict {}\">{}</p>\n",
                                verdict_class(m.verdict), esc(m.verdict));
  if (!m.headline.empty()) {
    out += "<table><tr><th>headline</th><th>median over seeds (range)</th></tr>\n";
    for (const auto& key : m.headline) {
      const auto s = metric_or_empty(m, key);
      out += fmt::format("<tr><td>{}</td><td class=\"num\">{}</td></tr>\n", esc(s.title),
                         esc(spread_text(s)));
    }
    out += "</table>\n";
  }
  return out + "</section>\n";
}

// A failing seed: the violation, and where its twin (without the mutants or faults) parted.
std::string explanation_section(const ReportModel& m) {
  if (!m.explanation) return "";
  const auto& x = *m.explanation;
  std::string out = fmt::format("<h2>Why seed {} failed</h2>\n<p><strong>{}</strong></p>\n", x.seed,
                                esc(x.violation));
  if (!x.inputs.empty()) {
    out +=
        "<p>What the invariant compared:</p>\n<table><tr><th>input</th><th>value</th><th>from"
        "</th><th>trace line</th></tr>\n";
    for (const auto& in : x.inputs) {
      out += fmt::format("<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>\n",
                         esc(in.name), esc(in.value), esc(in.source),
                         in.line ? std::to_string(in.line) : "");
    }
    out += "</table>\n";
  }
  if (!x.chain.empty()) {
    out += "<p>How it came about (the <code>CAUSE</code> lines of the trace):</p>\n<ol>\n";
    for (const auto& [what, line] : x.chain) {
      out += fmt::format("<li>{}{}</li>\n", esc(what),
                         line ? fmt::format(" <small>(trace line {})</small>", line) : "");
    }
    out += "</ol>\n";
  }
  if (x.twin_removed.empty()) {
    return out +
           "<p>No twin run recorded (<code>syncsim run FILE --seed N</code> runs one for "
           "the first failing seed).</p>\n";
  }
  out += fmt::format("<p>Twin: the same seed without {}: <span class=\"{}\">{}</span>.",
                     esc(x.twin_removed), x.twin_verdict == "PASS" ? "PASS" : "FAIL",
                     esc(x.twin_verdict));
  if (x.line == 0) return out + " Their traces are identical.</p>\n";
  out += fmt::format(" The runs first part at trace line {}:</p>\n<pre>", x.line);
  for (const auto& c : x.context) out += "      " + esc(c) + "\n";
  out += "run:  " + esc(x.run_line) + "\ntwin: " + esc(x.twin_line) + "</pre>\n";
  return out;
}

std::string comparison_headline_section(const ReportModel& a, const ReportModel& b) {
  std::string out = fmt::format(
      "<section class=\"headline\">\n<p class=\"verdict {}\">A ({}): {}</p>\n"
      "<p class=\"verdict {}\">B ({}): {}</p>\n",
      verdict_class(a.verdict), esc(a.scenario), esc(a.verdict), verdict_class(b.verdict),
      esc(b.scenario), esc(b.verdict));
  const auto keys = comparison_headline(a, b);
  if (!keys.empty()) {
    out +=
        "<table><tr><th>headline</th><th>A median (range)</th><th>B median (range)</th><th>B − "
        "A per seed [min, max]</th><th>reading</th></tr>\n";
    for (const auto& key : keys) {
      const auto x = metric_or_empty(a, key), y = metric_or_empty(b, key);
      const auto d = difference(x, y);
      out += fmt::format(
          "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td "
          "class=\"num\">{}</td><td class=\"{}\">{}</td></tr>\n",
          esc(x.title), esc(spread_text(x)), esc(spread_text(y)), esc(difference_text(d, x.unit)),
          d.differs() ? "differs-yes" : "", esc(difference_reading(d)));
    }
    out += "</table>\n";
  }
  return out + "</section>\n";
}

PlotSeries cdf_series(const Distribution* d, const std::string& label, int style) {
  PlotSeries s{label, style, {}};
  if (d) {
    for (const auto& x : d->samples) s.points.emplace_back(x.ms, 0);
  }
  return s;
}

PlotSeries time_series(const Distribution* d, const std::string& label, int style, int client = 0) {
  PlotSeries s{label, style, {}};
  if (d) {
    for (const auto& x : d->samples) {
      if (client == 0 || x.client == client) s.points.emplace_back(x.at_ms, x.ms);
    }
  }
  return s;
}

bool has_samples(const ReportModel& m, const std::string& key) {
  const auto* d = m.distribution(key);
  return d && !d->samples.empty();
}

// The two plots beside the headline: request → ack (direct vs hidden) as a CDF and over
// time; without checkpoint requests, local write → visible instead.
std::string first_screen_plots(const ReportModel& m) {
  std::string out = "<div class=\"first-screen\">\n";
  if (has_samples(m, "ack_direct_ms") || has_samples(m, "ack_hidden_ms")) {
    out += svg_cdf("request → ack, all seeds (CDF)",
                   {cdf_series(m.distribution("ack_direct_ms"), "by its own id", 0),
                    cdf_series(m.distribution("ack_hidden_ms"), "by a later id", 1)});
    out += svg_over_time("request → ack over simulated time",
                         {time_series(m.distribution("ack_direct_ms"), "by its own id", 0),
                          time_series(m.distribution("ack_hidden_ms"), "by a later id", 1)},
                         m.run_end_ms);
  } else {
    out += svg_cdf("local write → visible with ack, all seeds (CDF)",
                   {cdf_series(m.distribution("write_to_ack_ms"), "all clients", 2)});
    out += svg_over_time("local write → visible over simulated time",
                         {time_series(m.distribution("write_to_ack_ms"), "all clients", 2)},
                         m.run_end_ms);
  }
  return out + "</div>\n";
}

std::string comparison_first_screen_plots(const ReportModel& a, const ReportModel& b) {
  std::string out = "<div class=\"first-screen\">\n";
  const bool acks = has_samples(a, "ack_direct_ms") || has_samples(a, "ack_hidden_ms") ||
                    has_samples(b, "ack_direct_ms") || has_samples(b, "ack_hidden_ms");
  if (acks) {
    out += svg_cdf("request → ack, A solid vs B dashed (CDF)",
                   {cdf_series(a.distribution("ack_direct_ms"), "A own id", 0),
                    cdf_series(a.distribution("ack_hidden_ms"), "A later id", 1),
                    cdf_series(b.distribution("ack_direct_ms"), "B own id", 3),
                    cdf_series(b.distribution("ack_hidden_ms"), "B later id", 4)});
  }
  out += svg_cdf("local write → visible with ack (CDF)",
                 {cdf_series(a.distribution("write_to_ack_ms"), "A", 0),
                  cdf_series(b.distribution("write_to_ack_ms"), "B", 3)});
  return out + "</div>\n";
}

std::string percentile_row(const std::string& name, const Distribution* d) {
  auto q = [&](double x) {
    const auto v = d ? d->quantile(x) : std::nullopt;
    return v ? std::to_string(*v) : std::string("–");
  };
  return fmt::format(
      "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td "
      "class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>\n",
      esc(name), d ? d->samples.size() : 0, q(0.5), q(0.9), q(0.99), q(1.0));
}

constexpr const char* kPercentileHead =
    "<table><tr><th>distribution (ms, pooled over seeds)</th><th>samples</th><th>p50</th>"
    "<th>p90</th><th>p99</th><th>max</th></tr>\n";

// Per distribution: a CDF and latency over time, one colour per client.
std::string distributions_section(const ReportModel& m) {
  std::string out =
      "<h2>Distributions over all seeds</h2>\n<p>Every sample of every seed: CDFs show the "
      "share of samples at or below a latency; the time plots put each sample at the simulated "
      "time its interval began (colour = client 1, 2, 3…).</p>\n";
  out += kPercentileHead;
  for (const auto& d : m.distributions) out += percentile_row(d.title, &d);
  out += "</table>\n<div class=\"charts\">\n";
  int clients = 0;
  for (const auto& l : m.diagram.lanes) clients += l.rfind("client", 0) == 0 ? 1 : 0;
  for (const auto& d : m.distributions) {
    if (d.samples.empty()) continue;
    std::vector<PlotSeries> per_client;
    for (int c = 1; c <= clients; ++c) {
      per_client.push_back(time_series(&d, fmt::format("client {}", c), (c - 1) % 3, c));
    }
    out += svg_cdf(d.title + " (CDF)", {cdf_series(&d, "all clients", 0)});
    out += svg_over_time(d.title + " over time", per_client, m.run_end_ms);
  }
  return out + "</div>\n";
}

std::string comparison_distributions_section(const ReportModel& a, const ReportModel& b) {
  std::string out =
      "<h2>Distributions over all seeds</h2>\n<p>A solid, B dashed (time plots: B in smaller "
      "dots).</p>\n";
  out += kPercentileHead;
  for (std::size_t i = 0; i < a.distributions.size(); ++i) {
    const auto& d = a.distributions[i];
    out += percentile_row("A: " + d.title, &d);
    out += percentile_row("B: " + d.title, b.distribution(d.key));
  }
  out += "</table>\n<div class=\"charts\">\n";
  for (const auto& d : a.distributions) {
    const auto* e = b.distribution(d.key);
    if (d.samples.empty() && (!e || e->samples.empty())) continue;
    out += svg_cdf(d.title + " (CDF)", {cdf_series(&d, "A", 0), cdf_series(e, "B", 3)});
    out += svg_over_time(d.title + " over time", {time_series(&d, "A", 0), time_series(e, "B", 4)},
                         std::max(a.run_end_ms, b.run_end_ms));
  }
  return out + "</div>\n";
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
  body += headline_section(m) + first_screen_plots(m) + explanation_section(m);
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
  body += distributions_section(m);
  body += "<h2>Metrics over seeds</h2>\n<div class=\"charts\">\n";
  for (const auto& key : m.shown) {
    const auto s = metric_or_empty(m, key);
    body += fmt::format("<figure>{}<figcaption>{} ({}): median {}, max {}</figcaption></figure>\n",
                        svg_bar_chart(s), esc(s.title), esc(s.unit), optional_text(s.median()),
                        optional_text(s.max()));
  }
  body += "</div>\n";
  const auto& d = m.diagram;
  body += fmt::format("<h2>Timeline of the run: faults and client states (seed {})</h2>\n", d.seed);
  body +=
      "<p>The whole run, 0 s to where it ended. Red: fault windows and instant faults that "
      "fired (an outlined tick: a kill armed, not fired). Blue: a client's barrier closed (target "
      "set, not yet applied). Orange: the app reopened. Grey: the heal phase. Black: the "
      "violation. Yellow: the stretch the sequence diagram below shows.</p>\n";
  body += d.end_us > 0 ? svg_run_timeline(d) : svg_state_timeline(d);
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
  body += comparison_headline_section(a, b) + comparison_first_screen_plots(a, b);
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
      "</table>\n<h2>Metrics</h2>\n<p>Median over seeds with the range; B − A paired by seed "
      "(median of the per-seed differences, [min, max]).</p>\n<table><tr><th>metric</th><th>A "
      "median (range)</th><th>B median (range)</th><th>B − A</th><th>reading</th></tr>\n";
  for (const auto& key : a.shown) {
    const auto x = metric_or_empty(a, key), y = metric_or_empty(b, key);
    const auto d = difference(x, y);
    body += fmt::format(
        "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td "
        "class=\"num\">{}</td><td class=\"{}\">{}</td></tr>\n",
        esc(x.title), esc(spread_text(x)), esc(spread_text(y)), esc(difference_text(d, x.unit)),
        d.differs() ? "differs-yes" : "", esc(difference_reading(d)));
  }
  body += "</table>\n" + comparison_distributions_section(a, b);
  body +=
      "<p>Bars per seed: <span style=\"color:#0969da\">■ A</span> <span "
      "style=\"color:#bf8700\">■ B</span></p>\n<div class=\"charts\">\n";
  for (const auto& key : a.shown) {
    const auto x = metric_or_empty(a, key), y = metric_or_empty(b, key);
    body += fmt::format("<figure>{}<figcaption>{} ({})</figcaption></figure>\n",
                        svg_paired_bar_chart(x, y), esc(x.title), esc(x.unit));
  }
  body += "</div>\n";
  return page(fmt::format("syncsim comparison: {} vs {}", a.scenario, b.scenario), body);
}

}  // namespace syncsim::reports
