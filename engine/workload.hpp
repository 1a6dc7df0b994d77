// The app workload of the default world (docs/scenarios.md §1): each client writes `todos` rows
// from a small shared keyspace (contention) and private `notes`, ids and values drawn
// from the sim PRNG (never uuid()), until the run phase ends; optionally some writes add
// an insert-only `events` row in the same transaction.
#pragma once

#include <functional>

#include "engine/sdk_shim.hpp"

namespace syncsim::engine {

struct WorkloadOptions {
  sim::Micros interval_min = 500 * sim::kMillis;
  sim::Micros interval_max = 3 * sim::kSeconds;
  int keyspace = 16;
  int notes_pct = 20;
  int delete_pct = 10;
  // Share of writes that also insert into the insert-only `events` table in the same
  // transaction (docs/protocol.md §1.3.7).  0 draws nothing, so existing runs keep their traces.
  int insert_only_pct = 0;
  int request_checkpoint_pct =
      0;                      // steps that also call requestCheckpoint() (docs/protocol.md §2.3.1)
  int wait_for_sync_pct = 0;  // of those, awaited with waitForSync()
  sim::Micros wait_for_sync_timeout = 60 * sim::kSeconds;  // then the wait is aborted
  sim::Micros stop_at = 0;                                 // absolute virtual time
};

// Sync-stream subscription churn (issue 7): the app subscribes to streams as the user
// navigates and drops them again (JS SyncStream.subscribe / SyncStreamSubscription.unsubscribe
// / SyncStream.unsubscribeAll), and writes `items` rows of what it holds.  Its own PRNG
// stream, so the write workload's draws do not move.
struct ChurnStream {
  std::string name;
  bool parameterised = true;  // subscribed with {"id": "<value>"}
  bool is_default = false;    // synced without a subscription (items written, never subscribed)
};

struct StreamChurnOptions {
  std::vector<ChurnStream> streams;
  sim::Micros interval_min = 1 * sim::kSeconds;
  sim::Micros interval_max = 5 * sim::kSeconds;
  int subscribe_pct = 60;
  int unsubscribe_all_pct = 20;
  int max_held = 4;
  int param_values = 8;
  int64_t ttl_s = 0;  // 0: no ttl passed (the core's default)
  int priority_override_pct = 0;
  sim::Micros burst_interval = 0;  // 0: no bursts
  int burst_size = 5;
  int item_write_pct = 50;
  int item_keyspace = 4;
  sim::Micros stop_at = 0;  // absolute virtual time
};

sim::Task<void> run_stream_churn(sim::Loop& loop, sim::Prng rng, std::function<Client*()> client,
                                 StreamChurnOptions options);

// Requests without writes: the app calls requestCheckpoint() every `interval` (the first
// after one interval) until stop_at, whatever its upload queue holds; nothing is drawn, so
// the other workloads' streams do not move.  Skipped while the app is down.
sim::Task<void> run_request_interval(sim::Loop& loop, std::function<Client*()> client,
                                     sim::Micros interval, sim::Micros stop_at);

// `client` gives the app's current life, nullptr while the app is down (restarts, kills:
// nobody writes then); the draws are the same either way.
sim::Task<void> run_workload(sim::Loop& loop, sim::Prng rng, std::function<Client*()> client,
                             WorkloadOptions options);

}  // namespace syncsim::engine
