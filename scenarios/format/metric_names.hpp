// The per-run metrics a scenario may name as its report headline (`headline`, scenario.hpp)
// and how reports title them.  Header-only so the scenario loader validates against it
// without depending on the runner, and reports title metrics without linking scenarios.
#pragma once

#include <string_view>

namespace syncsim::scenarios {

struct MetricName {
  const char* key;
  const char* title;
  const char* unit;
};

// In the order a reviewer reads them; every key is a member of a run's "metrics".
inline constexpr MetricName kMetricNames[] = {
    {"acks", "checkpoint requests acknowledged", "count"},
    {"acks_by_later_id", "acks that came only with a later id (hidden)", "count"},
    {"hidden_ack_share_pct", "share of acks hidden by a newer request", "%"},
    {"ack_latency_p50_ms", "request → ack, median", "ms"},
    {"ack_latency_max_ms", "request → ack, max", "ms"},
    {"direct_ack_latency_p50_ms", "request → ack by its own id, median", "ms"},
    {"hidden_ack_latency_p50_ms", "request → ack by a later id, median", "ms"},
    {"hidden_extra_delay_p50_ms", "extra delay of hidden acks beyond the lag, median", "ms"},
    {"write_to_ack_p50_ms", "local write → visible with ack, median", "ms"},
    {"write_to_ack_max_ms", "local write → visible with ack, max", "ms"},
    {"writes_acked", "local writes visible with ack", "count"},
    {"hidden_acks", "requests the client never saw acked by their own id", "count"},
    {"applied_checkpoints", "checkpoints applied by the clients", "count"},
    {"blocked_checkpoints", "checkpoints withheld by the barrier", "count"},
    {"markers_written", "source markers written", "count"},
    {"reconnects", "sync stream reconnects", "count"},
    {"checkpoint_requests", "checkpoint requests received", "count"},
    {"local_writes", "local writes", "count"},
    {"uploads", "CRUD uploads", "count"},
    {"checkpoint_lines", "checkpoint lines sent", "count"},
    {"ops_sent", "ops sent in data lines, over all streams", "count"},
    {"empty_checkpoints", "storage checkpoints without row ops", "count"},
    {"batches", "checkpoint-request batches", "count"},
    {"app_reopens", "app reopens (lifecycle faults)", "count"},
    {"download_errors", "download errors", "count"},
};

inline const MetricName* find_metric_name(std::string_view key) {
  for (const auto& m : kMetricNames) {
    if (key == m.key) return &m;
  }
  return nullptr;
}

}  // namespace syncsim::scenarios
