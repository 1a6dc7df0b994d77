// The service's own invariants, judged inside the model where the service decides (the
// checks in docs/invariants.md that read the service's state): acks only after
// replication, each route response, retention deleting only what it may; with the ack ledger
// that remembers when each request was received.  Split from service.cpp (one job per file).
#include <fmt/format.h>

#include <algorithm>
#include <utility>

#include "model/service.hpp"  // the class whose checks these are

namespace syncsim::model {

void Service::violation(const std::string& invariant, const std::string& message,
                        std::vector<sim::ViolationInput> inputs,
                        std::vector<sim::CauseStep> chain) {
  if (!verdicts_ || !verdicts_->enabled(invariant)) return;
  sim::Violation v{invariant, loop_.clock().elapsed(), "service",
                   message,   std::move(inputs),       std::move(chain)};
  trace_.log("svc", "VIOLATION {}: {}", invariant, message);
  sim::log_explanation(trace_, v);
  verdicts_->violate(std::move(v));
  loop_.stop(sim::StopKind::Failure, invariant + ": " + message);
}

void Service::on_emission(const std::string& key, int64_t id, Lsn lsn) {
  constexpr const char* kId = "service-ack-after-replication";
  if (verdicts_) verdicts_->checked(kId);
  for (const auto& a : ledger_.acked(key, id)) {
    metrics_.ack_latencies.push_back(loop_.now() - a.when);
    (a.by_later ? metrics_.hidden_ack_latencies : metrics_.direct_ack_latencies)
        .push_back(loop_.now() - a.when);
    if (a.by_later) {
      metrics_.hidden_extra_delays.push_back(
          std::max<sim::Micros>(0, loop_.now() - a.when - a.lag));
    }
  }
  // The ack as a trace line of its own: the step a failure's causal chain ends in.
  trace_.log("svc", "ack {} write_checkpoint {} (checkpoint lsn {})", key, id, lsn);
  const uint64_t ack_line = trace_.lines();
  if (auto r = ledger_.requirement_for(key, id); r && r->received_at > lsn) {
    std::vector<sim::ViolationInput> inputs{
        {"write_checkpoint", std::to_string(id), fmt::format("the checkpoint line sent to {}", key),
         ack_line},
        {"checkpoint lsn", std::to_string(lsn),
         "the storage checkpoint the line was built from (replication)",
         replication_.checkpoint_line()},
        {"required position", std::to_string(r->received_at),
         fmt::format("the source head when request {} (<= {}) was received", r->id, id), r->line}};
    // A custom write checkpoint has no batch: the upload's own commit wrote it (batch_line 0).
    const bool custom = r->batch_line == 0;
    std::vector<sim::CauseStep> chain;
    if (custom) {
      chain.push_back({fmt::format("an upload of {} commits at source position {} and answers "
                                   "custom write checkpoint {}",
                                   key, r->received_at, r->id),
                       r->line});
    } else {
      chain.push_back({fmt::format("a request of {} received at source head {} is batched: the "
                                   "batch stores {} and reads head {}",
                                   key, r->received_at, r->id, r->batch_head),
                       r->batch_line});
      chain.push_back({fmt::format("the request is answered {}", r->id), r->line});
    }
    for (auto& step : std::vector<sim::CauseStep>{
             {fmt::format(
                  "replication's latest checkpoint is at lsn {} (< {}: the request's position "
                  "is not replicated yet)",
                  lsn, r->received_at),
              replication_.checkpoint_line()},
             {fmt::format("the stream emitted write_checkpoint {} from it: the ack line", id),
              ack_line}}) {
      chain.push_back(std::move(step));
    }
    violation(kId,
              fmt::format("{}: write_checkpoint {} emitted at checkpoint lsn {}, but a "
                          "request it acknowledges was received at source position {}",
                          key, id, lsn, r->received_at),
              std::move(inputs), std::move(chain));
  }
}

void Service::check_route_response(const std::string& key, std::optional<int64_t> supplied,
                                   const BatchOutcome& out, int64_t response) {
  constexpr const char* kId = "route-response-per-request";
  if (verdicts_) verdicts_->checked(kId);
  if ((!supplied || response >= *supplied) && response >= out.stored) return;
  // The key's records were deleted between the batch's write and its separate read-back: the
  // find answers what a later batch wrote, which may be below both (docs/invariants.md §1,
  // findings-world.md W40).
  if (out.deleted_before_read_back) return;
  const uint64_t answer_line = trace_.lines();
  const std::string posted = supplied ? std::to_string(*supplied) : "(generated)";
  std::vector<sim::ViolationInput> inputs{
      {"response", std::to_string(response), fmt::format("the route's answer to {}", key),
       answer_line},
      {"posted id", posted, "the request's body", answer_line},
      {"stored by its batch", std::to_string(out.stored),
       fmt::format("the id the request's batch stored for {}", key), out.batch_line}};
  std::vector<sim::CauseStep> chain{
      {fmt::format("the request's batch stores {} for {} (head {})", out.stored, key, out.head),
       out.batch_line},
      {fmt::format("the route answers {} with {}", posted, response), answer_line}};
  if (supplied && response < *supplied) {
    return violation(
        kId,
        fmt::format("{}: request {} answered {}, below the posted id", key, *supplied, response),
        std::move(inputs), std::move(chain));
  }
  if (response < out.stored) {
    return violation(
        kId,
        fmt::format("{}: request {} answered {}, below the id {} its own batch "
                    "stored{}",
                    key, posted, response, out.stored, supplied ? "" : " (its own increment)"),
        std::move(inputs), std::move(chain));
  }
}

void register_service_invariants(sim::InvariantCatalog& catalog) {
  catalog.add({"service-ack-after-replication",
               "the service never emits write_checkpoint n before its storage checkpoint passed "
               "the source position at which every request acknowledged by n was received",
               "model/service.cpp Service::on_emission (each new write_checkpoint of a stream)",
               "mutant ack-before-replication; legacy mode under concurrency (finding, §2.1.3)",
               false});
  catalog.add({"route-response-per-request",
               "each answer of a managed route, per request: never below the posted id, never "
               "below the id its own batch stored for the key (larger when other batches "
               "interleave); on the generated route the id its own increment produced or larger",
               "model/service.cpp Service::check_route_response (every answered request)",
               "mutant stale-route-response", false});
  catalog.add({"retention-deletes-only-what-it-may",
               "a compact job deletes no record a request refreshed (an id >= the stored one) "
               "within the retention window before its cutoff, no generated record, and on "
               "mongo no pending record",
               "model/service.cpp Service::check_retention (every compact job)",
               "mutants equal-retry-keeps-age, cleanup-deletes-pending", false});
  catalog.add({"service-stored-id-monotonic",
               "the stored id per key never decreases except by deletion, stays in "
               "1..2^63-1, and each response is the stored id after its batch and >= the id "
               "posted",
               "model/service.cpp Service::on_batch_write (every batch)",
               "mutants lower-id-replaces, accept-non-positive-ids", false});
}

void AckLedger::established(const std::string& key, int64_t id, Lsn received_at, sim::Micros when,
                            sim::Micros lag, uint64_t line, uint64_t batch_line, Lsn batch_head) {
  by_key_[key].emplace(id, Entry{received_at, when, lag, false, line, batch_line, batch_head});
}

std::optional<AckLedger::Requirement> AckLedger::requirement_for(const std::string& key,
                                                                 int64_t n) const {
  auto it = by_key_.find(key);
  if (it == by_key_.end()) return std::nullopt;
  std::optional<Requirement> worst;
  for (auto e = it->second.begin(); e != it->second.end() && e->first <= n; ++e) {
    if (!worst || e->second.received_at > worst->received_at) {
      worst = Requirement{e->first, e->second.received_at, e->second.line, e->second.batch_line,
                          e->second.batch_head};
    }
  }
  return worst;
}

std::optional<Lsn> AckLedger::required_for(const std::string& key, int64_t n) const {
  auto it = by_key_.find(key);
  if (it == by_key_.end()) return std::nullopt;
  std::optional<Lsn> worst;
  for (auto e = it->second.begin(); e != it->second.end() && e->first <= n; ++e) {
    if (!worst || e->second.received_at > *worst) worst = e->second.received_at;
  }
  return worst;
}

std::vector<AckLedger::Acked> AckLedger::acked(const std::string& key, int64_t n) {
  std::vector<Acked> out;
  auto it = by_key_.find(key);
  if (it == by_key_.end()) return out;
  for (auto e = it->second.begin(); e != it->second.end() && e->first <= n; ++e) {
    if (!e->second.acked) {
      e->second.acked = true;
      out.push_back(Acked{e->second.when, e->second.lag, e->first < n});
    }
  }
  return out;
}

void Service::check_retention(const std::map<std::string, std::vector<CheckpointRecord>>& before,
                              sim::Micros cutoff) {
  constexpr const char* kId = "retention-deletes-only-what-it-may";
  if (verdicts_) verdicts_->checked(kId);
  for (const auto& [key_binding, docs] : before) {
    const std::string& key = key_binding;  // a named reference: lambdas below capture it
    const auto* now_docs = checkpoints_.find(key);
    const std::size_t left = now_docs ? now_docs->size() : 0;
    if (left >= docs.size()) continue;  // nothing of this key was deleted
    deletions_[key] = Deletion{loop_.now(), "retention"};
    const RetentionLedger& l = retention_ledger_[key];
    const auto at = [](sim::Micros t) { return fmt::format("{:.3f}s", (t - sim::kEpoch) / 1e6); };
    // The documents that went: those of `docs` not left (retention removes, never edits).
    for (const auto& d : docs) {
      const bool kept = now_docs && std::any_of(now_docs->begin(), now_docs->end(),
                                                [&](const CheckpointRecord& k) {
                                                  return k.id == d.id && k.head == d.head;
                                                });
      if (kept) continue;
      const uint64_t job_line = trace_.lines();
      // The request that established the record (the ack ledger keeps its trace lines).
      const auto req = ledger_.requirement_for(key, d.id);
      const uint64_t stored_line = req ? req->batch_line : 0;
      const uint64_t answer_line = req ? req->line : 0;
      const int64_t req_id = req ? req->id : d.id;
      const auto explain = [&](const std::string& message) {
        std::vector<sim::ViolationInput> inputs{
            {"deleted record", fmt::format("id {} head {}", d.id, d.head),
             fmt::format("the store's record for {} before the compact job", key), stored_line},
            {"requested_at", d.requested_at ? at(*d.requested_at) : "none (generated)",
             "the record's own refresh time", stored_line},
            {"cutoff", at(cutoff), "now minus checkpoint_request_retention", job_line},
            {"refreshed at", l.refreshed_at ? at(*l.refreshed_at) : "never",
             "the retention ledger: the last supplied id >= the stored one", 0},
            {"processed", d.processed_at_lsn ? std::to_string(*d.processed_at_lsn) : "not yet",
             "processed_at_lsn (mongo)", stored_line}};
        std::vector<std::pair<uint64_t, std::string>> steps{
            {stored_line, fmt::format("a batch stores id {} for {} (record {}, head {})", req_id,
                                      key, d.id, d.head)},
            {answer_line, fmt::format("the request is answered {}", req_id)},
            {job_line,
             fmt::format("the compact job (cutoff {}) deletes record {}", at(cutoff), d.id)}};
        std::vector<sim::CauseStep> chain;
        for (auto& [line, what] : steps) {
          if (line) chain.push_back({std::move(what), line});
        }
        std::stable_sort(chain.begin(), chain.end(),
                         [](const auto& a, const auto& b) { return a.line < b.line; });
        violation(kId, message, std::move(inputs), std::move(chain));
      };
      if (!d.requested_at) {
        return explain(
            fmt::format("{}: generated (legacy) record {} deleted by retention "
                        "(generated records never expire, docs/protocol.md §3.2.1)",
                        key, d.id));
      }
      if (l.refreshed_at && *l.refreshed_at >= cutoff) {
        return explain(
            fmt::format("{}: record {} deleted by the compact job with cutoff "
                        "{}, but a request refreshed it at {} (within the "
                        "retention window)",
                        key, d.id, at(cutoff), at(*l.refreshed_at)));
      }
      if (config_.flavour == StorageFlavour::Mongo && !d.processed_at_lsn) {
        return explain(
            fmt::format("{}: mongo retention deleted pending record {} (head "
                        "{}, not yet replicated)",
                        key, d.id, d.head));
      }
    }
  }
}

}  // namespace syncsim::model
