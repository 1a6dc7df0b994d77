#include "engine/workload.hpp"

#include <fmt/format.h>

namespace syncsim::engine {

sim::Task<void> run_workload(sim::Loop& loop, sim::Prng rng, std::function<Client*()> client,
                             WorkloadOptions options) {
  uint64_t n = 0;
  while (true) {
    sim::Micros wait = rng.range(options.interval_min, options.interval_max);
    if (loop.now() + wait >= options.stop_at) co_return;
    co_await loop.sleep_for(wait);
    const bool notes = rng.percent(static_cast<uint64_t>(options.notes_pct));
    const bool del = rng.percent(static_cast<uint64_t>(options.delete_pct));
    const auto key = rng.uniform(static_cast<uint64_t>(options.keyspace));
    Client* c = client();
    if (c == nullptr) continue;
    LocalWrite w;
    w.table = notes ? "notes" : "todos";
    // notes ids are per user so a private row never collides with another user's
    w.id = notes ? fmt::format("{}-n{}", c->user(), key) : fmt::format("k{}", key);
    // Values are unique per write so a checker can tell which write a row shows.
    if (!del) w.description = fmt::format("c{}-{}", c->index(), ++n);
    if (options.insert_only_pct > 0) {
      w.with_event = rng.percent(static_cast<uint64_t>(options.insert_only_pct));
    }
    c->local_write(std::move(w));
  }
}

}  // namespace syncsim::engine
