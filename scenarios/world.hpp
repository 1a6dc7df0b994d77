// The world builder: wires sim + model + engines for one run of a scenario.  Owns every
// object of the run, in an order that lets suspended coroutines be torn down while the
// objects they refer to still exist.
#pragma once

#include <memory>
#include <vector>

#include "engine/sdk_shim.hpp"
#include "model/service.hpp"
#include "scenarios/cross_checks.hpp"
#include "scenarios/faulty_server.hpp"
#include "scenarios/scenario.hpp"
#include "sim/loop.hpp"
#include "sim/net.hpp"
#include "sim/trace.hpp"
#include "sim/vfs.hpp"

namespace syncsim::scenarios {

class World {
 public:
  World(const Scenario& scenario, uint64_t seed, sim::Bounds bounds);
  ~World();
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  void start();           // opens clients, connects, schedules workload and faults
  void begin_quiesce();   // all faults stop and heal
  std::string pending();  // what each part is waiting for

  sim::Loop& loop() { return loop_; }
  sim::Trace& trace() { return trace_; }
  model::Service& service() { return *service_; }
  CrossChecks& checks() { return *checks_; }
  sim::Verdicts& verdicts() { return verdicts_; }
  std::vector<engine::Client*> clients();

 private:
  void schedule_fault(const Fault& f);
  sim::Task<void> disconnect_for(engine::Client& c, bool clear, sim::Micros down);

  const Scenario& scenario_;
  sim::Loop loop_;
  sim::Trace trace_;
  sim::Prng root_;
  sim::Prng sqlite_rng_;
  sim::FileStore files_;
  sim::VfsBinding vfs_;
  sim::Verdicts verdicts_;
  std::unique_ptr<model::Service> service_;
  std::unique_ptr<CrossChecks> checks_;
  std::vector<std::unique_ptr<FaultyServer>> servers_;  // one per client, in front of the service
  std::vector<std::unique_ptr<sim::Link>> links_;
  std::vector<std::string> keys_;  // each client's "<user>/<client_id>"
  sim::Prng fault_rng_;
  std::vector<std::unique_ptr<engine::Client>> clients_;
};

}  // namespace syncsim::scenarios
