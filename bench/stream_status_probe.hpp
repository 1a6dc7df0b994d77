// Sync-stream status size probe (issue 7): drives a real core through powersync_control
// (docs/protocol.md §1.2, §1.4) with explicit stream subscriptions, feeds it one checkpoint whose
// buckets carry `subscriptions` (docs/protocol.md §3.3.2), one data line per bucket and
// `checkpoint_complete`, then one `checkpoint_diff` touching a single bucket, and measures
// every `UpdateSyncStatus` instruction the core emits (docs/protocol.md §1.2.4–1.2.5) on the way.
// No service model and no SDK shim: the lines are built here, so the measurement depends
// only on the core binary and the shape.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core_registry.hpp"

namespace syncsim::bench {

struct ProbeShape {
  int streams = 1;             // stream definitions the client is subscribed to
  int subs_per_stream = 1;     // explicit subscriptions (distinct parameters) per stream
  int buckets_per_stream = 1;  // buckets each stream's subscriptions resolve to, together
  // Distinct bucket priorities: 1 = every bucket at priority 3; 4 = stream i's buckets at
  // priority i % 4 (so the checkpoint is applied in 4 steps, docs/protocol.md §3.3.3 step 5).
  int priorities = 1;
  // true: the streams are default streams the client has no local row for (the core
  // creates one per stream, docs/protocol.md §1.4.2); subs_per_stream must then be 1.
  bool default_streams = false;

  [[nodiscard]] int64_t total_buckets() const {
    return static_cast<int64_t>(streams) * buckets_per_stream;
  }
  [[nodiscard]] std::string label() const;
};

// Sizes of the UpdateSyncStatus instructions of one phase, bytes as the core emitted
// them (the instruction object `{"UpdateSyncStatus":{"status":{…}}}`, not re-serialized).
struct StatusStats {
  int64_t control_calls = 0;  // powersync_control calls in the phase
  int64_t updates = 0;        // UpdateSyncStatus instructions
  int64_t total_bytes = 0;
  int64_t min_bytes = 0;
  int64_t max_bytes = 0;
  int64_t result_bytes = 0;  // all instructions' text, the SDK has to parse all of it
  double cpu_seconds = 0;    // process CPU time of the phase; measurement only, not in the table

  void add_status(int64_t bytes);
};

struct ProbeResult {
  ProbeShape shape;
  std::string core;
  int64_t request_subscriptions = 0;  // request.streams.subscriptions the core built
  int64_t checkpoint_line_bytes = 0;  // the service's checkpoint line, for comparison
  StatusStats initial;                // checkpoint … data × N … checkpoint_complete
  StatusStats diff;                   // checkpoint_diff (1 bucket) … data … checkpoint_complete
  // From the status emitted for the checkpoint line (parsed): what the status holds.
  int64_t status_stream_entries = 0;
  int64_t status_progress_total = 0;  // sum of streams[].progress.total
  bool applied = false;               // DidCompleteSync seen for both checkpoints
};

// Runs one shape in a fresh simulated file store (its own VFS binding: no other
// simulation may be bound).  Throws std::runtime_error with the core's message if a
// control call fails or the core does not apply a checkpoint.
ProbeResult run_status_probe(const ProbeShape& shape, const engine::CoreVersion& core);

// The top-level elements of a JSON array text (an instruction list) whose single key is
// `name`, as views into `text`.  Strings and escapes are respected; throws
// std::runtime_error on text that is not a well-formed array of objects.
std::vector<std::string_view> instructions_named(std::string_view text, std::string_view name);

}  // namespace syncsim::bench
