// The app workload of the default world (DESIGN.md §7): each client writes `todos` rows
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
  // transaction (core.md §3.7).  0 draws nothing, so existing runs keep their traces.
  int insert_only_pct = 0;
  int request_checkpoint_pct = 0;  // steps that also call requestCheckpoint() (sdk.md §3.1)
  int wait_for_sync_pct = 0;       // of those, awaited with waitForSync()
  sim::Micros wait_for_sync_timeout = 60 * sim::kSeconds;  // then the wait is aborted
  sim::Micros stop_at = 0;                                 // absolute virtual time
};

// `client` gives the app's current life, nullptr while the app is down (restarts, kills:
// nobody writes then); the draws are the same either way.
sim::Task<void> run_workload(sim::Loop& loop, sim::Prng rng, std::function<Client*()> client,
                             WorkloadOptions options);

}  // namespace syncsim::engine
