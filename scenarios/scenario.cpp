#include "scenarios/scenario.hpp"

#include "model/line_fault.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <system_error>
#include <utility>

#include "scenarios/explore/swarm.hpp"
#include "scenarios/explore/world_swarm.hpp"
#include "scenarios/metric_names.hpp"
#include "util/bounded_input.hpp"

namespace syncsim::scenarios {
namespace {

using nlohmann::json;

constexpr int kFormat = 1;
constexpr int kMaxClients = 64;
constexpr int64_t kMaxDurationS = 86400;

std::string join(const std::vector<std::string>& items) {
  if (items.empty()) return "(none)";
  std::string out;
  for (const std::string& item : items) {
    if (!out.empty()) out += ", ";
    out += item;
  }
  return out;
}

bool contains(const std::vector<std::string>& items, const std::string& item) {
  return std::find(items.begin(), items.end(), item) != items.end();
}

// A value as it appears in the file; long values are cut so that a problem stays one line.
std::string show(const json& v) {
  constexpr size_t kMaxShown = 60;
  std::string s = v.dump(-1, ' ', false, json::error_handler_t::replace);
  if (s.size() > kMaxShown) s = s.substr(0, kMaxShown - 3) + "...";
  return s;
}

std::string child_path(const std::string& parent, const std::string& key) {
  return parent.empty() ? key : parent + "." + key;
}

std::string element_path(const std::string& parent, size_t index) {
  return parent + "[" + std::to_string(index) + "]";
}

// Collects every problem of one source.  Also remembers which fields were bad, so that a check
// depending on another field (fault client vs clients.count) can fall back to the static limit
// instead of piling follow-on errors onto the real one.
class Problems {
 public:
  // `path` names the field; "" for the top level.
  void add(const std::string& path, const std::string& message) {
    add_line(path, path.empty() ? message : path + ": " + message);
  }
  // For messages that name the field themselves ("unknown field `x`").
  void add_line(const std::string& path, const std::string& line) {
    lines_.push_back(line);
    bad_.insert(path);
  }
  // True if `path` or an object enclosing it was reported.
  [[nodiscard]] bool bad(const std::string& path) const {
    return std::any_of(bad_.begin(), bad_.end(), [&](const std::string& b) {
      return path == b || path.starts_with(b + ".") || path.starts_with(b + "[");
    });
  }
  [[nodiscard]] bool empty() const { return lines_.empty(); }
  [[nodiscard]] std::vector<std::string> prefixed(const std::string& source) const {
    std::vector<std::string> out;
    for (const std::string& line : lines_) out.push_back(source + ": " + line);
    return out;
  }

 private:
  std::vector<std::string> lines_;
  std::set<std::string> bad_;
};

// An inclusive integer range; `why` says where a bound comes from, e.g. "clients.count".
struct Range {
  int64_t lo;
  int64_t hi;
  std::string why;

  [[nodiscard]] std::string text() const {
    std::string t = std::to_string(lo) + ".." + std::to_string(hi);
    return why.empty() ? t : t + " (" + why + ")";
  }
};

std::optional<int64_t> to_int(const json& v, const std::string& path, const Range& r, Problems& p) {
  if (!v.is_number_integer()) {
    p.add(path, show(v) + " must be an integer; allowed: " + r.text());
    return std::nullopt;
  }
  const bool fits_int64 =
      !v.is_number_unsigned() ||
      v.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  if (fits_int64) {
    const auto x = v.get<int64_t>();
    if (x >= r.lo && x <= r.hi) return x;
  }
  p.add(path, show(v) + " is out of range; allowed: " + r.text());
  return std::nullopt;
}

std::optional<std::string> to_choice(const json& v, const std::string& path,
                                     const std::vector<std::string>& allowed, Problems& p) {
  if (!v.is_string()) {
    p.add(path, show(v) + " must be a string; allowed: " + join(allowed));
    return std::nullopt;
  }
  const auto s = v.get<std::string>();
  if (contains(allowed, s)) return s;
  p.add(path, show(v) + " is not allowed; allowed: " + join(allowed));
  return std::nullopt;
}

// Reads the fields of one JSON object.  Absent fields keep their defaults; bad fields are
// reported and also keep their defaults (the scenario is thrown away anyway).
class Fields {
 public:
  Fields(const json& obj, std::string path, Problems& p)
      : obj_(obj), path_(std::move(path)), p_(p) {}

  [[nodiscard]] const json* find(const std::string& key) const {
    const auto it = obj_.find(key);
    return it == obj_.end() ? nullptr : &*it;
  }
  [[nodiscard]] std::string path(const std::string& key) const { return child_path(path_, key); }
  [[nodiscard]] Problems& problems() const { return p_; }

  // `qualifier` narrows the allowed list, e.g. "for kind lag".  `misplaced` says why a field
  // that is known elsewhere is not allowed here, e.g. "is not used by kind lag (only by
  // disconnect)"; it returns "" for a field that is simply unknown.
  void reject_unknown(const std::vector<std::string>& allowed, const std::string& qualifier = "",
                      const std::function<std::string(const std::string&)>& misplaced = {}) const {
    const std::string allowed_text =
        "; allowed" + (qualifier.empty() ? "" : " " + qualifier) + ": " + join(allowed);
    for (const auto& [key, value] : obj_.items()) {
      if (contains(allowed, key)) continue;
      const std::string why = misplaced ? misplaced(key) : "";
      std::string line = why.empty() ? "unknown field `" : "field `";
      line += path(key);
      line += why.empty() ? "`" : "` " + why;
      p_.add_line(path(key), line + allowed_text);
    }
  }

  template <typename T>
  void integer(const std::string& key, const Range& r, T& out) const {
    if (const json* v = find(key)) set(to_int(*v, path(key), r, p_), out);
  }
  template <typename T>
  void required_integer(const std::string& key, const Range& r, T& out) const {
    if (find(key) == nullptr) missing(key, r.text());
    integer(key, r, out);
  }
  // Absent or JSON null leaves `out` empty; `r.why` should say what null means.
  void nullable_integer(const std::string& key, const Range& r, std::optional<int64_t>& out) const {
    const json* v = find(key);
    if (v == nullptr || v->is_null()) return;
    out = to_int(*v, path(key), r, p_);
  }

  void string(const std::string& key, std::string& out) const {
    const json* v = find(key);
    if (v == nullptr) return;
    if (v->is_string()) {
      out = v->get<std::string>();
    } else {
      p_.add(path(key), show(*v) + " must be a string");
    }
  }

  void choice(const std::string& key, const std::vector<std::string>& allowed,
              std::string& out) const {
    if (const json* v = find(key)) set(to_choice(*v, path(key), allowed, p_), out);
  }
  void required_choice(const std::string& key, const std::vector<std::string>& allowed,
                       std::string& out) const {
    if (find(key) == nullptr) missing(key, join(allowed));
    choice(key, allowed, out);
  }

  void missing(const std::string& key, const std::string& allowed) const {
    p_.add_line(path(key), "missing required field `" + path(key) + "`; allowed: " + allowed);
  }

 private:
  template <typename T, typename U>
  static void set(const std::optional<U>& value, T& out) {
    if (value) out = static_cast<T>(*value);
  }

