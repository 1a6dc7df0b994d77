#include "scenarios/explore/world_swarm.hpp"

#include "engine/js/js_host.hpp"
#include "scenarios/explore/swarm.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string_view>

namespace syncsim::scenarios {

namespace {

using json = nlohmann::json;

// "0.4.11" -> {0, 4, 11}, for ordering cores (upgrade = newer, downgrade = older).
std::vector<int> version_parts(const std::string& v) {
  std::vector<int> parts;
  int n = 0;
  bool any = false;
  for (char ch : v) {
    if (ch >= '0' && ch <= '9') {
      n = n * 10 + (ch - '0');
      any = true;
    } else if (ch == '.') {
      parts.push_back(n);
      n = 0;
    } else {
      break;
    }
  }
  if (any) parts.push_back(n);
  return parts;
}

bool older(const std::string& a, const std::string& b) {
  return version_parts(a) < version_parts(b);
}

}  // namespace

namespace {

int64_t weight_of(const json& world, const WorldDimension& d, const std::string& cls, int dflt) {
  if (!world.contains("weights")) return dflt;
  const auto& w = world["weights"];
  if (!w.contains(d.key)) return dflt;
  const auto& m = w[d.key];
  return m.contains(cls) ? m[cls].get<int64_t>() : 0;  // a listed dimension names every class
}

std::pair<int64_t, int64_t> fault_count_range(const json& world, const std::string& cls) {
  static const std::map<std::string, std::pair<int64_t, int64_t>> defaults = {
      {"service", {0, 2}}, {"network", {0, 2}},  {"lifecycle", {0, 3}},
      {"records", {0, 1}}, {"workload", {0, 1}}, {"line", {0, 1}}};
  if (world.contains("fault_counts") && world["fault_counts"].contains(cls)) {
    const auto& r = world["fault_counts"][cls];
    return {r[0].get<int64_t>(), r[1].get<int64_t>()};
  }
  return defaults.at(cls);
}

// A guided seed's pins (guided.hpp): per dimension the classes its picks take in draw order,
// per fault class its count; shared by the two drawers of one draw so the n-th pick of a
// dimension is the n-th pick of the draw.
struct Pins {
  const json* pins = nullptr;  // {"<dimension>": [class, ...], "count.<class>": [n]} or null
  std::map<std::string, std::size_t> used;  // key -> picks made so far
};

class Drawer {
 public:
  Drawer(const json& world, sim::Prng& rng, const ValidationContext& ctx, WorldPicks* picks,
         Pins& pins)
      : world_(world), rng_(rng), ctx_(ctx), picks_(picks), pins_(pins) {
    for (auto& d : world_dimensions(ctx)) dims_.emplace(d.key, std::move(d));
  }

  // A class of `key` among `allowed` (empty = all), by weight; "" when none has weight.
  std::string pick(const std::string& key, const std::vector<std::string>& allowed = {}) {
    const WorldDimension& d = dims_.at(key);
    std::vector<std::pair<std::string, int64_t>> options;
    int64_t total = 0;
    for (const auto& [cls, dflt] : d.classes) {
      if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), cls) == allowed.end()) {
        continue;
      }
      const int64_t w = weight_of(world_, d, cls, dflt);
      if (w <= 0) continue;
      options.emplace_back(cls, w);
      total += w;
    }
    if (total == 0) return "";
    int64_t r = static_cast<int64_t>(rng_.uniform(static_cast<uint64_t>(total)));
    // A pinned class (drawn anyway, so the stream stays aligned) when it is still allowed.
    if (const json* pinned = next_pin(key)) {
      for (const auto& [cls, w] : options) {
        if (pinned->is_string() && *pinned == cls) return picked(key, cls);
      }
    }
    for (const auto& [cls, w] : options) {
      if (r < w) return picked(key, cls);
      r -= w;
    }
    return picked(key, options.back().first);
  }
  int64_t range(int64_t lo, int64_t hi) { return rng_.range(lo, hi); }
  // How many faults of class `cls` (within lo..hi): drawn, or pinned; recorded as a pick
  // "count.<cls>" so a guided child can keep it.
  int64_t count(const std::string& cls, int64_t lo, int64_t hi) {
    int64_t n = rng_.range(lo, hi);
    const std::string key = "count." + cls;
    if (const json* pinned = next_pin(key); pinned && pinned->is_number_integer()) {
      n = std::clamp(pinned->get<int64_t>(), lo, hi);
    }
    if (picks_) picks_->emplace_back(key, std::to_string(n));
    return n;
  }
  bool percent(uint64_t pct) { return rng_.percent(pct); }
  const ValidationContext& ctx() const { return ctx_; }

 private:
  const std::string& picked(const std::string& key, const std::string& cls) {
    if (picks_) picks_->emplace_back(key, cls);
    return cls;
  }

  // The pinned value of the next pick of `key`, or null.
  const json* next_pin(const std::string& key) {
    if (!pins_.pins) return nullptr;
    const std::size_t n = pins_.used[key]++;
    const auto it = pins_.pins->find(key);
    if (it == pins_.pins->end() || n >= it->size()) return nullptr;
    return &(*it)[n];
  }

  const json& world_;
  sim::Prng& rng_;
  const ValidationContext& ctx_;
  WorldPicks* picks_;
  Pins& pins_;
  std::map<std::string, WorldDimension> dims_;
};

