#include "scenarios/checks/stream_invariants.hpp"

#include "scenarios/checks/violation.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace syncsim::scenarios {

namespace {
std::optional<nlohmann::json> parse_array(const std::optional<std::string>& text) {
  if (!text || text->empty() || (*text)[0] != '[') return std::nullopt;
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_array()) return std::nullopt;
  return j;
}

bool has_instruction(const nlohmann::json& result, const char* name) {
  return std::any_of(result.begin(), result.end(),
                     [&](const nlohmann::json& i) { return i.contains(name); });
}

const engine::StreamStatusEntry* find_entry(const std::vector<engine::StreamStatusEntry>& v,
                                            const engine::StreamStatusEntry& e) {
  for (const auto& x : v) {
    if (x.name == e.name && x.parameters == e.parameters) return &x;
  }
  return nullptr;
}

std::string describe(const engine::StreamStatusEntry& e) {
  return e.parameters.is_null() ? e.name : e.name + " " + e.parameters.dump();
}
}  // namespace

void register_stream_invariants(sim::InvariantCatalog& catalog) {
  catalog.add({"stream-progress",
               "a stream's progress.downloaded never exceeds progress.total, and equals it in "
               "the download that makes the stream report synced",
               "scenarios/checks/stream_invariants.cpp on every status update with streams",
               "test: a status with downloaded > total (stream_invariants_test)", false});
  catalog.add({"stream-rows-covered",
               "after a full apply every visible items row belongs to a subscription of the "
               "connection's request or a default stream (rows of expired or removed "
               "subscriptions are gone)",
               "scenarios/checks/stream_invariants.cpp on every DidCompleteSync",
               "mutant removed-subscription-keeps-buckets", false});
  catalog.add({"stream-synced-after-applied",
               "a stream's last_synced_at changes only in a call that applied its buckets (a "
               "full apply, or a partial one at a priority >= the stream's)",
               "scenarios/checks/stream_invariants.cpp on every status update with streams",
               "test: a status claiming sync on a data line (stream_invariants_test)", false});
}

StreamInvariants::StreamInvariants(sim::Loop& loop, sim::Trace& trace, model::Service& service,
                                   sim::Verdicts& verdicts)
    : loop_(loop), trace_(trace), service_(service), verdicts_(verdicts) {}

void StreamInvariants::fail(const std::string& invariant, engine::Client& c, const Iteration& it,
                            const std::string& message, std::vector<sim::ViolationInput> inputs,
                            const std::string& now) {
  if (!verdicts_.enabled(invariant) || verdicts_.first()) return;
  std::vector<sim::CauseStep> chain;
  if (it.start_line) {
    chain.push_back({fmt::format("client {} starts an iteration with {} subscription(s)", c.index(),
                                 it.subscriptions.size()),
                     it.start_line});
  }
  if (it.checkpoint_line) {
    chain.push_back({"the iteration's last checkpoint line (its buckets and their subscriptions)",
                     it.checkpoint_line});
  }
  if (it.status_line) chain.push_back({"the iteration's previous sync status", it.status_line});
  chain.push_back({now, trace_.lines()});
  checks::fail(loop_, trace_, verdicts_, invariant, c.index(), message, std::move(inputs),
               std::move(chain));
}

void StreamInvariants::on_line(Iteration& it, const std::string& line) {
  if (line.find("checkpoint") == std::string::npos) return;
  auto j = nlohmann::json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return;
  if (j.contains("checkpoint")) {
    it.checkpoint_line = trace_.lines();
    // docs/protocol.md §3.3.2: a full checkpoint replaces the bucket set; `streams` gives the
    // names that {"default": i} reasons index.
    const auto& cp = j["checkpoint"];
    it.bucket_reasons.clear();
    it.default_streams.clear();
    for (const auto& s : cp.value("streams", nlohmann::json::array())) {
      it.default_streams.push_back(s.value("name", ""));
    }
    for (const auto& b : cp.value("buckets", nlohmann::json::array())) {
      it.bucket_reasons[b.value("bucket", "")] = b.value("subscriptions", nlohmann::json::array());
    }
  } else if (j.contains("checkpoint_diff")) {
    it.checkpoint_line = trace_.lines();
    const auto& d = j["checkpoint_diff"];
    for (const auto& b : d.value("updated_buckets", nlohmann::json::array())) {
      it.bucket_reasons[b.value("bucket", "")] = b.value("subscriptions", nlohmann::json::array());
    }
    for (const auto& b : d.value("removed_buckets", nlohmann::json::array())) {
      if (b.is_string()) it.bucket_reasons.erase(b.get<std::string>());
    }
  }
}

