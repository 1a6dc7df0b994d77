// One sync-stream connection (POST /sync/stream, service.md §3): the first line is a
// full `checkpoint`, later ones `checkpoint_diff` only on a real change (bucket checksum
// or count, or the write checkpoint), each followed by `data` for the changed buckets and
// `checkpoint_complete`; `token_expires_in` every 20 s ±10 % (service.md §3.5).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "model/bucket_storage.hpp"
#include "model/checkpoint_store.hpp"
#include "sim/net.hpp"
#include "sim/prng.hpp"
#include "sim/trace.hpp"

namespace syncsim::model {

struct StreamStats {
  uint64_t checkpoint_lines = 0;
  uint64_t data_lines = 0;
  uint64_t write_checkpoint_only_diffs = 0;
};

struct ConnectionContext {
  sim::Loop& loop;
  sim::Trace& trace;
  BucketStorage& storage;
  CheckpointStore& checkpoints;
  sim::Notifier& write_checkpoints_poked;  // only the ack-before-replication mutant fires it
  StreamStats& stats;
  // Called when a line carries a write_checkpoint different from the previous line's
  // (key, id, the checkpoint's LSN): service-ack-after-replication and ack latency.
  std::function<void(const std::string&, int64_t, Lsn)> on_emit;
};

struct ConnectionRequest {
  std::string user;
  std::string client_id;
  bool has_client_id = false;
  std::string key;                    // "<user>/<client_id>" (service.md §1.1)
  std::vector<std::string> buckets;   // resolved from the sync config
  std::map<std::string, OpId> after;  // client positions from the request
  sim::Micros token_expires_at = 0;
};

class SyncConnection {
 public:
  SyncConnection(ConnectionContext ctx, ConnectionRequest request,
                 std::shared_ptr<sim::ServerStream> stream, sim::Prng rng);
  sim::Task<void> run();

 private:
  void send_checkpoint(const StorageCheckpoint& cp, const std::vector<std::string>& changed,
                       bool full);
  void send_data(const std::string& bucket, OpId up_to);
  void send_keepalive();
  void update_write_checkpoint(const StorageCheckpoint& cp);

  ConnectionContext ctx_;
  ConnectionRequest req_;
  std::shared_ptr<sim::ServerStream> stream_;
  sim::Prng rng_;
  std::map<std::string, BucketState> sent_states_;
  std::optional<int64_t> write_checkpoint_;       // mongo: only ever increases per connection
  std::optional<int64_t> sent_write_checkpoint_;  // lastWriteCheckpoint of §1.9 emission
  bool queried_initial_ = false;                  // mongo: the initial lookup happened
  Lsn seen_lsn_ = 0;                              // mongo: last checkpoint LSN looked at
};

}  // namespace syncsim::model