  const json& obj_;
  std::string path_;
  Problems& p_;
};

// A nested object such as `clients`; nullopt when absent (defaults) or not an object.
std::optional<Fields> section(const Fields& top, const std::string& key) {
  const json* v = top.find(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_object()) {
    top.problems().add(key, show(*v) + " must be an object");
    return std::nullopt;
  }
  return Fields(*v, key, top.problems());
}

std::vector<std::string> parse_id_list(const Fields& top, const std::string& key,
                                       const std::vector<std::string>& known,
                                       const std::string& what);

const std::vector<std::string>& sdk_names() {
  static const std::vector<std::string> names = {"auto", "js-1.3.0", "js-legacy", "js-real"};
  return names;
}

// The SDK/core/mode pairings the SDKs allow (docs/protocol.md §2.1.1 step 2, §2.5 item 7); `path` is the
// object holding the group's fields.  Skipped when one of the fields was already bad.
void check_pairing(const ClientGroup& g, const std::string& path, const ValidationContext& ctx,
                   Problems& p) {
  for (const char* key : {"core", "checkpoint_mode", "sdk"}) {
    if (p.bad(child_path(path, key))) return;
  }
  const std::string sdk = resolved_sdk(g.sdk, g.core, ctx.core_sdks);
  const auto native = ctx.core_sdks.find(g.core);
  if (sdk == "js-legacy" && g.checkpoint_mode != "legacy") {
    p.add(child_path(path, "checkpoint_mode"),
          "\"" + g.checkpoint_mode + "\" is not allowed with the js-legacy SDK (core " + g.core +
              "); allowed: \"legacy\" (old SDKs have no checkpoint requests, docs/protocol.md §2.5)");
  }
  if ((sdk == "js-1.3.0" || sdk == "js-real") && native != ctx.core_sdks.end() &&
      native->second != "js-1.3.0") {
    p.add(child_path(path, "sdk"), "\"" + sdk + "\" cannot drive core " + g.core +
                                       " (SDK 1.3.0 refuses cores below 0.5.2, docs/protocol.md §2.1.1); "
                                       "allowed: \"auto\", \"js-legacy\"");
  }
}

ClientGroup parse_group(const Fields& f, const ValidationContext& ctx) {
  f.reject_unknown({"count", "core", "checkpoint_mode", "sdk"});
  ClientGroup g;
  f.integer("count", {1, kMaxClients, ""}, g.count);
  f.choice("core", ctx.cores, g.core);
  f.choice("checkpoint_mode", {"requests", "legacy"}, g.checkpoint_mode);
  f.choice("sdk", sdk_names(), g.sdk);
  return g;
}

std::vector<ClientGroup> parse_fleet(const Fields& f, const ValidationContext& ctx) {
  std::vector<ClientGroup> fleet;
  Problems& p = f.problems();
  const std::string path = f.path("fleet");
  const json* v = f.find("fleet");
  if (!v->is_array() || v->empty()) {
    p.add(path, show(*v) + " must be a non-empty array of {count, core, checkpoint_mode, sdk}");
    return fleet;
  }
  int total = 0;
  for (size_t i = 0; i < v->size(); ++i) {
    const std::string item = element_path(path, i);
    if (!(*v)[i].is_object()) {
      p.add(item, show((*v)[i]) + " must be an object with count, core, checkpoint_mode, sdk");
      continue;
    }
    fleet.push_back(parse_group(Fields((*v)[i], item, p), ctx));
    check_pairing(fleet.back(), item, ctx, p);
    total += fleet.back().count;
  }
  if (total > kMaxClients) {
    p.add(path, "the groups have " + std::to_string(total) + " clients; allowed: at most " +
                    std::to_string(kMaxClients) + " in all");
  }
  return fleet;
}

ClientsSpec parse_clients(const Fields& f, const ValidationContext& ctx) {
  f.reject_unknown({"count", "core", "checkpoint_mode", "retry_delay_ms", "crud_upload_throttle_ms",
                    "repost_delay_ms", "stream_encoding", "sdk", "fleet", "post_checkpoint_request",
                    "fixed_quirks"});
  ClientsSpec c;
  if (f.find("fleet") != nullptr) {
    for (const char* key : {"count", "core", "checkpoint_mode", "sdk"}) {
      if (f.find(key) != nullptr) {
        f.problems().add(f.path(key), "is not allowed together with clients.fleet; set it per "
                                      "group in clients.fleet");
      }
    }
    c.fleet = parse_fleet(f, ctx);
    if (!c.fleet.empty()) {
      c.count = 0;
      for (const auto& g : c.fleet) c.count += g.count;
      c.core = c.fleet.front().core;
      c.checkpoint_mode = c.fleet.front().checkpoint_mode;
      c.sdk = c.fleet.front().sdk;
    }
  } else {
    f.integer("count", {1, kMaxClients, ""}, c.count);
    f.choice("core", ctx.cores, c.core);
    f.choice("checkpoint_mode", {"requests", "legacy"}, c.checkpoint_mode);
    f.choice("sdk", sdk_names(), c.sdk);
    check_pairing(client_groups(c).front(), "clients", ctx, f.problems());
  }
  f.integer("retry_delay_ms", {1, 600000, ""}, c.retry_delay_ms);
  f.integer("crud_upload_throttle_ms", {0, 600000, ""}, c.crud_upload_throttle_ms);
  f.integer("repost_delay_ms", {10000, 600000, "the SDK clamps it to at least 10 s"},
            c.repost_delay_ms);
  f.choice("stream_encoding", {"json", "bson"}, c.stream_encoding);
  f.choice("post_checkpoint_request", {"service", "backend"}, c.post_checkpoint_request);
  c.fixed_quirks = parse_id_list(f, "fixed_quirks", ctx.quirks, "quirk");
  return c;
}

// service.streams (issue 7): [{"name", "default", "priority", "parameterised"}, ...].
std::vector<StreamSpec> parse_streams(const Fields& f) {
  std::vector<StreamSpec> out;
  const json* v = f.find("streams");
  if (v == nullptr) return out;
  Problems& p = f.problems();
  const std::string path = f.path("streams");
  if (!v->is_array() || v->size() > 8) {
    p.add(path, show(*v) +
                    " must be an array of at most 8 {name, default, priority, "
                    "parameterised}");
    return out;
  }
  for (size_t i = 0; i < v->size(); ++i) {
    const std::string item = element_path(path, i);
    if (!(*v)[i].is_object()) {
      p.add(item, show((*v)[i]) + " must be an object with name, default, priority, parameterised");
      continue;
    }
    Fields g((*v)[i], item, p);
    g.reject_unknown({"name", "default", "priority", "parameterised"});
    StreamSpec st;
    if (g.find("name") == nullptr) g.missing("name", "a stream name");
    g.string("name", st.name);
    const bool name_ok = !st.name.empty() && st.name.size() <= 40 &&
                         std::all_of(st.name.begin(), st.name.end(), [](char ch) {
                           return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_';
                         });
    if (g.find("name") != nullptr && !name_ok) {
      p.add(g.path("name"), show(st.name) + " must be 1..40 characters of [a-z0-9_]");
    }
    if (st.name == "global" || st.name == "notes") {
      p.add(g.path("name"), show(st.name) + " is taken by a default stream of the world");
    }
    for (const auto& other : out) {
      if (other.name == st.name) p.add(g.path("name"), show(st.name) + " is defined twice");
    }
    for (const char* key : {"default", "parameterised"}) {
      if (const json* b = g.find(key)) {
        if (!b->is_boolean()) p.add(g.path(key), show(*b) + " must be true or false");
      }
    }
    if (const json* b = g.find("default"); b && b->is_boolean()) st.is_default = b->get<bool>();
    st.parameterised = !st.is_default;
    if (const json* b = g.find("parameterised"); b && b->is_boolean()) {
      st.parameterised = b->get<bool>();
    }
    if (st.is_default && st.parameterised) {
      p.add(g.path("parameterised"), "a default stream takes no parameters");
    }
    g.integer("priority", {0, 3, "lower number = higher priority"}, st.priority);
    out.push_back(std::move(st));
  }
  return out;
}

ServiceSpec parse_service(const Fields& f) {
  f.reject_unknown({"flavour", "source", "head", "replication_lag_ms", "heartbeat_ms", "token_lifetime_s",
                    "write_checkpoint_mode", "checkpoint_request_retention_minutes",
                    "compact_interval_s", "batch_latency_max_ms", "todos_priority",
                    "notes_priority", "streams", "api_processes", "duplicate_window",
                    "max_concurrent_streams", "batch_failure_pct", "batch_failure",
                    "compaction_invalidation"});
  ServiceSpec s;
  f.choice("flavour", {"mongo", "postgres"}, s.flavour);
  f.choice("source", {"postgres", "mongodb", "mysql"}, s.source);
  f.choice("head", {"source", "last-commit"}, s.head);
  f.integer("replication_lag_ms", {0, 3600000, ""}, s.replication_lag_ms);
  f.integer("heartbeat_ms", {5000, 60000, "the service accepts 5..60 s"}, s.heartbeat_ms);
  f.integer("token_lifetime_s", {60, 31536000, ""}, s.token_lifetime_s);
  f.choice("write_checkpoint_mode", {"managed", "custom"}, s.write_checkpoint_mode);
  f.integer("checkpoint_request_retention_minutes", {1, 525600, ""},
            s.checkpoint_request_retention_minutes);
  f.integer("compact_interval_s", {0, 86400, "0 = no scheduled compact job"}, s.compact_interval_s);
  f.integer("batch_latency_max_ms", {0, 60000, ""}, s.batch_latency_max_ms);
  f.integer("api_processes", {1, 16, ""}, s.api_processes);
  f.choice("duplicate_window", {"write", "head-read"}, s.duplicate_window);
  f.integer("max_concurrent_streams", {0, 100000, "0 = unlimited"}, s.max_concurrent_streams);
  f.integer("batch_failure_pct", {0, 100, ""}, s.batch_failure_pct);
  f.choice("batch_failure", {"head_read", "marker", "partial_write", "no_sync_config", "any"},
           s.batch_failure);
  f.choice("compaction_invalidation", {"page", "sticky"}, s.compaction_invalidation);
  const Range priority{0, 3, "lower number = higher priority"};
  f.integer("todos_priority", priority, s.todos_priority);
  f.integer("notes_priority", priority, s.notes_priority);
  s.streams = parse_streams(f);
  return s;
}

NetworkSpec parse_network(const Fields& f) {
  f.reject_unknown({"latency_up_ms", "latency_down_ms"});
  NetworkSpec n;
  f.integer("latency_up_ms", {0, 60000, ""}, n.latency_up_ms);
  f.integer("latency_down_ms", {0, 60000, ""}, n.latency_down_ms);
  return n;
}

WorkloadSpec parse_workload(const Fields& f) {
  f.reject_unknown({"write_interval_min_ms", "write_interval_max_ms", "keyspace", "notes_pct",
                    "delete_pct", "insert_only_pct", "request_checkpoint_pct", "wait_for_sync_pct",
                    "request_interval_ms", "streams"});
  WorkloadSpec w;
  constexpr int64_t kMaxIntervalMs = 3600000;
  f.integer("write_interval_min_ms", {1, kMaxIntervalMs, ""}, w.write_interval_min_ms);
  // Compare with min only when min itself is good, to avoid a follow-on error.
  const Range max_range = f.problems().bad(f.path("write_interval_min_ms"))
                              ? Range{1, kMaxIntervalMs, ""}
                              : Range{w.write_interval_min_ms, kMaxIntervalMs,
                                      "at least workload.write_interval_min_ms"};
  f.integer("write_interval_max_ms", max_range, w.write_interval_max_ms);
  f.integer("keyspace", {1, 100000, ""}, w.keyspace);
  f.integer("notes_pct", {0, 100, ""}, w.notes_pct);
  f.integer("delete_pct", {0, 100, ""}, w.delete_pct);
  f.integer("insert_only_pct", {0, 100, ""}, w.insert_only_pct);
  f.integer("request_checkpoint_pct", {0, 100, ""}, w.request_checkpoint_pct);
  f.integer("wait_for_sync_pct", {0, 100, ""}, w.wait_for_sync_pct);
  f.integer("request_interval_ms", {0, kMaxIntervalMs, "0 = never"}, w.request_interval_ms);
  if (const json* v = f.find("streams")) {
    if (!v->is_object()) {
      f.problems().add(f.path("streams"), show(*v) + " must be an object");
    } else {
      Fields g(*v, f.path("streams"), f.problems());
      g.reject_unknown({"interval_min_ms", "interval_max_ms", "subscribe_pct",
                        "unsubscribe_all_pct", "max_held", "param_values", "ttl_s",
                        "priority_override_pct", "burst_interval_ms", "burst_size",
                        "item_write_pct", "item_keyspace"});
      StreamWorkloadSpec& st = w.streams;
      g.integer("interval_min_ms", {1, kMaxIntervalMs, ""}, st.interval_min_ms);
      const Range smax = g.problems().bad(g.path("interval_min_ms"))
                             ? Range{1, kMaxIntervalMs, ""}
                             : Range{st.interval_min_ms, kMaxIntervalMs,
                                     "at least workload.streams.interval_min_ms"};
      g.integer("interval_max_ms", smax, st.interval_max_ms);
      g.integer("subscribe_pct", {0, 100, ""}, st.subscribe_pct);
      g.integer("unsubscribe_all_pct", {0, 100, ""}, st.unsubscribe_all_pct);
      g.integer("max_held", {1, 100, ""}, st.max_held);
      g.integer("param_values", {1, 1000, ""}, st.param_values);
      g.integer("ttl_s", {0, 31536000, "0 = the core's default"}, st.ttl_s);
      g.integer("priority_override_pct", {0, 100, ""}, st.priority_override_pct);
      g.integer("burst_interval_ms", {0, kMaxIntervalMs, "0 = no bursts"}, st.burst_interval_ms);
      g.integer("burst_size", {1, 100, ""}, st.burst_size);
      g.integer("item_write_pct", {0, 100, ""}, st.item_write_pct);
      g.integer("item_keyspace", {1, 1000, ""}, st.item_keyspace);
    }
  }
  return w;
}

// Bounds of fault fields that depend on other fields of the scenario.
struct FaultLimits {
  Range at_ms;
  Range client;
  std::vector<std::string> cores;
};

FaultLimits fault_limits(const Scenario& s, const Problems& p, const ValidationContext& ctx) {
  FaultLimits lim{{0, s.duration_s * 1000, "duration_s * 1000"},
                  {1, s.clients.count, "clients.count"},
                  ctx.cores};
  if (p.bad("duration_s")) lim.at_ms = {0, kMaxDurationS * 1000, "the largest duration_s * 1000"};
  if (p.bad("clients.count")) lim.client = {1, kMaxClients, "the largest clients.count"};
  return lim;
}

// A field a fault kind can take (besides at_ms and kind): how to read it and how to write it.
struct FaultFieldRule {
  std::string key;
  // Reads the field into the fault; `required` reports it when absent.
  std::function<void(const Fields&, bool required, const FaultLimits&, Fault&)> read;
  std::function<json(const Fault&)> write;
};

template <typename T>
void read_int(const Fields& f, const std::string& key, bool required, const Range& r, T& out) {
  if (required) {
    f.required_integer(key, r, out);
  } else {
    f.integer(key, r, out);
  }
}

void read_choice(const Fields& f, const std::string& key, bool required,
                 const std::vector<std::string>& allowed, std::string& out) {
  if (required) {
    f.required_choice(key, allowed, out);
  } else {
    f.choice(key, allowed, out);
  }
}

const std::vector<FaultFieldRule>& fault_field_rules() {
  static const std::vector<FaultFieldRule> rules = {
      {"lag_ms",
       [](const Fields& f, bool req, const FaultLimits&, Fault& x) {
         read_int(f, "lag_ms", req, {0, 3600000000, ""}, x.lag_ms);
       },
       [](const Fault& x) { return json(x.lag_ms); }},
      {"client",
       [](const Fields& f, bool req, const FaultLimits& lim, Fault& x) {
         read_int(f, "client", req, lim.client, x.client);
       },
       [](const Fault& x) { return json(x.client); }},
      {"duration_ms",
       [](const Fields& f, bool /*req*/, const FaultLimits&, Fault& x) {
         f.nullable_integer("duration_ms", {1, 86400000, "or null: until the quiesce phase"},
                            x.duration_ms);
       },
       [](const Fault& x) { return x.duration_ms ? json(*x.duration_ms) : json(nullptr); }},
      {"fraction_pct",
       [](const Fields& f, bool req, const FaultLimits&, Fault& x) {
         read_int(f, "fraction_pct", req, {1, 100, ""}, x.fraction_pct);
       },
       [](const Fault& x) { return json(x.fraction_pct); }},
      {"lost",
       [](const Fields& f, bool req, const FaultLimits&, Fault& x) {
         read_choice(f, "lost", req, {"request", "response"}, x.lost);
       },
       [](const Fault& x) { return json(x.lost); }},
      {"route",
       [](const Fields& f, bool req, const FaultLimits&, Fault& x) {
         read_choice(f, "route", req, {"checkpoint", "upload", "any"}, x.route);
       },
       [](const Fault& x) { return json(x.route); }},
      {"count",
       [](const Fields& f, bool req, const FaultLimits&, Fault& x) {
         read_int(f, "count", req, {1, 1000, ""}, x.count);
       },
       [](const Fault& x) { return json(x.count); }},
      {"down_ms",
       [](const Fields& f, bool req, const FaultLimits&, Fault& x) {
         read_int(f, "down_ms", req, {0, 600000, ""}, x.down_ms);
       },
       [](const Fault& x) { return json(x.down_ms); }},
      {"role",
       [](const Fields& f, bool req, const FaultLimits&, Fault& x) {
         read_choice(f, "role", req, {"all", "replication"}, x.role);
       },
       [](const Fault& x) { return json(x.role); }},
      {"when",
       [](const Fields& f, bool req, const FaultLimits&, Fault& x) {
         read_choice(f, "when", req, {"now", "mid_transaction", "mid_upload"}, x.when);
       },
       [](const Fault& x) { return json(x.when); }},
      {"core",
       [](const Fields& f, bool req, const FaultLimits& lim, Fault& x) {
         read_choice(f, "core", req, lim.cores, x.core);
       },
       [](const Fault& x) { return json(x.core); }},
      {"request_id",
       [](const Fields& f, bool req, const FaultLimits&, Fault& x) {
         const json* v = f.find("request_id");
         if (v == nullptr) {
           if (req) f.missing("request_id", "a JSON number or string (sent verbatim)");
           return;
         }
         if (!v->is_number() && !v->is_string()) {
           f.problems().add(f.path("request_id"),
                            "expected a JSON number or string (sent verbatim), got " + v->dump());
           return;
         }
         x.request_id = v->dump();
       },
       [](const Fault& x) { return json::parse(x.request_id); }},
      {"line",
       [](const Fields& f, bool req, const FaultLimits&, Fault& x) {
         read_choice(f, "line", req, model::line_fault_kinds(), x.line);
       },
       [](const Fault& x) { return json(x.line); }},
      {"user",
       [](const Fields& f, bool req, const FaultLimits&, Fault& x) {
         read_choice(f, "user", req, {"new", "previous", "first"}, x.user);
       },
       [](const Fault& x) { return json(x.user); }},
  };
  return rules;
}

const FaultFieldRule& fault_field_rule(const std::string& key) {
  for (const FaultFieldRule& rule : fault_field_rules()) {
    if (rule.key == key) return rule;
  }
  throw std::logic_error("no rule for fault field " + key);
}

// What each kind takes besides at_ms and kind, in file order.
struct FaultKindRule {
  FaultKind kind;
  std::vector<std::pair<std::string, bool>> fields;  // key, required
};

const std::vector<FaultKindRule>& fault_kind_rules() {
  static const std::vector<FaultKindRule> rules = {
      {FaultKind::Lag, {{"lag_ms", true}, {"duration_ms", false}}},
      {FaultKind::Disconnect, {{"client", true}}},
      {FaultKind::Stall, {{"duration_ms", false}}},
      {FaultKind::Storm, {{"fraction_pct", false}}},
      {FaultKind::RequestLost,
       {{"client", true}, {"lost", true}, {"route", false}, {"count", false}}},
      {FaultKind::DeleteRequest, {{"client", true}}},
      {FaultKind::Compact, {}},
      {FaultKind::ServiceRestart, {{"down_ms", false}, {"role", false}}},
      {FaultKind::SyncConfigChange, {}},
      {FaultKind::Restart, {{"client", true}, {"down_ms", false}}},
      {FaultKind::Kill, {{"client", true}, {"down_ms", false}, {"when", false}}},
      {FaultKind::PowerLoss, {{"client", true}, {"down_ms", false}, {"when", false}}},
      {FaultKind::Upgrade, {{"client", true}, {"core", true}, {"down_ms", false}}},
      {FaultKind::Downgrade, {{"client", true}, {"core", true}, {"down_ms", false}}},
      {FaultKind::SwitchMode, {{"client", true}, {"down_ms", false}}},
      {FaultKind::SwitchUser, {{"client", true}, {"down_ms", false}, {"user", false}}},
      {FaultKind::DisconnectClient, {{"client", true}, {"down_ms", false}}},
      {FaultKind::DisconnectAndClear, {{"client", true}, {"down_ms", false}}},
      {FaultKind::ForeignRequest, {{"client", true}, {"request_id", true}}},
      {FaultKind::Quiet, {{"client", true}, {"duration_ms", false}}},
      {FaultKind::LineFault, {{"client", true}, {"line", true}}},
  };
  return rules;
}

const FaultKindRule& fault_kind_rule(FaultKind kind) {
  for (const FaultKindRule& rule : fault_kind_rules()) {
    if (rule.kind == kind) return rule;
  }
  throw std::logic_error("no rule for fault kind " + to_string(kind));
}

std::vector<std::string> fault_kinds() {
  std::vector<std::string> names;
  for (const FaultKindRule& rule : fault_kind_rules()) names.push_back(to_string(rule.kind));
  return names;
}

// The kinds that take `key`, e.g. "disconnect, request_lost, delete_request".
std::vector<std::string> kinds_taking(const std::string& key) {
  std::vector<std::string> names;
  for (const FaultKindRule& rule : fault_kind_rules()) {
    for (const auto& [field, required] : rule.fields) {
      if (field == key) names.push_back(to_string(rule.kind));
    }
  }
  return names;
}

std::optional<FaultKind> parse_fault_kind(const Fields& f) {
  if (f.find("kind") == nullptr) {
    f.missing("kind", join(fault_kinds()));
    return std::nullopt;
  }
  std::string name;
  f.choice("kind", fault_kinds(), name);
  for (const FaultKindRule& rule : fault_kind_rules()) {
    if (to_string(rule.kind) == name) return rule.kind;
  }
  return std::nullopt;
}

// The fault's optional `on` trigger (FaultTrigger).
std::optional<FaultTrigger> parse_trigger(const Fields& fault, const FaultLimits& lim) {
  const json* v = fault.find("on");
  if (v == nullptr) return std::nullopt;
  Problems& p = fault.problems();
  const std::string path = fault.path("on");
  const std::string form = "{\"event\": <event>, \"client\": <n>, \"nth\": <k>}";
  if (!v->is_object()) {
    p.add(path, show(*v) + " must be an object " + form + "; events: " + join(trigger_events()));
    return std::nullopt;
  }
  const Fields f(*v, path, p);
  f.reject_unknown({"event", "client", "nth"});
  FaultTrigger t;
  f.required_choice("event", trigger_events(), t.event);
  if (const json* c = f.find("client"); c != nullptr && !c->is_null()) {
    f.integer("client", {lim.client.lo, lim.client.hi, lim.client.why + ", or null: any client"},
              t.client);
  }
  f.integer("nth", {1, 1000, ""}, t.nth);
  return t;
}

Fault parse_fault(const json& v, const std::string& path, const FaultLimits& lim, Problems& p) {
  Fault fault;
  if (!v.is_object()) {
    p.add(path, show(v) + " must be an object with at_ms, kind and the kind's fields");
    return fault;
  }
  const Fields f(v, path, p);
  const std::optional<FaultKind> kind = parse_fault_kind(f);
  if (!kind) {
    // Without a kind, check what can be checked: every field any kind takes, none required.
    std::vector<std::string> allowed = {"at_ms", "kind"};
    for (const FaultFieldRule& rule : fault_field_rules()) allowed.push_back(rule.key);
    allowed.emplace_back("on");
    f.reject_unknown(allowed);
    f.required_integer("at_ms", lim.at_ms, fault.at_ms);
    for (const FaultFieldRule& rule : fault_field_rules()) rule.read(f, false, lim, fault);
    fault.on = parse_trigger(f, lim);
    return fault;
  }
  fault.kind = *kind;
  const FaultKindRule& rule = fault_kind_rule(*kind);
  const std::string name = to_string(*kind);
  std::vector<std::string> allowed = {"at_ms", "kind"};
  for (const auto& [key, required] : rule.fields) allowed.push_back(key);
  allowed.emplace_back("on");
  f.reject_unknown(allowed, "for kind " + name, [&name](const std::string& key) -> std::string {
    const std::vector<std::string> others = kinds_taking(key);
    return others.empty() ? "" : "is not used by kind " + name + " (only by " + join(others) + ")";
  });
  f.required_integer("at_ms", lim.at_ms, fault.at_ms);
  for (const auto& [key, required] : rule.fields) {
    fault_field_rule(key).read(f, required, lim, fault);
  }
  fault.on = parse_trigger(f, lim);
  // A `when` moment is a trigger of its own; two would leave unclear which one fires.
  if (fault.on && fault.when != "now" && !p.bad(f.path("when"))) {
    p.add(f.path("when"), "\"" + fault.when + "\" cannot be combined with `on`; allowed: " +
                              "\"now\" (or absent) with `on` (for mid_upload use on " +
                              "{\"event\": \"upload_in_flight\"})");
  }
  return fault;
}

std::vector<Fault> parse_faults(const Fields& top, const FaultLimits& lim) {
  std::vector<Fault> faults;
  const json* v = top.find("faults");
  if (v == nullptr) return faults;
  if (!v->is_array()) {
    top.problems().add("faults", show(*v) + " must be an array of fault objects");
    return faults;
  }
  for (size_t i = 0; i < v->size(); ++i) {
    faults.push_back(parse_fault((*v)[i], element_path("faults", i), lim, top.problems()));
  }
  // The runner consumes faults in time order; stable so equal times keep file order.
  std::stable_sort(faults.begin(), faults.end(),
                   [](const Fault& a, const Fault& b) { return a.at_ms < b.at_ms; });
  return faults;
}

// A swarm range [lo, hi] within `allowed` (the knob's own range).
std::optional<SwarmRange> parse_swarm_range(const json& v, const std::string& path,
                                            const Range& allowed, Problems& p) {
  if (!v.is_array() || v.size() != 2) {
    p.add(path, show(v) + " must be [min, max]; allowed: integers within " + allowed.text());
    return std::nullopt;
  }
  const auto lo = to_int(v[0], element_path(path, 0), allowed, p);
  const auto hi = to_int(v[1], element_path(path, 1), allowed, p);
  if (!lo || !hi) return std::nullopt;
  if (*lo > *hi) {
    p.add(path,
          show(v) + " has min > max; allowed: [min, max] with min <= max within " + allowed.text());
    return std::nullopt;
  }
  return SwarmRange{*lo, *hi};
}

std::optional<SwarmFaults> parse_swarm_faults(const Fields& swarm) {
  const json* v = swarm.find("faults");
  if (v == nullptr) return std::nullopt;
  Problems& p = swarm.problems();
  const std::string path = swarm.path("faults");
  if (!v->is_object()) {
    p.add(path, show(*v) + " must be an object {\"count\": [min, max], \"kinds\": [...], " +
                    "\"triggered_pct\": <pct>}");
    return std::nullopt;
  }
  const Fields f(*v, path, p);
  f.reject_unknown({"count", "kinds", "triggered_pct"});
  SwarmFaults out;
  if (const json* count = f.find("count")) {
    if (auto r = parse_swarm_range(*count, f.path("count"), {0, 100, ""}, p)) out.count = *r;
  } else {
    f.missing("count", "[min, max] within 0..100");
  }
  if (f.find("kinds") == nullptr) {
    f.missing("kinds", join(swarm_fault_kinds()));
  } else {
    out.kinds = parse_id_list(f, "kinds", swarm_fault_kinds(), "swarm fault kind");
    if (out.kinds.empty() && !p.bad(f.path("kinds"))) {
      p.add(f.path("kinds"),
            "[] is not allowed; allowed: at least one of " + join(swarm_fault_kinds()));
    }
  }
  f.integer("triggered_pct", {0, 100, ""}, out.triggered_pct);
  return out;
}

// The `swarm` section; `s` is the rest of the scenario (clients, faults already read).
std::optional<SwarmSpec> parse_swarm(const Fields& top, const Scenario& s,
                                     const ValidationContext& ctx) {
  auto f = section(top, "swarm");
  if (!f) return std::nullopt;
  Problems& p = top.problems();
  std::vector<std::string> allowed;
  for (const SwarmKnob& k : swarm_knobs()) allowed.push_back(k.key);
  allowed.emplace_back("faults");
  allowed.emplace_back("world");
  f->reject_unknown(allowed, "(swarm knobs)");
  SwarmSpec spec;
  for (const SwarmKnob& k : swarm_knobs()) {
    const json* v = f->find(k.key);
    if (v == nullptr) continue;
    if (auto r = parse_swarm_range(*v, f->path(k.key), {k.lo, k.hi, ""}, p)) {
      spec.knobs[k.key] = *r;
    }
  }
  spec.faults = parse_swarm_faults(*f);
  if (const json* w = f->find("world")) {
    for (const auto& [path, message] : world_spec_problems(*w, ctx)) {
      p.add(f->path("world") + (path.empty() ? "" : "." + path), message);
    }
    if (!spec.knobs.empty() || spec.faults) {
      p.add(f->path("world"), "is not allowed together with swarm knobs or swarm.faults (the "
                              "world draws every dimension); allowed: one or the other");
    }
    if (!s.faults.empty()) {
      p.add(f->path("world"), "is not allowed with the scenario's own faults (a draw may have "
                              "fewer clients than they name); allowed: \"faults\": []");
    }
    spec.world = *w;
  }
  const std::string one = "network.latency_ms";
  for (const char* per : {"network.latency_up_ms", "network.latency_down_ms"}) {
    if (spec.knobs.contains(one) && spec.knobs.contains(per)) {
      p.add(f->path(per), "is not allowed together with swarm." + one +
                              " (one draw for both directions); allowed: one or the other");
    }
  }
  if (auto it = spec.knobs.find("clients.count"); it != spec.knobs.end()) {
    if (!s.clients.fleet.empty()) {
      p.add(f->path("clients.count"),
            "is not allowed with clients.fleet; allowed: a scenario "
            "in the uniform form (clients.count)");
    }
    // The scenario's own faults must name clients every draw has.
    int highest = 0;
    for (const Fault& fault : s.faults) {
      highest = std::max({highest, fault.client, fault.on ? fault.on->client : 0});
    }
    if (highest > it->second.lo) {
      p.add(f->path("clients.count"),
            "[" + std::to_string(it->second.lo) + ", " + std::to_string(it->second.hi) +
                "] may draw fewer clients than the faults name (client " + std::to_string(highest) +
                "); allowed: min >= " + std::to_string(highest));
    }
  }
  return spec;
}

// `what` names an element in messages, e.g. "invariant".
std::vector<std::string> parse_id_list(const Fields& top, const std::string& key,
                                       const std::vector<std::string>& known,
                                       const std::string& what) {
  std::vector<std::string> ids;
  Problems& p = top.problems();
  const json* v = top.find(key);
  if (v == nullptr) return ids;
  if (!v->is_array()) {
    p.add(top.path(key),
          show(*v) + " must be an array of " + what + " ids; allowed: " + join(known));
    return ids;
  }
  for (size_t i = 0; i < v->size(); ++i) {
    const json& item = (*v)[i];
    const std::string path = element_path(top.path(key), i);
    if (!item.is_string()) {
      p.add(path, show(item) + " must be a string; allowed: " + join(known));
    } else if (!contains(known, item.get<std::string>())) {
      p.add(path, show(item) + " is not a known " + what + "; allowed: " + join(known));
    } else if (contains(ids, item.get<std::string>())) {
      p.add(path, show(item) + " is listed twice; allowed: each " + what + " once");
    } else {
      ids.push_back(item.get<std::string>());
    }
  }
  return ids;
}

// `checked` is the scenario's invariant list (empty = all).
Expectation parse_expect(const Fields& top, const ValidationContext& ctx,
                         const std::vector<std::string>& checked) {
  const std::string kAllowed = "\"pass\" or {\"violates\": \"<invariant id>\"}";
  Problems& p = top.problems();
  const json* v = top.find("expect");
  if (v == nullptr || *v == "pass") return {};
  if (!v->is_object()) {
    p.add("expect", show(*v) + " is not allowed; allowed: " + kAllowed);
    return {};
  }
  const Fields f(*v, "expect", p);
  f.reject_unknown({"violates"});
  Expectation e{false, ""};
  if (f.find("violates") == nullptr) {
    p.add_line("expect.violates",
               "missing required field `expect.violates`; allowed: " + join(ctx.invariants));
    return e;
  }
  f.choice("violates", ctx.invariants, e.violates);
  // An unchecked invariant can never be reported violated, so the expectation could not hold.
  if (!e.violates.empty() && !checked.empty() && !contains(checked, e.violates)) {
    p.add("expect.violates", "\"" + e.violates + "\" is not among the checked invariants; " +
                                 "allowed: " + join(checked) + " (invariants)");
  }
  return e;
}

// False when the file is from another format version: its other fields may mean something
// else there, so checking them would only bury the one real problem.
bool check_format(const Fields& top) {
  Problems& p = top.problems();
  const json* v = top.find("format");
  if (v == nullptr) {
    p.add_line("format",
               "missing required field `format` (current: " + std::to_string(kFormat) + ")");
    return true;
  }
  if (!v->is_number_integer()) {
    p.add("format", show(*v) + " must be an integer; allowed: " + std::to_string(kFormat));
    return true;
  }
  if (*v != kFormat) {
    p.add("format", show(*v) + " is not supported; allowed: " + std::to_string(kFormat) +
                        " (the only format this build reads)");
    return false;
  }
  return true;
}

void parse_top_level(const Fields& top, const ValidationContext& ctx, Scenario& s) {
  Problems& p = top.problems();
  top.reject_unknown({"format", "name", "description", "clients", "service", "network", "workload",
                      "duration_s", "quiesce_s", "faults", "invariants", "mutants", "expect",
                      "swarm", "sometimes", "headline"});
  top.string("name", s.name);
  if (s.name.empty() && !p.bad("name")) p.add("name", "\"\" is not allowed; must not be empty");
  top.string("description", s.description);
  if (auto f = section(top, "clients")) s.clients = parse_clients(*f, ctx);
  if (auto f = section(top, "service")) s.service = parse_service(*f);
  if (auto f = section(top, "network")) s.network = parse_network(*f);
  if (auto f = section(top, "workload")) s.workload = parse_workload(*f);
  // Sync streams are driven through the js-1.3.0 subscription API only (issue 7).
  if (!s.service.streams.empty()) {
    for (const auto& g : client_groups(s.clients)) {
      if (resolved_sdk(g.sdk, g.core, ctx.core_sdks) != "js-1.3.0") {
        p.add("service.streams", "needs js-1.3.0 (0.5.x) clients; core " + g.core + " runs as " +
                                     resolved_sdk(g.sdk, g.core, ctx.core_sdks));
        break;
      }
    }
  }
  top.integer("duration_s", {1, kMaxDurationS, ""}, s.duration_s);
  top.nullable_integer("quiesce_s", {0, kMaxDurationS, "or null: derived by the runner"},
                       s.quiesce_s);
  s.faults = parse_faults(top, fault_limits(s, p, ctx));
  // switch_mode needs an SDK with two modes (js-1.3.0): judged with the core the client runs
  // at that time (its group's, or the last upgrade/downgrade before it).
  if (!p.bad("clients") && !p.bad("faults")) {
    std::map<int, std::string> core_now;
    for (const Fault& f : s.faults) {
      if (f.client < 1 || f.client > s.clients.count) continue;
      const ClientGroup g = group_of(s.clients, f.client);
      if (!core_now.contains(f.client)) core_now[f.client] = g.core;
      if (f.kind == FaultKind::Upgrade || f.kind == FaultKind::Downgrade) {
        core_now[f.client] = f.core;
      } else if (f.kind == FaultKind::SwitchMode) {
        const std::string& core = core_now[f.client];
        const std::string sdk = core == g.core ? resolved_sdk(g.sdk, core, ctx.core_sdks)
                                               : resolved_sdk("auto", core, ctx.core_sdks);
        if (sdk == "js-legacy") {
          p.add("faults", "switch_mode of client " + std::to_string(f.client) + " at " +
                              std::to_string(f.at_ms) + " ms (core " + core +
                              ", js-legacy SDK) is not allowed; allowed: clients driven by "
                              "js-1.3.0 then (old SDKs have one checkpoint mode)");
        }
      }
    }
  }
  s.invariants = parse_id_list(top, "invariants", ctx.invariants, "invariant");
  s.mutants = parse_id_list(top, "mutants", ctx.mutants, "mutant");
  s.expect =
      parse_expect(top, ctx, p.bad("invariants") ? std::vector<std::string>{} : s.invariants);
  s.swarm = parse_swarm(top, s, ctx);
  s.sometimes = parse_id_list(top, "sometimes", ctx.sometimes, "sometimes condition");
  static const std::vector<std::string> metric_keys = [] {
    std::vector<std::string> keys;
    for (const auto& m : kMetricNames) keys.emplace_back(m.key);
    return keys;
  }();
  s.headline = parse_id_list(top, "headline", metric_keys, "metric");
}

// `p` may already hold problems found while reading the text (duplicate keys).
Scenario parse_checked(const json& j, const ValidationContext& ctx, const std::string& source,
                       const std::string& default_name, Problems p) {
  Scenario s;
  s.name = default_name;
  if (!j.is_object()) {
    p.add("", "the top level must be a JSON object; got " + show(j));
  } else {
    const Fields top(j, "", p);
    if (check_format(top)) parse_top_level(top, ctx, s);
  }
  if (!p.empty()) throw ScenarioError(p.prefixed(source));
  return s;
}

// nlohmann keeps the last of duplicate keys silently, so a file could mean something other
// than it reads; this parser callback reports them with their JSON path.
class DuplicateKeyFinder {
 public:
  explicit DuplicateKeyFinder(Problems& p) : p_(p) {}