std::string sdk_of(const std::string& sdk, const std::string& core, const ValidationContext& ctx) {
  return resolved_sdk(sdk, core, ctx.core_sdks);
}

void draw_fleet(Drawer& d, Scenario& s, json& params) {
  const int groups = std::stoi(d.pick("fleet.groups"));
  s.clients.fleet.clear();
  int count = 0;
  json fleet = json::array();
  for (int i = 0; i < groups; ++i) {
    ClientGroup g;
    g.count = std::stoi(d.pick("fleet.group_size"));
    g.core = d.pick("fleet.core");
    const bool legacy_core = sdk_of("auto", g.core, d.ctx()) == "js-legacy";
    // 0.4.x: js-legacy only, so legacy mode only (world_exclusions()).
    g.checkpoint_mode = legacy_core ? "legacy" : d.pick("fleet.mode");
    std::vector<std::string> sdks = {"auto"};
    if (!legacy_core) sdks.insert(sdks.end(), {"js-1.3.0", "js-real"});
    if (g.checkpoint_mode == "legacy") sdks.emplace_back("js-legacy");
    g.sdk = d.pick("fleet.sdk", sdks);
    if (g.sdk.empty()) g.sdk = "auto";
    // js-real needs node and the installed SDK (issue 16); without them the group runs the
    // port, remapped after the pick so the draw stream stays.
    if (g.sdk == "js-real" && engine::js::js_real_unavailable(g.core)) g.sdk = "auto";
    // An old SDK bundles a 0.4.x core; on a 0.5.x core its autocommit powersync_init()
    // fails at open (world_exclusions()).  Remapped after the pick, so the draw stream stays.
    if (!legacy_core && g.sdk == "js-legacy") g.sdk = "auto";
    count += g.count;
    fleet.push_back({{"count", g.count},
                     {"core", g.core},
                     {"checkpoint_mode", g.checkpoint_mode},
                     {"sdk", g.sdk}});
    s.clients.fleet.push_back(g);
  }
  s.clients.count = count;
  params["clients.fleet"] = fleet;
  s.clients.post_checkpoint_request = d.pick("clients.post_checkpoint_request");
  const std::string timers = d.pick("clients.timers");
  if (timers == "fast") {
    s.clients.retry_delay_ms = d.range(100, 2000);
    s.clients.crud_upload_throttle_ms = d.range(0, 200);
    s.clients.repost_delay_ms = 10000;
  } else if (timers == "slow") {
    s.clients.retry_delay_ms = d.range(10000, 60000);
    s.clients.crud_upload_throttle_ms = d.range(2000, 10000);
    s.clients.repost_delay_ms = d.range(30000, 120000);
  }
  params["clients.post_checkpoint_request"] = s.clients.post_checkpoint_request;
  params["clients.retry_delay_ms"] = s.clients.retry_delay_ms;
  params["clients.crud_upload_throttle_ms"] = s.clients.crud_upload_throttle_ms;
  params["clients.repost_delay_ms"] = s.clients.repost_delay_ms;
}

// Every group's clients run `sdk` (as resolved for its core).  The world draws js-real on
// 0.5.2+ only, whose @powersync/common 2.x has the sync-streams API the loader asks for.
bool every_group_runs(const Scenario& s, const ValidationContext& ctx, std::string_view sdk) {
  for (const auto& g : s.clients.fleet) {
    if (sdk_of(g.sdk, g.core, ctx) != sdk) return false;
  }
  return true;
}

// Sync streams and their subscription churn (issue 7): 1..3 definitions.
void draw_streams(Drawer& d, Scenario& s, json& params) {
  auto& sv = s.service;
  const int64_t n = d.range(1, 3);
  for (int64_t i = 0; i < n; ++i) {
    StreamSpec st;
    st.name = "s" + std::to_string(i);
    st.is_default = d.percent(30);
    st.parameterised = !st.is_default && d.percent(70);
    st.priority = static_cast<int>(d.range(0, 3));
    sv.streams.push_back(st);
  }
  auto& ch = s.workload.streams;
  ch.interval_min_ms = d.range(200, 5000);
  ch.interval_max_ms = ch.interval_min_ms + d.range(0, 10000);
  ch.subscribe_pct = static_cast<int>(d.range(20, 90));
  ch.unsubscribe_all_pct = static_cast<int>(d.range(0, 50));
  ch.ttl_s = d.percent(30) ? d.range(1, 120) : 0;
  ch.priority_override_pct = static_cast<int>(d.range(0, 30));
  params["workload.streams"] = {{"interval_ms", {ch.interval_min_ms, ch.interval_max_ms}},
                                {"subscribe_pct", ch.subscribe_pct},
                                {"unsubscribe_all_pct", ch.unsubscribe_all_pct},
                                {"ttl_s", ch.ttl_s},
                                {"priority_override_pct", ch.priority_override_pct}};
}

