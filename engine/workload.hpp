// The app workload of the default world (DESIGN.md §7): each client writes `todos` rows
// from a small shared keyspace (contention) and private `notes`, ids and values drawn
// from the sim PRNG (never uuid()), until the run phase ends.
#pragma once

#include "engine/sdk_shim.hpp"

namespace syncsim::engine {

struct WorkloadOptions {
  sim::Micros interval_min = 500 * sim::kMillis;
  sim::Micros interval_max = 3 * sim::kSeconds;
  int keyspace = 16;
  int notes_pct = 20;
  int delete_pct = 10;
  int request_checkpoint_pct = 0;  // steps that also call requestCheckpoint() (sdk.md §3.1)
  int wait_for_sync_pct = 0;       // of those, awaited with waitForSync()
  sim::Micros wait_for_sync_timeout = 60 * sim::kSeconds;  // then the wait is aborted
  sim::Micros stop_at = 0;                                 // absolute virtual time
};

sim::Task<void> run_workload(sim::Loop& loop, sim::Prng rng, Client& client,
                             WorkloadOptions options);

}  // namespace syncsim::engine
