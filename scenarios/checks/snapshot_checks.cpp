#include "scenarios/checks/snapshot_checks.hpp"

#include <fmt/format.h>

#include <vector>

#include "scenarios/checks/cross_checks.hpp"  // description_of
#include "scenarios/checks/violation.hpp"

namespace syncsim::scenarios {

namespace {

bool judged_table(const std::string& table) {
  return table == "todos" || table == "notes" || table == "items";
}

std::string shown_text(const std::optional<std::string>& v) { return v ? "'" + *v + "'" : "null"; }

model::OpId through(const model::OpId& op) { return op; }
template <typename Bucket>
model::OpId through(const Bucket& b) {
  return b.through;
}

// "bucket at op N, ..." over a client's applied buckets (a view, or positions kept of one).
template <typename View>
std::string positions_of(const View& view) {
  std::string positions;
  for (const auto& [bucket, b] : view) {
    positions += fmt::format("{}{} at op {}", positions.empty() ? "" : ", ", bucket, through(b));
  }
  return positions;
}

}  // namespace

std::optional<SnapshotChecks::Version> SnapshotChecks::expected_row(const ClientView& view,
                                                                    const model::RowKey& key) {
  std::optional<Version> newest;
  for (const auto& [bucket, b] : view) {
    auto it = b.rows.find(key);
    if (it == b.rows.end() || !it->second.data) continue;
    if (!newest || it->second.op_id > newest->op_id) newest = it->second;
  }
  return newest;
}

void SnapshotChecks::on_cleared(engine::Client& c) {
  clients_.erase(c.index());
  deferred_.erase(c.index());
  previous_[c.index()] = {
      trace_.lines(),
      fmt::format("client {} cleared its database (disconnectAndClear)", c.index())};
}

void SnapshotChecks::on_published(engine::Client& c) {
  if (!verdicts_.enabled("consistent-checkpoint")) return;
  verdicts_.checked("consistent-checkpoint");
  ClientView& view = clients_[c.index()];
  const auto held = c.bucket_applied();
  std::set<model::RowKey> touched;
  std::set<model::RowKey>& deferred = deferred_[c.index()];
  // Buckets the client no longer holds: their rows may have left the client's tables.
  for (auto it = view.begin(); it != view.end();) {
    if (held.contains(it->first)) {
      ++it;
      continue;
    }
    for (const auto& [key, v] : it->second.rows) deferred.insert(key);
    it = view.erase(it);
  }
  // Per key: whether some bucket's version after this call is a PUT applied in it.
  std::map<model::RowKey, bool> put_applied;
  for (const auto& [bucket, applied] : held) {
    const auto& ledger = service_.ledger(bucket);
    BucketView& b = view[bucket];
    if (applied < b.through) {
      // The bucket went back (deleted and downloaded again, a power loss): read it afresh.
      for (const auto& [key, v] : b.rows) deferred.insert(key);
      b = BucketView{};
    }
    const model::OpId from = b.through;
    std::set<model::RowKey> advanced;
    for (; b.next < ledger.size() && ledger[b.next].op_id <= applied; ++b.next) {
      const auto& op = ledger[b.next];
      b.rows[op.key] = Version{op.op_id, op.data};
      advanced.insert(op.key);
    }
    for (const auto& key : advanced) {
      const Version& v = b.rows.at(key);
      put_applied[key] = put_applied[key] || (v.data.has_value() && v.op_id > from);
      touched.insert(key);
    }
    b.through = applied;
  }
  if (c.last_apply_was_full()) {
    touched.insert(deferred.begin(), deferred.end());
    deferred.clear();
  } else {
    // A partial apply re-derives only rows with a PUT in ps_oplog past their bucket's
    // last_applied_op; a REMOVE lives in ps_updated_rows, which waits for the full apply
    // (docs/protocol.md §1.3.6), and so does the row.
    for (auto it = touched.begin(); it != touched.end();) {
      if (put_applied[*it]) {
        ++it;
        continue;
      }
      deferred.insert(*it);
      it = touched.erase(it);
    }
  }
  for (const auto& key : touched) {
    if (!judged_table(key.table)) continue;
    const auto want = expected_row(view, key);
    const std::optional<std::string>* row = c.read_row_cached(key.table, key.id);
    static const std::optional<std::string> kAbsent;
    const bool present = row != nullptr;
    const std::optional<std::string>& shown = present ? *row : kAbsent;
    if (present == want.has_value() && (!present || shown == description_of(want->data.value()))) {
      continue;
    }
    fail_row(c, view, key, want, shown, present);
    return;
  }
  Step& previous = previous_[c.index()];
  previous.line = trace_.lines();
  previous.what.clear();
  previous.positions.clear();
  for (const auto& [bucket, b] : view) previous.positions.emplace_back(bucket, b.through);
}

void SnapshotChecks::fail_row(engine::Client& c, const ClientView& view, const model::RowKey& key,
                              const std::optional<Version>& want,
                              const std::optional<std::string>& shown, bool present) {
  const std::string row = key.table + "/" + key.id;
  const std::string expected =
      want ? fmt::format("{} (PUT at op {})", shown_text(description_of(want->data.value())),
                         want->op_id)
           : "absent";
  const std::string positions = positions_of(view);
  std::string versions;
  // The row's versions past the checkpoint are the steps that can reach into it (a compacted
  // MOVE whose superseding op is one of them).
  std::vector<std::pair<uint64_t, std::string>> steps;
  for (const auto& [bucket, b] : view) {
    for (const auto& op : service_.ledger(bucket)) {
      if (op.key != key) continue;
      const std::string what =
          op.data ? "PUT " + shown_text(description_of(*op.data)) : std::string("REMOVE");
      const bool after = op.op_id > b.through;
      versions += fmt::format("{}{} op {} {}{}", versions.empty() ? "" : "; ", bucket, op.op_id,
                              what, after ? " (after the checkpoint)" : "");
      if (after) {
        steps.emplace_back(op.line, fmt::format("replication writes {} op {}: {} of {}, past the "
                                                "client's checkpoint at op {}",
                                                bucket, op.op_id, what, row, b.through));
      }
    }
  }
  const uint64_t now_line = trace_.lines();
  std::vector<sim::ViolationInput> inputs{
      {"row shown", present ? shown_text(shown) : "absent",
       fmt::format("client {}'s {} table, read after the apply", c.index(), key.table), now_line},
      {"row at the checkpoint", expected,
       "the replication job's never-compacted ledger of the client's buckets", 0},
      {"client's buckets", positions, "ps_buckets.last_applied_op after the apply", now_line},
      {"every version of the row", versions.empty() ? "none" : versions,
       "the replication job's ledger", 0}};
  if (auto it = previous_.find(c.index()); it != previous_.end()) {
    const Step& p = it->second;
    steps.emplace_back(p.line, p.what.empty() ? fmt::format("client {} published a consistent "
                                                            "state ({})",
                                                            c.index(), positions_of(p.positions))
                                              : p.what);
  }
  checks::fail(
      loop_, trace_, verdicts_, "consistent-checkpoint", c.index(),
      fmt::format("client {} applied a checkpoint showing {} as {} but at its checkpoint the "
                  "source had it {}: the client shows a state the source never had (a "
                  "downloaded op lost the row's value, e.g. a compacted MOVE of a superseding op "
                  "past the checkpoint, docs/protocol.md §3.3.3 step 6)",
                  c.index(), row, present ? shown_text(shown) : "absent", expected),
      std::move(inputs),
      checks::chain_in_trace_order(
          std::move(steps),
          fmt::format("client {} applies ops up to {} and shows {} unlike the source's row at "
                      "that checkpoint",
                      c.index(), positions, row),
          now_line));
}

}  // namespace syncsim::scenarios
