// The data a report shows (DESIGN.md §8), built from a results document (`syncsim run
// --results`, scenarios/results_json.hpp).  Writers (markdown, html, json) only format
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

// The sequence diagram of one seed: a bounded window of its timeline.
struct Diagram {
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
  [[nodiscard]] std::optional<uint64_t> max() const;
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
  std::vector<MetricSeries> metrics;
  Diagram diagram;
};

ReportModel build_report_model(const nlohmann::json& results);
nlohmann::json to_json(const ReportModel& m);

// Formatting shared by the writers.
std::string seconds_text(int64_t micros);                     // "12.345s"
std::string optional_text(const std::optional<uint64_t>& v);  // "–" when absent

}  // namespace syncsim::reports
