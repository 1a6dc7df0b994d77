#include "bench/stream_status_probe.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <ctime>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>

#include "engine/database.hpp"
#include "sim/clock.hpp"
#include "sim/prng.hpp"
#include "sim/vfs.hpp"

namespace syncsim::bench {

using nlohmann::json;

std::string ProbeShape::label() const {
  return fmt::format("{}{}x{}sub x{}b p{}", default_streams ? "default " : "", streams,
                     subs_per_stream, buckets_per_stream, priorities);
}

void StatusStats::add_status(int64_t bytes) {
  min_bytes = updates == 0 ? bytes : std::min(min_bytes, bytes);
  max_bytes = std::max(max_bytes, bytes);
  total_bytes += bytes;
  ++updates;
}

// ---- instruction scanner -------------------------------------------------------------

namespace {
[[noreturn]] void bad_array(std::string_view why, std::size_t at) {
  throw std::runtime_error(fmt::format("instruction list: {} at byte {}", why, at));
}

// Index one past the JSON string starting at text[at] == '"'.
std::size_t skip_string(std::string_view text, std::size_t at) {
  for (std::size_t i = at + 1; i < text.size(); ++i) {
    if (text[i] == '\\') {
      ++i;
    } else if (text[i] == '"') {
      return i + 1;
    }
  }
  bad_array("unterminated string", at);
}

// Index one past the object starting at text[at] == '{'.
std::size_t skip_object(std::string_view text, std::size_t at) {
  int depth = 0;
  for (std::size_t i = at; i < text.size();) {
    const char c = text[i];
    if (c == '"') {
      i = skip_string(text, i);
      continue;
    }
    if (c == '{' || c == '[') ++depth;
    if (c == '}' || c == ']') {
      if (--depth == 0) return i + 1;
    }
    ++i;
  }
  bad_array("unterminated object", at);
}

bool is_space(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }
}  // namespace

std::vector<std::string_view> instructions_named(std::string_view text, std::string_view name) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  auto skip_ws = [&] {
    while (i < text.size() && is_space(text[i])) ++i;
  };
  skip_ws();
  if (i >= text.size() || text[i] != '[') bad_array("expected '['", i);
  ++i;
  skip_ws();
  if (i < text.size() && text[i] == ']') return out;
  while (true) {
    skip_ws();
    if (i >= text.size() || text[i] != '{') bad_array("expected an object", i);
    const std::size_t end = skip_object(text, i);
    std::string_view element = text.substr(i, end - i);
    // {"Name":…}: the key is the element's first string.
    std::size_t k = 1;
    while (k < element.size() && is_space(element[k])) ++k;
    if (k < element.size() && element[k] == '"') {
      const std::size_t key_end = skip_string(element, k);
      if (element.substr(k + 1, key_end - k - 2) == name) out.push_back(element);
    }
    i = end;
    skip_ws();
    if (i < text.size() && text[i] == ',') {
      ++i;
      continue;
    }
    if (i < text.size() && text[i] == ']') return out;
    bad_array("expected ',' or ']'", i);
  }
}

// ---- the probe -----------------------------------------------------------------------

namespace {

constexpr const char* kSchema =
    R"({"tables":[{"name":"items","columns":[{"name":"name","type":"text"}]}]})";

int32_t as_int32(uint32_t v) { return static_cast<int32_t>(v); }

std::string stream_name(int i) { return fmt::format("stream{}", i); }

// One simulated client database with the core loaded, fed lines by hand.
class Probe {
 public:
  Probe(const engine::CoreVersion& core)
      : root_(1), sqlite_rng_(root_.split("sqlite")), db_("probe.db", core) {
    db_.begin();
    db_.query_text("SELECT powersync_replace_schema(?)", {kSchema});
    db_.commit();
  }

  // One powersync_control call in its own write transaction (docs/protocol.md §1.2.1), counted into
  // `stats` if given.
  std::string control(const std::string& op, const std::optional<std::string>& payload,
                      StatusStats* stats = nullptr) {
    db_.begin();
    std::optional<std::string> result;
    try {
      result = db_.control(op, payload);
    } catch (const engine::SqlError& e) {
      db_.rollback();
      throw std::runtime_error(fmt::format("powersync_control('{}'): {}", op, e.what()));
    }
    db_.commit();
    std::string text = result.value_or("");
    if (stats != nullptr) {
      ++stats->control_calls;
      stats->result_bytes += static_cast<int64_t>(text.size());
      for (auto s : instructions_named(text, "UpdateSyncStatus")) {
        stats->add_status(static_cast<int64_t>(s.size()));
      }
    }
    if (!text.empty() && !instructions_named(text, "CloseSyncStream").empty()) {
      throw std::runtime_error(fmt::format("core closed the stream on '{}': {}", op, text));
    }
    return text;
  }

