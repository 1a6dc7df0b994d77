// The SDK shim's credentials (docs/protocol.md §2.1.7): fetch, cache, prefetch and 401.
#include <fmt/format.h>

#include <algorithm>
#include <cassert>
#include <cmath>

#include "engine/sdk_shim.hpp"
#include "engine/sdk_shim_internal.hpp"

namespace syncsim::engine {

using namespace shim_detail;  // NOLINT(google-build-using-namespace): the shim's own helpers

// ---------------------------------------------------------------------------------
// credentials (docs/protocol.md §2.1.7)

sim::Task<Client::Credentials> Client::fetch_credentials() {
  // connector.fetchCredentials: a token for this client's user, valid token_lifetime.
  ++stats_.credential_fetches;
  co_await loop_.sleep_for(
      std::max<sim::Micros>(0, sdk_timer_deadline(credentials_latency()) - loop_.now()));
  Credentials c{options_.user, loop_.now() + options_.token_lifetime};
  trace_.log(name_, "fetched credentials (expire at {}s)",
             (c.expires_at - sim::kEpoch) / sim::kSeconds);
  co_return c;
}

sim::Micros Client::credentials_latency() {
  return credentials_rng_.range(0, options_.fetch_credentials_latency_max / sim::kMillis) *
         sim::kMillis;
}

double Client::sdk_random() { return static_cast<double>(rng_.next() >> 11) * 0x1p-53; }

sim::Micros Client::sdk_jitter(sim::Micros delay) {
  // Double arithmetic on purpose: it is the SDK's own expression (IEEE, so the same on every
  // build); the fake timer then truncates the delay to whole ms (parseInt).
  const int64_t delay_ms = delay / sim::kMillis;  // the SDK's delays are whole ms
  // The 1.x SDKs of 0.4.x cores wait exactly `delay` and never call Math.random
  // (docs/sdk-diff.md "0.4.12"): no jitter, no draw.
  if (options_.sdk == SdkBehaviour::JsLegacy) return delay_ms * sim::kMillis;
  const double ms = static_cast<double>(delay_ms) * (0.9 + sdk_random() * 0.2);
  return static_cast<sim::Micros>(std::trunc(ms)) * sim::kMillis;
}

sim::Micros Client::sdk_timer_deadline(sim::Micros delay) const {
  return loop_.now() / sim::kMillis * sim::kMillis + delay;
}

sim::Task<Client::Credentials> Client::get_credentials() {
  // Cached, or fetched and cached; concurrent callers are not deduplicated (quirk §2.7.4).
  if (credentials_) co_return *credentials_;
  Credentials c = co_await fetch_credentials();
  credentials_ = c;
  co_return c;
}

void Client::invalidate_credentials(const char* why) {
  if (credentials_) trace_.log(name_, "credentials invalidated: {}", why);
  credentials_.reset();
}

sim::Task<void> Client::prefetch_credentials(std::shared_ptr<sim::Queue<Event>> events) {
  // FetchCredentials{did_expire:false} (docs/protocol.md §2.1.5): fetch, then inject
  // refreshed_token. Quirk §2.7.4: the result is not cached, so the restart fetches again; the fix
  // caches it.
  ++stats_.credential_prefetches;
  Credentials c = co_await fetch_credentials();
  if (quirk_fixed(Quirk::PrefetchDoubleFetch)) credentials_ = c;
  events->push(Event{EventKind::RefreshedToken, ""});  // dropped if the iteration ended
}

sim::Task<sim::HttpRequest> Client::build_request(std::string method, std::string path,
                                                  std::string body) {
  // AbstractRemote.buildRequest (docs/protocol.md §2.1.6): every service request carries the token.
  Credentials c = co_await get_credentials();
  sim::HttpRequest http{std::move(method), std::move(path), std::move(body), c.subject};
  http.token_expires_at = c.expires_at;
  co_return http;
}

void Client::note_status(int status) {
  // docs/protocol.md §2.1.6: a 401 from any route invalidates the credentials (§2.6 item 12).
  if (status != 401) return;
  ++stats_.unauthorized;
  invalidate_credentials("HTTP 401");
}

}  // namespace syncsim::engine
