// Forwards every ClientObserver event to several observers in registration order (the
// cross-layer checks, the client invariants, recorders), so each stays one small module.
#pragma once

#include <vector>

#include "engine/sdk_shim.hpp"

namespace syncsim::engine {

class ObserverFanout : public ClientObserver {
 public:
  void add(ClientObserver* o) { observers_.push_back(o); }

  void on_local_write(Client& c, const LocalWrite& w) override {
    for (auto* o : observers_) o->on_local_write(c, w);
  }
  void on_uploaded(Client& c, const nlohmann::json& crud) override {
    for (auto* o : observers_) o->on_uploaded(c, crud);
  }
  void on_target_set(Client& c, int64_t target, TargetStoredBy by) override {
    for (auto* o : observers_) o->on_target_set(c, target, by);
  }
  void on_core_warning(Client& c, const std::string& line) override {
    for (auto* o : observers_) o->on_core_warning(c, line);
  }
  void on_sync_applied(Client& c, std::optional<int64_t> applied_id) override {
    for (auto* o : observers_) o->on_sync_applied(c, applied_id);
  }
  void on_published(Client& c) override {
    for (auto* o : observers_) o->on_published(c);
  }
  void on_cleared(Client& c) override {
    for (auto* o : observers_) o->on_cleared(c);
  }
  void on_upload_sent(Client& c) override {
    for (auto* o : observers_) o->on_upload_sent(c);
  }
  void on_checkpoint_request_sent(Client& c) override {
    for (auto* o : observers_) o->on_checkpoint_request_sent(c);
  }
  void on_checkpoint_blocked(Client& c) override {
    for (auto* o : observers_) o->on_checkpoint_blocked(c);
  }
  void on_control(Client& c, const std::string& op, const std::optional<std::string>& payload,
                  const std::optional<std::string>& result) override {
    for (auto* o : observers_) o->on_control(c, op, payload, result);
  }
  void on_seeded(Client& c, int64_t posted, int64_t answered) override {
    for (auto* o : observers_) o->on_seeded(c, posted, answered);
  }
  void on_reposted(Client& c, int64_t id) override {
    for (auto* o : observers_) o->on_reposted(c, id);
  }
  void on_upload_failed(Client& c) override {
    for (auto* o : observers_) o->on_upload_failed(c);
  }
  void on_wait_resolved(Client& c, int64_t id) override {
    for (auto* o : observers_) o->on_wait_resolved(c, id);
  }
  void on_js_stream_opened(Client& c) override {
    for (auto* o : observers_) o->on_js_stream_opened(c);
  }
  void on_js_line(Client& c, const std::string& line) override {
    for (auto* o : observers_) o->on_js_line(c, line);
  }
  void on_js_operation(Client& c, const std::string& op, int64_t insert_id) override {
    for (auto* o : observers_) o->on_js_operation(c, op, insert_id);
  }

 private:
  std::vector<ClientObserver*> observers_;
};

}  // namespace syncsim::engine
