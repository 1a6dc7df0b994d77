#include "scenarios/world/world.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cassert>
#include <limits>
#include <map>
#include <memory>

#include "engine/core_registry.hpp"
#include "engine/js/js_host.hpp"
#include "engine/workload.hpp"
#include "scenarios/world/runner.hpp"
#include "scenarios/world/service_options.hpp"

namespace syncsim::scenarios {

namespace {
bool has(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

std::vector<std::string> enabled_invariants(const Scenario& s) {
  auto ids = s.invariants.empty() ? invariant_catalog().ids() : s.invariants;
  for (const auto& id : s.exempt_invariants) std::erase(ids, id);
  // A line fault breaks some invariants by construction (model/line_fault.hpp).
  for (const auto& f : s.faults) {
    if (f.kind != FaultKind::LineFault) continue;
    for (const auto& id : model::find_line_fault(f.line)->exempts) std::erase(ids, id);
  }
  return ids;
}

sim::Micros ms(int64_t v) { return v * sim::kMillis; }

bool has_power_loss(const Scenario& s) {
  return std::any_of(s.faults.begin(), s.faults.end(),
                     [](const Fault& f) { return f.kind == FaultKind::PowerLoss; });
}

// The storage mutant: a disk that makes only a file's first fsync durable (sim/vfs.hpp).
bool has_fsync_lies(const Scenario& s) {
  return std::find(s.mutants.begin(), s.mutants.end(), "fsync-lies") != s.mutants.end();
}

// Registered cores plus the run's extra ones (--core-path).
std::map<std::string, std::string> core_sdks(const ExtraCores& extra) {
  std::map<std::string, std::string> out;
  for (const auto& c : engine::core_versions()) out[c.name] = c.sdk;
  for (const auto& [name, c] : extra) out[name] = c.sdk;
  return out;
}

const engine::CoreVersion& core_named(const std::string& name, const ExtraCores& extra) {
  if (auto it = extra.find(name); it != extra.end()) return it->second;
  const engine::CoreVersion* core = engine::find_core(name);
  if (!core) throw std::invalid_argument("unknown core version " + name);
  return *core;
}

engine::CheckpointMode mode_named(const std::string& mode) {
  return mode == "legacy" ? engine::CheckpointMode::Legacy : engine::CheckpointMode::Requests;
}
}  // namespace

World::World(const Scenario& scenario, uint64_t seed, sim::Bounds bounds,
             const ExtraCores& extra_cores, engine::js::HostProcesses* js_processes)
    : scenario_(scenario),
      loop_(bounds),
      trace_(loop_.clock()),
      root_(seed),
      sqlite_rng_(root_.split("sqlite")),
      files_(has_power_loss(scenario)),
      vfs_(loop_.clock(), sqlite_rng_, files_),
      verdicts_(enabled_invariants(scenario)),
      fault_rng_(root_.split("faults")),
      extra_cores_(extra_cores) {
  model::ServiceConfig cfg;
  cfg.replication_lag = ms(scenario.service.replication_lag_ms);
  cfg.heartbeat = ms(scenario.service.heartbeat_ms);
  cfg.token_lifetime = scenario.service.token_lifetime_s * sim::kSeconds;
  cfg.flavour = scenario.service.flavour == "postgres" ? model::StorageFlavour::Postgres
                                                       : model::StorageFlavour::Mongo;
  cfg.source = scenario.service.source == "mysql"     ? model::SourceFlavour::Mysql
               : scenario.service.source == "mongodb" ? model::SourceFlavour::Mongodb
                                                      : model::SourceFlavour::Postgres;
  cfg.head_at_last_commit = scenario.service.head == "last-commit";
  apply_service_options(scenario.service, cfg);  // scenarios/world/service_options.hpp
  cfg.write_checkpoint_mode = scenario.service.write_checkpoint_mode == "custom"
                                  ? model::WriteCheckpointMode::Custom
                                  : model::WriteCheckpointMode::Managed;
  cfg.checkpoint_request_retention =
      scenario.service.checkpoint_request_retention_minutes * 60 * sim::kSeconds;
  cfg.compact_interval = scenario.service.compact_interval_s * sim::kSeconds;
  cfg.batch_latency_max = ms(scenario.service.batch_latency_max_ms);
  cfg.bucket_priorities = {{"global", scenario.service.todos_priority},
                           {"notes", scenario.service.notes_priority}};
  // Clients ask for the encoding their SDK asks for (docs/protocol.md §2.1.6); the field
  // cannot force another.
  if (scenario.clients.stream_encoding != "json") {
    throw std::invalid_argument(
        "clients.stream_encoding \"bson\" cannot be forced: every client asks for the "
        "encoding its SDK asks for (BSON first on 0.5.x and 0.4.12, docs/protocol.md §2.1.6)");
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
      {"write-checkpoint-may-drop", model::ServiceMutant::WriteCheckpointMayDrop},
      {"stale-route-response", model::ServiceMutant::StaleRouteResponse},
      {"equal-retry-keeps-age", model::ServiceMutant::EqualRetryKeepsAge},
      {"stale-write-checkpoint-on-connect", model::ServiceMutant::StaleWriteCheckpointOnConnect},
      {"generated-answer-ahead", model::ServiceMutant::GeneratedAnswerAhead},
      {"connection-slot-leak", model::ServiceMutant::ConnectionSlotLeak},
      {"custom-checkpoint-before-replication",
       model::ServiceMutant::CustomCheckpointBeforeReplication},
      {"stopped-config-keeps-streams", model::ServiceMutant::StoppedConfigKeepsStreams},
      {"clear-loses-checksum", model::ServiceMutant::ClearLosesChecksum},
      {"torn-read-skips-op", model::ServiceMutant::TornReadSkipsOp},
      {"straddled-checksum-served", model::ServiceMutant::StraddledChecksumServed},
      {"complete-despite-invalidation", model::ServiceMutant::CompleteDespiteInvalidation},
  };
  for (const auto& [name, m] : service_mutants) {
    if (has(scenario.mutants, name)) cfg.mutants.push_back(m);
  }
  // Sync streams (issue 7): the definitions, and the stream-churn mutant.
  if (!scenario.service.streams.empty()) {
    std::vector<model::StreamDefinition> defs;
    for (const auto& st : scenario.service.streams) {
      model::StreamDefinition d;
      d.name = st.name;
      d.is_default = st.is_default;
      d.priority = st.priority;
      if (st.parameterised) d.parameters = {"id"};
      defs.push_back(std::move(d));
    }
    cfg.streams.emplace(std::move(defs));
  }
  if (has(scenario.mutants, "removed-subscription-keeps-buckets")) {
    cfg.mutants.push_back(model::ServiceMutant::RemovedSubscriptionKeepsBuckets);
  }
  files_.set_fsync_lies(has_fsync_lies(scenario));
  service_ = std::make_unique<model::Service>(loop_, trace_, root_.split("service"), cfg);
  service_->set_verdicts(&verdicts_);
  checks_ = std::make_unique<CrossChecks>(loop_, trace_, *service_, verdicts_);
  client_invariants_ = std::make_unique<ClientInvariants>(loop_, trace_, *service_, verdicts_);
  observers_.add(checks_.get());
  observers_.add(client_invariants_.get());
  liveness_ = std::make_unique<LivenessJudge>(
      loop_, trace_, *service_, verdicts_,
      [this] {
        std::vector<engine::Client*> live;
        for (auto& c : clients_) {
          if (c && !c->closed()) live.push_back(c.get());
        }
        return live;
      },
      [this](int index) -> engine::Client* {
        // Client index i lives in slot i - 1 (World::World numbers them from 1).
        const auto slot = static_cast<std::size_t>(index - 1);
        if (index < 1 || slot >= clients_.size()) return nullptr;
        engine::Client* c = clients_[slot].get();
        return c != nullptr && !c->closed() ? c : nullptr;
      });
  observers_.add(liveness_.get());
  triggers_ = std::make_unique<FaultTriggers>(
      loop_, trace_, [this](const Fault& f, const std::string& why) { apply_fault(f, why); });
  observers_.add(triggers_.get());
  service_->set_mapping_stored_hook(
      [this,
       by_id = std::map<std::string, std::vector<std::size_t>>()](const std::string& key) mutable {
        // key = "<user>/<client_id>"; the client id outlives user switches.  The suffix after each
        // '/' is looked up (an id may hold a '/'), firing in slot order as the pass over every slot
        // did: O(log clients) per stored mapping, not O(clients) (issue 20 (d)).  Client ids never
        // change, so the lookup is built once, at the first stored mapping (the slots exist by
        // then).
        if (by_id.empty()) {
          for (std::size_t i = 0; i < slots_.size(); ++i)
            by_id[slots_[i].options.client_id].push_back(i);
        }
        std::vector<std::size_t> matched;
        for (std::size_t p = key.find('/'); p != std::string::npos; p = key.find('/', p + 1)) {
          auto it = by_id.find(key.substr(p + 1));
          if (it != by_id.end()) {
            matched.insert(matched.end(), it->second.begin(), it->second.end());
          }
        }
        std::sort(matched.begin(), matched.end());
        for (std::size_t i : matched)
          triggers_->on_event("mapping_stored", static_cast<int>(i + 1));
      });
  // Sometimes-properties: counted, never judged; they do not touch the trace.
  sometimes_ = std::make_unique<SometimesCounter>(*service_);
  observers_.add(sometimes_.get());
  service_->set_observer(sometimes_.get());
  abstract_states_ = std::make_unique<AbstractStateObserver>(*service_);
  observers_.add(abstract_states_.get());
  stream_invariants_ = std::make_unique<StreamInvariants>(loop_, trace_, *service_, verdicts_);
  observers_.add(stream_invariants_.get());
  snapshot_checks_ = std::make_unique<SnapshotChecks>(loop_, trace_, *service_, verdicts_);
  observers_.add(snapshot_checks_.get());

  for (int i = 1; i <= scenario.clients.count; ++i) {
    const ClientGroup group = group_of(scenario.clients, i);
    servers_.push_back(
        std::make_unique<FaultyServer>(*service_, trace_, fmt::format("client {}", i)));
    links_.push_back(std::make_unique<sim::Link>(loop_, *servers_.back(),
                                                 ms(scenario.network.latency_up_ms),
                                                 ms(scenario.network.latency_down_ms)));
    if (scenario.network.jitter_ms > 0) {
      links_.back()->set_jitter(ms(scenario.network.jitter_ms),
                                root_.split(fmt::format("net{}", i)));
    }
    engine::ClientOptions o;
    o.index = i;
    o.user = fmt::format("u{}", i);
    o.client_id =
        fmt::format("client-{}-{:08x}", i, root_.split(fmt::format("cid{}", i)).next() >> 32);
    keys_.push_back(o.user + "/" + o.client_id);
    o.retry_delay = ms(scenario.clients.retry_delay_ms);
    o.crud_upload_throttle = ms(scenario.clients.crud_upload_throttle_ms);
    o.repost_delay = ms(scenario.clients.repost_delay_ms);
    o.checkpoint_mode = mode_named(group.checkpoint_mode);
    o.sdk = engine::sdk_behaviour_from_name(
        resolved_sdk(group.sdk, group.core, core_sdks(extra_cores_)));
    if (o.sdk == engine::SdkBehaviour::JsReal) {
      // Version skew (scenario sdk_package): the named project instead of the core's.
      const std::string project =
          group.sdk_package.empty() ? engine::js::js_real_project_for_core(group.core).value_or("")
                                    : group.sdk_package;
      auto why = project.empty() ? engine::js::js_real_unavailable(group.core)
                                 : engine::js::js_real_package_unavailable(project);
      if (why) throw std::runtime_error("clients.sdk \"js-real\" cannot run: " + *why);
      if (!js_host_) {
        js_host_ = std::make_shared<engine::js::JsHost>(
            loop_, trace_, project, root_.split("js-host").next(), js_processes);
      }
      o.js_host = js_host_;
      if (!group.sdk_package.empty()) {
        o.sdk_package = group.sdk_package;
        const auto refused = engine::js::js_real_package_refuses(project, group.core);
        o.sdk_package_forced = refused.has_value();  // validation allowed it: forced
      }
    }
    const std::pair<const char*, engine::EngineMutant> engine_mutants[] = {
        {"publish-while-blocked", engine::EngineMutant::PublishWhileBlocked},
        {"reset-target-on-reconnect", engine::EngineMutant::ResetTargetOnReconnect},
        {"complete-without-upload", engine::EngineMutant::CompleteWithoutUpload},
        {"seed-from-one", engine::EngineMutant::SeedFromOne},
        {"repost-stale-id", engine::EngineMutant::RepostStaleId},
        {"skip-sequence-check", engine::EngineMutant::SkipSequenceCheck},
        {"seed-local-counter", engine::EngineMutant::SeedLocalCounter},
        {"drop-completed-upload", engine::EngineMutant::DropCompletedUpload},
        {"target-posted-id", engine::EngineMutant::TargetPostedId},
        {"wait-resolves-on-seen", engine::EngineMutant::WaitResolvesOnSeen},
        {"stream-end-unseen", engine::EngineMutant::StreamEndUnseen},
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
    o.stream_tables = !scenario.service.streams.empty();
    o.custom_write_checkpoints = scenario.service.write_checkpoint_mode == "custom";
    slots_.push_back(
        Slot{o, &core_named(group.core, extra_cores_), o.checkpoint_mode, 1, std::nullopt});
    slots_.back().real_sdk = o.sdk == engine::SdkBehaviour::JsReal;
    clients_.push_back(new_life(slots_.size() - 1));
  }
}

std::unique_ptr<engine::Client> World::new_life(std::size_t i) {
  const Slot& slot = slots_.at(i);
  // The first life keeps the stream name it always had, so traces of scenarios without
  // lifecycle faults do not change.
  const std::string stream = slot.lives == 1 ? fmt::format("client{}", i + 1)
                                             : fmt::format("client{}.life{}", i + 1, slot.lives);
  return std::make_unique<engine::Client>(loop_, trace_, root_.split(stream), *links_.at(i),
                                          *slot.core, slot.options, &observers_, &verdicts_);
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
  // Mutants and the fault schedule are named in the header, so a failing trace never reads
  // as a real protocol bug and says what was injected.
  std::vector<std::string> faults;
  for (const auto& f : scenario_.faults) {
    faults.push_back(fmt::format("{}@{}ms{}{}", to_string(f.kind), f.at_ms,
                                 f.client > 0 ? fmt::format("/c{}", f.client) : "",
                                 f.when != "now" ? "/when=" + f.when : ""));
  }
  trace_.log("world", "scenario {} clients={} lag={}ms{}{}", scenario_.name,
             scenario_.clients.count, scenario_.service.replication_lag_ms,
             scenario_.mutants.empty()
                 ? std::string()
                 : fmt::format(" MUTANTS {}", fmt::join(scenario_.mutants, ",")),
             faults.empty() ? std::string() : fmt::format(" FAULTS {}", fmt::join(faults, ",")));
  service_->start();
  loop_.add_pending_reporter("service", [this] { return service_->pending(); });
  const sim::Micros stop_at = sim::kEpoch + scenario_.duration_s * sim::kSeconds;
  for (std::size_t i = 0; i < clients_.size(); ++i) {
    auto* c = clients_[i].get();
    c->open();
    c->connect();
    loop_.add_pending_reporter(fmt::format("client {}", c->index()), [this, i] {
      return clients_[i] ? clients_[i]->pending() : std::string("down (the app is not running)");
    });
    engine::WorkloadOptions w;
    w.interval_min = ms(scenario_.workload.write_interval_min_ms);
    w.interval_max = ms(scenario_.workload.write_interval_max_ms);
    w.keyspace = scenario_.workload.keyspace;
    w.notes_pct = scenario_.workload.notes_pct;
    w.delete_pct = scenario_.workload.delete_pct;
    w.insert_only_pct = scenario_.workload.insert_only_pct;
    w.request_checkpoint_pct = scenario_.workload.request_checkpoint_pct;
    w.wait_for_sync_pct = scenario_.workload.wait_for_sync_pct;
    w.stop_at = stop_at;
    auto current = [this, i]() -> engine::Client* { return clients_[i].get(); };
    // The write workload sees no app during a quiet phase (FaultKind::Quiet).
    auto writer = [this, i]() -> engine::Client* {
      return loop_.now() < slots_[i].quiet_until ? nullptr : clients_[i].get();
    };
    loop_.spawn(
        engine::run_workload(loop_, root_.split(fmt::format("workload{}", i + 1)), writer, w),
        fmt::format("{}.workload", c->name()));
    if (scenario_.workload.request_interval_ms > 0) {  // requests without writes
      loop_.spawn(engine::run_request_interval(loop_, current,
                                               ms(scenario_.workload.request_interval_ms), stop_at),
                  fmt::format("{}.request-interval", c->name()));
    }
    if (!scenario_.service.streams.empty()) {
      // Subscription churn (issue 7) on its own PRNG stream.
      const StreamWorkloadSpec& sw = scenario_.workload.streams;
      engine::StreamChurnOptions so;
      for (const auto& st : scenario_.service.streams) {
        so.streams.push_back({st.name, st.parameterised, st.is_default});
      }
      so.interval_min = ms(sw.interval_min_ms);
      so.interval_max = ms(sw.interval_max_ms);
      so.subscribe_pct = sw.subscribe_pct;
      so.unsubscribe_all_pct = sw.unsubscribe_all_pct;
      so.max_held = sw.max_held;
      so.param_values = sw.param_values;
      so.ttl_s = sw.ttl_s;
      so.priority_override_pct = sw.priority_override_pct;
      so.burst_interval = ms(sw.burst_interval_ms);
      so.burst_size = sw.burst_size;
      so.item_write_pct = sw.item_write_pct;
      so.item_keyspace = sw.item_keyspace;
      so.stop_at = stop_at;
      loop_.spawn(engine::run_stream_churn(loop_, root_.split(fmt::format("streams{}", i + 1)),
                                           current, so),
                  fmt::format("{}.stream-churn", c->name()));
    }
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
  // A triggered fault waits for its protocol event (scenarios/explore/fault_triggers.hpp).
  if (f.on) {
    triggers_->add(f);
    return;
  }
  loop_.at(sim::kEpoch + ms(f.at_ms), [this, f] { apply_fault(f, ""); });
}

void World::apply_fault(const Fault& f, const std::string& why) {
  // Faults are fault sites beside what they break: each is a named event in the trace,
  // with `why` it fired when a trigger fired it.
  const bool armed_only =
      (f.kind == FaultKind::Kill || f.kind == FaultKind::PowerLoss) && f.when != "now";
  if (fault_hook_) fault_hook_(f, armed_only);
  {
    const auto client = static_cast<std::size_t>(f.client - 1);
    switch (f.kind) {
      case FaultKind::Lag:
        trace_.log("fault", "lag {}ms{}{}", f.lag_ms,
                   f.duration_ms ? fmt::format(" for {}ms", *f.duration_ms) : "", why);
        service_->set_replication_lag(ms(f.lag_ms));
        if (f.duration_ms) {
          loop_.after(ms(*f.duration_ms), [this] {
            trace_.log("fault", "lag spike over");
            service_->set_replication_lag(ms(scenario_.service.replication_lag_ms));
          });
        }
        break;
      case FaultKind::Stall:
        trace_.log("fault", "replication stall{}{}",
                   f.duration_ms ? fmt::format(" for {}ms", *f.duration_ms) : "", why);
        service_->stall_replication();
        if (f.duration_ms) {
          loop_.after(ms(*f.duration_ms), [this] { service_->resume_replication(); });
        }
        break;
      case FaultKind::Disconnect:
        trace_.log("fault", "disconnect client {}{}", f.client, why);
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
        trace_.log("fault", "reconnect storm: clients {}{}", who, why);
        break;
      }
      case FaultKind::RequestLost:
        trace_.log("fault", "client {}: next {} {} request(s) lose their {}{}", f.client, f.count,
                   f.route, f.lost, why);
        servers_.at(client)->arm(FaultyServer::Loss{f.lost == "response", f.route, f.count});
        break;
      case FaultKind::DeleteRequest:
        trace_.log("fault", "delete the checkpoint-request record of client {}{}", f.client, why);
        service_->delete_request(keys_.at(client));
        break;
      case FaultKind::Compact:
        trace_.log("fault", "compact job{}", why);
        service_->compact();
        break;
      case FaultKind::ServiceRestart:
        trace_.log("fault", "service restart{}, down {}ms{}",
                   f.role == "replication" ? " (replication only)" : "", f.down_ms, why);
        if (f.role == "replication") {
          service_->restart_replication(ms(f.down_ms));
        } else {
          service_->restart(ms(f.down_ms));
        }
        break;
      case FaultKind::SyncConfigChange:
        trace_.log("fault", "sync config change{}", why);
        service_->change_sync_config();
        break;
      case FaultKind::Restart:
      case FaultKind::Kill:
      case FaultKind::PowerLoss:
      case FaultKind::Upgrade:
      case FaultKind::Downgrade:
      case FaultKind::SwitchMode:
      case FaultKind::SwitchUser:
        lifecycle_fault(f, why);
        break;
      case FaultKind::DisconnectClient:
      case FaultKind::DisconnectAndClear: {
        const bool clear = f.kind == FaultKind::DisconnectAndClear;
        trace_.log("fault", "client {}: {} for {}ms{}", f.client,
                   clear ? "disconnectAndClear" : "disconnect", f.down_ms, why);
        if (clients_.at(client) == nullptr) {
          trace_.log("fault", "client {}: skipped, the app is down", f.client);
          break;
        }
        loop_.spawn(disconnect_for(client, clear, ms(f.down_ms)),
                    fmt::format("fault.disconnect{}", f.client));
        break;
      }
      case FaultKind::LineFault:
        trace_.log("fault", "client {}: line fault {} armed{}", f.client, f.line, why);
        service_->line_faults().arm(f.line, keys_.at(client));
        break;
      case FaultKind::Quiet: {
        // A quiet phase: the app's write workload skips its steps (its draws go on, so the
        // rest of the run is unchanged); requests without writes continue.
        auto& slot = slots_.at(client);
        slot.quiet_until = f.duration_ms ? loop_.now() + ms(*f.duration_ms)
                                         : std::numeric_limits<sim::Micros>::max();
        trace_.log("fault", "client {}: quiet (no writes){}{}", f.client,
                   f.duration_ms ? fmt::format(" for {}ms", *f.duration_ms) : " for good", why);
        break;
      }
      case FaultKind::ForeignRequest: {
        // Another installation with the same client_id (a restored backup, a cloned
        // database) posts through the service's real route, so its validation (docs/protocol.md
        // §3.1.2) and max-keeping (§3.1.5) apply exactly as to the client's own requests.
        const auto& o = slots_.at(client).options;
        sim::HttpRequest req{"POST", "/sync/checkpoint-request",
                             fmt::format(R"({{"client_id":{},"checkpoint_request_id":{}}})",
                                         nlohmann::json(o.client_id).dump(), f.request_id),
                             o.user};
        trace_.log("fault", "foreign installation of client {} posts checkpoint_request_id {}",
                   f.client, f.request_id);
        const int who = f.client;
        service_->handle(req, [this, who](const sim::HttpResponse& r) {
          trace_.log("fault", "foreign request of client {} answered {}: {}", who, r.status,
                     r.body);
        });
        // Other devices of the same user, each its own key (docs/protocol.md §3.1.9 "Change
        // feed": more than 1000 keys processed in one window).  Their answers are counted, not
        // traced one by one.
        if (f.devices > 0) {
          trace_.log("fault", "{} other devices of client {}'s user post checkpoint_request_id {}",
                     f.devices, f.client, f.request_id);
          auto answered = std::make_shared<std::map<int, int>>();  // status -> count
          auto left = std::make_shared<int>(f.devices);
          for (int d = 1; d <= f.devices; ++d) {
            sim::HttpRequest dev{
                "POST", "/sync/checkpoint-request",
                fmt::format(R"({{"client_id":{},"checkpoint_request_id":{}}})",
                            nlohmann::json(fmt::format("{}.d{}", o.client_id, d)).dump(),
                            f.request_id),
                o.user};
            service_->handle(dev, [this, who, answered, left](const sim::HttpResponse& r) {
              ++(*answered)[r.status];
              if (--*left > 0) return;
              std::string counts;
              for (const auto& [status, n] : *answered) {
                counts += fmt::format("{}{} x {}", counts.empty() ? "" : ", ", n, status);
              }
              trace_.log("fault", "other devices of client {}'s user answered: {}", who, counts);
            });
          }
        }
        break;
      }
    }
  }
  liveness_->after_fault();  // no-wedge: a fault may have removed a client's last path
}

void World::lifecycle_fault(const Fault& f, const std::string& why) {
  // docs/architecture.md §2, docs/faults.md §1.  Each is a named event; the app reopens the same
  // VFS file after down_ms (quiesce brings a down app up at once).
  const auto i = static_cast<std::size_t>(f.client - 1);
  const std::string what = to_string(f.kind);
  engine::Client* c = clients_.at(i).get();
  if (c == nullptr) {
    trace_.log("fault", "{} client {}: skipped, the app is down{}", what, f.client, why);
    return;
  }
  Slot& slot = slots_.at(i);
  switch (f.kind) {
    case FaultKind::Kill:
    case FaultKind::PowerLoss: {
      const bool power = f.kind == FaultKind::PowerLoss;
      const sim::Micros down = ms(f.down_ms);
      if (f.when == "now") {
        if (!why.empty()) trace_.log("fault", "{} client {}{}", what, f.client, why);
        kill_now(i, power);
        take_down(i, down);
        return;
      }
      trace_.log("fault", "{} client {} armed: {}", what, f.client, f.when);
      const auto point =
          f.when == "mid_upload" ? engine::KillPoint::MidUpload : engine::KillPoint::MidTransaction;
      const std::size_t k = when_armed_.size();
      when_armed_.push_back({f, false});
      c->arm_kill(point, [this, i, power, down, k] {
        when_armed_[k].fired = true;
        if (fault_hook_) fault_hook_(when_armed_[k].fault, false);
        kill_now(i, power);
        take_down(i, down);
      });
      return;
    }
    case FaultKind::Restart:
      trace_.log("fault", "restart client {}, down {}ms{}", f.client, f.down_ms, why);
      break;
    case FaultKind::Upgrade:
    case FaultKind::Downgrade: {
      // The new core's SDK behaviour (engine/core_registry.hpp); old SDKs are legacy-only.
      const engine::CoreVersion& core = core_named(f.core, extra_cores_);
      slot.core = &core;
      slot.options.sdk = engine::sdk_behaviour_from_name(core.sdk);
      // An app on the published JS SDK runs the published SDK that pairs with the new core
      // (SDK package and core switch together, as an app update does: 0.5.3 -> 0.4.6 runs
      // @powersync/common 1.43.1 in the same host); a core no pinned SDK pairs with runs the
      // port of its SDK.
      // A sdk_package override ends here: the update ships the new core's SDK.
      const bool override_ends = !slot.options.sdk_package.empty();
      slot.options.sdk_package.clear();
      slot.options.sdk_package_forced = false;
      if (slot.real_sdk && js_host_) {
        const auto project = engine::js::js_real_project_for_core(f.core);
        if (project && engine::js::installed_js_real_project(*project)) {
          slot.options.sdk = engine::SdkBehaviour::JsReal;
        }
      }
      // Old cores' SDKs (port or published 1.x) have no checkpoint requests.
      slot.options.checkpoint_mode =
          core.sdk == engine::kSdkJsLegacy ? engine::CheckpointMode::Legacy : slot.group_mode;
      trace_.log("fault", "{} client {} to core {} ({} SDK{}), down {}ms{}", what, f.client, f.core,
                 slot.options.sdk == engine::SdkBehaviour::JsReal ? "js-real" : core.sdk,
                 override_ends ? "; the sdk_package override ends" : "", f.down_ms, why);
      break;
    }
    case FaultKind::SwitchMode:
      if (slot.options.sdk == engine::SdkBehaviour::JsLegacy ||
          (slot.options.sdk == engine::SdkBehaviour::JsReal &&
           (slot.core->sdk == engine::kSdkJsLegacy ||
            engine::js::js_real_package_is_1x(slot.options.sdk_package)))) {
        // The loader rejects this in time order; only a trigger that fired after a
        // downgrade to an old SDK gets here (world hunt seed 195), and the app cannot do it.
        trace_.log("fault",
                   "switch_mode client {}: skipped, its SDK (core {}) has only legacy mode{}",
                   f.client, slot.core->name, why);
        return;
      }
      slot.options.checkpoint_mode = slot.options.checkpoint_mode == engine::CheckpointMode::Legacy
                                         ? engine::CheckpointMode::Requests
                                         : engine::CheckpointMode::Legacy;
      slot.group_mode = slot.options.checkpoint_mode;
      trace_.log(
          "fault", "switch_mode client {} to {}, down {}ms{}", f.client,
          slot.options.checkpoint_mode == engine::CheckpointMode::Legacy ? "legacy" : "requests",
          f.down_ms, why);
      break;
    case FaultKind::SwitchUser:
      // A new token subject on the same database (docs/invariants.md §1), or back to an
      // earlier one (fault field `user`): the service key changes.
      if (slot.users.empty()) slot.users.push_back(slot.options.user);
      slot.options.user =
          f.user == "first" ? slot.users.front()
          : f.user == "previous"
              ? slot.users.size() >= 2 ? slot.users[slot.users.size() - 2] : slot.users.back()
              : fmt::format("u{}.{}", f.client, slot.lives + 1);
      slot.users.push_back(slot.options.user);
      keys_.at(i) = slot.options.user + "/" + slot.options.client_id;
      trace_.log("fault", "switch_user client {} to {}, down {}ms{}", f.client, slot.options.user,
                 f.down_ms, why);
      checks_->on_user_switched(*c);
      break;
    default:
      throw std::logic_error("not a lifecycle fault: " + what);
  }
  // A graceful close: the loops end and run their finally blocks; the connection closes
  // when the app reopens.
  c->begin_close(what);
  take_down(i, ms(f.down_ms));
}

void World::kill_now(std::size_t i, bool power_loss) {
  engine::Client& c = *clients_.at(i);
  trace_.log("fault", "{} client {}", power_loss ? "power loss" : "kill", i + 1);
  const uint64_t fault_line = trace_.lines();
  // The files as the dead process left them (an open transaction's journal is hot); closing
  // our connection must not tidy them up, so they are put back afterwards.
  const auto files = files_.snapshot(c.file_name());
  c.close();
  files_.restore(c.file_name(), files);
  if (power_loss) {
    files_.lose_unsynced_writes(c.file_name());
    client_invariants_->on_power_loss(static_cast<int>(i + 1), fault_line, files_.fsync_lies());
  }
  links_.at(i)->cut_streams();  // its connections die with it
}

void World::take_down(std::size_t i, sim::Micros down) {
  retired_.push_back(std::move(clients_.at(i)));
  slots_.at(i).reopen = loop_.after(down, [this, i] { reopen(i); });
}

void World::reopen(std::size_t i) {
  Slot& slot = slots_.at(i);
  slot.reopen.reset();
  const auto index = static_cast<int>(i + 1);
  auto previous = std::find_if(retired_.rbegin(), retired_.rend(),
                               [index](const auto& c) { return c->index() == index; });
  assert(previous != retired_.rend());
  (*previous)->close();  // only now: a restarting app's loops had down_ms to wind down
  ++slot.lives;
  ++reopens_;
  clients_.at(i) = new_life(i);
  clients_.at(i)->continue_from(**previous);
  engine::Client& c = *clients_.at(i);
  trace_.log("world", "client {} reopens (life {}, core {})", i + 1, slot.lives, c.core().name);
  c.open();
  c.connect();
}

sim::Task<void> World::disconnect_for(std::size_t i, bool clear, sim::Micros down) {
  // docs/protocol.md §2.1.9: the app disconnects (and clears), then connects again after `down`.  A
  // lifecycle fault may end this app life meanwhile; then the new life connects itself.
  engine::Client* c = clients_.at(i).get();
  try {
    if (clear) {
      co_await c->disconnect_and_clear();
    } else {
      co_await c->disconnect();
    }
  } catch (const engine::ClientClosed&) {
    co_return;
  }
  // Quiesce heals faults: a down time outlasting it ends there (world hunt finding, issue 14).
  co_await sim::wait_for(loop_, loop_.now() + down, &quiesced_);
  if (clients_.at(i).get() != c) co_return;  // that life is over
  if (!c->sync_running()) c->connect();      // an overlapping fault may have reconnected it
}

void World::begin_quiesce() {
  trace_.log("world", "quiesce: faults stop, lag back to {}ms",
             scenario_.service.replication_lag_ms);
  service_->set_replication_lag(ms(scenario_.service.replication_lag_ms));
  if (!service_->has_mutant(model::ServiceMutant::ReplicationStall)) {
    service_->resume_replication();
  }
  for (auto& s : servers_) s->heal();
  service_->end_streams_of(service_->line_faults().disarm());
  quiesced_.abort("quiesce");  // apps disconnected by a fault connect now (disconnect_for)
  unfired_ = triggers_->disarm();
  // A `when` moment is a trigger too: one armed and not reached is reported the same way.
  for (const auto& [f, fired] : when_armed_) {
    if (fired) continue;
    const std::string text = fmt::format("{} @{}ms when {}", describe_fault(f), f.at_ms, f.when);
    trace_.log("fault", "never fired: {}", text);
    unfired_.push_back(text);
  }
  // Apps that are down come up now; kills still waiting for their moment never happen.
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    if (slots_[i].reopen) {
      loop_.cancel(*slots_[i].reopen);
      reopen(i);
    }
    if (clients_[i]) clients_[i]->disarm_kill();
  }
}

std::string World::pending() { return loop_.pending(); }

}  // namespace syncsim::scenarios