  bool on_event(json::parse_event_t event, const json& parsed) {
    using E = json::parse_event_t;
    switch (event) {
      case E::object_start:
      case E::array_start:
        enter_value();
        frames_.push_back({event == E::object_start, {}, {}, 0});
        break;
      case E::key:
        on_key(parsed.get<std::string>());
        break;
      case E::value:
        enter_value();
        break;
      case E::object_end:
      case E::array_end:
        frames_.pop_back();
        break;
    }
    return true;  // keep everything
  }

 private:
  // A frame keeps only its own step (key or index), not its whole path: storing the path in
  // every frame made depth d cost O(d^2) time and memory (issue 19).
  struct Frame {
    bool is_object;
    std::set<std::string> keys;
    std::string key;    // objects: the key of the value being read
    size_t next_index;  // arrays: the index of the next element
  };

  // Advances the innermost array to its next element (the value that starts now).
  void enter_value() {
    if (!frames_.empty() && !frames_.back().is_object) ++frames_.back().next_index;
  }

  // The path of the innermost frame's current value; built only to report a duplicate.
  [[nodiscard]] std::string current_path() const {
    std::string path;
    for (const Frame& f : frames_) {
      path = f.is_object ? child_path(path, f.key) : element_path(path, f.next_index - 1);
    }
    return path;
  }

