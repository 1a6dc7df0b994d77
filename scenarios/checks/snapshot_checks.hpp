// consistent-checkpoint (docs/invariants.md §1): a client that applies a checkpoint shows the
// rows the source had at that checkpoint.  After every control call that published rows, each
// row that a bucket's applied range grew over (a PUT or REMOVE in the replication job's
// never-compacted ledger, model/replication.hpp, up to ps_buckets.last_applied_op) equals the
// service's row as of those positions: present with the data of the newest PUT over the
// client's buckets (the core's sync_local rule, docs/protocol.md §1.3), absent when no bucket
// holds a PUT.
//
// Compaction turns a superseded op into a MOVE without data (docs/protocol.md §3.3.4); a client
// that downloads that MOVE for a checkpoint older than the superseding op would miss the row's
// value at its checkpoint, which is why the service withholds checkpoint_complete when a chunk
// has a MOVE/CLEAR past the checkpoint (§3.3.3 step 6).  This invariant judges the outcome
// end to end, from the client's tables, whatever the service did.
//
// The barrier guarantees that a full apply happens with ps_crud empty and target <= last_seen,
// so the client's rows are the synced rows then (no local edit is pending).  Only the synced
// tables the world's workload writes (todos, notes) are judged, as `converges` does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "engine/sdk_shim.hpp"
#include "model/service.hpp"
#include "sim/invariants.hpp"
#include "sim/loop.hpp"
#include "sim/trace.hpp"

namespace syncsim::scenarios {

class SnapshotChecks : public engine::ClientObserver {
 public:
  SnapshotChecks(sim::Loop& loop, sim::Trace& trace, model::Service& service,
                 sim::Verdicts& verdicts)
      : loop_(loop), trace_(trace), service_(service), verdicts_(verdicts) {}

  // Every control call that published rows (full or partial checkpoint, a clear).
  void on_published(engine::Client& c) override;
  void on_cleared(engine::Client& c) override;

 private:
  struct Version {
    model::OpId op_id = 0;
    std::optional<std::string> data;  // nullopt: REMOVE
  };
  // What the client has of one bucket: the ledger read up to `through`, the newest op per row.
  struct BucketView {
    model::OpId through = 0;
    std::size_t next = 0;  // index into the bucket's ledger
    std::map<model::RowKey, Version> rows;
  };
  using ClientView = std::map<std::string, BucketView>;  // by bucket name

  // The row as of the client's checkpoint: the newest PUT over its buckets (nullopt: absent).
  static std::optional<Version> expected_row(const ClientView& view, const model::RowKey& key);
  void fail_row(engine::Client& c, const ClientView& view, const model::RowKey& key,
                const std::optional<Version>& want, const std::optional<std::string>& shown,
                bool present);

  sim::Loop& loop_;
  sim::Trace& trace_;
  model::Service& service_;
  sim::Verdicts& verdicts_;
  std::map<int, ClientView> clients_;  // by 1-based client number (the database outlives lives)
  // Rows of buckets the client deleted or saw go back (a CLEAR, a re-download): the core
  // re-derives them (ps_updated_rows) only at a full apply, so they are judged then
  // (docs/invariants.md §1 consistent-checkpoint).
  std::map<int, std::set<model::RowKey>> deferred_;
  // The causal chain's earlier step per client: its previous publication (its buckets'
  // positions, worded only for a failure) or its clear.
  struct Step {
    uint64_t line = 0;
    std::string what;                                              // a clear
    std::vector<std::pair<std::string, model::OpId>> positions{};  // a publication
  };
  std::map<int, Step> previous_;
};

}  // namespace syncsim::scenarios
