// The `faults` list (each kind's fields, required or not, and the optional `on` trigger) and
// the `swarm` section (knob ranges, swarm faults, a world spec).
#include <algorithm>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "model/line_fault.hpp"
#include "scenarios/explore/swarm.hpp"
#include "scenarios/explore/world_swarm.hpp"
#include "scenarios/format/scenario_reader.hpp"

namespace syncsim::scenarios::reader {
namespace {

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
      {"devices",
       [](const Fields& f, bool req, const FaultLimits&, Fault& x) {
         read_int(f, "devices", req, {0, 5000, ""}, x.devices);
       },
       [](const Fault& x) { return json(x.devices); }},
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
      {FaultKind::ForeignRequest, {{"client", true}, {"request_id", true}, {"devices", false}}},
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

}  // namespace

FaultLimits fault_limits(const Scenario& s, const Problems& p, const ValidationContext& ctx) {
  FaultLimits lim{{0, s.duration_s * 1000, "duration_s * 1000"},
                  {1, s.clients.count, "clients.count"},
                  ctx.cores};
  if (p.bad("duration_s")) lim.at_ms = {0, kMaxDurationS * 1000, "the largest duration_s * 1000"};
  if (p.bad("clients.count")) lim.client = {1, kMaxClients, "the largest clients.count"};
  return lim;
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
      p.add(f->path("world"),
            "is not allowed together with swarm knobs or swarm.faults (the "
            "world draws every dimension); allowed: one or the other");
    }
    if (!s.faults.empty()) {
      p.add(f->path("world"),
            "is not allowed with the scenario's own faults (a draw may have "
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

json fault_to_json(const Fault& f) {
  json jf = {{"at_ms", f.at_ms}, {"kind", to_string(f.kind)}};
  for (const auto& [key, required] : fault_kind_rule(f.kind).fields) {
    if (key == "role" && f.role == "all") continue;    // issue 17: only when not the default
    if (key == "user" && f.user == "new") continue;    // the default: older files stay as they were
    if (key == "devices" && f.devices == 0) continue;  // issue 17: only when not the default
    jf[key] = fault_field_rule(key).write(f);
  }
  if (f.on) {
    jf["on"] = {{"event", f.on->event},
                {"client", f.on->client > 0 ? json(f.on->client) : json(nullptr)},
                {"nth", f.on->nth}};
  }
  return jf;
}

}  // namespace syncsim::scenarios::reader
