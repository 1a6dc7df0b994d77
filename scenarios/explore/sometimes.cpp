#include "scenarios/explore/sometimes.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <string_view>

#include "scenarios/world/sync_lines.hpp"

namespace syncsim::scenarios {

namespace {

// The core's log line for a checkpoint withheld by the barrier (engine/sdk_shim.cpp).
constexpr std::string_view kBlockedLog = "Could not apply checkpoint due to local data";
using engine::kMaxOpId;

bool starts_with(const std::string& s, std::string_view prefix) {
  return s.size() >= prefix.size() && std::string_view(s).substr(0, prefix.size()) == prefix;
}

// The write_checkpoint of a `checkpoint` or `checkpoint_diff` line; other lines are skipped
// by their prefix, so data lines are not searched.
std::optional<int64_t> checkpoint_line_write_checkpoint(const std::string& line) {
  if (!starts_with(line, R"({"checkpoint)")) return std::nullopt;
  return write_checkpoint_of(line);
}

// A checkpoint line's write_checkpoint `wc` acknowledges the requests up to it; one below it is
// hidden by it (newer-hides-older, counted in `hidden`).  A template: the state type is private.
template <class ClientState, class Count>
void apply_write_checkpoint(ClientState& s, Count& hidden, std::optional<int64_t> wc) {
  if (!wc) return;
  if (wc != s.last_write_checkpoint) {
    std::erase_if(s.unacked_requests, [&](int64_t id) {
      if (id > *wc) return false;
      if (id < *wc) ++hidden;
      return true;
    });
  }
  s.last_write_checkpoint = wc;
}

}  // namespace

const std::vector<SometimesCondition>& sometimes_catalog() {
  // Sorted by id; the order matches SometimesCounter::Condition.
  static const std::vector<SometimesCondition> catalog = {
      {"barrier-blocked",
       "the core withheld a checkpoint because ps_crud was non-empty or target > last_seen "
       "(\"Could not apply checkpoint due to local data\")",
       "the result of every line_text / completed_upload powersync_control call"},
      {"checkpoint-invalidated",
       "the service withheld a checkpoint_complete because the download's last storage page "
       "held a MOVE/CLEAR past the checkpoint: a compaction overtook it (docs/protocol.md "
       "§3.3.3 step 6)",
       "the service's stream counters (invalidated_checkpoints), at the end of the run"},
      {"duplicate-record",
       "mongo storage holds two checkpoint-request documents for one key: concurrent batches "
       "both inserted (no unique index, docs/protocol.md §3.1.5)",
       "the checkpoint store's count of duplicate documents, at the end of the run"},
      {"duplicate-request",
       "the service received a checkpoint request whose id equals the id it already stores for "
       "the key (a retry, repost or re-seed; on mongo no marker is written, docs/protocol.md "
       "§3.1.7)",
       "model::ServiceObserver, every answered POST /sync/checkpoint-request"},
      {"newer-hides-older",
       "a newer request's acknowledgement covered an older pending request that was never "
       "acknowledged on its own (docs/protocol.md §3.6.2.1)",
       "requested ids against each write_checkpoint change on the client's stream"},
      {"page-invalidation-forgotten",
       "a storage page held a MOVE/CLEAR past the checkpoint, but a later page of the same "
       "download was clean, so the invalidation was forgotten and checkpoint_complete sent "
       "(per-page invalidation, docs/protocol.md §3.3.3 step 6)",
       "the service's stream counters (forgotten_invalidations), at the end of the run"},
      {"priority0-bypass",
       "a priority-0 partial checkpoint published rows while the barrier was closed (ps_crud "
       "non-empty or target > last_seen; allowed by design, docs/protocol.md §1.3.6)",
       "every partial_checkpoint_complete line with priority 0 that changed rows"},
      {"reconnect-with-pending-target",
       "a sync stream was (re)opened while the database held a concrete target above "
       "last_seen: a pending acknowledgement carried across a reconnect, restart or "
       "up/downgrade",
       "every `start` powersync_control call (target and last_seen read after it)"},
      {"record-deleted-then-request",
       "a checkpoint request arrived for a key whose record had been deleted (retention "
       "cleanup or explicit deletion) after the service stored it (docs/protocol.md §3.2.2)",
       "model::ServiceObserver, a key answered before that has no record at its next batch"},
      {"request-reposted",
       "the repost loop re-posted an unacknowledged checkpoint-request id (docs/protocol.md "
       "§2.3.3)",
       "the SDK shim's repost loop (ClientObserver::on_reposted)"},
      {"seed-raised",
       "a seed was answered with a larger id than it posted: the service's record was ahead "
       "of the client's counter (docs/protocol.md §2.1.4)",
       "the SDK shim's seed (ClientObserver::on_seeded)"},
      {"upload-retried",
       "a CRUD upload attempt failed (lost request or response, backend error) and the upload "
       "loop retries it (docs/protocol.md §2.2.2)",
       "the SDK shim's upload loop (ClientObserver::on_upload_failed)"},
  };
  return catalog;
}

std::vector<std::string> sometimes_ids() {
  std::vector<std::string> ids;
  for (const auto& c : sometimes_catalog()) ids.push_back(c.id);
  return ids;
}

const SometimesCondition* find_sometimes(const std::string& id) {
  for (const auto& c : sometimes_catalog()) {
    if (c.id == id) return &c;
  }
  return nullptr;
}

SometimesCounter::ClientState& SometimesCounter::state(engine::Client& c) {
  auto& s = clients_[c.index()];
  if (s.life != &c) {
    // A new life (old ones are kept until the run ends): its stream starts afresh.
    s.life = &c;
    s.last_write_checkpoint.reset();
    s.priority0_partial = false;
  }
  return s;
}

void SometimesCounter::on_target_set(engine::Client& c, int64_t target, engine::TargetStoredBy) {
  // Legacy mode: the generated write checkpoint is the id that acknowledges the upload.
  if (c.checkpoint_mode() == engine::CheckpointMode::Legacy) {
    state(c).unacked_requests.push_back(target);
  }
}

void SometimesCounter::on_control(engine::Client& c, const std::string& op,
                                  const std::optional<std::string>& payload,
                                  const std::optional<std::string>& result) {
  auto& s = state(c);
  s.priority0_partial = false;
  if (op == "line_text" || op == "line_binary" || op == "completed_upload") {
    if (result && result->find(kBlockedLog) != std::string::npos) ++counts_[kBarrierBlocked];
    // Only checkpoint lines and partial completions count below: the others (data lines, most of
    // a stream) are skipped by their key, not decoded (engine/sync_line.hpp).
    const auto key = c.sync_line_key(op, payload);
    if (key && *key != "partial_checkpoint_complete" && !key->starts_with("checkpoint")) return;
    if (key && op == "line_binary" && key->starts_with("checkpoint")) {
      // Its write_checkpoint from the BSON bytes, as the text would give it
      // (engine/sync_line_peek.hpp).
      if (const auto wc = c.bson_line_write_checkpoint(*payload)) {
        apply_write_checkpoint(s, counts_[kNewerHidesOlder], *wc);
        return;
      }
    }
    const std::string* line =
        op == "completed_upload" ? (payload ? &*payload : nullptr) : c.sync_line(op, payload);
    if (line == nullptr) return;
    if (starts_with(*line, R"({"partial_checkpoint_complete")")) {
      s.priority0_partial = line->find(R"("priority":0})") != std::string::npos;
      return;
    }
    checkpoint_line(s, *line);
  } else if (op == "next_checkpoint_request_id" && result) {
    s.unacked_requests.push_back(std::stoll(*result));
  } else if (op == "start") {
    stream_opened(c, s);
  }
}

void SometimesCounter::checkpoint_line(ClientState& s, const std::string& line) {
  apply_write_checkpoint(s, counts_[kNewerHidesOlder], checkpoint_line_write_checkpoint(line));
}

void SometimesCounter::stream_opened(engine::Client& c, ClientState& s) {
  s.last_write_checkpoint.reset();
  const auto target = c.target();
  if (target && *target != kMaxOpId && *target > c.last_seen().value_or(0)) {
    ++counts_[kReconnectWithPendingTarget];
  }
}

void SometimesCounter::on_js_stream_opened(engine::Client& c) { stream_opened(c, state(c)); }

void SometimesCounter::on_js_line(engine::Client& c, const std::string& line) {
  checkpoint_line(state(c), line);
}

void SometimesCounter::on_js_operation(engine::Client& /*c*/, const std::string& op,
                                       int64_t insert_id) {
  // SqliteBucketStorage.syncLocalDatabase (1.x): `sync_local` answers 1 when applied; the
  // barrier withholding the checkpoint answers otherwise.
  if (op == "sync_local" && insert_id != 1) ++counts_[kBarrierBlocked];
}

void SometimesCounter::on_published(engine::Client& c) {
  auto& s = state(c);
  if (!s.priority0_partial) return;
  s.priority0_partial = false;
  // A partial checkpoint changes neither ps_crud nor the target, so the gate read now is the
  // gate the call saw.
  const auto target = c.target();
  if (c.crud_count() > 0 || (target && *target > c.last_seen().value_or(0))) {
    ++counts_[kPriority0Bypass];
  }
}

void SometimesCounter::on_seeded(engine::Client& /*c*/, int64_t posted, int64_t answered) {
  if (answered > posted) ++counts_[kSeedRaised];
}

void SometimesCounter::on_reposted(engine::Client& /*c*/, int64_t /*id*/) {
  ++counts_[kRequestReposted];
}

void SometimesCounter::on_upload_failed(engine::Client& /*c*/) { ++counts_[kUploadRetried]; }

void SometimesCounter::on_request_answered(const std::string& key, std::optional<int64_t> supplied,
                                           std::optional<int64_t> before, int64_t /*id*/) {
  if (supplied && before && *supplied == *before) ++counts_[kDuplicateRequest];
  if (!before && answered_keys_.contains(key)) ++counts_[kRecordDeletedThenRequest];
  answered_keys_.insert(key);
}

std::map<std::string, uint64_t> SometimesCounter::counts() const {
  auto counts = counts_;
  counts[kDuplicateRecord] = service_.checkpoints().duplicates_created();
  counts[kCheckpointInvalidated] = service_.stream_stats().invalidated_checkpoints;
  counts[kPageInvalidationForgotten] = service_.stream_stats().forgotten_invalidations;
  std::map<std::string, uint64_t> out;
  const auto& catalog = sometimes_catalog();
  for (std::size_t i = 0; i < kConditions; ++i) out[catalog.at(i).id] = counts[i];
  return out;
}

std::vector<std::string> vacuous_conditions(const std::map<std::string, uint64_t>& counts,
                                            const std::vector<std::string>& listed) {
  std::vector<std::string> out;
  for (const auto& id : listed) {
    auto it = counts.find(id);
    if (it == counts.end() || it->second == 0) out.push_back(id);
  }
  return out;
}

std::vector<SometimesSummary> summarize_sometimes(const nlohmann::json& runs) {
  std::map<std::string, SometimesSummary> by_scenario;
  for (const auto& r : runs) {
    if (!r.contains("sometimes_listed") || r["sometimes_listed"].empty()) continue;
    const auto name = r.at("scenario").get<std::string>();
    auto& row = by_scenario[name];
    if (row.seeds == 0) {
      row.scenario = name;
      for (const auto& id : r["sometimes_listed"])
        row.listed.emplace_back(id.get<std::string>(), 0);
    }
    ++row.seeds;
    const auto& counts = r.value("sometimes", nlohmann::json::object());
    for (auto& [id, seeds] : row.listed) {
      if (counts.value(id, uint64_t{0}) > 0) ++seeds;
    }
  }
  std::vector<SometimesSummary> out;
  for (auto& [name, row] : by_scenario) {
    for (const auto& [id, seeds] : row.listed) {
      if (seeds == 0) row.vacuous.push_back(id);
    }
    out.push_back(std::move(row));
  }
  return out;
}

nlohmann::json sometimes_summary_json(const std::vector<SometimesSummary>& rows) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& r : rows) {
    nlohmann::json conditions = nlohmann::json::object();
    for (const auto& [id, seeds] : r.listed) conditions[id] = seeds;
    out[r.scenario] = {{"seeds", r.seeds}, {"conditions", conditions}, {"vacuous", r.vacuous}};
  }
  return out;
}

bool any_vacuous(const std::vector<SometimesSummary>& rows) {
  return std::any_of(rows.begin(), rows.end(), [](const auto& r) { return !r.vacuous.empty(); });
}

std::string sometimes_table(const std::vector<SometimesSummary>& rows) {
  if (rows.empty()) return "";
  std::size_t width = 8;
  for (const auto& r : rows) width = std::max(width, r.scenario.size());
  std::string out = fmt::format("{:<{}}  {}\n", "scenario", width,
                                "sometimes: seeds in which each listed condition happened");
  for (const auto& r : rows) {
    std::string cells;
    for (const auto& [id, seeds] : r.listed) {
      cells += fmt::format("{}{} {}/{}{}", cells.empty() ? "" : "  ", id, seeds, r.seeds,
                           seeds == 0 ? " VACUOUS" : "");
    }
    out += fmt::format("{:<{}}  {}\n", r.scenario, width, cells);
  }
  return out;
}

}  // namespace syncsim::scenarios
