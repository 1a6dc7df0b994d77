#include "model/stream_definitions.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <map>
#include <set>
#include <variant>

namespace syncsim::model {

using nlohmann::json;

namespace {
[[noreturn]] void bad(const std::string& what) { throw std::invalid_argument(what); }

std::string shown(const json& j) {
  std::string s = j.dump();
  return s.size() > 80 ? s.substr(0, 77) + "..." : s;
}
}  // namespace

// ---- config ---------------------------------------------------------------------------

StreamConfig::StreamConfig(std::vector<StreamDefinition> definitions)
    : definitions_(std::move(definitions)) {
  std::set<std::string> names;
  for (const auto& d : definitions_) {
    if (d.name.empty()) bad("stream definition: empty name");
    if (!names.insert(d.name).second)
      bad(fmt::format("stream definition '{}': duplicate name", d.name));
    if (d.priority < 0 || d.priority > 3) {
      bad(fmt::format("stream definition '{}': priority {} not in 0..3 (docs/protocol.md §3.3.3)",
                      d.name, d.priority));
    }
    if (d.fan_out < 1 || d.fan_out > 100000) {
      bad(fmt::format("stream definition '{}': fan_out {} not in 1..100000", d.name, d.fan_out));
    }
    if (d.is_default && !d.parameters.empty()) {
      bad(
          fmt::format("stream definition '{}': a default stream cannot require subscription "
                      "parameters",
                      d.name));
    }
  }
}

std::optional<std::size_t> StreamConfig::find(const std::string& name) const {
  for (std::size_t i = 0; i < definitions_.size(); ++i) {
    if (definitions_[i].name == name) return i;
  }
  return std::nullopt;
}

// ---- request --------------------------------------------------------------------------

StreamRequest parse_stream_request(const json& streams) {
  StreamRequest r;
  if (streams.is_null()) return r;  // §3.3.1: `streams?`
  if (!streams.is_object()) bad("streams: expected an object, got " + shown(streams));
  for (const auto& [key, value] : streams.items()) {
    if (key != "include_defaults" && key != "subscriptions") {
      bad(fmt::format("streams.{}: unknown field (allowed: include_defaults, subscriptions)", key));
    }
  }
  if (streams.contains("include_defaults")) {
    const json& v = streams["include_defaults"];
    if (!v.is_boolean()) bad("streams.include_defaults: expected true or false, got " + shown(v));
    r.include_defaults = v.get<bool>();
  }
  if (!streams.contains("subscriptions")) bad("streams.subscriptions: required (an array)");
  const json& subs = streams["subscriptions"];
  if (!subs.is_array()) bad("streams.subscriptions: expected an array, got " + shown(subs));
  for (std::size_t i = 0; i < subs.size(); ++i) {
    const json& s = subs[i];
    const std::string at = fmt::format("streams.subscriptions[{}]", i);
    if (!s.is_object()) bad(at + ": expected an object, got " + shown(s));
    for (const auto& [key, value] : s.items()) {
      if (key != "stream" && key != "parameters" && key != "override_priority") {
        bad(fmt::format("{}.{}: unknown field (allowed: stream, parameters, override_priority)", at,
                        key));
      }
    }
    StreamSubscription sub;
    if (!s.contains("stream") || !s["stream"].is_string() ||
        s["stream"].get<std::string>().empty()) {
      bad(at + ".stream: expected a stream name, got " +
          (s.contains("stream") ? shown(s["stream"]) : "nothing"));
    }
    sub.stream = s["stream"].get<std::string>();
    if (!s.contains("parameters")) bad(at + ".parameters: required (an object or null)");
    if (!s["parameters"].is_object() && !s["parameters"].is_null()) {
      bad(at + ".parameters: expected an object or null, got " + shown(s["parameters"]));
    }
    sub.parameters = s["parameters"];
    if (!s.contains("override_priority")) bad(at + ".override_priority: required (0..3 or null)");
    const json& p = s["override_priority"];
    if (!p.is_null()) {
      if (!p.is_number_integer() || p.get<int64_t>() < 0 || p.get<int64_t>() > 3) {
        bad(at + ".override_priority: expected 0..3 or null, got " + shown(p));
      }
      sub.override_priority = p.get<int>();
    }
    r.subscriptions.push_back(std::move(sub));
  }
  return r;
}

// ---- resolution -----------------------------------------------------------------------

namespace {

// The parameter values of `sub` for `def` as a JSON array, or the error message.
std::variant<json, std::string> parameter_values(const StreamDefinition& def,
                                                 const json& parameters) {
  json values = json::array();
  for (const auto& p : def.parameters) {
    if (!parameters.is_object() || !parameters.contains(p)) {
      return fmt::format("missing parameter '{}'", p);
    }
    const json& v = parameters[p];
    if (!v.is_string() && !v.is_number_integer()) {
      return fmt::format("parameter '{}' must be a string or an integer, got {}", p, shown(v));
    }
    values.push_back(v);
  }
  return values;
}

std::vector<std::string> bucket_names(const StreamDefinition& def, const json& values) {
  std::vector<std::string> out;
  for (int k = 0; k < def.fan_out; ++k) {
    json v = values;
    if (def.fan_out > 1) v.push_back(k);
    std::string inner = v.dump();  // "[...]"
    out.push_back(def.name + inner);
  }
  return out;
}

}  // namespace

Resolution resolve_streams(const StreamConfig& config, const StreamRequest& request,
                           const std::vector<StreamMutant>& mutants) {
  auto mutant = [&](StreamMutant m) {
    return std::find(mutants.begin(), mutants.end(), m) != mutants.end();
  };
  const bool include_defaults =
      request.include_defaults || mutant(StreamMutant::DefaultsDespiteOptOut);
  const auto& defs = config.definitions();
  // Which definitions are subscribed (§3.3.2: every subscribed stream, config order).
  std::vector<bool> subscribed(defs.size(), false);
  std::vector<std::size_t> def_of_sub;
  for (std::size_t k = 0; k < request.subscriptions.size(); ++k) {
    auto d = config.find(request.subscriptions[k].stream);
    if (!d) {
      bad(fmt::format(
          "streams.subscriptions[{}].stream: unknown stream '{}' (docs/protocol.md §3 does not "
          "document the service's answer; the model refuses it)",
          k, request.subscriptions[k].stream));
    }
    subscribed[*d] = true;
    def_of_sub.push_back(*d);
  }
  for (std::size_t i = 0; i < defs.size(); ++i) {
    if (defs[i].is_default && include_defaults) subscribed[i] = true;
  }
  Resolution r;
  std::vector<int> stream_index(defs.size(), -1);
  for (std::size_t i = 0; i < defs.size(); ++i) {
    if (!subscribed[i]) continue;
    stream_index[i] = static_cast<int>(r.streams.size());
    r.streams.push_back(ResolvedStream{defs[i].name, defs[i].is_default, {}});
  }

  std::map<std::string, std::size_t> by_name;  // bucket name -> index in r.buckets
  auto add = [&](const std::string& name, int priority, BucketReason reason) {
    auto [it, fresh] = by_name.emplace(name, r.buckets.size());
    if (fresh) {
      r.buckets.push_back(ResolvedBucket{name, priority, {reason}});
      return;
    }
    ResolvedBucket& b = r.buckets[it->second];
    // Several reasons for one bucket (§3.3.2: `subscriptions` is a list).  When their
    // priorities differ the higher one (lower number) is kept — an assumption, docs/protocol.md §3
    // does not say.
    b.priority = std::min(b.priority, priority);
    if (std::find(b.reasons.begin(), b.reasons.end(), reason) == b.reasons.end()) {
      b.reasons.push_back(reason);
    }
  };

  // Default streams first, in config order (§3.3.3 step 2: included unless opted out).
  if (include_defaults) {
    for (std::size_t i = 0; i < defs.size(); ++i) {
      if (!defs[i].is_default) continue;
      for (const auto& name : bucket_names(defs[i], json::array())) {
        add(name, defs[i].priority, {BucketReason::Kind::Default, stream_index[i]});
      }
    }
  }
  // Explicit subscriptions in request order; bad parameters are a per-stream error, not a
  // connection failure (§3.3.3 step 2).
  for (std::size_t k = 0; k < request.subscriptions.size(); ++k) {
    const auto& sub = request.subscriptions[k];
    const StreamDefinition& def = defs[def_of_sub[k]];
    auto values = parameter_values(def, sub.parameters);
    if (auto* message = std::get_if<std::string>(&values)) {
      r.streams[static_cast<std::size_t>(stream_index[def_of_sub[k]])].errors.push_back(
          StreamError{static_cast<int>(k), *message});
      if (!mutant(StreamMutant::ErroredSubscriptionKeepsBuckets)) continue;
      values = json::array({sub.parameters});
    }
    const int priority = mutant(StreamMutant::IgnoreOverridePriority)
                             ? def.priority
                             : sub.override_priority.value_or(def.priority);
    for (const auto& name : bucket_names(def, std::get<json>(values))) {
      add(name, priority, {BucketReason::Kind::Subscription, static_cast<int>(k)});
    }
  }

  if (r.buckets.size() > kMaxBuckets) {  // §3.3.1: the request fails as a whole
    r.error_code = "PSYNC_S2305";
    r.error_message = fmt::format("Too many buckets: {} (limit {})", r.buckets.size(), kMaxBuckets);
    r.buckets.clear();
    r.streams.clear();
  }
  return r;
}

json streams_json(const Resolution& r) {
  json out = json::array();
  for (const auto& s : r.streams) {
    json errors = json::array();
    for (const auto& e : s.errors) {
      errors.push_back({{"subscription", e.subscription ? json(*e.subscription) : json("default")},
                        {"message", e.message}});
    }
    out.push_back({{"name", s.name}, {"is_default", s.is_default}, {"errors", errors}});
  }
  return out;
}

json subscriptions_json(const ResolvedBucket& b) {
  json out = json::array();
  for (const auto& reason : b.reasons) {
    out.push_back(reason.kind == BucketReason::Kind::Default ? json{{"default", reason.index}}
                                                             : json{{"sub", reason.index}});
  }
  return out;
}

}  // namespace syncsim::model