void draw_service(Drawer& d, Scenario& s, json& params) {
  auto& sv = s.service;
  sv.flavour = d.pick("service.flavour");
  const std::string lag = d.pick("service.replication_lag");
  sv.replication_lag_ms = lag == "none"    ? 0
                          : lag == "short" ? d.range(1, 500)
                                           : d.range(2000, 120000);
  const std::string retention = d.pick("service.retention");
  sv.checkpoint_request_retention_minutes = retention == "shorter_than_run" ? d.range(1, 3)
                                            : retention == "normal"         ? 60
                                                                            : 1440;
  const std::string compact = d.pick("service.compact_interval");
  sv.compact_interval_s = compact == "off"        ? 0
                          : compact == "frequent" ? d.range(5, 60)
                                                  : d.range(300, 3600);
  sv.batch_latency_max_ms =
      d.pick("service.batch_latency") == "low" ? d.range(0, 20) : d.range(100, 5000);
  sv.token_lifetime_s = d.pick("service.token_lifetime") == "short" ? d.range(60, 300) : 86400;
  sv.heartbeat_ms = d.pick("service.heartbeat") == "default" ? 60000 : d.range(5000, 15000);
  sv.streams.clear();
  if (every_group_runs(s, d.ctx(), "js-1.3.0") && d.pick("service.streams") == "some")
    draw_streams(d, s, params);
  params["service.flavour"] = sv.flavour;
  params["service.replication_lag_ms"] = sv.replication_lag_ms;
  params["service.checkpoint_request_retention_minutes"] = sv.checkpoint_request_retention_minutes;
  params["service.compact_interval_s"] = sv.compact_interval_s;
  params["service.batch_latency_max_ms"] = sv.batch_latency_max_ms;
  params["service.token_lifetime_s"] = sv.token_lifetime_s;
  params["service.heartbeat_ms"] = sv.heartbeat_ms;
  params["service.streams"] = sv.streams.size();
  // Issue 17: several API processes and batch failures (docs/protocol.md §3.1.3).
  sv.api_processes = d.pick("service.api_processes") == "one" ? 1 : static_cast<int>(d.range(2, 4));
  sv.batch_failure_pct = d.pick("service.batch_failures") == "none" ? 0 : d.range(5, 20);
  if (d.pick("service.connection_limit") == "tight") {
    int64_t clients = 0;
    for (const auto& g : s.clients.fleet) clients += g.count;
    sv.max_concurrent_streams = std::max<int64_t>(1, clients);  // every client fits, just
  }
  params["service.max_concurrent_streams"] = sv.max_concurrent_streams;
  params["service.api_processes"] = sv.api_processes;
  params["service.batch_failure_pct"] = sv.batch_failure_pct;
}

void draw_workload(Drawer& d, Scenario& s, json& params) {
  const std::string dur = d.pick("duration");
  s.duration_s = dur == "short"    ? d.range(20, 60)
                 : dur == "medium" ? d.range(60, 180)
                                   : d.range(180, 600);
  const int64_t lat = d.pick("network.latency") == "low" ? d.range(0, 50) : d.range(100, 3000);
  s.network.latency_up_ms = lat;
  s.network.latency_down_ms = d.percent(50) ? lat : d.range(0, lat);
  auto& w = s.workload;
  const std::string rate = d.pick("workload.write_rate");
  w.write_interval_min_ms = rate == "fast"     ? d.range(100, 500)
                            : rate == "normal" ? d.range(500, 1500)
                                               : d.range(5000, 20000);
  w.write_interval_max_ms = w.write_interval_min_ms * d.range(1, 3);
  const std::string keys = d.pick("workload.keyspace");
  w.keyspace = static_cast<int>(keys == "small"    ? d.range(1, 4)
                                : keys == "normal" ? d.range(8, 32)
                                                   : d.range(100, 1000));
  w.notes_pct = static_cast<int>(d.range(0, 50));
  w.delete_pct = static_cast<int>(d.range(0, 30));
  w.insert_only_pct =
      d.pick("workload.insert_only") == "none" ? 0 : static_cast<int>(d.range(5, 50));
  const std::string req = d.pick("workload.requests");
  w.request_checkpoint_pct = static_cast<int>(req == "none"   ? 0
                                              : req == "some" ? d.range(5, 30)
                                                              : d.range(50, 100));
  const std::string wait = d.pick("workload.wait_for_sync");
  w.wait_for_sync_pct = static_cast<int>(wait == "none"  ? 0
                                         : wait == "all" ? 100
                                                         : d.range(10, 90));
  params["duration_s"] = s.duration_s;
  params["network.latency_ms"] = {s.network.latency_up_ms, s.network.latency_down_ms};
  params["workload.write_interval_ms"] = {w.write_interval_min_ms, w.write_interval_max_ms};
  params["workload.keyspace"] = w.keyspace;
  params["workload.notes_pct"] = w.notes_pct;
  params["workload.delete_pct"] = w.delete_pct;
  params["workload.insert_only_pct"] = w.insert_only_pct;
  params["workload.request_checkpoint_pct"] = w.request_checkpoint_pct;
  params["workload.wait_for_sync_pct"] = w.wait_for_sync_pct;
}