std::vector<std::string> StreamInvariants::buckets_of(const Iteration& it,
                                                      const engine::StreamStatusEntry& s) const {
  std::vector<std::string> out;
  for (const auto& [bucket, reasons] : it.bucket_reasons) {
    bool mine = false;
    for (const auto& r : reasons) {
      if (r.contains("sub") && r["sub"].is_number_integer()) {
        const auto k = r["sub"].get<std::size_t>();
        mine = mine || (k < it.subscriptions.size() && it.subscriptions[k].stream == s.name &&
                        it.subscriptions[k].parameters == s.parameters);
      } else if (r.contains("default") && r["default"].is_number_integer()) {
        const auto k = r["default"].get<std::size_t>();
        mine = mine ||
               (s.is_default && k < it.default_streams.size() && it.default_streams[k] == s.name);
      }
    }
    if (mine) out.push_back(bucket);
  }
  return out;
}

void StreamInvariants::judge_status(engine::Client& c, Iteration& it, const std::string& op,
                                    const std::optional<std::string>& payload,
                                    const nlohmann::json& result, const nlohmann::json& status) {
  const auto now = engine::parse_stream_statuses(status);
  const auto before = it.status ? engine::parse_stream_statuses(*it.status)
                                : std::vector<engine::StreamStatusEntry>{};
  for (const auto& e : now) {
    verdicts_.checked("stream-progress");
    if (e.downloaded > e.total) {
      const std::string src =
          fmt::format("the UpdateSyncStatus of stream {} after {}", describe(e), op);
      fail("stream-progress", c, it,
           fmt::format("stream {} reports progress {}/{} after {}", describe(e), e.downloaded,
                       e.total, op),
           {{"downloaded", std::to_string(e.downloaded), src, trace_.lines()},
            {"total", std::to_string(e.total), src, trace_.lines()}},
           fmt::format("{} reports more downloaded than the total", op));
      return;
    }
  }
  // Which apply (if any) this call made (docs/protocol.md §1.2.4, §1.4.2).
  std::optional<int> partial;
  bool full = false;
  const std::string* line_text = c.sync_line(op, payload);
  // Only a line naming a complete can be one; the others (data lines) are not parsed (issue 20).
  if (line_text != nullptr && line_text->find("checkpoint_complete") != std::string::npos) {
    auto line = nlohmann::json::parse(*line_text, nullptr, false);
    if (!line.is_discarded() && line.contains("partial_checkpoint_complete")) {
      partial = line["partial_checkpoint_complete"].value("priority", -1);
    } else if (!line.is_discarded() && line.contains("checkpoint_complete")) {
      full = has_instruction(result, "DidCompleteSync");
    }
  } else if (op == "completed_upload") {
    full = has_instruction(result, "DidCompleteSync");
  }
  const bool downloading = status.contains("downloading") && !status["downloading"].is_null();
  for (const auto& e : now) {
    if (!e.last_synced_at || !it.status) continue;
    const auto* prev = find_entry(before, e);
    if (prev && prev->last_synced_at == e.last_synced_at) continue;
    ++streams_synced_;
    verdicts_.checked("stream-synced-after-applied");
    const bool applied = full || (partial && e.priority && *e.priority <= *partial);
    if (!applied) {
      const std::string src =
          fmt::format("the UpdateSyncStatus of stream {} after {}", describe(e), op);
      std::vector<sim::ViolationInput> inputs{
          {"last_synced_at", std::to_string(*e.last_synced_at), src, trace_.lines()},
          {"stream priority", e.priority ? std::to_string(*e.priority) : "none", src,
           trace_.lines()},
          {"applied by the call",
           full ? "a full checkpoint"
                : (partial ? fmt::format("priority <= {}", *partial) : std::string("nothing")),
           fmt::format("the {} call's line and its DidCompleteSync", op), trace_.lines()},
          {"last_synced_at before",
           prev && prev->last_synced_at ? std::to_string(*prev->last_synced_at) : "none",
           "the iteration's previous status", it.status_line}};
      fail("stream-synced-after-applied", c, it,
           fmt::format("stream {} (priority {}) reports last_synced_at {} after {} {}, which "
                       "applied {}",
                       describe(e), e.priority ? std::to_string(*e.priority) : "none",
                       *e.last_synced_at, op, payload ? payload->substr(0, 80) : "",
                       partial ? fmt::format("only priority <= {}", *partial) : "nothing"),
           std::move(inputs),
           fmt::format("{} moves last_synced_at of {} without applying it", op, describe(e)));
      return;
    }
    for (const auto& bucket : buckets_of(it, e)) {
      const auto last = c.bucket_unapplied(bucket);
      if (last && *last != 0) {
        fail("stream-synced-after-applied", c, it,
             fmt::format("stream {} reports synced but its bucket {} has last_op - "
                         "last_applied_op = {} after {}",
                         describe(e), bucket, *last, op),
             {{"last_synced_at", std::to_string(*e.last_synced_at),
               fmt::format("the UpdateSyncStatus of stream {} after {}", describe(e), op),
               trace_.lines()},
              {"last_op - last_applied_op", std::to_string(*last),
               fmt::format("ps_buckets of client {}, bucket {}, after {}", c.index(), bucket, op),
               trace_.lines()}},
             fmt::format("{} reports {} synced while bucket {} is not applied", op, describe(e),
                         bucket));
        return;
      }
    }
    // "reaches total when synced": the download this apply completed.
    const auto& basis = downloading ? now : before;
    if (const auto* d = find_entry(basis, e); d && d->downloaded != d->total) {
      verdicts_.checked("stream-progress");
      const std::string src = fmt::format("the {} status of stream {}",
                                          downloading ? "current" : "previous", describe(e));
      const uint64_t src_line = downloading ? trace_.lines() : it.status_line;
      fail("stream-progress", c, it,
           fmt::format("stream {} reports synced after {} with progress {}/{}", describe(e), op,
                       d->downloaded, d->total),
           {{"downloaded", std::to_string(d->downloaded), src, src_line},
            {"total", std::to_string(d->total), src, src_line},
            {"last_synced_at", std::to_string(*e.last_synced_at),
             fmt::format("the UpdateSyncStatus of stream {} after {}", describe(e), op),
             trace_.lines()}},
           fmt::format("{} reports {} synced before its download reached the total", op,
                       describe(e)));
      return;
    }
  }
}

