#include "engine/workload.hpp"

#include <fmt/format.h>

namespace syncsim::engine {

namespace {
// The app calls requestCheckpoint() and maybe awaits it (sdk.md §3.1); outcomes are traced
// and counted in the client's stats.
sim::Task<void> request_and_maybe_wait(sim::Loop& loop, Client& client, bool wait,
                                       sim::Micros timeout) {
  int64_t id = 0;
  std::string error;
  try {
    id = co_await client.request_checkpoint();
  } catch (const std::exception& e) {
    error = e.what();
  }
  ClientStats& stats = client.mutable_stats();
  if (!error.empty()) {
    ++stats.checkpoint_requests_failed;
    client.trace().log(client.name(), "requestCheckpoint() rejected: {}", error);
    co_return;
  }
  ++stats.checkpoint_requests_ok;
  client.trace().log(client.name(), "requestCheckpoint() = {}", id);
  if (!wait) co_return;
  auto abort = std::make_shared<sim::AbortSignal>();
  const sim::TimerId timer =
      loop.after(timeout, [abort] { abort->abort("waitForSync aborted after the app's timeout"); });
  std::string cause;
  try {
    co_await client.wait_for_sync(id, abort);
  } catch (const SyncApiError& e) {
    error = e.what();
    cause = e.cause();
  } catch (const ClientClosed& e) {  // the app life ended while it waited
    error = e.what();
  }
  loop.cancel(timer);
  if (!error.empty()) {
    ++stats.waits_for_sync_failed;
    client.trace().log(client.name(), "waitForSync({}) rejected: {}{}", id, error,
                       cause.empty() ? "" : " (cause: " + cause + ")");
  } else {
    ++stats.waits_for_sync_ok;
    client.trace().log(client.name(), "waitForSync({}) resolved", id);
  }
}
}  // namespace

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
    // Draws only when enabled, so scenarios without the knob keep their streams.  A kill
    // inside the write's transaction closes this life: then there is nothing to ask.
    if (options.request_checkpoint_pct > 0 &&
        rng.percent(static_cast<uint64_t>(options.request_checkpoint_pct)) && !c->closed()) {
      const bool wait = rng.percent(static_cast<uint64_t>(options.wait_for_sync_pct));
      loop.spawn(request_and_maybe_wait(loop, *c, wait, options.wait_for_sync_timeout),
                 c->name() + ".request-checkpoint");
    }
  }
}

}  // namespace syncsim::engine