// The fields of one fault of `kind` at `at_ms`; `core_now` is every client's core at that
// time (updated by upgrade/downgrade).  Returns null when the kind fits no client.
json draw_fault(Drawer& d, const Scenario& s, const std::string& kind, int64_t at_ms,
                std::vector<std::string>& core_now) {
  const auto& ctx = d.ctx();
  const int n = s.clients.count;
  const bool streams = !s.service.streams.empty();
  json f = {{"at_ms", at_ms}, {"kind", kind}};
  // The cores a client may move to (none for other kinds).
  auto targets = [&](int client) {
    std::vector<std::string> out;
    const std::string& now = core_now[static_cast<std::size_t>(client - 1)];
    for (const auto& c : ctx.cores) {
      const bool ok = kind == "upgrade" ? older(now, c) : older(c, now);
      if (ok && (!streams || sdk_of("auto", c, ctx) == "js-1.3.0")) out.push_back(c);
    }
    return out;
  };
  auto fits = [&](int client) {
    if (kind == "upgrade" || kind == "downgrade") return !targets(client).empty();
    if (kind == "switch_mode") {
      const ClientGroup g = group_of(s.clients, client);
      const std::string& now = core_now[static_cast<std::size_t>(client - 1)];
      return sdk_of(now == g.core ? g.sdk : "auto", now, ctx) == "js-1.3.0";
    }
    return true;
  };
  const bool takes_client = kind != "lag" && kind != "stall" && kind != "storm" &&
                            kind != "compact" && kind != "service_restart" &&
                            kind != "sync_config_change";
  if (takes_client) {
    const int start = static_cast<int>(d.range(1, n));
    int client = 0;
    for (int i = 0; i < n && client == 0; ++i) {
      const int c = (start - 1 + i) % n + 1;
      if (fits(c)) client = c;
    }
    if (client == 0) return nullptr;
    f["client"] = client;
    if (kind == "upgrade" || kind == "downgrade") {
      auto t = targets(client);
      f["core"] = t.at(static_cast<std::size_t>(d.range(0, static_cast<int64_t>(t.size()) - 1)));
      core_now[static_cast<std::size_t>(client - 1)] = f["core"].get<std::string>();
    }
  }
  auto length = [&]() -> json {
    const std::string l = d.pick("faults.lag");
    return l == "short"  ? json(d.range(1, 10000))
           : l == "long" ? json(d.range(10000, 120000))
                         : json(nullptr);
  };
  auto down = [&] {
    const int64_t retention_ms = s.service.checkpoint_request_retention_minutes * 60000;
    const bool absence = d.pick("faults.down") == "absence" && retention_ms < 600000;
    f["down_ms"] = absence ? d.range(retention_ms + 1, 600000) : d.range(0, 5000);
  };
  if (kind == "lag") {
    f["lag_ms"] = d.range(0, 1) ? d.range(0, 5000) : d.range(5000, 300000);
    f["duration_ms"] = length();
  } else if (kind == "stall") {
    f["duration_ms"] = length();
  } else if (kind == "storm") {
    f["fraction_pct"] = d.range(1, 100);
  } else if (kind == "request_lost") {
    f["lost"] = d.percent(50) ? "request" : "response";
    f["route"] = std::vector<std::string>{"checkpoint", "upload", "any"}.at(
        static_cast<std::size_t>(d.range(0, 2)));
    f["count"] = d.range(1, 3);
  } else if (kind == "service_restart") {
    f["down_ms"] = d.range(0, 30000);
    if (d.pick("faults.restart_role") == "replication") f["role"] = "replication";
  } else if (kind == "foreign_request") {
    f["request_id"] = json::parse(d.pick("faults.request_id"));
  } else if (takes_client && kind != "disconnect" && kind != "delete_request") {
    down();  // lifecycle kinds, disconnect_client, disconnect_and_clear
  }
  if (d.pick("faults.trigger") == "event") {
    json on = {{"event", trigger_events().at(static_cast<std::size_t>(
                             d.range(0, static_cast<int64_t>(trigger_events().size()) - 1)))},
               {"nth", d.range(1, 3)}};
    const int64_t who = d.range(0, n);
    on["client"] = who == 0 ? json(nullptr) : json(who);
    f["on"] = on;
  } else if (kind == "kill" || kind == "power_loss") {
    f["when"] = d.pick("faults.kill_when");
  }
  return f;
}