void StreamInvariants::on_control(engine::Client& c, const std::string& op,
                                  const std::optional<std::string>& payload,
                                  const std::optional<std::string>& result) {
  if (!service_.config().streams) return;  // no sync streams in this world
  Iteration& it = iterations_[c.index()];
  auto out = parse_array(result);
  if (op == "start") {
    it = Iteration{};
    it.start_line = trace_.lines();
    if (out) {
      for (const auto& i : *out) {
        if (!i.contains("EstablishSyncStream")) continue;
        const auto& req = i["EstablishSyncStream"]["request"];
        if (!req.contains("streams")) continue;
        const auto& s = req["streams"];
        it.include_defaults = s.value("include_defaults", true);
        for (const auto& sub : s.value("subscriptions", nlohmann::json::array())) {
          it.subscriptions.push_back(
              Subscription{sub.value("stream", ""),
                           sub.contains("parameters") ? sub["parameters"] : nlohmann::json()});
        }
      }
    }
  }
  if (const std::string* line_text = c.sync_line(op, payload)) on_line(it, *line_text);
  if (!out) return;
  const nlohmann::json* status = nullptr;
  for (const auto& i : *out) {
    if (i.contains("UpdateSyncStatus")) status = &i["UpdateSyncStatus"]["status"];
  }
  if (status == nullptr) return;
  if (op != "start") judge_status(c, it, op, payload, *out, *status);
  it.status = *status;
  it.status_line = trace_.lines();
}

void StreamInvariants::on_sync_applied(engine::Client& c, std::optional<int64_t> /*applied_id*/) {
  if (!service_.config().streams) return;
  const model::StreamConfig& config = *service_.config().streams;
  const Iteration& it = iterations_[c.index()];
  for (const auto& [id, value] : c.read_table("items")) {
    ++rows_checked_;
    verdicts_.checked("stream-rows-covered");
    auto item = model::parse_item_id(id);
    auto def = item ? config.find(item->stream) : std::nullopt;
    if (!def) {
      fail("stream-rows-covered", c, it, fmt::format("items row {} names no stream", id),
           {{"items row", id,
             fmt::format("the items table of client {} after a full apply", c.index()),
             trace_.lines()},
            {"streams defined", std::to_string(config.definitions().size()),
             "the service's stream definitions", 0}},
           fmt::format("a full apply shows items row {} of no defined stream", id));
      return;
    }
    const model::StreamDefinition& d = config.definitions()[*def];
    if (d.is_default && it.include_defaults) continue;
    const nlohmann::json params =
        d.parameters.empty() ? nlohmann::json() : nlohmann::json{{"id", item->value}};
    const bool covered = std::any_of(
        it.subscriptions.begin(), it.subscriptions.end(),
        [&](const Subscription& s) { return s.stream == item->stream && s.parameters == params; });
    if (!covered) {
      std::string subs;
      for (std::size_t i = 0; i < it.subscriptions.size() && i < 5; ++i) {
        subs += (i ? ", " : "") + it.subscriptions[i].stream + " " +
                it.subscriptions[i].parameters.dump();
      }
      if (it.subscriptions.size() > 5)
        subs += fmt::format(", ... {} more", it.subscriptions.size() - 5);
      fail("stream-rows-covered", c, it,
           fmt::format("items row {} ({}) is visible after a full apply, but the connection's "
                       "request has no subscription to {} {} ({} subscriptions)",
                       id, value.value_or("deleted"), item->stream, params.dump(),
                       it.subscriptions.size()),
           {{"items row", fmt::format("{} ({})", id, value.value_or("deleted")),
             fmt::format("the items table of client {} after a full apply", c.index()),
             trace_.lines()},
            {"needed subscription", item->stream + " " + params.dump(),
             "the row's stream and its parameters", trace_.lines()},
            {"subscriptions", subs.empty() ? "none" : subs,
             "the EstablishSyncStream request of the connection", it.start_line}},
           fmt::format("a full apply leaves items row {} visible without a subscription to {}", id,
                       item->stream));
      return;
    }
  }
}

}  // namespace syncsim::scenarios
