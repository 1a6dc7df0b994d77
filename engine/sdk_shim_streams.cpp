// The SDK shim's sync-stream subscription API (issue 7; ConnectionManager.stream in the JS
// SDK, docs/protocol.md §1.4).
#include <fmt/format.h>

#include <algorithm>
#include <cassert>

#include "engine/js/js_real_client.hpp"
#include "engine/sdk_shim.hpp"
#include "engine/sdk_shim_internal.hpp"

namespace syncsim::engine {

using namespace shim_detail;  // NOLINT(google-build-using-namespace): the shim's own helpers

// ---------------------------------------------------------------------------------
// sync streams (issue 7; ConnectionManager.stream in the JS SDK, docs/protocol.md §1.4)

std::vector<StreamStatusEntry> parse_stream_statuses(const nlohmann::json& status) {
  std::vector<StreamStatusEntry> out;
  if (!status.contains("streams") || !status["streams"].is_array()) return out;
  for (const auto& s : status["streams"]) {
    StreamStatusEntry e;
    e.name = s.value("name", "");
    e.parameters = s.contains("parameters") ? s["parameters"] : nlohmann::json();
    if (auto p = optional_int(s, "priority")) e.priority = static_cast<int>(*p);
    e.active = s.value("active", false);
    e.is_default = s.value("is_default", false);
    e.has_explicit_subscription = s.value("has_explicit_subscription", false);
    e.expires_at = optional_int(s, "expires_at");
    e.last_synced_at = optional_int(s, "last_synced_at");
    if (s.contains("progress") && s["progress"].is_object()) {
      e.total = s["progress"].value("total", int64_t{0});
      e.downloaded = s["progress"].value("downloaded", int64_t{0});
    }
    out.push_back(std::move(e));
  }
  return out;
}

nlohmann::json Client::active_streams() const {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& a : active_subscriptions_)
    out.push_back({{"name", a.name}, {"params", a.params}});
  return out;
}

void Client::subscriptions_may_have_changed() {
  // ConnectionManager.subscriptionsMayHaveChanged -> updateSubscriptions(activeStreams): the
  // implementation remembers the set (the next `start` sends it) and, while an iteration
  // runs, injects update_subscriptions (docs/protocol.md §2.1.4).
  if (running_loops_ > 0 && events_) {
    events_->push(Event{EventKind::UpdateSubscriptions, active_streams().dump()});
  }
}

uint64_t Client::subscribe_stream(const std::string& name, const nlohmann::json& params,
                                  StreamSubscribeOptions options) {
  ++stats_.stream_subscribes;
  if (js_) {
    // js-real: the app calls the SDK's own API (engine/js/sdk_client.mjs stream()); the
    // refcounts and the active set are the SDK's ConnectionManager's, not mirrored here.
    const uint64_t handle = next_stream_handle_++;
    stream_handles_[handle] = name + "|" + params.dump();
    trace_.log(name_, "subscribe {} {}{}{} (handle {}, js-real)", name, params.dump(),
               options.ttl_s ? fmt::format(" ttl={}s", *options.ttl_s) : "",
               options.priority ? fmt::format(" priority={}", *options.priority) : "", handle);
    nlohmann::json call = {
        {"action", "subscribe"}, {"handle", handle}, {"name", name}, {"params", params}};
    if (options.ttl_s) call["ttl"] = *options.ttl_s;
    if (options.priority) call["priority"] = *options.priority;
    js_->stream_call(std::move(call));
    return handle;
  }
  // rustSubscriptionsCommand({subscribe:{stream:{name, params}, ttl, priority}}), run even
  // for an existing subscription: it moves expires_at (docs/protocol.md §1.4.1).
  nlohmann::json sub = {{"stream", {{"name", name}, {"params", params}}}};
  if (options.ttl_s) sub["ttl"] = *options.ttl_s;
  if (options.priority) sub["priority"] = *options.priority;
  control_text("subscriptions", nlohmann::json{{"subscribe", sub}}.dump());
  if (running_loops_ == 0) {
    // Not connected: the offline status reflects the new subscription.
    {
      const Database::SdkSql sdk(db());
      status_ = nlohmann::json::parse(
          db().query_text("SELECT powersync_offline_sync_status()").value_or("{}"));
    }
    status_changed();
  }
  const std::string key = name + "|" + params.dump();
  auto it = std::find_if(active_subscriptions_.begin(), active_subscriptions_.end(),
                         [&](const ActiveSubscription& a) { return a.key == key; });
  const bool fresh = it == active_subscriptions_.end();
  if (fresh) {
    active_subscriptions_.push_back(ActiveSubscription{key, name, params, 0});
    it = std::prev(active_subscriptions_.end());
  }
  ++it->refcount;  // SyncStreamSubscriptionHandle's constructor
  const uint64_t handle = next_stream_handle_++;
  stream_handles_[handle] = key;
  trace_.log(name_, "subscribe {} {}{}{} (handle {}, refcount {})", name, params.dump(),
             options.ttl_s ? fmt::format(" ttl={}s", *options.ttl_s) : "",
             options.priority ? fmt::format(" priority={}", *options.priority) : "", handle,
             it->refcount);
  if (fresh) subscriptions_may_have_changed();
  return handle;
}

void Client::release_stream(uint64_t handle) {
  auto h = stream_handles_.find(handle);
  if (h == stream_handles_.end()) return;  // unsubscribe() twice is a no-op
  const std::string key = h->second;
  stream_handles_.erase(h);
  ++stats_.stream_releases;
  if (js_) {
    trace_.log(name_, "release {} (handle {}, js-real)", key, handle);
    js_->stream_call({{"action", "release"}, {"handle", handle}});
    return;
  }
  auto it = std::find_if(active_subscriptions_.begin(), active_subscriptions_.end(),
                         [&](const ActiveSubscription& a) { return a.key == key; });
  if (it == active_subscriptions_.end()) return;
  trace_.log(name_, "release {} (handle {}, refcount {})", key, handle, it->refcount - 1);
  if (--it->refcount > 0) return;
  // ActiveSubscription.decrementRefCount -> clearSubscription: out of the active set; the
  // core keeps the row (and syncs it) until its TTL runs out (docs/protocol.md §1.4.1).
  active_subscriptions_.erase(it);
  subscriptions_may_have_changed();
}

void Client::unsubscribe_all(const std::string& name, const nlohmann::json& params) {
  ++stats_.stream_unsubscribe_all;
  if (js_) {
    trace_.log(name_, "unsubscribe all {} {} (js-real)", name, params.dump());
    js_->stream_call({{"action", "unsubscribe_all"}, {"name", name}, {"params", params}});
    return;
  }
  control_text("subscriptions",
               nlohmann::json{{"unsubscribe", {{"name", name}, {"params", params}}}}.dump());
  trace_.log(name_, "unsubscribe all {} {}", name, params.dump());
  subscriptions_may_have_changed();
}

}  // namespace syncsim::engine
