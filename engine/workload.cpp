#include "engine/workload.hpp"

#include <fmt/format.h>

#include <optional>

namespace syncsim::engine {

namespace {
// The app calls requestCheckpoint() and maybe awaits it (docs/protocol.md §2.3.1); outcomes are
// traced and counted in the client's stats.
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

sim::Task<void> run_request_interval(sim::Loop& loop, std::function<Client*()> client,
                                     sim::Micros interval, sim::Micros stop_at) {
  while (loop.now() + interval < stop_at) {
    co_await loop.sleep_for(interval);
    Client* c = client();
    if (c == nullptr || c->closed()) continue;
    loop.spawn(request_and_maybe_wait(loop, *c, false, 0), c->name() + ".request-interval");
  }
}

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

namespace {
struct Held {
  uint64_t handle = 0;
  std::string stream;
  std::string value;  // "" for a stream without parameters
};

// An unsubscribeAll() the app makes after releasing its handle (churn_subscription).
struct UnsubscribeAll {
  std::string stream;
  nlohmann::json params;
};

// A churn step's first half: subscribe, or release a held subscription; returns the
// unsubscribeAll() that follows a release, for the caller to make as an app event of its own.
std::optional<UnsubscribeAll> churn_subscription(Client& c, sim::Prng& rng,
                                                 const StreamChurnOptions& o,
                                                 std::vector<Held>& held) {
  std::vector<const ChurnStream*> subscribable;
  for (const auto& s : o.streams) {
    if (!s.is_default) subscribable.push_back(&s);
  }
  const bool subscribe = rng.percent(static_cast<uint64_t>(o.subscribe_pct));
  if (subscribe && !subscribable.empty() && held.size() < static_cast<std::size_t>(o.max_held)) {
    const ChurnStream& s = *subscribable[rng.uniform(subscribable.size())];
    const std::string value =
        s.parameterised ? std::to_string(rng.uniform(static_cast<uint64_t>(o.param_values))) : "";
    StreamSubscribeOptions so;
    if (o.ttl_s > 0) so.ttl_s = o.ttl_s;
    if (o.priority_override_pct > 0 &&
        rng.percent(static_cast<uint64_t>(o.priority_override_pct))) {
      so.priority = static_cast<int>(rng.uniform(4));
    }
    const nlohmann::json params =
        s.parameterised ? nlohmann::json{{"id", value}} : nlohmann::json(nullptr);
    held.push_back(Held{c.subscribe_stream(s.name, params, so), s.name, value});
  } else if (!subscribe && !held.empty()) {
    const std::size_t k = rng.uniform(held.size());
    const Held h = held[k];
    held.erase(held.begin() + static_cast<std::ptrdiff_t>(k));
    const bool all = rng.percent(static_cast<uint64_t>(o.unsubscribe_all_pct));
    c.release_stream(h.handle);
    if (all) {
      return UnsubscribeAll{
          h.stream, h.value.empty() ? nlohmann::json(nullptr) : nlohmann::json{{"id", h.value}}};
    }
  }
  return std::nullopt;
}

// A churn step's second half: maybe write an item.
void churn_write(Client& c, sim::Prng& rng, const StreamChurnOptions& o,
                 const std::vector<Held>& held, uint64_t& n) {
  if (c.closed() || !rng.percent(static_cast<uint64_t>(o.item_write_pct))) return;
  // An item of something the app shows: a held subscription or a default stream.
  std::vector<std::pair<std::string, std::string>> targets;
  targets.reserve(held.size() + o.streams.size());
  for (const auto& h : held) targets.emplace_back(h.stream, h.value);
  for (const auto& s : o.streams) {
    if (s.is_default) targets.emplace_back(s.name, "");
  }
  if (targets.empty()) return;
  const auto& [stream, value] = targets[rng.uniform(targets.size())];
  LocalWrite w;
  w.table = "items";
  // model/service.hpp parse_item_id: "<stream>:<value>:<n>".
  w.id =
      fmt::format("{}:{}:{}", stream, value, rng.uniform(static_cast<uint64_t>(o.item_keyspace)));
  w.description = fmt::format("c{}-i{}", c.index(), ++n);
  c.local_write(std::move(w));
}
}  // namespace

sim::Task<void> run_stream_churn(sim::Loop& loop, sim::Prng rng, std::function<Client*()> client,
                                 StreamChurnOptions options) {
  std::vector<Held> held;
  Client* life = nullptr;
  uint64_t n = 0;
  sim::Micros next_burst =
      options.burst_interval > 0 ? loop.now() + options.burst_interval : options.stop_at;
  while (true) {
    sim::Micros wait = rng.range(options.interval_min, options.interval_max);
    const bool burst = next_burst < loop.now() + wait;
    if (burst) wait = next_burst - loop.now();
    if (loop.now() + wait >= options.stop_at) co_return;
    co_await loop.sleep_for(wait);
    Client* c = client();
    if (c != life) {
      // A new app life (restart, kill, up/downgrade): its in-memory handles are gone; the
      // core's subscription rows survive in the database with their TTLs (docs/protocol.md §1.4.1).
      held.clear();
      life = c;
    }
    const int steps = burst ? options.burst_size : 1;
    if (burst) next_burst += options.burst_interval;
    for (int i = 0; i < steps; ++i) {
      if (i > 0) {
        // Each step of a burst is an app event of its own (a navigation): the SDK handles
        // what the previous one injected (update_subscriptions, maybe a restarted iteration)
        // before the next runs, as the JS event loop does (docs/sdk-diff.md, session js14).
        co_await loop.sleep_for(0);
        if (client() != life) break;  // the life ended meanwhile: its handles are gone
      }
      if (c == nullptr || c->closed()) break;
      if (auto all = churn_subscription(*c, rng, options, held)) {
        // The release and the unsubscribeAll() are app events of their own, as the js-real
        // host delivers them: the SDK serves the release's update_subscriptions (maybe a
        // restart) before unsubscribeAll's SQL; in one go the port handed the core the
        // unsubscribe first (docs/sdk-diff.md, session js15).
        co_await loop.sleep_for(0);
        if (client() != life || c->closed()) break;
        c->unsubscribe_all(all->stream, all->params);
      }
      churn_write(*c, rng, options, held, n);
    }
  }
}

}  // namespace syncsim::engine
