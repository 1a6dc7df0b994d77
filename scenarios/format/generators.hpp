// RapidCheck generators for scenarios (issue 5): properties written with rc::check range
// over worlds, workloads and fault schedules, and RapidCheck shrinks a failing one (fewer
// faults, fewer clients, shorter runs) and prints a reproduce string.  Header-only so only
// the tests link RapidCheck.  The values are kept small enough for a quick property test;
// every generated scenario is valid (a property below re-parses it through the validator).
#pragma once

#include <rapidcheck.h>

#include <algorithm>

#include "scenarios/format/scenario.hpp"

namespace syncsim::scenarios::gen {

// `requests_mode`: delete_request only deletes checkpoint-request (supplied-id) records.
// The service never deletes a legacy client's generated record (docs/protocol.md §3.2.1); deleting
// one anyway restarts its ids at 1 and lets a stale write_checkpoint open the gate early
// (read-your-writes fails; found by this generator before it was restricted).
inline rc::Gen<Fault> fault(int clients, int64_t duration_ms, bool requests_mode) {
  return rc::gen::exec([clients, duration_ms, requests_mode] {
    Fault f;
    f.at_ms = *rc::gen::inRange<int64_t>(0, duration_ms);
    f.kind = *rc::gen::element(FaultKind::Lag, FaultKind::Disconnect, FaultKind::Stall,
                               FaultKind::Storm, FaultKind::RequestLost, FaultKind::DeleteRequest,
                               FaultKind::Compact, FaultKind::ServiceRestart);
    if (f.kind == FaultKind::DeleteRequest && !requests_mode) f.kind = FaultKind::Compact;
    switch (f.kind) {
      case FaultKind::Lag:
        f.lag_ms = *rc::gen::inRange<int64_t>(0, 5000);
        f.duration_ms = *rc::gen::inRange<int64_t>(1, 20000);
        break;
      case FaultKind::Stall:
        f.duration_ms = *rc::gen::inRange<int64_t>(1, 20000);
        break;
      case FaultKind::Storm:
        f.fraction_pct = *rc::gen::inRange(1, 101);
        break;
      case FaultKind::RequestLost:
        f.client = *rc::gen::inRange(1, clients + 1);
        f.lost = *rc::gen::element<std::string>("request", "response");
        f.route = *rc::gen::element<std::string>("checkpoint", "upload", "any");
        f.count = *rc::gen::inRange(1, 4);
        break;
      case FaultKind::Disconnect:
      case FaultKind::DeleteRequest:
        f.client = *rc::gen::inRange(1, clients + 1);
        break;
      case FaultKind::ServiceRestart:
        f.down_ms = *rc::gen::inRange<int64_t>(0, 5000);
        break;
      default:
        break;
    }
    return f;
  });
}

// A small world: 1-4 clients on the default core, either checkpoint mode and storage
// flavour, a 10-30 s run with up to 6 faults.
inline rc::Gen<Scenario> small_scenario() {
  return rc::gen::exec([] {
    Scenario s;
    s.name = "generated";
    s.clients.count = *rc::gen::inRange(1, 5);
    s.clients.checkpoint_mode = *rc::gen::element<std::string>("requests", "legacy");
    s.service.flavour = *rc::gen::element<std::string>("mongo", "postgres");
    s.service.replication_lag_ms = *rc::gen::inRange<int64_t>(0, 2000);
    s.service.batch_latency_max_ms = *rc::gen::inRange<int64_t>(0, 200);
    s.network.latency_up_ms = *rc::gen::inRange<int64_t>(0, 100);
    s.network.latency_down_ms = *rc::gen::inRange<int64_t>(0, 100);
    s.workload.write_interval_min_ms = *rc::gen::inRange<int64_t>(100, 3000);
    s.workload.write_interval_max_ms =
        s.workload.write_interval_min_ms + *rc::gen::inRange<int64_t>(0, 3000);
    s.workload.keyspace = *rc::gen::inRange(1, 32);
    s.workload.notes_pct = *rc::gen::inRange(0, 101);
    s.workload.delete_pct = *rc::gen::inRange(0, 51);
    s.duration_s = *rc::gen::inRange<int64_t>(10, 31);
    s.faults = *rc::gen::container<std::vector<Fault>>(
        *rc::gen::inRange<std::size_t>(0, 7),
        fault(s.clients.count, s.duration_s * 1000, s.clients.checkpoint_mode == "requests"));
    std::stable_sort(s.faults.begin(), s.faults.end(),
                     [](const Fault& a, const Fault& b) { return a.at_ms < b.at_ms; });
    return s;
  });
}

}  // namespace syncsim::scenarios::gen
