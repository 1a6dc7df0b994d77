// The in-process model of the PowerSync service plus the app backend, reachable only
// through the simulated network (sim::HttpServer).  Routes modelled so far:
//   POST /sync/stream              service.md §3 (sync_stream.hpp)
//   POST /sync/checkpoint-request  service.md §1.2, §1.7 (validation per DESIGN.md §10)
//   POST /backend/upload           the app backend (DESIGN.md §7)
// The default world (DESIGN.md §7): `todos` rows go to the global bucket every user
// syncs; `notes` rows to a per-user bucket of their owner.
#pragma once

#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "model/backend.hpp"
#include "model/bucket_storage.hpp"
#include "model/checkpoint_store.hpp"
#include "model/replication.hpp"
#include "model/source_db.hpp"
#include "model/sync_stream.hpp"
#include "sim/net.hpp"

namespace syncsim::model {

// Deliberately injected service bugs, used to show a checker can fail.
enum class ServiceMutant {
  // Acknowledge a checkpoint request at once, before replication has passed the position
  // at which the request was received.
  AckBeforeReplication,
  // Replication stops at the middle of the run and never resumes.
  ReplicationStall,
  // A write-checkpoint-only checkpoint_diff gets no checkpoint_complete (sync_stream.hpp).
  NoCompleteForWriteCheckpointOnlyDiff,
};

struct ServiceConfig {
  sim::Micros replication_lag = 200 * sim::kMillis;
  sim::Micros heartbeat = 60 * sim::kSeconds;
  sim::Micros token_lifetime = 86400 * sim::kSeconds;
  std::vector<ServiceMutant> mutants;
  // Sync stream (sync_stream.hpp): priority by bucket definition ("global", "notes";
  // default 3), the per-batch fetch delay, and the line encoding.
  std::map<std::string, int> bucket_priorities;
  sim::Micros stream_batch_delay = sim::kMillis;
  StreamEncoding stream_encoding = StreamEncoding::Json;
};

struct ServiceMetrics {
  uint64_t checkpoint_requests = 0;
  uint64_t rejected_requests = 0;
  uint64_t markers_written = 0;
  uint64_t uploads = 0;
  uint64_t streams_opened = 0;
};

std::string global_bucket();
std::string notes_bucket(const std::string& user);

class Service : public sim::HttpServer {
 public:
  Service(sim::Loop& loop, sim::Trace& trace, sim::Prng rng, ServiceConfig config);
  void start();

  void handle(const sim::HttpRequest& request,
              std::function<void(sim::HttpResponse)> respond) override;
  sim::HttpResponse open_stream(const sim::HttpRequest& request,
                                std::shared_ptr<sim::ServerStream> stream) override;

  [[nodiscard]] std::vector<std::string> buckets_for(const std::string& user) const;
  // The rows a user should see once replication has caught up (for `converges`).
  [[nodiscard]] std::map<RowKey, Row> rows_for(const std::string& user) const;

  SourceDb& source() { return source_; }
  Backend& backend() { return backend_; }
  BucketStorage& storage() { return storage_; }
  CheckpointStore& checkpoints() { return checkpoints_; }
  Replication& replication() { return replication_; }
  [[nodiscard]] const ServiceMetrics& metrics() const { return metrics_; }
  [[nodiscard]] const StreamStats& stream_stats() const { return stream_stats_; }
  [[nodiscard]] bool has_mutant(ServiceMutant m) const;
  [[nodiscard]] std::string pending() const;

 private:
  sim::HttpResponse checkpoint_request(const sim::HttpRequest& request);
  sim::HttpResponse upload(const sim::HttpRequest& request);

  sim::Loop& loop_;
  sim::Trace& trace_;
  sim::Prng rng_;
  ServiceConfig config_;
  SourceDb source_;
  Backend backend_;
  BucketStorage storage_;
  CheckpointStore checkpoints_;
  Replication replication_;
  sim::Notifier write_checkpoints_poked_;
  ServiceMetrics metrics_;
  StreamStats stream_stats_;
  uint64_t next_connection_ = 1;
};

// The error envelope of service.md §1.2.
sim::HttpResponse error_response(int status, const std::string& code,
                                 const std::string& description, const std::string& details);

// Decodes checkpoint_request_id like the service's codec (service.md §1.2, DESIGN.md §10):
// a safe-integer JSON number or a `^-?[0-9]+$` string, within 1..2^63-1.  Returns the
// problem as text on failure.
std::variant<int64_t, std::string> decode_checkpoint_request_id(const nlohmann::json& value);

}  // namespace syncsim::model
