#include "cli/list_command.hpp"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <filesystem>
#include <iostream>

#include "cli/exit_codes.hpp"
#include "scenarios/explore/sometimes.hpp"
#include "scenarios/format/metric_names.hpp"
#include "scenarios/results/results_json.hpp"
#include "scenarios/world/runner.hpp"

namespace syncsim::cli {

namespace {

// What each mutant breaks (README "Mutants"); kept beside mutant_names() by a test.
constexpr std::pair<const char*, const char*> kMutantStatements[] = {
    {"accept-non-positive-ids", "the service stores checkpoint_request_ids <= 0"},
    {"ack-before-replication",
     "the service emits write_checkpoint n before replication passed the requests it acks"},
    {"cleanup-deletes-pending", "retention cleanup deletes a request record still pending"},
    {"lower-id-replaces", "a lower posted id replaces the stored one"},
    {"marker-before-mapping", "the source marker is written before the request mapping"},
    {"no-complete-for-write-checkpoint-only",
     "no checkpoint_complete for a diff that changes only write_checkpoint (pre-1.7.1)"},
    {"replication-stall", "replication stops mid-run and never heals"},
    {"write-checkpoint-may-drop", "a mongo connection may pass a lower write_checkpoint"},
    {"removed-subscription-keeps-buckets",
     "a removed stream subscription keeps its buckets in the checkpoint"},
    {"complete-without-upload", "every third CRUD batch is completed without being sent"},
    {"drop-completed-upload",
     "the SDK never injects completed_upload: a withheld checkpoint is not retried"},
    {"publish-while-blocked", "the core publishes rows while the barrier is closed"},
    {"repost-stale-id", "a re-post sends a stale request id"},
    {"reset-target-on-reconnect", "the SDK lowers a pending target to last_seen at reconnect"},
    {"seed-from-one", "request ids are seeded from 1 instead of the service's answer"},
    {"seed-local-counter", "seeds the posted id, not the service's answer"},
    {"skip-sequence-check",
     "the target is stored even if ps_crud or its sqlite_sequence changed meanwhile"},
    {"target-posted-id", "target = the allocated id, not the service's answer"},
    {"stale-route-response", "a route answers the stored id as its batch read it before writing"},
    {"equal-retry-keeps-age",
     "a request re-posting the stored id does not refresh the record's age (retention)"},
    {"stale-write-checkpoint-on-connect",
     "the initial mongo lookup answers one below the stored id"},
    {"generated-answer-ahead", "the generated (legacy) route answers an id it did not store"},
    {"connection-slot-leak", "a closed sync stream keeps its connection-limit slot (429 forever)"},
    {"custom-checkpoint-before-replication",
     "custom mode: the upload's custom write checkpoint reaches storage before replication"},
    {"stopped-config-keeps-streams",
     "reprocessing: streams of the replaced sync rules keep serving after the switch-over"},
    {"clear-loses-checksum", "a compaction CLEAR's checksum leaves out one replaced op"},
    {"torn-read-skips-op",
     "a torn compaction read resumes one op past where its scan stopped (that op is lost)"},
    {"straddled-checksum-served",
     "v3 checksums: a candidate a merged document straddles is served, not skipped"},
    {"complete-despite-invalidation",
     "a chunk's MOVE/CLEAR past the checkpoint does not withhold checkpoint_complete"},
    {"wait-resolves-on-seen",
     "waitForSync(id) resolves once last_seen >= id, before a checkpoint is applied"},
    {"stream-end-unseen",
     "js-real only: a sync stream's end never reaches the published SDK (half-open connection)"},
    {"fsync-lies",
     "storage: the disk makes only a file's first fsync durable (shows with a power_loss)"},
};

// The fault kinds of the scenario format (scenarios/format/scenario.hpp FaultKind).
constexpr std::pair<const char*, const char*> kFaultStatements[] = {
    {"lag", "lag_ms, duration_ms: set the replication lag (a spike with a duration)"},
    {"disconnect", "client: cut that client's sync stream"},
    {"stall", "duration_ms: replication stops"},
    {"storm", "fraction_pct: a reconnect storm, many sync streams cut at once"},
    {"request_lost", "client, lost, route, count: HTTP requests or responses lost"},
    {"delete_request", "client: delete its checkpoint-request record"},
    {"compact", "run a compact job now"},
    {"service_restart",
     "down_ms, role: restart the service (storage kept; role replication: only replication, "
     "streams stay)"},
    {"sync_config_change", "all streams end, buckets re-created"},
    {"disconnect_client", "client, down_ms: disconnect(), then reconnect"},
    {"disconnect_and_clear", "client, down_ms: disconnectAndClear(), then reconnect"},
    {"restart", "client, down_ms: the app closes its database and reopens it"},
    {"kill", "client, when, down_ms: the app dies (no finally blocks) and reopens"},
    {"power_loss", "client, when, down_ms: like kill, and unsynced writes are lost"},
    {"upgrade", "client, core: reopen with a newer core and its SDK"},
    {"downgrade", "client, core: reopen with an older core and its SDK"},
    {"switch_mode", "client: reopen in the other checkpoint mode (js-1.3.0 only)"},
    {"switch_user",
     "client, user (new|previous|first): reopen with a new token subject, or back to an "
     "earlier one, on the same database"},
    {"quiet", "client, duration_ms: the app stops writing for a while (null: for good)"},
    {"line_fault",
     "client, line: the service's stream sends an adversarial line sequence "
     "(data_after_complete, duplicate_line, out_of_order, corrupt_checksum, "
     "lower_write_checkpoint)"},
    {"foreign_request",
     "client, request_id: a second installation sharing the client_id posts a request id"},
};

void print_row(const std::string& id, const std::string& statement, std::size_t width) {
  std::cout << fmt::format("{:<{}}  {}\n", id, width, statement);
}

// The first sentence of a description, at most 110 characters.
std::string first_sentence(const std::string& text) {
  auto end = text.find(". ");
  std::string s = end == std::string::npos ? text : text.substr(0, end + 1);
  if (s.size() > 110) s = s.substr(0, 107) + "...";
  return s;
}

int list_scenarios(const std::string& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    std::cerr << fmt::format("list scenarios --dir: '{}' is not a directory\n", dir);
    return kExitBadInput;
  }
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (e.path().extension() == ".json") files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  int status = kExitPass;
  for (const auto& f : files) {
    try {
      const auto s = scenarios::load_scenario_file(f, scenarios::validation_context());
      std::string tags = s.expect.pass ? "" : " [expects " + s.expect.violates + "]";
      if (!s.mutants.empty()) tags += fmt::format(" [mutants: {}]", fmt::join(s.mutants, ", "));
      print_row(f, first_sentence(s.description) + tags, 0);
    } catch (const scenarios::ScenarioError& e) {
      std::cerr << e.what() << "\n";
      status = kExitBadInput;
    }
  }
  return status;
}

}  // namespace

