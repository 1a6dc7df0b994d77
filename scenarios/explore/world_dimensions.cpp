// The world swarm's dimensions (scenarios/explore/world_swarm.hpp): every class a seed can
// draw with its default weight and what it means, the fault classes, and the combinations
// the draw excludes by construction.  Separate from the drawing (world_swarm.cpp) so that the
// list a reviewer reads -- what the hunt can reach -- is one file.
#include "scenarios/explore/world_swarm.hpp"

#include <string>
#include <utility>
#include <vector>

namespace syncsim::scenarios {

namespace {

const std::vector<std::string>& boundary_request_ids() {
  // Boundary ids a foreign installation may post (docs/protocol.md §3.1.2): JSON text, verbatim.
  static const std::vector<std::string> ids = {"0",
                                               "1",
                                               "-1",
                                               "1000",
                                               "9007199254740991",
                                               "9007199254740993",
                                               "9223372036854775800",
                                               "9223372036854775807",
                                               "18446744073709551615",
                                               "\"abc\"",
                                               "1.5"};
  return ids;
}

}  // namespace

const std::vector<std::pair<std::string, std::vector<std::string>>>& world_fault_classes() {
  static const std::vector<std::pair<std::string, std::vector<std::string>>> classes = {
      {"service", {"lag", "stall", "storm", "compact", "service_restart", "sync_config_change"}},
      {"network", {"disconnect", "request_lost", "disconnect_client"}},
      {"lifecycle",
       {"restart", "kill", "power_loss", "upgrade", "downgrade", "switch_mode", "switch_user",
        "disconnect_and_clear"}},
      {"records", {"delete_request", "foreign_request"}},
      {"workload", {"quiet"}},
      {"line", {"line_fault"}},
  };
  return classes;
}

const std::vector<std::string>& world_exclusions() {
  // Each rule is one sentence split over lines: adjacent literals are meant to join.
  // NOLINTBEGIN(bugprone-suspicious-missing-comma)
  static const std::vector<std::string> rules = {
      "0.4.x cores run the js-legacy SDK only, hence legacy mode only (js-1.3.0 refuses cores "
      "below 0.5.2, docs/protocol.md §2.1.1)",
      "the js-legacy SDK runs legacy mode only (old SDKs have no checkpoint requests)",
      "the js-legacy SDK drives 0.4.x cores only: old SDKs bundle a 0.4.x core, and on a 0.5.x "
      "core their autocommit powersync_init() fails at open (docs/protocol.md §1.1.2; world hunt "
      "finding)",
      "applied-id-monotonic is exempt on postgres storage (exempt_invariants): it re-reads the "
      "record, so a deleted and re-seeded record lowers the emitted id by design "
      "(docs/protocol.md §3.1.9)",
      "switch_mode only for a client driven by js-1.3.0 at that time (old SDKs have one mode)",
      "upgrade only to a newer registered core, downgrade only to an older one (a client on "
      "the newest / oldest core gets no upgrade / downgrade)",
      "service.streams only when every client (and every core a fault moves it to) runs "
      "js-1.3.0 (sync streams are driven through its subscription API)",
      "kill / power_loss `when` mid_transaction / mid_upload only without an `on` trigger",
      "js-real only on cores its SDK accepts (0.5.2+); sync streams for js-real only when "
      "every group runs it, by service.streams_js_real (\"some\" weighs 0 unless a file sets it)",
      "clients.stream_encoding stays \"json\" (the field is not drawn: every client asks for "
      "the encoding its SDK asks for, BSON first on 0.5.x and 0.4.12)",
      "never drawn: mutants, expect, clients.fixed_quirks (comparison-only switches), except "
      "the custom-checkpoint-inverted fix that custom write-checkpoint mode needs (without it "
      "the released SDK wedges, docs/findings.md)",
      "service.write_checkpoint_mode \"custom\" only when every group runs js-1.3.0 in legacy "
      "mode and no switch_mode, upgrade or downgrade fault is drawn (the catalog's "
      "custom-write-checkpoints setting)",
      "service.read_back_step \"separate\", service.checksum_reads \"v3-documents\", "
      "service.duplicate_window \"head-read\" and service.compaction_reads \"torn\" only on "
      "mongo storage (the loader refuses them on postgres, docs/protocol.md §3.1.5, §3.1.6, "
      "§3.3.4)",
  };
  // NOLINTEND(bugprone-suspicious-missing-comma)
  return rules;
}

std::vector<WorldDimension> world_dimensions(const ValidationContext& ctx) {
  std::vector<std::pair<std::string, int>> cores;
  for (const auto& c : ctx.cores) cores.emplace_back(c, 1);
  std::vector<std::pair<std::string, int>> kinds;
  for (const auto& [cls, ks] : world_fault_classes()) {
    for (const auto& k : ks) kinds.emplace_back(k, 1);
  }
  std::vector<std::pair<std::string, int>> ids;
  for (const auto& id : boundary_request_ids()) ids.emplace_back(id, 1);
  return {
      {"duration", {{"short", 2}, {"medium", 2}, {"long", 1}}, "run 20..60 / 60..180 / 180..600 s"},
      {"fleet.groups", {{"1", 3}, {"2", 2}, {"3", 1}}, "client groups (mixed fleets)"},
      {"fleet.group_size", {{"1", 2}, {"2", 2}, {"3", 1}}, "clients per group"},
      {"fleet.core", cores, "each group's core (every registered core)"},
      {"fleet.mode", {{"requests", 2}, {"legacy", 1}}, "each group's checkpoint mode"},
      {"fleet.sdk",
       {{"auto", 3}, {"js-1.3.0", 1}, {"js-legacy", 1}, {"js-real", 1}},
       "each group's SDK (js-real: the published JS SDK, slower per run)"},
      {"clients.post_checkpoint_request", {{"service", 3}, {"backend", 1}}, "request route"},
      {"clients.timers",
       {{"default", 2}, {"fast", 1}, {"slow", 1}},
       "retry delay, upload throttle, repost delay"},
      {"service.flavour", {{"mongo", 1}, {"postgres", 1}}, "bucket storage"},
      {"service.replication_lag",
       {{"none", 1}, {"short", 3}, {"long", 1}},
       "0 / 1..500 / 2000..120000 ms"},
      {"service.retention",
       {{"shorter_than_run", 2}, {"normal", 2}, {"long", 1}},
       "1..3 / 60 / 1440 minutes"},
      {"service.compact_interval",
       {{"off", 2}, {"frequent", 1}, {"rare", 1}},
       "0 / 5..60 / 300..3600 s"},
      {"service.batch_latency", {{"low", 3}, {"high", 1}}, "0..20 / 100..5000 ms"},
      {"service.token_lifetime", {{"short", 1}, {"long", 3}}, "60..300 s / one day"},
      {"service.heartbeat", {{"default", 2}, {"fast", 1}}, "60 s / 5..15 s"},
      {"service.streams", {{"none", 3}, {"some", 1}}, "sync streams + subscription churn"},
      // "some" weighs 0 unless a file sets it, so world.json draws no streams for js-real.
      {"service.streams_js_real",
       {{"none", 1}, {"some", 0}},
       "sync streams + subscription churn for a fleet all on js-real (2.x)"},
      {"network.latency", {{"low", 3}, {"high", 1}}, "0..50 / 100..3000 ms each way"},
      {"network.jitter", {{"none", 1}, {"some", 3}}, "0 / 1..20 ms more per message"},
      {"workload.write_rate",
       {{"fast", 1}, {"normal", 3}, {"slow", 1}},
       "100..1000 / 500..3000 / 5000..60000 ms between writes"},
      {"workload.keyspace",
       {{"small", 1}, {"normal", 2}, {"large", 1}},
       "1..4 / 8..32 / 100..1000"},
      {"workload.requests",
       {{"none", 2}, {"some", 2}, {"many", 1}},
       "share of steps that call requestCheckpoint(): 0 / 5..30 / 50..100 %"},
      {"workload.wait_for_sync",
       {{"none", 1}, {"some", 2}, {"all", 1}},
       "share of requests awaited with waitForSync()"},
      {"workload.insert_only", {{"none", 2}, {"some", 1}}, "insert-only events rows"},
      {"faults.kind", kinds, "fault kind within its class"},
      {"faults.trigger", {{"time", 1}, {"event", 1}}, "at a time, or on a protocol event"},
      {"faults.down",
       {{"short", 3}, {"absence", 1}},
       "0..5000 ms, or longer than retention (up to 10 min)"},
      {"faults.lag",
       {{"short", 2}, {"long", 1}, {"until_heal", 1}},
       "lag / stall length: 1..10 s, 10..120 s, until quiesce"},
      {"faults.kill_when",
       {{"now", 2}, {"mid_transaction", 1}, {"mid_upload", 1}},
       "kill / power_loss moment"},
      {"faults.request_id", ids, "foreign_request ids (boundaries)"},
      // Issue 17 (docs/protocol.md §3.1.3, §3.4).
      {"service.api_processes", {{"one", 3}, {"several", 1}}, "API processes: 1 / 2..4"},
      {"service.batch_failures", {{"none", 3}, {"some", 1}}, "failing batches: 0 / 5..20 %"},
      {"faults.restart_role", {{"all", 3}, {"replication", 1}}, "service_restart: whole / split"},
      {"service.connection_limit",
       {{"default", 3}, {"tight", 1}},
       "streams per process: 200 / exactly the fleet size"},
      // Drawn on a stream of their own after the rest (draw_world), so adding them left
      // every earlier draw of a seed as it was.
      {"workload.request_interval",
       {{"none", 3}, {"fixed", 1}},
       "requests without writes: requestCheckpoint() every 2..60 s whatever the upload queue"},
      {"faults.quiet",
       {{"short", 2}, {"long", 1}, {"for_good", 1}},
       "a quiet phase: the client stops writing for 5..60 s, 60..300 s, or for good"},
      {"faults.switch_user",
       {{"new", 2}, {"previous", 1}, {"first", 1}},
       "switch_user to a new user, or back to the previous / first one"},
      // Issue 17, drawn on a third stream after the extras (draw_service_flavours).
      {"service.source",
       {{"postgres", 2}, {"mongodb", 1}, {"mysql", 1}},
       "source database: heads and markers (docs/protocol.md §3.1.4)"},
      {"service.snapshot",
       {{"short", 3}, {"long", 1}},
       "sync-config reprocessing snapshot: 0..2 s / 5..60 s (docs/protocol.md §3.4)"},
      {"service.write_checkpoint_mode",
       {{"managed", 3}, {"custom", 1}},
       "custom write checkpoints, only for an all-js-1.3.0 legacy-mode fleet that no "
       "fault moves (docs/protocol.md §3.1.10)"},
      {"faults.line",
       {{"data_after_complete", 1},
        {"duplicate_line", 1},
        {"out_of_order", 1},
        {"corrupt_checksum", 1},
        {"lower_write_checkpoint", 1}},
       "the line_fault's adversarial sequence (model/line_fault.hpp)"},
      {"faults.request_id_form",
       {{"number", 1}, {"string", 1}},
       "a foreign_request id beyond 2^53 as a JSON number (the service refuses it: not a safe "
       "integer) or as a decimal string (accepted up to 2^63-1, docs/protocol.md §3.1.2)"},
      {"faults.absence_stall",
       {{"none", 1}, {"stall", 1}},
       "with a long absence: replication stalls until heal from just before it, so the absent "
       "client's last request stays pending past retention"},
      {"faults.absence",
       {{"none", 1}, {"one", 1}},
       "a long absence: one client offline or down longer than retention (< 10 min), with a "
       "compact job within a minute after the cutoff while it is away (the run lengthened to "
       "hold it)"},
      {"service.duplicate_window",
       {{"write", 3}, {"head-read", 1}},
       "mongo: how wide the race is that inserts duplicate write-checkpoint documents for one "
       "key (docs/protocol.md §3.1.5 Duplicates; a multi-key batch answers the last duplicate, "
       "docs/findings.md §10)"},
      {"service.compaction_reads",
       {{"atomic", 3}, {"torn", 1}},
       "mongo: a sync page read spanning a compaction of its bucket is torn (docs/protocol.md "
       "§3.3.4; a postgres page is one SELECT)"},
      {"service.read_back_step",
       {{"with-write", 3}, {"separate", 1}},
       "mongo: the write-checkpoint answer is a separate find one storage round trip after the "
       "write, so a concurrent batch shows through (docs/protocol.md §3.1.5 Read-back round trip)"},
      {"service.fetch_latency",
       {{"fast", 3}, {"slow", 1}},
       "one page fetch of a sync download: 1 ms / 100..1000 ms (a loaded storage); a compact "
       "job within a fetch can tear its page (service.compaction_reads torn, docs/protocol.md "
       "§3.3.4)"},
      {"service.checksum_reads",
       {{"atomic", 3}, {"v3-documents", 1}},
       "mongo: storage v3's checksum documents, read one round trip after a candidate is taken, "
       "so a compaction meanwhile drops the candidate (docs/protocol.md §3.3.4)"},
      {"faults.devices",
       {{"none", 3}, {"over_limit", 1}},
       "mongo: a drawn foreign_request's user also posts from 1001..1020 other devices at once, "
       "over the change feed's 1000 records in one window, so every open stream falls back to "
       "the head-based lookup (docs/protocol.md §3.1.9 Change feed)"},
  };
}

}  // namespace syncsim::scenarios
