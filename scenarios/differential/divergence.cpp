#include "scenarios/differential/divergence.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace syncsim::scenarios {

namespace {

// The group of a field: "request.next" -> "request".
std::string group_of(const std::string& field) { return field.substr(0, field.find('.')); }

// Two uploaded crud entries equal except for tx_id.
bool differ_only_in_tx_id(const std::string& a, const std::string& b) {
  auto ja = nlohmann::json::parse(a, nullptr, false);
  auto jb = nlohmann::json::parse(b, nullptr, false);
  if (!ja.is_object() || !jb.is_object()) return false;
  if (ja.value("tx_id", nlohmann::json()) == jb.value("tx_id", nlohmann::json())) return false;
  ja.erase("tx_id");
  jb.erase("tx_id");
  return ja == jb;
}

std::vector<Observation> slice(const std::vector<Observation>& v, std::size_t from,
                               std::size_t count) {
  std::vector<Observation> out;
  for (std::size_t i = from; i < v.size() && out.size() < count; ++i) out.push_back(v[i]);
  return out;
}

sim::Micros when(const Divergence& d) {
  sim::Micros t = INT64_MAX;
  if (d.a) t = std::min(t, d.a->at);
  if (d.b) t = std::min(t, d.b->at);
  return t;
}

}  // namespace

const std::vector<std::string>& allowable_divergence_classes() {
  static const std::vector<std::string> classes = {
      "tx-id", "timing", "write", "upload", "target", "request", "status", "applied", "rows"};
  return classes;
}

std::vector<std::string> classify(const Observation& a, const Observation& b) {
  if (a.field != b.field) return {"sequence"};
  std::vector<std::string> out;
  if (a.value != b.value) {
    out.push_back(a.field == "upload" && differ_only_in_tx_id(a.value, b.value)
                      ? "tx-id"
                      : group_of(a.field));
  }
  if (a.at != b.at) out.push_back("timing");
  std::sort(out.begin(), out.end());
  return out;
}

namespace {

// One client's walk (or one field group's, in per-field mode): its allowed classes before its
// first unallowed divergence.
struct Walk {
  std::optional<Divergence> first;
  std::vector<std::pair<sim::Micros, std::string>> allowed;
};

Walk walk(const std::vector<Observation>& sa, const std::vector<Observation>& sb,
          const std::set<std::string>& allow, uint64_t& compared) {
  Walk w;
  std::size_t i = 0;
  for (; i < sa.size() && i < sb.size(); ++i) {
    ++compared;
    auto classes = classify(sa[i], sb[i]);
    auto unallowed = std::find_if(classes.begin(), classes.end(),
                                  [&](const std::string& k) { return !allow.count(k); });
    if (unallowed == classes.end()) {
      for (auto& k : classes) w.allowed.emplace_back(std::min(sa[i].at, sb[i].at), k);
      continue;
    }
    Divergence d;
    d.klass = *unallowed;
    d.a = sa[i];
    d.b = sb[i];
    w.first = d;
    break;
  }
  if (!w.first && sa.size() != sb.size()) {
    Divergence d;
    d.klass = "length";
    if (i < sa.size()) d.a = sa[i];
    if (i < sb.size()) d.b = sb[i];
    w.first = d;
  }
  if (w.first) {
    auto& d = *w.first;
    d.index = i;
    const std::size_t from = i > kDivergenceContext ? i - kDivergenceContext : 0;
    d.before = slice(sa, from, i - from);
    d.after_a = slice(sa, i + 1, kDivergenceContext);
    d.after_b = slice(sb, i + 1, kDivergenceContext);
  }
  return w;
}

std::map<std::string, std::vector<Observation>> by_field(const std::vector<Observation>& v) {
  std::map<std::string, std::vector<Observation>> out;
  for (const auto& o : v) out[o.field].push_back(o);
  return out;
}

}  // namespace

Comparison compare_streams(const ObservationStreams& a, const ObservationStreams& b,
                           const std::set<std::string>& allow, bool per_field) {
  Comparison out;
  std::set<int> clients;
  for (const auto& [c, _] : a) clients.insert(c);
  for (const auto& [c, _] : b) clients.insert(c);
  static const std::vector<Observation> kEmpty;
  std::vector<Walk> walks;
  for (int c : clients) {
    const auto& sa = a.count(c) ? a.at(c) : kEmpty;
    const auto& sb = b.count(c) ? b.at(c) : kEmpty;
    if (!per_field) {
      walks.push_back(walk(sa, sb, allow, out.compared));
      if (walks.back().first) walks.back().first->client = c;
      continue;
    }
    const auto ga = by_field(sa);
    const auto gb = by_field(sb);
    std::set<std::string> groups;
    for (const auto& [g, _] : ga) groups.insert(g);
    for (const auto& [g, _] : gb) groups.insert(g);
    for (const auto& g : groups) {
      walks.push_back(walk(ga.count(g) ? ga.at(g) : kEmpty, gb.count(g) ? gb.at(g) : kEmpty, allow,
                           out.compared));
      if (walks.back().first) {
        walks.back().first->client = c;
        walks.back().first->group = g;
      }
    }
  }
  for (auto& w : walks) {
    if (!w.first) continue;
    if (!out.first || when(*w.first) < when(*out.first)) out.first = w.first;
  }
  const sim::Micros cutoff = out.first ? when(*out.first) : INT64_MAX;
  for (const auto& w : walks) {
    for (const auto& [at, k] : w.allowed) {
      if (at <= cutoff) ++out.allowed[k];
    }
  }
  return out;
}

}  // namespace syncsim::scenarios