CLI::App* add_list_subcommand(CLI::App& app, ListArgs& args) {
  auto* list = app.add_subcommand(
      "list",
      "list what can be named: scenarios (in --dir), invariants, mutants, faults, sometimes, "
      "metrics (headline keys), each with its one-line statement");
  list->add_option("what", args.what,
                   "scenarios | invariants | mutants | faults | sometimes | "
                   "metrics")
      ->required()
      ->check(
          CLI::IsMember({"scenarios", "invariants", "mutants", "faults", "sometimes", "metrics"}));
  list->add_option("--dir", args.dir, "the scenario directory (scenarios/catalog)");
  return list;
}

int list_command(const ListArgs& args) {
  if (args.what == "scenarios") return list_scenarios(args.dir);
  if (args.what == "invariants") {
    for (const auto& [id, info] : scenarios::invariant_catalog().all()) {
      print_row(id, info.statement, 34);
    }
  } else if (args.what == "mutants") {
    for (const auto& name : scenarios::mutant_names()) {
      const auto* it = std::find_if(std::begin(kMutantStatements), std::end(kMutantStatements),
                                    [&](const auto& m) { return name == m.first; });
      print_row(name, it == std::end(kMutantStatements) ? "" : it->second, 38);
    }
  } else if (args.what == "faults") {
    for (const auto& [kind, statement] : kFaultStatements) print_row(kind, statement, 22);
  } else if (args.what == "sometimes") {
    for (const auto& c : scenarios::sometimes_catalog()) print_row(c.id, c.statement, 34);
  } else {
    for (const auto& m : scenarios::kMetricNames) {
      print_row(m.key, fmt::format("{} ({})", m.title, m.unit), 28);
    }
  }
  return kExitPass;
}

}  // namespace syncsim::cli