  void on_key(const std::string& key) {
    Frame& f = frames_.back();
    f.key = key;
    if (!f.keys.insert(key).second) {
      const std::string path = current_path();
      p_.add_line(path, "duplicate field `" + path + "`; allowed: each field once per object");
    }
  }

  Problems& p_;
  std::vector<Frame> frames_;
};

// "[json.exception.parse_error.101] parse error at line 2, ..." -> "parse error at line 2, ...".
std::string without_exception_id(const std::string& what) {
  const auto end = what.find("] ");
  return what.starts_with("[json.exception.") && end != std::string::npos ? what.substr(end + 2)
                                                                          : what;
}

Scenario parse_text(const std::string& text, const ValidationContext& ctx,
                    const std::string& source, const std::string& default_name) {
  // Bounded before any parser walks it: nlohmann and the finder recurse per level.
  if (const auto error = util::json_depth_error(text); !error.empty()) {
    throw ScenarioError({source + ": " + error});
  }
  Problems p;
  DuplicateKeyFinder finder(p);
  json j;
  try {
    j = json::parse(text, [&finder](int /*depth*/, json::parse_event_t event, json& parsed) {
      return finder.on_event(event, parsed);
    });
  } catch (const json::exception& e) {
    throw ScenarioError({source + ": invalid JSON: " + without_exception_id(e.what())});
  }
  return parse_checked(j, ctx, source, default_name, std::move(p));
}

std::string read_file(const std::string& path) {
  try {
    return util::read_bounded_file(path);
  } catch (const util::InputError& e) {
    throw ScenarioError({e.what()});
  }
}

std::string join_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& line : lines) out += (out.empty() ? "" : "\n") + line;
  return out;
}

}  // namespace