void draw_faults(Drawer& d, const Scenario& s, const json& world, json& faults) {
  struct Planned {
    int64_t at_ms;
    std::string kind;
  };
  std::vector<Planned> planned;
  for (const auto& [cls, kinds] : world_fault_classes()) {
    if (cls == "workload" || cls == "line") continue;  // draw_extras, on its own stream
    const auto [lo, hi] = fault_count_range(world, cls);
    const int64_t count = d.count(cls, lo, hi);
    for (int64_t i = 0; i < count; ++i) {
      const std::string kind = d.pick("faults.kind", kinds);
      if (kind.empty()) break;  // every kind of the class weighs 0
      planned.push_back({d.range(0, s.duration_s * 1000), kind});
    }
  }
  // In time order, so that upgrade/downgrade/switch_mode see the core the client runs then
  // (the loader judges switch_mode the same way).
  std::stable_sort(planned.begin(), planned.end(),
                   [](const Planned& a, const Planned& b) { return a.at_ms < b.at_ms; });
  std::vector<std::string> core_now;
  for (int c = 1; c <= s.clients.count; ++c) core_now.push_back(group_of(s.clients, c).core);
  for (const auto& p : planned) {
    json f = draw_fault(d, s, p.kind, p.at_ms, core_now);
    if (!f.is_null()) faults.push_back(std::move(f));
  }
}

std::optional<int64_t> draw_absence(Drawer& d, Scenario& s, json& faults, json& params);

// The draws added after the first world swarm (quiet phases, requests without writes,
// switch_user back, long absences), from their own stream so earlier draws stay.
// Per-message jitter (docs/findings-world.md W27): without it clients on equal cadences reach the
// service in the same microsecond every round, a lockstep no real network keeps.
void draw_network_jitter(Drawer& d, Scenario& s, json& params) {
  s.network.jitter_ms = d.pick("network.jitter") == "some" ? d.range(1, 20) : 0;
  params["network.jitter_ms"] = s.network.jitter_ms;
}

void draw_extras(Drawer& d, Scenario& s, const json& world, json& faults, json& params) {
  auto& w = s.workload;
  if (d.pick("workload.request_interval") == "fixed") w.request_interval_ms = d.range(2000, 60000);
  params["workload.request_interval_ms"] = w.request_interval_ms;
  const int n = s.clients.count;
  const int64_t end_ms = s.duration_s * 1000;
  const auto [lo, hi] = fault_count_range(world, "workload");
  const int64_t quiet = d.count("workload", lo, hi);
  for (int64_t i = 0; i < quiet; ++i) {
    if (d.pick("faults.kind", {"quiet"}).empty()) break;
    json f = {{"at_ms", d.range(0, end_ms)}, {"kind", "quiet"}, {"client", d.range(1, n)}};
    const std::string len = d.pick("faults.quiet");
    f["duration_ms"] = len == "short"  ? json(d.range(5000, 60000))
                       : len == "long" ? json(d.range(60000, 300000))
                                       : json(nullptr);
    faults.push_back(std::move(f));
  }
  for (auto& f : faults) {
    if (f["kind"] == "switch_user") {
      const std::string to = d.pick("faults.switch_user");
      if (to != "new") f["user"] = to;
    }
  }
  const auto [line_lo, line_hi] = fault_count_range(world, "line");
  const int64_t lines = d.count("line", line_lo, line_hi);
  for (int64_t i = 0; i < lines; ++i) {
    if (d.pick("faults.kind", {"line_fault"}).empty()) break;
    faults.push_back({{"at_ms", d.range(0, end_ms)},
                      {"kind", "line_fault"},
                      {"client", d.range(1, n)},
                      {"line", d.pick("faults.line")}});
  }
  const std::optional<int64_t> away_at = draw_absence(d, s, faults, params);
  // Last on this stream, so the draws above stay as they were: an id beyond 2^53 may be sent
  // as a string, the form a real installation's bigint takes (the catalog's near-max-id).
  for (auto& f : faults) {
    if (f["kind"] != "foreign_request" || !f["request_id"].is_number_unsigned() ||
        f["request_id"].get<uint64_t>() <= 9007199254740991ULL) {
      continue;
    }
    if (d.pick("faults.request_id_form") == "string") {
      f["request_id"] = std::to_string(f["request_id"].get<uint64_t>());
    }
  }
  // A record left pending past retention: replication stalls (until heal) from just before
  // the absence, so the absent client's last request stays pending while nobody reposts
  // it, and the compact job while away finds it older than the cutoff (mongo must keep it;
  // mutant cleanup-deletes-pending).
  if (away_at && d.pick("faults.absence_stall") == "stall" &&
      !d.pick("faults.kind", {"stall"}).empty()) {
    faults.push_back({{"at_ms", std::max<int64_t>(0, *away_at - d.range(0, 5000))},
                      {"kind", "stall"},
                      {"duration_ms", nullptr}});
  }
}

