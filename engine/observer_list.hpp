// Fan-out for engine::ClientObserver: a client holds one observer pointer, and several
// parties want its events (the cross-layer checks, the differential recorder).  Forwards
// every hook to each registered observer in registration order, so the order in which
// observers see an event is fixed (DESIGN.md §3).
#pragma once

#include <vector>

#include "engine/sdk_shim.hpp"

namespace syncsim::engine {

class ObserverList : public ClientObserver {
 public:
  // Observers are not owned; each must outlive every client that reports to this list.
  void add(ClientObserver* observer);

  void on_local_write(Client& c, const LocalWrite& w) override;
  void on_uploaded(Client& c, const nlohmann::json& crud) override;
  void on_target_set(Client& c, int64_t target) override;
  void on_core_warning(Client& c, const std::string& line) override;
  void on_sync_applied(Client& c, std::optional<int64_t> applied_id) override;
  void on_published(Client& c) override;
  void on_control(Client& c, const std::string& op, const std::optional<std::string>& payload,
                  const std::optional<std::string>& result) override;

 private:
  std::vector<ClientObserver*> observers_;
};

}  // namespace syncsim::engine