ScenarioError::ScenarioError(std::vector<std::string> problems)
    : std::runtime_error(join_lines(problems)), problems_(std::move(problems)) {}

std::string to_string(FaultKind kind) {
  switch (kind) {
    case FaultKind::Lag:
      return "lag";
    case FaultKind::Disconnect:
      return "disconnect";
    case FaultKind::Stall:
      return "stall";
    case FaultKind::Storm:
      return "storm";
    case FaultKind::RequestLost:
      return "request_lost";
    case FaultKind::DeleteRequest:
      return "delete_request";
    case FaultKind::Compact:
      return "compact";
    case FaultKind::ServiceRestart:
      return "service_restart";
    case FaultKind::SyncConfigChange:
      return "sync_config_change";
    case FaultKind::Restart:
      return "restart";
    case FaultKind::Kill:
      return "kill";
    case FaultKind::PowerLoss:
      return "power_loss";
    case FaultKind::Upgrade:
      return "upgrade";
    case FaultKind::Downgrade:
      return "downgrade";
    case FaultKind::SwitchMode:
      return "switch_mode";
    case FaultKind::SwitchUser:
      return "switch_user";
    case FaultKind::DisconnectClient:
      return "disconnect_client";
    case FaultKind::DisconnectAndClear:
      return "disconnect_and_clear";
    case FaultKind::ForeignRequest:
      return "foreign_request";
    case FaultKind::Quiet:
      return "quiet";
    case FaultKind::LineFault:
      return "line_fault";
  }
  return "unknown";  // unreachable for valid enum values
}

