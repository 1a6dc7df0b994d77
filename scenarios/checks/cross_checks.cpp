#include "scenarios/checks/cross_checks.hpp"

#include "scenarios/checks/violation.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "scenarios/checks/liveness.hpp"

namespace syncsim::scenarios {

namespace {

// What a row read shows when the row is absent (the checkers compare by reference, no copy).
const std::optional<std::string> kAbsentRow;

// The top-level "description" of a row's JSON, read by SAX events: the tree that parse()
// would build is never made (issue 20; the checkers read every applied row).  The answer is
// the tree's: nullopt for invalid JSON, a non-object, a missing or non-string member; of
// duplicate keys the last one counts, as the tree keeps the last.
class DescriptionSax : public nlohmann::json_sax<nlohmann::json> {
 public:
  std::optional<std::string> description;

  bool null() override { return scalar(); }
  bool boolean(bool /*v*/) override { return scalar(); }
  bool number_integer(number_integer_t /*v*/) override { return scalar(); }
  bool number_unsigned(number_unsigned_t /*v*/) override { return scalar(); }
  bool number_float(number_float_t /*v*/, const string_t& /*s*/) override { return scalar(); }
  bool string(string_t& v) override {
    if (member_pending()) description = std::move(v);
    return true;
  }
  bool binary(binary_t& /*v*/) override { return scalar(); }
  bool start_object(std::size_t /*n*/) override { return open(); }
  bool key(string_t& k) override {
    if (depth_ == 1) pending_ = k == "description";
    return true;
  }
  bool end_object() override { return close(); }
  bool start_array(std::size_t /*n*/) override { return open(); }
  bool end_array() override { return close(); }
  bool parse_error(std::size_t /*pos*/, const std::string& /*token*/,
                   const nlohmann::detail::exception& /*e*/) override {
    return false;
  }

 private:
  // Whether this value is the one of a top-level "description" key (and consume that).
  bool member_pending() {
    const bool pending = depth_ == 1 && pending_;
    pending_ = false;
    return pending;
  }
  bool scalar() {
    if (member_pending()) description.reset();
    return true;
  }
  bool open() {
    if (member_pending()) description.reset();
    ++depth_;
    return true;
  }
  bool close() {
    --depth_;
    return true;
  }

