#include "scenarios/world.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "engine/core_registry.hpp"
#include "engine/workload.hpp"
#include "scenarios/runner.hpp"

namespace syncsim::scenarios {

namespace {
bool has(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

std::vector<std::string> enabled_invariants(const Scenario& s) {
  return s.invariants.empty() ? invariant_catalog().ids() : s.invariants;
}

sim::Micros ms(int64_t v) { return v * sim::kMillis; }
}  // namespace

World::World(const Scenario& scenario, uint64_t seed, sim::Bounds bounds)
    : scenario_(scenario),
      loop_(bounds),
      trace_(loop_.clock()),
      root_(seed),
      sqlite_rng_(root_.split("sqlite")),
      vfs_(loop_.clock(), sqlite_rng_, files_),
      verdicts_(enabled_invariants(scenario)),
      fault_rng_(root_.split("faults")) {
  model::ServiceConfig cfg;
  cfg.replication_lag = ms(scenario.service.replication_lag_ms);
  cfg.heartbeat = ms(scenario.service.heartbeat_ms);
  cfg.token_lifetime = scenario.service.token_lifetime_s * sim::kSeconds;
  cfg.flavour = scenario.service.flavour == "postgres" ? model::StorageFlavour::Postgres
                                                       : model::StorageFlavour::Mongo;
  cfg.write_checkpoint_mode = scenario.service.write_checkpoint_mode == "custom"
                                  ? model::WriteCheckpointMode::Custom
                                  : model::WriteCheckpointMode::Managed;
  cfg.checkpoint_request_retention =
      scenario.service.checkpoint_request_retention_minutes * 60 * sim::kSeconds;
  cfg.compact_interval = scenario.service.compact_interval_s * sim::kSeconds;
  cfg.batch_latency_max = ms(scenario.service.batch_latency_max_ms);
  cfg.bucket_priorities = {{"global", scenario.service.todos_priority},
                           {"notes", scenario.service.notes_priority}};
  // The shim reads JSON lines only so far; BSON is exercised by the model's own tests.
  if (scenario.clients.stream_encoding != "json") {
    throw std::invalid_argument(
        "clients.stream_encoding \"bson\" is not supported by the SDK "
        "shim yet");
  }
  const std::pair<const char*, model::ServiceMutant> service_mutants[] = {
      {"ack-before-replication", model::ServiceMutant::AckBeforeReplication},
      {"replication-stall", model::ServiceMutant::ReplicationStall},
      {"marker-before-mapping", model::ServiceMutant::MarkerBeforeMapping},
      {"no-complete-for-write-checkpoint-only",
       model::ServiceMutant::NoCompleteForWriteCheckpointOnly},
      {"accept-non-positive-ids", model::ServiceMutant::AcceptNonPositiveIds},
      {"lower-id-replaces", model::ServiceMutant::LowerIdReplaces},
      {"cleanup-deletes-pending", model::ServiceMutant::CleanupDeletesPending},
  };
  for (const auto& [name, m] : service_mutants) {
    if (has(scenario.mutants, name)) cfg.mutants.push_back(m);
  }
  service_ = std::make_unique<model::Service>(loop_, trace_, root_.split("service"), cfg);
  service_->set_verdicts(&verdicts_);
  checks_ = std::make_unique<CrossChecks>(loop_, trace_, *service_, verdicts_);

  const engine::CoreVersion* core = engine::find_core(scenario.clients.core);
  if (!core) throw std::invalid_argument("unknown core version " + scenario.clients.core);
  for (int i = 1; i <= scenario.clients.count; ++i) {
    servers_.push_back(
        std::make_unique<FaultyServer>(*service_, trace_, fmt::format("client {}", i)));
    links_.push_back(std::make_unique<sim::Link>(loop_, *servers_.back(),
                                                 ms(scenario.network.latency_up_ms),
                                                 ms(scenario.network.latency_down_ms)));
    engine::ClientOptions o;
    o.index = i;
    o.user = fmt::format("u{}", i);
    o.client_id =
        fmt::format("client-{}-{:08x}", i, root_.split(fmt::format("cid{}", i)).next() >> 32);
    keys_.push_back(o.user + "/" + o.client_id);
    o.retry_delay = ms(scenario.clients.retry_delay_ms);
    o.crud_upload_throttle = ms(scenario.clients.crud_upload_throttle_ms);
    o.repost_delay = ms(scenario.clients.repost_delay_ms);
    o.checkpoint_mode = scenario.clients.checkpoint_mode == "legacy"
                            ? engine::CheckpointMode::Legacy
                            : engine::CheckpointMode::Requests;
    const std::pair<const char*, engine::EngineMutant> engine_mutants[] = {
        {"publish-while-blocked", engine::EngineMutant::PublishWhileBlocked},
        {"skip-sequence-check", engine::EngineMutant::SkipSequenceCheck},
        {"seed-local-counter", engine::EngineMutant::SeedLocalCounter},
        {"drop-completed-upload", engine::EngineMutant::DropCompletedUpload},
        {"target-posted-id", engine::EngineMutant::TargetPostedId},
    };
    for (const auto& [name, m] : engine_mutants) {
      if (has(scenario.mutants, name)) o.mutants.push_back(m);
    }
    o.token_lifetime = scenario.service.token_lifetime_s * sim::kSeconds;
    o.post_checkpoint_request_via_backend = scenario.clients.post_checkpoint_request == "backend";
    for (const auto& q : scenario.clients.fixed_quirks) {
      auto quirk = engine::quirk_from_name(q);
      if (!quirk) throw std::invalid_argument("clients.fixed_quirks: unknown quirk " + q);
      o.fixed_quirks.push_back(*quirk);
    }
    clients_.push_back(
        std::make_unique<engine::Client>(loop_, trace_, root_.split(fmt::format("client{}", i)),
                                         *links_.back(), *core, o, checks_.get(), &verdicts_));
  }
}

World::~World() {
  // Tear down suspended coroutines first, while everything they refer to exists.
  loop_.shutdown();
}

std::vector<engine::Client*> World::clients() {
  std::vector<engine::Client*> out;
  for (auto& c : clients_) out.push_back(c.get());
  return out;
}

void World::start() {
  trace_.log("world", "scenario {} clients={} lag={}ms", scenario_.name, scenario_.clients.count,
             scenario_.service.replication_lag_ms);
  service_->start();
  loop_.add_pending_reporter("service", [this] { return service_->pending(); });
  const sim::Micros stop_at = sim::kEpoch + scenario_.duration_s * sim::kSeconds;
  for (std::size_t i = 0; i < clients_.size(); ++i) {
    auto* c = clients_[i].get();
    c->open();
    c->connect();
    loop_.add_pending_reporter(fmt::format("client {}", c->index()), [c] { return c->pending(); });
    engine::WorkloadOptions w;
    w.interval_min = ms(scenario_.workload.write_interval_min_ms);
    w.interval_max = ms(scenario_.workload.write_interval_max_ms);
    w.keyspace = scenario_.workload.keyspace;
    w.notes_pct = scenario_.workload.notes_pct;
    w.delete_pct = scenario_.workload.delete_pct;
    w.request_checkpoint_pct = scenario_.workload.request_checkpoint_pct;
    w.wait_for_sync_pct = scenario_.workload.wait_for_sync_pct;
    w.stop_at = stop_at;
    loop_.spawn(engine::run_workload(loop_, root_.split(fmt::format("workload{}", i + 1)), *c, w),
                fmt::format("{}.workload", c->name()));
  }
  for (const auto& f : scenario_.faults) schedule_fault(f);
  if (service_->has_mutant(model::ServiceMutant::ReplicationStall)) {
    loop_.at(sim::kEpoch + scenario_.duration_s * sim::kSeconds / 2, [this] {
      trace_.log("fault", "MUTANT replication stalls forever");
      service_->replication().stall_forever();
    });
  }
}

void World::schedule_fault(const Fault& f) {
  // Faults are fault sites beside what they break: each is a named event in the trace.
  loop_.at(sim::kEpoch + ms(f.at_ms), [this, f] {
    auto& repl = service_->replication();
    const auto client = static_cast<std::size_t>(f.client - 1);
    switch (f.kind) {
      case FaultKind::Lag:
        trace_.log("fault", "lag {}ms{}", f.lag_ms,
                   f.duration_ms ? fmt::format(" for {}ms", *f.duration_ms) : "");
        repl.set_lag(ms(f.lag_ms));
        if (f.duration_ms) {
          loop_.after(ms(*f.duration_ms), [this] {
            trace_.log("fault", "lag spike over");
            service_->replication().set_lag(ms(scenario_.service.replication_lag_ms));
          });
        }
        break;
      case FaultKind::Stall:
        trace_.log("fault", "replication stall{}",
                   f.duration_ms ? fmt::format(" for {}ms", *f.duration_ms) : "");
        repl.stall();
        if (f.duration_ms) {
          loop_.after(ms(*f.duration_ms), [this] { service_->replication().resume(); });
        }
        break;
      case FaultKind::Disconnect:
        trace_.log("fault", "disconnect client {}", f.client);
        links_.at(client)->cut_streams();
        break;
      case FaultKind::Storm: {
        // A seeded choice of ceil(n * pct / 100) clients, cut in the same instant.
        std::vector<std::size_t> order(links_.size());
        for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
        for (std::size_t i = order.size(); i > 1; --i) {
          std::swap(order[i - 1], order[fault_rng_.uniform(i)]);
        }
        const std::size_t n = (order.size() * static_cast<std::size_t>(f.fraction_pct) + 99) / 100;
        order.resize(n);
        std::sort(order.begin(), order.end());
        std::string who;
        for (auto i : order) {
          links_[i]->cut_streams();
          who += fmt::format("{}{}", who.empty() ? "" : ",", i + 1);
        }
        trace_.log("fault", "reconnect storm: clients {}", who);
        break;
      }
      case FaultKind::RequestLost:
        trace_.log("fault", "client {}: next {} {} request(s) lose their {}", f.client, f.count,
                   f.route, f.lost);
        servers_.at(client)->arm(FaultyServer::Loss{f.lost == "response", f.route, f.count});
        break;
      case FaultKind::DeleteRequest:
        trace_.log("fault", "delete the checkpoint-request record of client {}", f.client);
        service_->delete_request(keys_.at(client));
        break;
      case FaultKind::Compact:
        trace_.log("fault", "compact job");
        service_->compact();
        break;
      case FaultKind::ServiceRestart:
        trace_.log("fault", "service restart, down {}ms", f.down_ms);
        service_->restart(ms(f.down_ms));
        break;
      case FaultKind::SyncConfigChange:
        trace_.log("fault", "sync config change");
        service_->change_sync_config();
        break;
      case FaultKind::DisconnectClient:
      case FaultKind::DisconnectAndClear: {
        const bool clear = f.kind == FaultKind::DisconnectAndClear;
        trace_.log("fault", "client {}: {} for {}ms", f.client,
                   clear ? "disconnectAndClear" : "disconnect", f.down_ms);
        loop_.spawn(disconnect_for(*clients_.at(client), clear, ms(f.down_ms)),
                    fmt::format("fault.disconnect{}", f.client));
        break;
      }
    }
  });
}

sim::Task<void> World::disconnect_for(engine::Client& c, bool clear, sim::Micros down) {
  // sdk.md §1.9: the app disconnects (and clears), then connects again after `down`.
  if (clear) {
    co_await c.disconnect_and_clear();
  } else {
    co_await c.disconnect();
  }
  co_await loop_.sleep_for(down);
  if (!c.sync_running()) c.connect();  // an overlapping fault may have reconnected it
}

void World::begin_quiesce() {
  trace_.log("world", "quiesce: faults stop, lag back to {}ms",
             scenario_.service.replication_lag_ms);
  service_->replication().set_lag(ms(scenario_.service.replication_lag_ms));
  if (!service_->has_mutant(model::ServiceMutant::ReplicationStall)) {
    service_->replication().resume();
  }
  for (auto& s : servers_) s->heal();
}

std::string World::pending() { return loop_.pending(); }

}  // namespace syncsim::scenarios