std::vector<ClientGroup> client_groups(const ClientsSpec& c) {
  if (!c.fleet.empty()) return c.fleet;
  return {ClientGroup{c.count, c.core, c.checkpoint_mode, c.sdk}};
}

ClientGroup group_of(const ClientsSpec& c, int index) {
  int first = 1;
  for (const auto& g : client_groups(c)) {
    if (index < first + g.count) return g;
    first += g.count;
  }
  throw std::out_of_range("client " + std::to_string(index) + " is not in the fleet");
}

std::string resolved_sdk(const std::string& sdk, const std::string& core,
                         const std::map<std::string, std::string>& core_sdks) {
  if (sdk != "auto") return sdk;
  const auto it = core_sdks.find(core);
  return it == core_sdks.end() ? "js-1.3.0" : it->second;
}

Scenario parse_scenario(const json& j, const ValidationContext& ctx,
                        const std::string& source_name) {
  return parse_checked(j, ctx, source_name, "scenario", Problems{});
}

Scenario parse_scenario_text(const std::string& text, const ValidationContext& ctx,
                             const std::string& source_name) {
  return parse_text(text, ctx, source_name, "scenario");
}

Scenario load_scenario_file(const std::string& path, const ValidationContext& ctx) {
  return parse_text(read_file(path), ctx, path, std::filesystem::path(path).stem().string());
}