// ---- the checker ----------------------------------------------------------------------

namespace syncsim::model {

std::vector<std::string> check_resolution(const StreamConfig& config, const StreamRequest& request,
                                          const Resolution& r) {
  std::vector<std::string> v;
  const auto& defs = config.definitions();
  if (r.error_code) {
    if (*r.error_code != "PSYNC_S2305") v.push_back("unexpected error code " + *r.error_code);
    if (!r.buckets.empty() || !r.streams.empty()) v.push_back("a failed request still has buckets");
    return v;
  }
  if (r.buckets.size() > kMaxBuckets) {
    v.push_back(
        fmt::format("{} buckets exceed the limit of {} (§3.3.1)", r.buckets.size(), kMaxBuckets));
  }
  // §3.3.2: every subscribed stream, in config order.
  std::vector<std::string> expected;
  for (const auto& d : defs) {
    bool named = std::any_of(request.subscriptions.begin(), request.subscriptions.end(),
                             [&](const StreamSubscription& s) { return s.stream == d.name; });
    if ((d.is_default && request.include_defaults) || named) expected.push_back(d.name);
  }
  std::vector<std::string> got;
  for (const auto& s : r.streams) got.push_back(s.name);
  if (got != expected) {
    v.push_back(fmt::format("streams [{}], expected [{}] (§3.3.2)", fmt::join(got, ","),
                            fmt::join(expected, ",")));
    return v;  // indices below would be meaningless
  }
  for (const auto& s : r.streams) {
    if (s.is_default != defs[*config.find(s.name)].is_default) {
      v.push_back(fmt::format("stream {}: is_default {}", s.name, s.is_default));
    }
  }
  std::set<std::string> names;
  for (const auto& b : r.buckets) {
    if (!names.insert(b.name).second) v.push_back("bucket " + b.name + " listed twice");
    if (b.reasons.empty()) v.push_back("bucket " + b.name + " has no subscription");
    int want = 4;
    for (const auto& reason : b.reasons) {
      std::string stream;
      int prio = 3;
      if (reason.kind == BucketReason::Kind::Default) {
        if (!request.include_defaults) {
          v.push_back(
              fmt::format("bucket {} synced by default stream {} despite "
                          "include_defaults:false (§3.3.3)",
                          b.name, reason.index));
        }
        if (reason.index < 0 || static_cast<std::size_t>(reason.index) >= r.streams.size() ||
            !r.streams[static_cast<std::size_t>(reason.index)].is_default) {
          v.push_back(fmt::format("bucket {}: default reason {} is not a default stream", b.name,
                                  reason.index));
          continue;
        }
        stream = r.streams[static_cast<std::size_t>(reason.index)].name;
        prio = defs[*config.find(stream)].priority;
      } else {
        if (reason.index < 0 ||
            static_cast<std::size_t>(reason.index) >= request.subscriptions.size()) {
          v.push_back(fmt::format("bucket {}: sub {} out of range", b.name, reason.index));
          continue;
        }
        const auto& sub = request.subscriptions[static_cast<std::size_t>(reason.index)];
        stream = sub.stream;
        prio = sub.override_priority.value_or(defs[*config.find(stream)].priority);
      }
      if (b.name.rfind(stream + "[", 0) != 0) {
        v.push_back(fmt::format("bucket {} attributed to stream {}", b.name, stream));
      }
      want = std::min(want, prio);
    }
    if (!b.reasons.empty() && b.priority != want) {
      v.push_back(
          fmt::format("bucket {}: priority {}, expected {} (§3.3.3)", b.name, b.priority, want));
    }
  }
  // Each subscription: an error iff its parameters are bad, buckets iff it has none (§3.3.3).
  for (std::size_t k = 0; k < request.subscriptions.size(); ++k) {
    const auto& sub = request.subscriptions[k];
    const StreamDefinition& def = defs[*config.find(sub.stream)];
    bool valid = true;
    for (const auto& p : def.parameters) {
      valid = valid && sub.parameters.is_object() && sub.parameters.contains(p) &&
              (sub.parameters[p].is_string() || sub.parameters[p].is_number_integer());
    }
    const auto& stream = r.streams[static_cast<std::size_t>(
        std::find(got.begin(), got.end(), sub.stream) - got.begin())];
    const bool has_error =
        std::any_of(stream.errors.begin(), stream.errors.end(),
                    [&](const StreamError& e) { return e.subscription == static_cast<int>(k); });
    const bool has_buckets = std::any_of(r.buckets.begin(), r.buckets.end(), [&](const auto& b) {
      return std::find(b.reasons.begin(), b.reasons.end(),
                       BucketReason{BucketReason::Kind::Subscription, static_cast<int>(k)}) !=
             b.reasons.end();
    });
    if (valid == has_error) {
      v.push_back(fmt::format("subscription {} ({}): parameters {}, but {} error", k, sub.stream,
                              valid ? "valid" : "bad", has_error ? "an" : "no"));
    }
    if (valid != has_buckets) {
      v.push_back(fmt::format("subscription {} ({}): parameters {}, but {} buckets", k, sub.stream,
                              valid ? "valid" : "bad", has_buckets ? "has" : "no"));
    }
  }
  // Each included default stream syncs its buckets.
  for (std::size_t i = 0; i < r.streams.size(); ++i) {
    if (!r.streams[i].is_default || !request.include_defaults) continue;
    const bool has = std::any_of(r.buckets.begin(), r.buckets.end(), [&](const auto& b) {
      return std::find(b.reasons.begin(), b.reasons.end(),
                       BucketReason{BucketReason::Kind::Default, static_cast<int>(i)}) !=
             b.reasons.end();
    });
    if (!has) v.push_back("default stream " + r.streams[i].name + " has no buckets");
  }
  return v;
}

}  // namespace syncsim::model
