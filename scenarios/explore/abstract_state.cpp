#include "scenarios/explore/abstract_state.hpp"

#include "engine/js/js_real_client.hpp"

#include <fmt/format.h>

namespace syncsim::scenarios {

namespace {

// The cells' dimensions; AbstractStateObserver::sample numbers a cell by its indices in these.
const char* const kModes[] = {"requests", "legacy"};
const char* const kGates[] = {"open", "closed-crud", "closed-target"};
const char* const kRecords[] = {"absent", "pending", "processed", "deleted"};
const char* const kPhases[] = {"first-streaming",    "first-connecting",    "first-offline",
                               "reopened-streaming", "reopened-connecting", "reopened-offline"};

}  // namespace

const std::vector<std::string>& abstract_state_cells() {
  static const std::vector<std::string> cells = [] {
    std::vector<std::string> out;
    for (const char* m : kModes) {
      for (const char* g : kGates) {
        for (const char* r : kRecords) {
          for (const char* p : kPhases) out.push_back(fmt::format("{}|{}|{}|{}", m, g, r, p));
        }
      }
    }
    return out;
  }();
  return cells;
}

const std::map<std::string, std::string>& abstract_state_unreachable() {
  // Declared so a report neither flags nor chases them.  None so far: every cell has a path
  // in the world's draws (e.g. legacy x deleted: a foreign_request turns a legacy key's
  // record into a request-derived one that retention may delete, or switch_mode; first x
  // offline x closed gates: a disconnect_client while writes or a target are pending).
  static const std::map<std::string, std::string> cells;
  return cells;
}

void AbstractStateObserver::on_control(engine::Client& c, const std::string& op,
                                       const std::optional<std::string>&,
                                       const std::optional<std::string>&) {
  // Reads of the request counters do not change state.
  if (op == "next_checkpoint_request_id" || op == "current_checkpoint_request_id") return;
  sample(c);
}

int AbstractStateObserver::record_state(const std::string& key) const {
  const auto& store = service_.checkpoints();
  const auto* docs = store.find(key);
  if (!docs || docs->empty()) return service_.deletion_of(key) ? 3 : 0;  // deleted, absent
  const model::CheckpointRecord* best = nullptr;
  for (const auto& d : *docs) {
    if (!best || d.id > best->id) best = &d;
  }
  const bool pending = store.flavour() == model::StorageFlavour::Mongo
                           ? !best->processed_at_lsn
                           : best->head > service_.replication().replicated_lsn();
  return pending ? 1 : 2;
}

void AbstractStateObserver::sample(engine::Client& c) {
  if (c.closed()) return;
  const auto [it, inserted] = first_life_.try_emplace(c.index(), &c);
  const bool first = it->second == &c;
  int gate = 0;  // kGates: open
  if (c.crud_count() > 0) {
    gate = 1;  // closed-crud
  } else if (const auto target = c.target(); target && *target > c.last_seen().value_or(0)) {
    gate = 2;  // closed-target
  }
  // A js-real life keeps no port state: its SDK streams while a stream delivers to it.
  const bool streaming = c.js_real() != nullptr ? c.js_real()->stream_open() : c.connected();
  const int link = streaming ? 0 : c.sync_running() ? 1 : 2;  // streaming, connecting, offline
  const int mode = c.checkpoint_mode() == engine::CheckpointMode::Legacy ? 1 : 0;
  const int record = record_state(c.user() + "/" + c.client_id());
  const int phase = (first ? 0 : 3) + link;  // kPhases
  const std::size_t cell =
      ((static_cast<std::size_t>(mode) * 3 + static_cast<std::size_t>(gate)) * 4 +
       static_cast<std::size_t>(record)) *
          6 +
      static_cast<std::size_t>(phase);
  if (reached_cells_.test(cell)) return;
  reached_cells_.set(cell);
  reached_.insert(
      fmt::format("{}|{}|{}|{}", kModes[mode], kGates[gate], kRecords[record], kPhases[phase]));
}

}  // namespace syncsim::scenarios
