#include "scenarios/world/service_options.hpp"

#include <stdexcept>

namespace syncsim::scenarios {

namespace {
model::BatchFailure failure_mode(const std::string& name) {
  if (name == "head_read") return model::BatchFailure::HeadRead;
  if (name == "marker") return model::BatchFailure::Marker;
  if (name == "partial_write") return model::BatchFailure::PartialWrite;
  if (name == "no_sync_config") return model::BatchFailure::NoSyncConfig;
  throw std::invalid_argument("service.batch_failure \"" + name + "\" is not a failure mode");
}
}  // namespace

void apply_service_options(const ServiceSpec& spec, model::ServiceConfig& cfg) {
  cfg.api_processes = spec.api_processes;
  cfg.mysql_keepalive = spec.mysql_keepalive == "v1.25.0" ? model::MysqlKeepalive::V1_25_0
                                                          : model::MysqlKeepalive::V1_24_0;
  cfg.custom_changes_own_config = spec.custom_changes == "own-config";
  cfg.duplicate_window = spec.duplicate_window == "head-read" ? model::DuplicateWindow::HeadRead
                                                              : model::DuplicateWindow::Write;
  cfg.generated_read_back = spec.read_back == "incremented" ? model::GeneratedReadBack::Incremented
                                                            : model::GeneratedReadBack::Service;
  cfg.torn_compaction_reads = spec.compaction_reads == "torn";
  cfg.v3_checksum_documents =
      spec.checksum_reads == "v3-documents" || spec.checksum_reads == "v3-idle-only";
  cfg.v3_superseding_skip = spec.checksum_reads != "v3-idle-only";
  cfg.separate_read_back = spec.read_back_step == "separate";
  cfg.max_concurrent_streams = static_cast<int>(spec.max_concurrent_streams);
  cfg.batch_failure_pct = static_cast<int>(spec.batch_failure_pct);
  if (spec.batch_failure == "any") {
    cfg.batch_failures = {model::BatchFailure::HeadRead, model::BatchFailure::Marker,
                          model::BatchFailure::PartialWrite, model::BatchFailure::NoSyncConfig};
  } else {
    cfg.batch_failures = {failure_mode(spec.batch_failure)};
  }
  cfg.sticky_invalidation = spec.compaction_invalidation == "sticky";
  cfg.sync_config_change = spec.sync_config_change == "end-streams"
                               ? model::SyncConfigChange::EndStreams
                               : model::SyncConfigChange::Reprocess;
  cfg.snapshot_duration = spec.snapshot_ms * sim::kMillis;
  cfg.stream_batch_delay = spec.fetch_latency_ms * sim::kMillis;
  cfg.fetch_per_page = spec.fetch_per == "page";
}

}  // namespace syncsim::scenarios