 private:
  sim::VirtualClock clock_;
  sim::Prng root_;
  sim::Prng sqlite_rng_;
  sim::FileStore files_;
  sim::VfsBinding binding_{clock_, sqlite_rng_, files_};
  engine::Database db_;
};

struct Bucket {
  std::string name;
  int stream = 0;
  int priority = 3;
  json subscriptions = json::array();
  uint32_t checksum = 0;
  int64_t count = 0;
};

json op_line(const Bucket& b, int64_t after, int64_t op_id) {
  json op = {{"op_id", std::to_string(op_id)},
             {"op", "PUT"},
             {"object_type", "items"},
             {"object_id", fmt::format("item{}", op_id)},
             {"data", json{{"name", fmt::format("row {}", op_id)}}.dump()},
             {"checksum", static_cast<uint32_t>(op_id)}};
  return {{"data",
           {{"bucket", b.name},
            {"after", std::to_string(after)},
            {"next_after", std::to_string(op_id)},
            {"has_more", false},
            {"data", json::array({op})}}}};
}

json bucket_json(const Bucket& b) {
  return {{"bucket", b.name},
          {"checksum", as_int32(b.checksum)},
          {"count", b.count},
          {"priority", b.priority},
          {"subscriptions", b.subscriptions}};
}

void validate(const ProbeShape& s) {
  auto check = [](bool ok, const std::string& what) {
    if (!ok) throw std::invalid_argument("bad probe shape: " + what);
  };
  check(s.streams >= 1 && s.streams <= 10000, fmt::format("streams {} not in 1..10000", s.streams));
  check(s.subs_per_stream >= 1 && s.subs_per_stream <= 1000,
        fmt::format("subs_per_stream {} not in 1..1000", s.subs_per_stream));
  check(s.buckets_per_stream >= 1 && s.buckets_per_stream <= 100000,
        fmt::format("buckets_per_stream {} not in 1..100000", s.buckets_per_stream));
  check(s.priorities == 1 || s.priorities == 4,
        fmt::format("priorities {} is not 1 or 4", s.priorities));
  check(!s.default_streams || s.subs_per_stream == 1,
        "default streams have exactly one (implicit) subscription each");
  check(s.total_buckets() <= 100000,
        fmt::format("{} buckets in total, more than 100000", s.total_buckets()));
}

// Process CPU time (the probe is single-threaded): steadier than wall time on a shared
// machine.  A measurement only; never part of the table.
double cpu_seconds_since(std::clock_t t0) {
  return static_cast<double>(std::clock() - t0) / CLOCKS_PER_SEC;
}

}  // namespace