// A long absence: one client offline or down longer than retention, a compact while away.
// The run is lengthened to hold that compact job when it falls after the drawn end: an
// absence is drawn for what happens while the client is away, and it could otherwise only
// overlap a long run (retention is at least a minute).  Returns when the client went away
// if the compact job is drawn.
std::optional<int64_t> draw_absence(Drawer& d, Scenario& s, json& faults, json& params) {
  const int n = s.clients.count;
  const int64_t end_ms = s.duration_s * 1000;
  const int64_t retention_ms = s.service.checkpoint_request_retention_minutes * 60000;
  // The absence's kinds as the file weighs them (weight 0 excludes them here too).
  if (d.pick("faults.absence") == "one" && retention_ms + 1000 < 600000) {
    const std::string kind = d.pick("faults.kind", {"disconnect_client", "restart"});
    if (kind.empty()) return std::nullopt;
    const int64_t at = d.range(0, end_ms / 2);
    const int64_t down = d.range(retention_ms + 1000, 600000);
    faults.push_back({{"at_ms", at}, {"kind", kind}, {"client", d.range(1, n)}, {"down_ms", down}});
    // A compact job after the retention cutoff, while the client is away (if in the run).
    // Soon after the cutoff (within a minute): any time after it shows the same, and an
    // early job keeps the lengthened run short.
    const int64_t compact_at =
        at + retention_ms + d.range(1, std::min<int64_t>(down - retention_ms, 60000));
    if (!d.pick("faults.kind", {"compact"}).empty()) {
      faults.push_back({{"at_ms", compact_at}, {"kind", "compact"}});
      if (compact_at > end_ms) {
        s.duration_s = compact_at / 1000 + 1;
        params["duration_s"] = s.duration_s;
      }
      return at;
    }
  }
  return std::nullopt;
}

