#include "engine/observer_list.hpp"

namespace syncsim::engine {

void ObserverList::add(ClientObserver* observer) {
  if (observer) observers_.push_back(observer);
}

void ObserverList::on_local_write(Client& c, const LocalWrite& w) {
  for (auto* o : observers_) o->on_local_write(c, w);
}

void ObserverList::on_uploaded(Client& c, const nlohmann::json& crud) {
  for (auto* o : observers_) o->on_uploaded(c, crud);
}

void ObserverList::on_target_set(Client& c, int64_t target) {
  for (auto* o : observers_) o->on_target_set(c, target);
}

void ObserverList::on_core_warning(Client& c, const std::string& line) {
  for (auto* o : observers_) o->on_core_warning(c, line);
}

void ObserverList::on_sync_applied(Client& c, std::optional<int64_t> applied_id) {
  for (auto* o : observers_) o->on_sync_applied(c, applied_id);
}

void ObserverList::on_published(Client& c) {
  for (auto* o : observers_) o->on_published(c);
}

void ObserverList::on_control(Client& c, const std::string& op,
                              const std::optional<std::string>& payload,
                              const std::optional<std::string>& result) {
  for (auto* o : observers_) o->on_control(c, op, payload, result);
}

}  // namespace syncsim::engine