json to_json(const Scenario& s) {
  json faults = json::array();
  for (const Fault& f : s.faults) {
    json jf = {{"at_ms", f.at_ms}, {"kind", to_string(f.kind)}};
    for (const auto& [key, required] : fault_kind_rule(f.kind).fields) {
      if (key == "role" && f.role == "all") continue;  // issue 17: only when not the default
      if (key == "user" && f.user == "new") continue;  // the default: older files stay as they were
      jf[key] = fault_field_rule(key).write(f);
    }
    if (f.on) {
      jf["on"] = {{"event", f.on->event},
                  {"client", f.on->client > 0 ? json(f.on->client) : json(nullptr)},
                  {"nth", f.on->nth}};
    }
    faults.push_back(std::move(jf));
  }
  const ClientsSpec& c = s.clients;
  const ServiceSpec& sv = s.service;
  const WorkloadSpec& w = s.workload;
  json clients = {{"retry_delay_ms", c.retry_delay_ms},
                  {"crud_upload_throttle_ms", c.crud_upload_throttle_ms},
                  {"repost_delay_ms", c.repost_delay_ms},
                  {"stream_encoding", c.stream_encoding},
                  {"post_checkpoint_request", c.post_checkpoint_request},
                  {"fixed_quirks", c.fixed_quirks}};
  if (c.fleet.empty()) {
    clients["count"] = c.count;
    clients["core"] = c.core;
    clients["checkpoint_mode"] = c.checkpoint_mode;
    clients["sdk"] = c.sdk;
  } else {
    json fleet = json::array();
    for (const auto& g : c.fleet) {
      fleet.push_back({{"count", g.count},
                       {"core", g.core},
                       {"checkpoint_mode", g.checkpoint_mode},
                       {"sdk", g.sdk}});
    }
    clients["fleet"] = std::move(fleet);
  }
  json out = json{
      {"format", s.format},
      {"name", s.name},
      {"description", s.description},
      {"clients", std::move(clients)},
      {"service",
       {{"flavour", sv.flavour},
        {"replication_lag_ms", sv.replication_lag_ms},
        {"heartbeat_ms", sv.heartbeat_ms},
        {"token_lifetime_s", sv.token_lifetime_s},
        {"write_checkpoint_mode", sv.write_checkpoint_mode},
        {"checkpoint_request_retention_minutes", sv.checkpoint_request_retention_minutes},
        {"compact_interval_s", sv.compact_interval_s},
        {"batch_latency_max_ms", sv.batch_latency_max_ms},
        {"todos_priority", sv.todos_priority},
        {"notes_priority", sv.notes_priority}}},
      {"network",
       {{"latency_up_ms", s.network.latency_up_ms},
        {"latency_down_ms", s.network.latency_down_ms}}},
      {"workload",
       {{"write_interval_min_ms", w.write_interval_min_ms},
        {"write_interval_max_ms", w.write_interval_max_ms},
        {"keyspace", w.keyspace},
        {"notes_pct", w.notes_pct},
        {"delete_pct", w.delete_pct},
        {"insert_only_pct", w.insert_only_pct},
        {"request_checkpoint_pct", w.request_checkpoint_pct},
        {"wait_for_sync_pct", w.wait_for_sync_pct}}},
      {"duration_s", s.duration_s},
      {"quiesce_s", s.quiesce_s ? json(*s.quiesce_s) : json(nullptr)},
      {"faults", std::move(faults)},
      {"invariants", s.invariants},
      {"mutants", s.mutants},
      {"expect", s.expect.pass ? json("pass") : json{{"violates", s.expect.violates}}},
      {"sometimes", s.sometimes},
  };
  // Written only when present, so the full form of other scenarios is unchanged.
  if (!s.headline.empty()) out["headline"] = s.headline;
  if (s.workload.request_interval_ms > 0) {
    out["workload"]["request_interval_ms"] = s.workload.request_interval_ms;
  }
  if (s.swarm) {
    json swarm = json::object();
    for (const auto& [key, r] : s.swarm->knobs) swarm[key] = {r.lo, r.hi};
    if (const auto& sf = s.swarm->faults) {
      swarm["faults"] = {{"count", {sf->count.lo, sf->count.hi}},
                         {"kinds", sf->kinds},
                         {"triggered_pct", sf->triggered_pct}};
    }
    if (s.swarm->world) swarm["world"] = *s.swarm->world;
    out["swarm"] = std::move(swarm);
  }
  // Issue 17's service fields: written only when not the default, so the full form (and
  // every report) of other scenarios is unchanged.
  if (sv.source != ServiceSpec{}.source) out["service"]["source"] = sv.source;
  if (sv.head != ServiceSpec{}.head) out["service"]["head"] = sv.head;
  const ServiceSpec d;
  if (sv.api_processes != d.api_processes) out["service"]["api_processes"] = sv.api_processes;
  if (sv.duplicate_window != d.duplicate_window) {
    out["service"]["duplicate_window"] = sv.duplicate_window;
  }
  if (sv.max_concurrent_streams != d.max_concurrent_streams) {
    out["service"]["max_concurrent_streams"] = sv.max_concurrent_streams;
  }
  if (sv.batch_failure_pct != d.batch_failure_pct) {
    out["service"]["batch_failure_pct"] = sv.batch_failure_pct;
    out["service"]["batch_failure"] = sv.batch_failure;
  }
  if (sv.compaction_invalidation != d.compaction_invalidation) {
    out["service"]["compaction_invalidation"] = sv.compaction_invalidation;
  }
  // Sync streams (issue 7): written only when used, so the full form (and every report) of
  // a scenario without streams stays as it was.
  if (!sv.streams.empty()) {
    json streams = json::array();
    for (const auto& st : sv.streams) {
      streams.push_back({{"name", st.name},
                         {"default", st.is_default},
                         {"priority", st.priority},
                         {"parameterised", st.parameterised}});
    }
    out["service"]["streams"] = std::move(streams);
  }
  if (!(w.streams == StreamWorkloadSpec{})) {
    const StreamWorkloadSpec& st = w.streams;
    out["workload"]["streams"] = {{"interval_min_ms", st.interval_min_ms},
                                  {"interval_max_ms", st.interval_max_ms},
                                  {"subscribe_pct", st.subscribe_pct},
                                  {"unsubscribe_all_pct", st.unsubscribe_all_pct},
                                  {"max_held", st.max_held},
                                  {"param_values", st.param_values},
                                  {"ttl_s", st.ttl_s},
                                  {"priority_override_pct", st.priority_override_pct},
                                  {"burst_interval_ms", st.burst_interval_ms},
                                  {"burst_size", st.burst_size},
                                  {"item_write_pct", st.item_write_pct},
                                  {"item_keyspace", st.item_keyspace}};
  }
  return out;
}

}  // namespace syncsim::scenarios