// `pins` (written by syncsim hunt --guided): {"<seed>": {"<dimension>": [class, ...],
// "count.<fault class>": [n]}}.
void pin_problems(const json& pins, const std::vector<WorldDimension>& dims,
                  std::vector<std::pair<std::string, std::string>>& out) {
  if (!pins.is_object()) {
    out.emplace_back("pins", pins.dump() + " must be an object: seed -> {dimension: [class, ...]}");
    return;
  }
  for (const auto& [seed, keys] : pins.items()) {
    const std::string path = "pins." + seed;
    if (seed.empty() || seed.size() > 19 ||
        !std::all_of(seed.begin(), seed.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      out.emplace_back(path, "unknown seed; allowed: a decimal seed number");
      continue;
    }
    if (!keys.is_object()) {
      out.emplace_back(path, keys.dump() + " must be an object {dimension: [class, ...]}");
      continue;
    }
    for (const auto& [key, list] : keys.items()) {
      const std::string at = path + "." + key;
      if (!list.is_array() || list.size() > 64) {
        out.emplace_back(at, list.dump() + " must be an array of at most 64 picks");
        continue;
      }
      if (key.starts_with("count.")) {
        const std::string cls = key.substr(6);
        const bool known = std::any_of(world_fault_classes().begin(), world_fault_classes().end(),
                                       [&cls](const auto& c) { return c.first == cls; });
        const bool counts = std::all_of(list.begin(), list.end(), [](const json& n) {
          return n.is_number_integer() && n.get<int64_t>() >= 0 && n.get<int64_t>() <= 20;
        });
        if (!known) {
          out.emplace_back(at,
                           "unknown fault class; allowed: service, network, lifecycle, "
                           "records, workload, line");
        } else if (!counts) {
          out.emplace_back(at, list.dump() + " must be an array of counts within 0..20");
        }
        continue;
      }
      auto dim = std::find_if(dims.begin(), dims.end(),
                              [&key = key](const WorldDimension& d) { return d.key == key; });
      if (dim == dims.end()) {
        out.emplace_back(at, "unknown dimension; allowed: a weights dimension or count.<class>");
        continue;
      }
      for (const auto& cls : list) {
        const bool known =
            cls.is_string() && std::any_of(dim->classes.begin(), dim->classes.end(),
                                           [&cls](const auto& c) { return c.first == cls; });
        if (!known) {
          out.emplace_back(at, cls.dump() + " is not a class of " + key);
          break;
        }
      }
    }
  }
}

// Issue 17's service dimensions, from their own stream so earlier draws stay.
void draw_service_flavours(Drawer& d, Scenario& s, json& faults, json& params) {
  auto& sv = s.service;
  sv.source = d.pick("service.source");
  sv.snapshot_ms = d.pick("service.snapshot") == "short" ? d.range(0, 2000) : d.range(5000, 60000);
  const std::string mode = d.pick("service.write_checkpoint_mode");
  bool custom_ok = every_group_runs(s, d.ctx(), "js-1.3.0");
  for (const auto& g : s.clients.fleet) custom_ok = custom_ok && g.checkpoint_mode == "legacy";
  for (const auto& f : faults) {
    const std::string kind = f.value("kind", "");
    custom_ok = custom_ok && kind != "switch_mode" && kind != "upgrade" && kind != "downgrade";
  }
  if (mode == "custom" && custom_ok) {
    sv.write_checkpoint_mode = "custom";
    s.clients.fixed_quirks = {"custom-checkpoint-inverted"};
  }
  // Both picks stay on the stream for every flavour (later draws keep their values), but only
  // mongo takes them: postgres's primary key on user_id never lets an upsert duplicate, and
  // its page read is one SELECT, one snapshot (the loader refuses both there,
  // docs/protocol.md §3.1.6, §3.3.4).
  const std::string duplicate_window = d.pick("service.duplicate_window");
  if (s.service.flavour == "mongo") sv.duplicate_window = duplicate_window;
  // Appended last on this stream (issue 17, model7), so every earlier draw keeps its value.
  const std::string compaction_reads = d.pick("service.compaction_reads");
  if (s.service.flavour == "mongo") sv.compaction_reads = compaction_reads;
  // The pick stays on the stream for every flavour (later draws keep their values), but only
  // mongo takes it: postgres answers with RETURNING and the loader refuses "separate" there
  // (docs/protocol.md §3.1.5 "Read-back round trip").
  const std::string read_back_step = d.pick("service.read_back_step");
  if (s.service.flavour == "mongo") sv.read_back_step = read_back_step;
  // Appended last (issue 14, hunt8): a slow page fetch makes a compact job within one
  // likely, the torn read the mutant torn-read-skips-op needs; the 1 ms default left a
  // coincidence the world did not reach in 2000 seeds.
  sv.fetch_latency_ms = d.pick("service.fetch_latency") == "fast" ? 1 : d.range(100, 1000);
  // Appended last (issue 17, model8): v3 checksum documents are mongo storage's
  // (MongoChecksumsV3, docs/protocol.md §3.3.4), so postgres draws keep the atomic reads.
  const std::string checksum_reads = d.pick("service.checksum_reads");
  if (s.service.flavour == "mongo") sv.checksum_reads = checksum_reads;
  // Appended last (issue 17, model9): the user's other devices, just over the mongo change
  // feed's 1000 records, post with the seed's foreign_request, so the window that processes
  // them falls back to the head-based lookup (docs/protocol.md §3.1.9 "Change feed").  Added
  // to a drawn foreign_request, not a new one: a new one would also post on the client's own
  // key, the cloned-installation findings' cause.  Small: every device is a request and a
  // record, the costliest fault the world draws.  Mongo and managed mode only (postgres has
  // no change feed; custom mode refuses the route).
  if (d.pick("faults.devices") == "over_limit" && s.service.flavour == "mongo" &&
      sv.write_checkpoint_mode == "managed") {
    for (auto& f : faults) {
      if (f["kind"] != "foreign_request") continue;
      f["devices"] = d.range(1001, 1020);
      break;
    }
  }
  params["service.source"] = sv.source;
  params["service.snapshot_ms"] = sv.snapshot_ms;
  params["service.write_checkpoint_mode"] = sv.write_checkpoint_mode;
  params["service.duplicate_window"] = sv.duplicate_window;
  params["service.compaction_reads"] = sv.compaction_reads;
  params["service.read_back_step"] = sv.read_back_step;
  params["service.fetch_latency_ms"] = sv.fetch_latency_ms;
  params["service.checksum_reads"] = sv.checksum_reads;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> world_spec_problems(const json& world,
                                                                     const ValidationContext& ctx) {
  std::vector<std::pair<std::string, std::string>> out;
  if (!world.is_object()) {
    out.emplace_back("", world.dump() +
                             " must be an object {\"weights\": {...}, "
                             "\"fault_counts\": {...}}");
    return out;
  }
  for (const auto& [key, v] : world.items()) {
    if (key != "weights" && key != "fault_counts" && key != "pins") {
      out.emplace_back(key, "unknown field; allowed: weights, fault_counts, pins");
    }
  }
  const auto dims = world_dimensions(ctx);
  if (world.contains("pins")) pin_problems(world["pins"], dims, out);
  if (world.contains("weights")) {
    const auto& w = world["weights"];
    if (!w.is_object()) {
      out.emplace_back("weights", w.dump() + " must be an object: dimension -> {class: weight}");
    } else {
      // Init-captures below: clang 14 (the libFuzzer build) cannot capture a structured binding.
      for (const auto& [key, classes] : w.items()) {
        auto dim = std::find_if(dims.begin(), dims.end(),
                                [&key = key](const WorldDimension& d) { return d.key == key; });
        if (dim == dims.end()) {
          std::string names;
          for (const auto& d : dims) names += (names.empty() ? "" : ", ") + d.key;
          out.emplace_back("weights." + key, "unknown dimension; allowed: " + names);
          continue;
        }
        std::string allowed;
        for (const auto& [cls, dflt] : dim->classes) allowed += (allowed.empty() ? "" : ", ") + cls;
        if (!classes.is_object()) {
          out.emplace_back("weights." + key, classes.dump() +
                                                 " must be an object {class: weight}; "
                                                 "classes: " +
                                                 allowed);
          continue;
        }
        int64_t total = 0;
        for (const auto& [cls, weight] : classes.items()) {
          const bool known = std::any_of(dim->classes.begin(), dim->classes.end(),
                                         [&cls = cls](const auto& c) { return c.first == cls; });
          if (!known) {
            out.emplace_back("weights." + key + "." + cls, "unknown class; allowed: " + allowed);
          } else if (!weight.is_number_integer() || weight.get<int64_t>() < 0 ||
                     weight.get<int64_t>() > 1000) {
            out.emplace_back("weights." + key + "." + cls,
                             weight.dump() + " must be an integer weight within 0..1000");
          } else {
            total += weight.get<int64_t>();
          }
        }
        if (total == 0 && key != "faults.kind") {
          out.emplace_back("weights." + key, "every class weighs 0; allowed: at least one > 0");
        }
      }
    }
  }
  if (world.contains("fault_counts")) {
    const auto& fc = world["fault_counts"];
    if (!fc.is_object()) {
      out.emplace_back("fault_counts", fc.dump() + " must be an object {class: [min, max]}");
    } else {
      for (const auto& [cls, r] : fc.items()) {
        const bool known = std::any_of(world_fault_classes().begin(), world_fault_classes().end(),
                                       [&cls = cls](const auto& c) { return c.first == cls; });
        if (!known) {
          out.emplace_back("fault_counts." + cls,
                           "unknown fault class; allowed: service, network, lifecycle, records, "
                           "workload, line");
        } else if (!r.is_array() || r.size() != 2 || !r[0].is_number_integer() ||
                   !r[1].is_number_integer() || r[0].get<int64_t>() < 0 ||
                   r[1].get<int64_t>() > 20 || r[0].get<int64_t>() > r[1].get<int64_t>()) {
          out.emplace_back("fault_counts." + cls,
                           r.dump() + " must be [min, max] with 0 <= min <= max <= 20");
        }
      }
    }
  }
  return out;
}

json world_weights(const json& world, const ValidationContext& ctx) {
  json out = json::object();
  for (const auto& d : world_dimensions(ctx)) {
    json classes = json::object();
    for (const auto& [cls, dflt] : d.classes) classes[cls] = weight_of(world, d, cls, dflt);
    out[d.key] = std::move(classes);
  }
  return out;
}

WorldPicks world_picks(const Scenario& base, uint64_t seed, const ValidationContext& ctx) {
  if (!base.swarm || !base.swarm->world) {
    throw std::invalid_argument("scenario " + base.name + " has no swarm.world section");
  }
  // The same PRNG split as draw_swarm, so the picks are those of the drawn scenario.
  sim::Prng rng = sim::Prng(seed).split("swarm");
  Scenario s = base;
  s.swarm.reset();
  json faults = json::array();
  json params = json::object();
  WorldPicks picks;
  draw_world(s, faults, params, *base.swarm->world, seed, rng, ctx, &picks);
  return picks;
}

void draw_world(Scenario& s, json& faults, json& params, const json& world, uint64_t seed,
                sim::Prng& rng, const ValidationContext& ctx, WorldPicks* picks) {
  Pins pins;
  if (const auto all = world.find("pins"); all != world.end()) {
    if (const auto mine = all->find(std::to_string(seed)); mine != all->end()) {
      pins.pins = &*mine;
      // Printed like every draw: this seed is a guided child that keeps these picks.
      std::vector<std::string> kept;
      for (const auto& [key, v] : mine->items()) kept.push_back(key);
      params["guided.pinned"] = kept;
    }
  }
  Drawer d(world, rng, ctx, picks, pins);
  draw_fleet(d, s, params);
  draw_service(d, s, params);
  if (every_group_runs(s, ctx, "js-real")) {
    // On its own stream, and "some" weighs 0 in world.json: a seed that draws no streams here
    // draws everything else as before the dimension existed (world.json's seeds all of it).
    sim::Prng js_real_streams = rng.split("world-js-real-streams");
    Drawer js(world, js_real_streams, ctx, picks, pins);
    if (js.pick("service.streams_js_real") == "some") draw_streams(js, s, params);
    params["service.streams"] = s.service.streams.size();
  }
  draw_workload(d, s, params);
  draw_faults(d, s, world, faults);
  sim::Prng extra = rng.split("world-extras");
  Drawer e(world, extra, ctx, picks, pins);
  draw_extras(e, s, world, faults, params);
  // On its own stream so that every earlier draw of a seed stays what it was.
  sim::Prng network = rng.split("world-network");
  Drawer net(world, network, ctx, picks, pins);
  draw_network_jitter(net, s, params);
  sim::Prng issue17 = rng.split("world-issue17");
  Drawer i17(world, issue17, ctx, picks, pins);
  draw_service_flavours(i17, s, faults, params);
  params["faults"] = faults;
  if (s.service.flavour == "postgres") {
    // Postgres re-reads the record on every notification, so a deleted and re-seeded
    // record lowers the emitted id by design (docs/protocol.md §3.1.9; world_exclusions()).
    // An exemption, not an edit of `invariants`: a list restricted to applied-id-monotonic
    // alone then checks nothing (an emptied list would check every invariant).
    if (std::find(s.exempt_invariants.begin(), s.exempt_invariants.end(), "applied-id-monotonic") ==
        s.exempt_invariants.end()) {
      s.exempt_invariants.emplace_back("applied-id-monotonic");
    }
  }
}

}  // namespace syncsim::scenarios
