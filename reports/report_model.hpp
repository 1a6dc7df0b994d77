// The data a report shows (docs/reports.md §1), built from a results document (`syncsim run
// --results`, scenarios/results/results_json.hpp).  Writers (markdown, html, json) only format
// this; nothing here runs a simulation.  Wall-clock fields of the results are ignored so a
// report is a pure function of seed and build.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace syncsim::reports {

// Thrown for a results document a report cannot be made from; says which field and why.
struct ReportError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct DiagramEvent {
  int64_t at_us = 0;
  std::string from, to, kind, label;
  [[nodiscard]] bool is_note() const { return from == to; }
};

// A stretch of the whole run (scenarios/results/run_recorder.hpp TimelineSpan).
struct Span {
  std::string lane, kind;
  int64_t from_us = 0, to_us = 0;
  std::string label;
};

// The sequence diagram of one seed: a bounded window of its timeline.
struct Diagram {
  int64_t end_us = 0;       // where the run ended (0: unknown, an older document)
  std::vector<Span> spans;  // the whole run's fault windows, barrier states, heal, violation
  uint64_t seed = 0;
  std::string why;                 // which seed and window, in words
  std::vector<std::string> lanes;  // client 1.., service, replication
  std::vector<DiagramEvent> events;
  uint64_t first = 0, total = 0;
  std::vector<std::string> active_faults;
};

struct SeedRow {
  uint64_t seed = 0;
  bool expectation_met = false;
  std::string verdict;    // PASS / FAIL
  std::string violation;  // "<invariant> at <t>s (<subject>): <message>", or empty
  uint64_t events = 0;
  std::string trace_hash;
  std::string repro;
};

struct InvariantRow {
  std::string id, statement;
  uint64_t checks = 0;         // over all seeds
  uint64_t seeds_checked = 0;  // seeds where it was checked at least once
  uint64_t seeds_violated = 0;
  std::string status;  // held | violated | expected violation | vacuous
};

// A sometimes-condition (scenarios/explore/sometimes.hpp) over the report's seeds.
struct SometimesRow {
  std::string id, statement;
  bool listed = false;  // the scenario lists it under `sometimes`
  uint64_t count = 0;   // times it happened, over all seeds
  uint64_t seeds_happened = 0;
  std::string status;  // happened | VACUOUS (listed, never happened) | not listed
};

struct MetricSeries {
  std::string key, title, unit;
  std::vector<std::pair<uint64_t, std::optional<uint64_t>>> by_seed;
  [[nodiscard]] std::optional<uint64_t> median() const;
  [[nodiscard]] std::optional<uint64_t> min() const;
  [[nodiscard]] std::optional<uint64_t> max() const;
};

// B − A of one metric over seeds: paired by seed where both variants ran it (the median
// of the per-seed differences and their range), else the difference of the medians with
// the range from the two spreads.  "differs" only when the whole interval is on one side
// of 0, so seed-to-seed spread is not read as a difference.
struct Difference {
  std::optional<int64_t> median, lo, hi;
  bool paired = false;
  std::size_t seeds = 0;  // paired seeds (or 0)
  [[nodiscard]] bool differs() const { return lo && hi && (*lo > 0 || *hi < 0); }
};
Difference difference(const MetricSeries& a, const MetricSeries& b);

// One latency sample of a run (scenarios/results/run_recorder.hpp LatencySample), with its seed.
struct Sample {
  uint64_t seed = 0;
  int64_t at_ms = 0;  // when its interval began, simulated ms since the start
  int client = 0;
  int64_t ms = 0;
};

// A latency distribution pooled over all seeds (the report's CDFs and time plots).
struct Distribution {
  std::string key, title;
  std::vector<Sample> samples;  // seed order, then as recorded
  [[nodiscard]] std::vector<int64_t> sorted_values() const;
  // Nearest-rank quantile, q in [0, 1]; nullopt without samples.
  [[nodiscard]] std::optional<int64_t> quantile(double q) const;
};

// Why the diagram's seed failed: its violation, and its twin (the same seed without the
// mutants or faults, scenarios/world/twin.hpp) with the first trace line where the two part.
struct Explanation {
  uint64_t seed = 0;
  std::string violation;  // "<invariant> at <t>s (<subject>): <message>"
  struct Input {
    std::string name, value, source;
    uint64_t line = 0;
  };
  std::vector<Input> inputs;  // what the invariant compared (empty: the checker gives none)
  std::vector<std::pair<std::string, uint64_t>> chain;  // causal steps with their trace lines
  std::string twin_removed, twin_verdict;               // empty: no twin recorded
  uint64_t line = 0;
  std::string run_line, twin_line;
  std::vector<std::string> context;
};

struct CoverageCell {
  uint64_t seeds_checked = 0, seeds_violated = 0;
};

struct ReportModel {
  std::string scenario, description, scenario_path, build, sqlite_sha256, expect;
  std::vector<std::pair<std::string, std::string>> parameters;  // "clients.count" -> "3"
  std::vector<std::pair<std::string, std::string>> cores;       // version -> sha256
  std::vector<std::string> faults;                              // the schedule, in words
  std::vector<SeedRow> seeds;
  uint64_t passed = 0, failed = 0;
  std::string seed_range;   // "1..20"
  std::string run_command;  // replays the whole sweep
  std::string repro;        // the repro string of the diagram's seed (runner.hpp)
  std::string swarm;        // a swarm run's drawn parameters of that seed, "" otherwise
  std::vector<InvariantRow> invariants;
  std::vector<SometimesRow> sometimes;  // empty for documents from before they existed
  std::vector<std::string> fault_classes;
  std::map<std::string, std::map<std::string, CoverageCell>> coverage;  // invariant -> class
  std::vector<MetricSeries> metrics;  // every named metric (scenarios/format/metric_names.hpp)
  std::vector<std::string> headline;  // keys of `metrics` the report opens with
  std::vector<std::string> shown;     // the headline's, then the per-seed charted ones
  std::string verdict;                // one sentence: PASS/FAIL, seeds, what failed
  std::vector<Distribution> distributions;  // kDistributions order, each possibly empty
  int64_t run_end_ms = 0;                   // the longest run's simulated end
  std::optional<Explanation> explanation;   // a failing diagram seed
  Diagram diagram;
  [[nodiscard]] const MetricSeries* metric(const std::string& key) const;
  [[nodiscard]] const Distribution* distribution(const std::string& key) const;
};

ReportModel build_report_model(const nlohmann::json& results);
nlohmann::json to_json(const ReportModel& m);

// Text of a Difference: "+29 098 ms [+28 900, +29 300] over 10 seeds", "–" without data.
std::string difference_text(const Difference& d, const std::string& unit);
// "B higher" / "B lower" / "no clear difference (the interval includes 0)".
std::string difference_reading(const Difference& d);
// A comparison's headline: A's headline keys, then B's others.
std::vector<std::string> comparison_headline(const ReportModel& a, const ReportModel& b);
// The metric of `m` by key; a series without values if `m` lacks it.
MetricSeries metric_or_empty(const ReportModel& m, const std::string& key);
// "4 980 ms (seeds: 4 900–5 100)" for the headline.
std::string spread_text(const MetricSeries& s);

// Formatting shared by the writers.
std::string seconds_text(int64_t micros);                     // "12.345s"
std::string optional_text(const std::optional<uint64_t>& v);  // "–" when absent

}  // namespace syncsim::reports
