// Sync-stream invariants (issue 7), judged from what the SDK shim reports through
// engine::ClientObserver: the request each iteration sent (`start` result), the checkpoint
// lines it handled (their buckets' `subscriptions`, docs/protocol.md §3.3.2), the core's status
// updates (`streams`, docs/protocol.md §1.2.5) and the rows it shows.
//  - stream-progress: in every status the core emits, each stream's progress.downloaded
//    <= progress.total; and a stream that newly reports last_synced_at had downloaded ==
//    total in the download it completed (the status of that call while still downloading,
//    else the previous status of the iteration).
//  - stream-rows-covered: after every full apply (DidCompleteSync), every visible `items`
//    row belongs to a stream bucket that the connection's request still asks for: an
//    explicit subscription of that request (same stream, same parameters) or a default
//    stream with include_defaults.  So rows of a subscription that expired or was removed
//    disappear at the first full apply of a connection whose request no longer has it
//    (docs/protocol.md §1.4.1: expired rows are deleted when the request is built; §1.4.2,
//    docs/protocol.md §3.3.3), unless another subscription covers them.
//  - stream-synced-after-applied: a stream's last_synced_at changes only in a call that
//    applied it: a checkpoint_complete (or completed_upload) that emitted DidCompleteSync,
//    or a partial_checkpoint_complete whose priority is >= the stream's priority (docs/protocol.md
//    §1.4.2 "streams in the applied priority"); and then every bucket of the stream in the
//    current checkpoint has last_applied_op == last_op in ps_buckets.
// Priority-0 partial applies past a closed gate are exempt from barrier-holds only
// (engine/sdk_shim.cpp, docs/invariants.md §1) and counted in ClientStats::priority0_bypasses.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/sdk_shim.hpp"
#include "model/service.hpp"
#include "sim/invariants.hpp"

namespace syncsim::scenarios {

void register_stream_invariants(sim::InvariantCatalog& catalog);

class StreamInvariants : public engine::ClientObserver {
 public:
  StreamInvariants(sim::Loop& loop, sim::Trace& trace, model::Service& service,
                   sim::Verdicts& verdicts);

  void on_sync_applied(engine::Client& c, std::optional<int64_t> applied_id) override;
  void on_control(engine::Client& c, const std::string& op,
                  const std::optional<std::string>& payload,
                  const std::optional<std::string>& result) override;

  // Counters for the run result.
  [[nodiscard]] uint64_t rows_checked() const { return rows_checked_; }
  [[nodiscard]] uint64_t streams_synced() const { return streams_synced_; }

 private:
  struct Subscription {
    std::string stream;
    nlohmann::json parameters;  // object or null
  };
  struct Iteration {
    bool include_defaults = true;
    std::vector<Subscription> subscriptions;               // request.streams.subscriptions
    std::vector<std::string> default_streams;              // checkpoint `streams` by index
    std::map<std::string, nlohmann::json> bucket_reasons;  // bucket -> its `subscriptions`
    std::optional<nlohmann::json> status;                  // the last status of the iteration
    // Trace lines of the iteration's start (its subscriptions), its last checkpoint or
    // checkpoint_diff line and its last status: a failure's causal chain.
    uint64_t start_line = 0, checkpoint_line = 0, status_line = 0;
  };

  void on_line(Iteration& it, const std::string& line);
  void judge_status(engine::Client& c, Iteration& it, const std::string& op,
                    const std::optional<std::string>& payload, const nlohmann::json& result,
                    const nlohmann::json& status);
  [[nodiscard]] std::vector<std::string> buckets_of(const Iteration& it,
                                                    const engine::StreamStatusEntry& s) const;
  // Fails with the invariant's inputs; the causal chain is the iteration's start, its last
  // checkpoint line, its last status (those it had) and `now` at the current trace line.
  void fail(const std::string& invariant, engine::Client& c, const Iteration& it,
            const std::string& message, std::vector<sim::ViolationInput> inputs,
            const std::string& now);

  sim::Loop& loop_;
  sim::Trace& trace_;
  model::Service& service_;
  sim::Verdicts& verdicts_;
  std::map<int, Iteration> iterations_;  // by client index
  uint64_t rows_checked_ = 0;
  uint64_t streams_synced_ = 0;
};

}  // namespace syncsim::scenarios