  int depth_ = 0;
  bool pending_ = false;
};

}  // namespace

std::optional<std::string> description_of(const std::string& row_json) {
  DescriptionSax sax;
  // A top-level value other than an object never sees depth 1 keys: no description.
  if (!nlohmann::json::sax_parse(row_json, &sax)) return std::nullopt;
  return std::move(sax.description);
}

CrossChecks::CrossChecks(sim::Loop& loop, sim::Trace& trace, model::Service& service,
                         sim::Verdicts& verdicts)
    : loop_(loop), trace_(trace), service_(service), verdicts_(verdicts) {}

void CrossChecks::fail(const std::string& invariant, engine::Client& c, const std::string& message,
                       std::vector<sim::ViolationInput> inputs, std::vector<sim::CauseStep> chain) {
  checks::fail(loop_, trace_, verdicts_, invariant, c.index(), message, std::move(inputs),
               std::move(chain));
}

void CrossChecks::on_local_write(engine::Client& c, const engine::LocalWrite& w) {
  auto& s = clients_[c.index()];
  model::RowKey key{w.table, w.id};
  // The engine logged the write just before telling its observers.
  s.own_writes[key].push_back(Write{key, w.seq, w.description, 0, trace_.lines()});
  s.last_write_line = trace_.lines();
  if (w.description) s.seq_of_value[*w.description] = w.seq;
  // Only the synced tables are visible (insert-only `events` rows never are).  A delete of an
  // absent row leaves no ps_crud entry: a server version may then show up legitimately.
  if (key.table != "todos" && key.table != "notes") return;
  if (w.changed) {
    s.newest_own[key] = Write{key, w.seq, w.description, 0, trace_.lines()};
  } else {
    s.newest_own.erase(key);
  }
}

void CrossChecks::on_uploaded(engine::Client& c, const nlohmann::json& crud) {
  auto& s = clients_[c.index()];
  s.last_upload_line = trace_.lines();
  // Uploads of one client are sequential, so its newest apply-log entry is this batch.
  model::Lsn lsn = 0;
  const auto& log = service_.backend().log();
  for (auto it = log.rbegin(); it != log.rend(); ++it) {
    if (it->user == c.user()) {
      lsn = it->lsn;
      break;
    }
  }
  for (const auto& e : crud) {
    model::RowKey key{e.value("type", ""), e.value("id", "")};
    // Uploaded as a user the database switched away from: the row lands in that user's
    // notes bucket, which the database no longer syncs (found by the 200-seed sweep).
    if (key.table == "notes" && s.former_users.contains(c.user())) continue;
    // Sync streams (issue 7): an `items` row is visible only while a subscription covers
    // it, so read-your-writes does not bind it; stream-rows-covered judges those rows.
    if (key.table == "items") continue;
    const auto& writes = s.own_writes[key];
    if (writes.empty()) continue;
    Write w;
    if (e.value("op", "") == "DELETE") {
      // The newest own delete of this row (deletes carry no value to match).
      for (auto it = writes.rbegin(); it != writes.rend(); ++it) {
        if (!it->value) {
          w = *it;
          break;
        }
      }
    } else if (e.contains("data") && e["data"].contains("description")) {
      auto v = e["data"]["description"].get<std::string>();
      auto seq = s.seq_of_value.find(v);
      if (seq == s.seq_of_value.end()) continue;
      for (const auto& cand : writes) {
        if (cand.seq == seq->second) w = cand;
      }
    }
    if (w.seq == 0) continue;
    w.lsn = lsn;
    w.upload_line = trace_.lines();  // the engine's "uploaded ..." line
    s.uploaded.push_back(w);
    auto newest = s.newest_own.find(key);
    if (newest != s.newest_own.end() && newest->second.seq == w.seq) {
      newest->second.lsn = lsn;
      newest->second.upload_line = w.upload_line;
    }
  }
}

void CrossChecks::on_target_set(engine::Client& c, int64_t target, engine::TargetStoredBy) {
  auto& s = clients_[c.index()];
  s.last_target = target;
  s.last_target_line = trace_.lines();
  if (s.uploaded.empty()) return;
  for (auto& w : s.uploaded) {
    w.target = target;
    w.target_line = trace_.lines();
  }
  s.awaiting_ack.emplace_back(target, std::move(s.uploaded));
  s.uploaded.clear();
}

void CrossChecks::on_sync_applied(engine::Client& c, std::optional<int64_t> applied_id) {
  if (verdicts_.enabled("checksums-agree")) {
    verdicts_.checked("checksums-agree");
    for (const auto& [bucket, held] : c.bucket_checksums()) {
      // The bucket's own sync-rules instance recomputes it (a replaced one's too).
      const int32_t want = service_.checksum_at(bucket, held.last_op);
      if (want != held.checksum) {
        const uint64_t now_line = trace_.lines();
        std::vector<sim::ViolationInput> inputs{
            {"client checksum", std::to_string(held.checksum),
             fmt::format("ps_buckets of client {}, bucket {} at op {}, after this apply", c.index(),
                         bucket, held.last_op),
             now_line},
            {"model checksum", std::to_string(want),
             fmt::format("the model's bucket {} recomputed up to op {} (replication)", bucket,
                         held.last_op),
             service_.replication().checkpoint_line()}};
        return fail("checksums-agree", c,
                    fmt::format("bucket {} at op {}: client holds checksum {}, the model "
                                "recomputes {}",
                                bucket, held.last_op, held.checksum, want),
                    std::move(inputs),
                    history_chain(c, fmt::format("client {} applies a checkpoint whose bucket {} "
                                                 "checksum differs from the model's",
                                                 c.index(), bucket)));
      }
    }
  }
  {
    auto& s = clients_[c.index()];
    s.last_applied = applied_id;
    s.last_applied_line = trace_.lines();
  }
  if (!verdicts_.enabled("read-your-writes") || !applied_id) return;
  auto& s = clients_[c.index()];
  bool any = false;
  std::erase_if(s.awaiting_ack, [&](auto& entry) {
    if (entry.first > *applied_id) return false;
    for (auto& w : entry.second) {
      w.acked_by = applied_id;
      w.ack_line = trace_.lines();
      auto& slot = s.acknowledged[w.key];
      if (w.seq > slot.seq) slot = w;
      // From here check_rows judges the row by the same rule; keep the flicker set small.
      auto newest = s.newest_own.find(w.key);
      if (newest != s.newest_own.end() && newest->second.seq <= w.seq) s.newest_own.erase(newest);
      ++acknowledged_writes_;
      any = true;
    }
    return true;
  });
  if (any) check_rows(c);
}

void CrossChecks::on_cleared(engine::Client& c) {
  // disconnectAndClear (docs/protocol.md §2.1.9): writes not yet acknowledged are exempt, and what
  // the client had acknowledged is gone from its database, so its expectations restart
  // (docs/invariants.md §1).
  auto& s = clients_[c.index()];
  s.uploaded.clear();
  s.awaiting_ack.clear();
  s.acknowledged.clear();
  s.newest_own.clear();
  trace_.log("check", "client {} cleared: read-your-writes expectations dropped", c.index());
}

void CrossChecks::on_published(engine::Client& c) {
  if (!verdicts_.enabled("read-your-writes")) return;
  check_rows(c);
  check_no_flicker(c);
}

void CrossChecks::check_no_flicker(engine::Client& c) {
  // Rows of a priority-0 bucket are exempt: its partial completions bypass the barrier and
  // may overwrite pending local edits by design (docs/invariants.md §1, docs/protocol.md §1.3.6).
  auto& s = clients_[c.index()];
  if (s.newest_own.empty()) return;
  index_backend_log();
  verdicts_.checked("read-your-writes");
  const auto& priorities = service_.config().bucket_priorities;
  auto priority_of = [&](const std::string& table) {
    const auto it = priorities.find(table == "todos" ? "global" : "notes");
    return it == priorities.end() ? 3 : it->second;
  };
  for (const auto& [key, w] : s.newest_own) {
    if (priority_of(key.table) == 0) continue;
    const std::optional<std::string>* row = c.read_row_cached(key.table, key.id);
    const bool present = row != nullptr;
    const std::optional<std::string>& shown = present ? *row : kAbsentRow;
    auto matches = [&](const std::optional<std::string>& v) {
      return v.has_value() == present && (!present || v == shown);
    };
    if (matches(w.value)) continue;
    bool newer_server_version = false;
    if (w.lsn > 0) {
      for (const auto& [lsn, v] : history_[key]) {
        if (lsn >= w.lsn && matches(v)) newer_server_version = true;
      }
    }
    if (newer_server_version) continue;
    fail_read_your_writes(
        c, w, present ? "'" + shown.value_or("null") + "'" : "nothing",
        fmt::format("row {}/{} shows {} after a sync apply, but the client's own write #{} ({}) "
                    "is {}; no server version at or after it explains it (the write flickered "
                    "away)",
                    key.table, key.id, present ? "'" + shown.value_or("null") + "'" : "nothing",
                    w.seq, w.value ? "'" + *w.value + "'" : "delete",
                    w.lsn > 0
                        ? fmt::format("uploaded (lsn {}) but not in the published state", w.lsn)
                        : std::string("not uploaded yet")));
    return;
  }
}

void CrossChecks::fail_read_your_writes(engine::Client& c, const Write& w, const std::string& shown,
                                        const std::string& message) {
  const std::string row = w.key.table + "/" + w.key.id;
  const std::string value = w.value ? "'" + *w.value + "'" : "delete";
  std::string versions;
  for (const auto& [lsn, v] : history_[w.key]) {
    if (w.lsn > 0 && lsn >= w.lsn) {
      versions += fmt::format("{}{} at lsn {}", versions.empty() ? "" : ", ",
                              v ? "'" + *v + "'" : "delete", lsn);
    }
  }
  const uint64_t now_line = trace_.lines();
  std::vector<sim::ViolationInput> inputs{
      {"row shown", shown,
       fmt::format("client {}'s database, read after the sync apply", c.index()), now_line},
      {"own write", fmt::format("#{} {}", w.seq, value), "the client's local write", w.write_line},
      {"upload lsn", w.lsn > 0 ? std::to_string(w.lsn) : "not uploaded",
       "the backend's apply log (the upload of that write)", w.upload_line},
      {"server versions at or after it", versions.empty() ? "none" : versions,
       "the backend's apply log", 0}};
  if (w.acked_by) {
    inputs.push_back({"acknowledged by",
                      fmt::format("applied request id {} >= target {}", *w.acked_by, w.target),
                      "the checkpoint the client applied", w.ack_line});
  }
  std::vector<sim::CauseStep> chain{
      {fmt::format("client {} writes {} = {}", c.index(), row, value), w.write_line}};
  if (w.upload_line) {
    chain.push_back({fmt::format("the upload applies it at lsn {}", w.lsn), w.upload_line});
  }
  if (w.target_line) {
    chain.push_back({fmt::format("the SDK stores target {} for it", w.target), w.target_line});
  }
  if (w.acked_by) {
    chain.push_back(
        {fmt::format("a checkpoint with request id {} is applied: the write is acknowledged",
                     *w.acked_by),
         w.ack_line});
  }
  chain.push_back(
      {fmt::format("a sync apply publishes {} and the row shows {}", row, shown), now_line});
  fail("read-your-writes", c, message, std::move(inputs), std::move(chain));
}

void CrossChecks::index_backend_log() {
  const auto& log = service_.backend().log();
  for (; indexed_uploads_ < log.size(); ++indexed_uploads_) {
    const auto& u = log[indexed_uploads_];
    for (const auto& ch : u.changes) {
      history_[ch.key].emplace_back(u.lsn,
                                    ch.after ? description_of(ch.after->data) : std::nullopt);
    }
  }
}

void CrossChecks::check_rows(engine::Client& c) {
  auto& s = clients_[c.index()];
  if (s.acknowledged.empty()) return;
  index_backend_log();
  verdicts_.checked("read-your-writes");
  for (const auto& [key, ack] : s.acknowledged) {
    const std::optional<std::string>* row = c.read_row_cached(key.table, key.id);
    const std::optional<std::string>& shown = row ? *row : kAbsentRow;  // no copy per row
    const bool present = row != nullptr;
    // 1. the acknowledged write itself or a later own local write
    bool ok = false;
    for (const auto& w : s.own_writes[key]) {
      if (w.seq >= ack.seq && w.value.has_value() == present && (!present || w.value == shown)) {
        ok = true;
      }
    }
    // 2. a server version at or after the acknowledged write
    if (!ok) {
      for (const auto& [lsn, v] : history_[key]) {
        if (lsn >= ack.lsn && v.has_value() == present && (!present || v == shown)) ok = true;
      }
    }
    if (!ok) {
      fail_read_your_writes(
          c, ack, present ? "'" + shown.value_or("null") + "'" : "nothing",
          fmt::format("row {}/{} shows {} but write #{} ({}) was uploaded (lsn {}) and "
                      "acknowledged; no newer server or local version explains it",
                      key.table, key.id, present ? "'" + shown.value_or("null") + "'" : "nothing",
                      ack.seq, ack.value ? "'" + *ack.value + "'" : "delete", ack.lsn));
      return;
    }
  }
}

bool CrossChecks::judge_converges(const std::vector<engine::Client*>& clients,
                                  const std::string& pending) {
  if (!verdicts_.enabled("converges")) return true;
  verdicts_.checked("converges");
  for (auto* c : clients) {
    std::map<std::string, std::optional<std::string>> expected;
    for (const auto& [key, row] : service_.rows_for(c->user())) {
      expected[key.table + "/" + key.id] = description_of(row.data);
    }
    std::map<std::string, std::optional<std::string>> actual;
    for (const char* table : {"todos", "notes"}) {
      for (const auto& [id, v] : c->read_table(table)) actual[std::string(table) + "/" + id] = v;
    }
    if (actual == expected) continue;
    std::vector<std::string> diffs;
    for (const auto& [k, v] : expected) {
      auto it = actual.find(k);
      if (it == actual.end()) {
        diffs.push_back(fmt::format("{} missing (service has '{}')", k, v.value_or("null")));
      } else if (it->second != v) {
        diffs.push_back(fmt::format("{} is '{}' (service has '{}')", k, it->second.value_or("null"),
                                    v.value_or("null")));
      }
    }
    for (const auto& [k, v] : actual) {
      if (!expected.count(k))
        diffs.push_back(fmt::format("{} extra ('{}')", k, v.value_or("null")));
    }
    std::string shown;
    for (std::size_t i = 0; i < diffs.size() && i < 5; ++i) shown += (i ? "; " : "") + diffs[i];
    if (diffs.size() > 5) shown += fmt::format("; ... {} more", diffs.size() - 5);
    auto inputs = gate_inputs(*c, "after quiesce");
    inputs.insert(inputs.begin(),
                  {{"rows differing", std::to_string(diffs.size()),
                    fmt::format("client {}'s todos/notes tables against the service's rows of "
                                "user {} after quiesce",
                                c->index(), c->user()),
                    trace_.lines()},
                   {"first difference", diffs.front(), "the same comparison", trace_.lines()}});
    fail("converges", *c,
         fmt::format("{} rows differ from the service after quiesce: {}\n{}\nwhat each part is "
                     "waiting for:\n{}",
                     diffs.size(), shown, explanation_line(explain_gate(*c, service_)), pending),
         std::move(inputs),
         history_chain(*c, fmt::format("after quiesce client {} still differs from the service in "
                                       "{} row(s)",
                                       c->index(), diffs.size())));
    return false;
  }
  return true;
}

void CrossChecks::on_user_switched(engine::Client& c) {
  auto& s = clients_[c.index()];
  s.former_users.insert(c.user());
  auto per_user = [](const model::RowKey& key) { return key.table == "notes"; };
  std::erase_if(s.acknowledged, [&](const auto& entry) { return per_user(entry.first); });
  std::erase_if(s.uploaded, [&](const Write& w) { return per_user(w.key); });
  std::erase_if(s.newest_own, [&](const auto& entry) { return per_user(entry.first); });
  for (auto& [target, writes] : s.awaiting_ack) {
    std::erase_if(writes, [&](const Write& w) { return per_user(w.key); });
  }
}

void CrossChecks::on_core_warning(engine::Client& c, const std::string& line) {
  if (line.find("Checksums didn't match") == std::string::npos) return;
  if (!verdicts_.enabled("checksums-agree")) return;
  std::vector<sim::ViolationInput> inputs{
      {"core warning", line, fmt::format("the core of client {} (its log)", c.index()),
       trace_.lines()}};
  // What the model recomputes for the bucket named in the warning at the latest checkpoint
  // (replication's never-compacted ops): the value the line should have carried.
  const auto named = line.find("failed for: ");
  if (named != std::string::npos) {
    const auto start = named + 12;
    const std::string bucket = line.substr(start, line.find(" (", start) - start);
    const model::OpId op = service_.storage().latest().op_id;
    const auto sum = static_cast<uint32_t>(service_.checksum_at(bucket, op));
    inputs.push_back(
        {"model checksum", fmt::format("{:#010x}", sum),
         fmt::format("the model's bucket {} recomputed up to checkpoint op {}", bucket, op),
         service_.replication().checkpoint_line()});
  }
  fail("checksums-agree", c, "the core rejected a checkpoint: " + line, std::move(inputs),
       history_chain(
           c, fmt::format("the core of client {} rejects the checkpoint's checksums", c.index())));
}

bool CrossChecks::judge_requests_complete(const std::vector<engine::Client*>& clients,
                                          const std::string& pending) {
  if (!verdicts_.enabled("requests-complete")) return true;
  verdicts_.checked("requests-complete");
  for (auto* c : clients) {
    const auto target = c->target();
    const auto seen = c->last_seen();
    // Legacy-mode clients never write last_requested: one left by an earlier requests-mode
    // life (switch_mode) is stale, not a pending request (docs/protocol.md §2.5 item 2).
    std::optional<int64_t> requested;
    if (c->checkpoint_mode() == engine::CheckpointMode::Requests) requested = c->last_requested();
    const int64_t crud = c->crud_count();
    std::string why;
    if (crud > 0) {
      why = fmt::format("{} ps_crud entries never uploaded", crud);
    } else if (target && (!seen || *target > *seen)) {
      why = fmt::format("target {} > last_seen {}", *target, seen ? std::to_string(*seen) : "none");
    } else if (requested && (!seen || *requested > *seen)) {
      why = fmt::format("request id {} never acknowledged (last_seen {})", *requested,
                        seen ? std::to_string(*seen) : "none");
    }
    if (why.empty()) continue;
    auto inputs = gate_inputs(*c, "after quiesce");
    inputs.push_back({"last_requested", requested ? std::to_string(*requested) : "none",
                      fmt::format("ps_kv last_requested of client {} after quiesce (requests "
                                  "mode only)",
                                  c->index()),
                      trace_.lines()});
    fail("requests-complete", *c,
         fmt::format("after quiesce: {}; {}\nwhat each part is waiting for:\n{}", why,
                     explanation_line(explain_gate(*c, service_)), pending),
         std::move(inputs), history_chain(*c, "after quiesce: " + why));
    return false;
  }
  return true;
}

std::vector<sim::CauseStep> CrossChecks::history_chain(engine::Client& c,
                                                       const std::string& now) const {
  std::vector<std::pair<uint64_t, std::string>> steps;
  auto it = clients_.find(c.index());
  if (it != clients_.end()) {
    const ClientState& s = it->second;
    if (s.last_write_line) {
      steps.emplace_back(s.last_write_line, fmt::format("client {}'s last local write", c.index()));
    }
    if (s.last_upload_line) {
      steps.emplace_back(s.last_upload_line, fmt::format("client {}'s last upload", c.index()));
    }
    if (s.last_target_line) {
      steps.emplace_back(s.last_target_line, fmt::format("client {} stores its last target {}",
                                                         c.index(), s.last_target));
    }
    if (s.last_applied_line) {
      steps.emplace_back(
          s.last_applied_line,
          fmt::format("client {} applies its last checkpoint (request id {})", c.index(),
                      s.last_applied ? std::to_string(*s.last_applied) : "none"));
    }
  }
  return checks::chain_in_trace_order(std::move(steps), now, trace_.lines());
}

std::vector<sim::ViolationInput> CrossChecks::gate_inputs(engine::Client& c,
                                                          const std::string& when) const {
  auto show = [](std::optional<int64_t> v) { return v ? std::to_string(*v) : std::string("none"); };
  const uint64_t now_line = trace_.lines();
  auto it = clients_.find(c.index());
  const uint64_t target_line = it == clients_.end() ? 0 : it->second.last_target_line;
  return {
      {"target", show(c.target()),
       fmt::format("ps_kv target_checkpoint_request_id of client {} {}", c.index(), when),
       target_line ? target_line : now_line},
      {"last_seen", show(c.last_seen()),
       fmt::format("the last write checkpoint client {} validated, {}", c.index(), when), now_line},
      {"ps_crud", std::to_string(c.crud_count()),
       fmt::format("ps_crud rows of client {} {}", c.index(), when), now_line}};
}

}  // namespace syncsim::scenarios