ProbeResult run_status_probe(const ProbeShape& shape, const engine::CoreVersion& core) {
  validate(shape);
  ProbeResult r;
  r.shape = shape;
  r.core = core.name;
  Probe probe(core);

  // Explicit subscriptions (docs/protocol.md §1.4.1): stream i, parameters {"p": s}.
  json active = json::array();
  if (!shape.default_streams) {
    for (int i = 0; i < shape.streams; ++i) {
      for (int s = 0; s < shape.subs_per_stream; ++s) {
        json key = {{"name", stream_name(i)}, {"params", {{"p", s}}}};
        probe.control("subscriptions", json{{"subscribe", {{"stream", key}}}}.dump());
        active.push_back(key);
      }
    }
  }
  json start = {{"active_streams", active}, {"include_defaults", shape.default_streams}};
  json instructions = json::parse(probe.control("start", start.dump()));
  // The request's subscription indices are what the buckets' {"sub": i} refer to
  // (docs/protocol.md §3.3.2); read them from the request the core built.
  std::map<std::string, int> sub_index;
  for (const auto& ins : instructions) {
    if (!ins.contains("EstablishSyncStream")) continue;
    const json& subs = ins["EstablishSyncStream"]["request"]["streams"]["subscriptions"];
    for (std::size_t k = 0; k < subs.size(); ++k) {
      sub_index[subs[k]["stream"].get<std::string>() + subs[k]["parameters"].dump()] =
          static_cast<int>(k);
    }
    r.request_subscriptions = static_cast<int64_t>(subs.size());
  }
  probe.control("connection", "established");

  // The checkpoint (docs/protocol.md §3.3.2): bucket j of stream i belongs to the subscriptions s
  // with s ≡ j (mod min(buckets, subs)), so every subscription has a bucket and every
  // bucket a subscription.
  std::vector<Bucket> buckets;
  json streams = json::array();
  int64_t op_id = 0;
  const int m = std::min(shape.buckets_per_stream, shape.subs_per_stream);
  for (int i = 0; i < shape.streams; ++i) {
    streams.push_back({{"name", stream_name(i)},
                       {"is_default", shape.default_streams},
                       {"errors", json::array()}});
    for (int j = 0; j < shape.buckets_per_stream; ++j) {
      Bucket b;
      b.name = fmt::format("{}[{}]", stream_name(i), j);
      b.stream = i;
      b.priority = shape.priorities == 1 ? 3 : i % 4;
      if (shape.default_streams) {
        b.subscriptions.push_back({{"default", i}});
      } else {
        for (int s = 0; s < shape.subs_per_stream; ++s) {
          if (s % m != j % m) continue;
          const std::string key = stream_name(i) + json{{"p", s}}.dump();
          auto it = sub_index.find(key);
          if (it == sub_index.end()) {
            throw std::runtime_error("the core's request lacks subscription " + key);
          }
          b.subscriptions.push_back({{"sub", it->second}});
        }
      }
      b.checksum = static_cast<uint32_t>(++op_id);
      b.count = 1;
      buckets.push_back(std::move(b));
    }
  }
  json checkpoint_buckets = json::array();
  for (const auto& b : buckets) checkpoint_buckets.push_back(bucket_json(b));
  const std::string last_op = std::to_string(op_id);
  const std::string checkpoint =
      json{{"checkpoint",
            {{"last_op_id", last_op}, {"buckets", checkpoint_buckets}, {"streams", streams}}}}
          .dump();
  r.checkpoint_line_bytes = static_cast<int64_t>(checkpoint.size());

  // Data grouped by priority, highest first; each group but the last ends with
  // partial_checkpoint_complete (docs/protocol.md §3.3.3 step 5).
  std::vector<const Bucket*> order;
  for (const auto& b : buckets) order.push_back(&b);
  std::stable_sort(order.begin(), order.end(),
                   [](const Bucket* a, const Bucket* b) { return a->priority < b->priority; });
  bool applied_initial = false;
  std::clock_t t0 = std::clock();
  const std::string first_status = probe.control("line_text", checkpoint, &r.initial);
  auto statuses = instructions_named(first_status, "UpdateSyncStatus");
  if (!statuses.empty()) {
    json status = json::parse(statuses.back())["UpdateSyncStatus"]["status"];
    r.status_stream_entries = static_cast<int64_t>(status["streams"].size());
    for (const auto& s : status["streams"]) {
      r.status_progress_total += s["progress"]["total"].get<int64_t>();
    }
  }
  for (std::size_t k = 0; k < order.size(); ++k) {
    const Bucket& b = *order[k];
    const int64_t id = static_cast<int64_t>(b.checksum);  // one op per bucket, op id = checksum
    probe.control("line_text", op_line(b, 0, id).dump(), &r.initial);
    const bool group_ends = k + 1 == order.size() || order[k + 1]->priority != b.priority;
    if (group_ends && k + 1 != order.size()) {
      json partial = {
          {"partial_checkpoint_complete", {{"last_op_id", last_op}, {"priority", b.priority}}}};
      probe.control("line_text", partial.dump(), &r.initial);
    }
  }
  std::string done = probe.control(
      "line_text", json{{"checkpoint_complete", {{"last_op_id", last_op}}}}.dump(), &r.initial);
  r.initial.cpu_seconds = cpu_seconds_since(t0);
  applied_initial = !instructions_named(done, "DidCompleteSync").empty();

  // Steady state: one more op in the first bucket, as a checkpoint_diff.
  Bucket& first = buckets.front();
  const int64_t new_op = ++op_id;
  const int64_t after = static_cast<int64_t>(first.checksum);
  first.checksum += static_cast<uint32_t>(new_op);
  first.count += 1;
  const std::string diff_op = std::to_string(new_op);
  json diff = {{"checkpoint_diff",
                {{"last_op_id", diff_op},
                 {"updated_buckets", json::array({bucket_json(first)})},
                 {"removed_buckets", json::array()}}}};
  t0 = std::clock();
  probe.control("line_text", diff.dump(), &r.diff);
  probe.control("line_text", op_line(first, after, new_op).dump(), &r.diff);
  done = probe.control("line_text", json{{"checkpoint_complete", {{"last_op_id", diff_op}}}}.dump(),
                       &r.diff);
  r.diff.cpu_seconds = cpu_seconds_since(t0);
  r.applied = applied_initial && !instructions_named(done, "DidCompleteSync").empty();
  if (!r.applied) {
    throw std::runtime_error(fmt::format("{}: the core did not apply the checkpoints; last: {}",
                                         shape.label(), done.substr(0, 2000)));
  }
  return r;
}

}  // namespace syncsim::bench
