#include "scenarios/results/run_recorder.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "scenarios/world/sync_lines.hpp"

namespace syncsim::scenarios {

std::string lane_of_client(int index) { return fmt::format("client {}", index); }

std::string id_list_text(const std::vector<int64_t>& ids) {
  if (ids.size() <= 3) return fmt::format("{}", fmt::join(ids, ", "));
  const auto [lo, hi] = std::minmax_element(ids.begin(), ids.end());
  return fmt::format("{}…{} ({} ids)", *lo, *hi, ids.size());
}

namespace {

constexpr const char* kService = "service";
constexpr const char* kReplication = "replication";

// Which lane a fault is drawn over, and how it reads.
std::pair<std::string, std::string> fault_lane_and_label(const Fault& f) {
  switch (f.kind) {
    case FaultKind::Lag:
      return {kReplication, fmt::format("lag {} ms", f.lag_ms)};
    case FaultKind::Stall:
      return {kReplication, "replication stall"};
    case FaultKind::Disconnect:
      return {lane_of_client(f.client), "disconnect (stream cut)"};
    case FaultKind::Storm:
      return {kService, fmt::format("reconnect storm {}%", f.fraction_pct)};
    case FaultKind::RequestLost:
      return {lane_of_client(f.client),
              fmt::format("next {} {} request(s) lose their {}", f.count, f.route, f.lost)};
    case FaultKind::DeleteRequest:
      return {kService, fmt::format("delete request record of client {}", f.client)};
    case FaultKind::ServiceRestart:
      return {kService, fmt::format("service restart, down {} ms", f.down_ms)};
    case FaultKind::Restart:
      return {lane_of_client(f.client), fmt::format("app restart, down {} ms", f.down_ms)};
    case FaultKind::Kill:
    case FaultKind::PowerLoss: {
      const char* what = f.kind == FaultKind::Kill ? "kill" : "power loss";
      if (f.when == "now") {
        return {lane_of_client(f.client), fmt::format("{}, down {} ms", what, f.down_ms)};
      }
      return {lane_of_client(f.client),
              fmt::format("{} armed ({}), down {} ms", what, f.when, f.down_ms)};
    }
    case FaultKind::Upgrade:
    case FaultKind::Downgrade:
      return {lane_of_client(f.client),
              fmt::format("{} to core {}, down {} ms", to_string(f.kind), f.core, f.down_ms)};
    case FaultKind::SwitchMode:
      return {lane_of_client(f.client),
              fmt::format("switch checkpoint mode, down {} ms", f.down_ms)};
    case FaultKind::SwitchUser:
      return {lane_of_client(f.client),
              fmt::format("switch user ({}), down {} ms", f.user, f.down_ms)};
    case FaultKind::LineFault:
      return {lane_of_client(f.client), "line fault " + f.line};
    case FaultKind::Quiet:
      return {lane_of_client(f.client),
              f.duration_ms ? fmt::format("quiet (no writes) for {} ms", *f.duration_ms)
                            : std::string("quiet (no writes) for good")};
    case FaultKind::ForeignRequest:
      return {lane_of_client(f.client),
              fmt::format("a second installation posts checkpoint_request_id {}", f.request_id)};
    default:
      return {kService, to_string(f.kind)};
  }
}

}  // namespace

RunRecorder::RunRecorder(const sim::VirtualClock& clock, const Scenario& scenario)
    : clock_(clock), clients_(static_cast<std::size_t>(scenario.clients.count)) {
  events_.reserve(4096);
}

RunRecorder::ClientState& RunRecorder::state(engine::Client& c) {
  auto& s = clients_.at(static_cast<std::size_t>(c.index() - 1));
  if (s.life != &c) {
    // Old lives are kept until the run ends, so a new address is a new life.
    const bool reopened = s.life != nullptr;
    s.life = &c;
    ++s.lives;
    s.last_write_checkpoint.reset();
    if (reopened) {
      const auto lane = lane_of_client(c.index());
      spans_.push_back({lane, "life", clock_.elapsed(), clock_.elapsed(),
                        fmt::format("app reopens (life {})", s.lives)});
      add(lane, lane, "life",
          fmt::format(
              "app reopens (life {}, core {}, {} mode)", s.lives, c.core().name,
              c.checkpoint_mode() == engine::CheckpointMode::Legacy ? "legacy" : "requests"));
    }
  }
  return s;
}

void RunRecorder::add(std::string from, std::string to, std::string kind, std::string label) {
  events_.push_back(
      {clock_.elapsed(), std::move(from), std::move(to), std::move(kind), std::move(label)});
}

void RunRecorder::sample(const char* kind, sim::Micros since, int client) {
  samples_[kind].push_back({since, client, (clock_.elapsed() - since) / sim::kMillis});
}

nlohmann::json samples_json(const std::map<std::string, std::vector<LatencySample>>& samples) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [kind, list] : samples) {
    std::string text;
    text.reserve(list.size() * 16);
    for (const auto& s : list) {
      text +=
          fmt::format("{}{},{},{}", text.empty() ? "" : ";", s.at / sim::kMillis, s.client, s.ms);
    }
    out[kind] = std::move(text);
  }
  return out;
}

void RunRecorder::on_local_write(engine::Client& c, const engine::LocalWrite& w) {
  state(c).not_uploaded.push_back(clock_.elapsed());
  const auto lane = lane_of_client(c.index());
  add(lane, lane, "write",
      fmt::format("write {}/{}{}", w.table, w.id, w.description ? "" : " (delete)"));
}

void RunRecorder::on_uploaded(engine::Client& c, const nlohmann::json& crud) {
  auto& s = state(c);
  const auto n = std::min(s.not_uploaded.size(), static_cast<std::size_t>(crud.size()));
  s.awaiting_target.insert(s.awaiting_target.end(), s.not_uploaded.begin(),
                           s.not_uploaded.begin() + static_cast<std::ptrdiff_t>(n));
  s.not_uploaded.erase(s.not_uploaded.begin(),
                       s.not_uploaded.begin() + static_cast<std::ptrdiff_t>(n));
  add(lane_of_client(c.index()), kService, "upload", fmt::format("upload {} op(s)", crud.size()));
}

void RunRecorder::on_target_set(engine::Client& c, int64_t target, engine::TargetStoredBy) {
  auto& s = state(c);
  s.awaiting_ack.insert(s.awaiting_ack.end(), s.awaiting_target.begin(), s.awaiting_target.end());
  s.awaiting_target.clear();
  const auto lane = lane_of_client(c.index());
  if (!s.barrier_since) s.barrier_since = clock_.elapsed();
  if (c.checkpoint_mode() == engine::CheckpointMode::Legacy) {
    s.unacked_requests.emplace_back(target, clock_.elapsed());
    add(kService, lane, "request", fmt::format("write-checkpoint2 → {}", target));
  }
  add(lane, lane, "target", fmt::format("target := {}", target));
}

void RunRecorder::on_sync_applied(engine::Client& c, std::optional<int64_t> applied_id) {
  // DidCompleteSync: the barrier passed, so every write covered by a target is visible
  // with its acknowledgement.
  auto& s = state(c);
  const auto now = clock_.elapsed();
  for (auto t : s.awaiting_ack) {
    write_to_ack_ms_.push_back((now - t) / sim::kMillis);
    sample("write_to_ack_ms", t, c.index());
  }
  s.awaiting_ack.clear();
  if (s.barrier_since) {
    sample("barrier_closed_ms", *s.barrier_since, c.index());
    spans_.push_back({lane_of_client(c.index()), "awaiting", *s.barrier_since, now, ""});
  }
  s.barrier_since.reset();
  const auto lane = lane_of_client(c.index());
  add(lane, lane, "applied",
      applied_id ? fmt::format("applied, last_applied = {}", *applied_id) : "applied");
}

void RunRecorder::on_control(engine::Client& c, const std::string& op,
                             const std::optional<std::string>& payload,
                             const std::optional<std::string>& result) {
  auto& s = state(c);  // first, so a new life is noted before what it does
  // The lane's name only for an event: most calls add none (issue 20).
  const auto lane = [&] { return lane_of_client(c.index()); };
  // A data line carries no write_checkpoint (docs/protocol.md §1.3.2): not decoded to look; a
  // BSON line's is read from its bytes when that is certain (engine/sync_line_peek.hpp).
  const auto key = c.sync_line_key(op, payload);
  if (key && *key == "data") return;
  std::optional<std::optional<int64_t>> peeked;
  if (key && op == "line_binary") peeked = c.bson_line_write_checkpoint(*payload);
  const std::string* line = peeked ? nullptr : c.sync_line(op, payload);
  if (peeked || line != nullptr) {
    auto wc = peeked ? *peeked : write_checkpoint_of(*line);
    if (wc && wc != s.last_write_checkpoint) {
      std::vector<int64_t> hidden_ids;
      std::erase_if(s.unacked_requests, [&](const std::pair<int64_t, sim::Micros>& request) {
        const auto [id, at] = request;
        if (id > *wc) return false;
        if (id < *wc) {
          hidden_ids.push_back(id);
          ++hidden_acks_;
        }
        sample(id < *wc ? "ack_hidden_ms" : "ack_direct_ms", at, c.index());
        return true;
      });
      const std::string hidden = id_list_text(hidden_ids);
      if (!hidden.empty() && !first_hidden_ack_) first_hidden_ack_ = events_.size();
      add(kService, lane(), "checkpoint",
          fmt::format("checkpoint, write_checkpoint {}{}", *wc,
                      hidden.empty() ? "" : " (hides the ack of " + hidden + ")"));
      add(lane(), lane(), "last_seen", fmt::format("last_seen = {}", *wc));
    }
    if (wc) s.last_write_checkpoint = wc;
  } else if (op == "next_checkpoint_request_id" && result) {
    s.unacked_requests.emplace_back(std::stoll(*result), clock_.elapsed());
    add(lane(), kService, "request", fmt::format("POST checkpoint-request {}", *result));
  } else if (op == "seed_checkpoint_request_id" && payload) {
    add(kService, lane(), "request", fmt::format("seed → {}", *payload));
  } else if (op == "start") {
    ++stream_starts_;
    s.last_write_checkpoint.reset();
    add(lane(), kService, "stream", "open sync stream");
  }
}

void RunRecorder::on_quiesce() {
  heal_at_ = clock_.elapsed();
  add(kService, kService, "phase", "heal phase begins: faults heal, the workload stops");
}

void RunRecorder::on_fault(const Fault& f, bool armed) {
  auto [lane, label] = fault_lane_and_label(f);
  const auto now = clock_.elapsed();
  if (armed) {
    spans_.push_back({lane, "armed", now, now, label});
    add(lane, lane, "armed", label);
    return;
  }
  add(lane, lane, "fault", "⚡ " + label);
  if (f.kind == FaultKind::Lag || f.kind == FaultKind::Stall) {
    // A new lag replaces the one in force.
    for (auto it = windows_.begin(); it != windows_.end();) {
      if (f.kind == FaultKind::Lag && it->label.rfind("lag", 0) == 0) {
        spans_.push_back({it->lane, "fault-window", it->from,
                          std::min(now, it->planned_end.value_or(now)), it->label});
        it = windows_.erase(it);
      } else {
        ++it;
      }
    }
    windows_.push_back(
        {lane, label, now,
         f.duration_ms ? std::optional(now + *f.duration_ms * sim::kMillis) : std::nullopt});
  } else {
    spans_.push_back({lane, "fault", now, now, label});
  }
}

void RunRecorder::on_replication(const model::ReplicationStep& step) {
  if (step.checkpoint_blocked) {
    add(kReplication, kReplication, "replication",
        fmt::format("replay to lsn {}: checkpoint blocked", step.lsn));
    return;
  }
  add(kReplication, kService, "replication",
      fmt::format("checkpoint lsn {} (head {}): {} commit(s){}, lag {}.{}s", step.lsn, step.head,
                  step.commits,
                  step.markers ? fmt::format(", {} marker(s)", step.markers) : std::string(),
                  step.newest_age / sim::kSeconds, (step.newest_age / 100'000) % 10));
}

Timeline RunRecorder::finish(const std::optional<sim::Violation>& violation) {
  const sim::Micros end = clock_.elapsed();
  // Fault windows close when they end, at the heal or where the run ended; an end that
  // was planned after that did not happen and is not drawn.
  std::vector<TimelineEvent> ends;
  std::vector<TimelineSpan> spans = spans_;
  const sim::Micros healed = heal_at_.value_or(end);
  for (const auto& w : windows_) {
    sim::Micros to = std::min(healed, end);
    if (w.planned_end && *w.planned_end <= to) {
      to = *w.planned_end;
      ends.push_back({to, w.lane, w.lane, "fault", "end of " + w.label});
    }
    spans.push_back({w.lane, "fault-window", w.from, to, w.label});
  }
  if (heal_at_) spans.push_back({kService, "heal", *heal_at_, end, "heal phase"});
  std::stable_sort(ends.begin(), ends.end(),
                   [](const auto& a, const auto& b) { return a.at < b.at; });
  std::vector<TimelineEvent> all;
  all.reserve(events_.size() + ends.size() + 1);
  std::merge(events_.begin(), events_.end(), ends.begin(), ends.end(), std::back_inserter(all),
             [](const auto& a, const auto& b) { return a.at < b.at; });
  std::optional<std::size_t> anchor;
  if (violation) {
    std::string lane = violation->subject.rfind("client", 0) == 0 ? violation->subject : kService;
    spans.push_back({lane, "violation", violation->at, violation->at,
                     fmt::format("VIOLATION {}", violation->invariant)});
    // The note carries the message too (bounded: the diagram's lanes are narrow).
    std::string message = violation->message;
    if (message.size() > 90) message = message.substr(0, 87) + "...";
    TimelineEvent v{violation->at, lane, lane, "violation",
                    fmt::format("VIOLATION {}: {}", violation->invariant, message)};
    auto pos = std::upper_bound(all.begin(), all.end(), v,
                                [](const auto& a, const auto& b) { return a.at < b.at; });
    anchor = static_cast<std::size_t>(pos - all.begin());
    all.insert(pos, std::move(v));
  } else if (first_hidden_ack_) {
    // The merge kept events_ in order; find the same event among the merged ones.
    const auto& hidden = events_[*first_hidden_ack_];
    for (std::size_t i = 0; i < all.size(); ++i) {
      if (all[i].at == hidden.at && all[i].label == hidden.label) {
        anchor = i;
        break;
      }
    }
  } else {
    for (std::size_t i = 0; i < all.size(); ++i) {
      if (all[i].kind == "fault") {
        anchor = i;
        break;
      }
    }
  }
  std::string anchor_text = violation           ? "the first violation"
                            : first_hidden_ack_ ? "the first hidden ack"
                            : anchor            ? "the first fault"
                                                : "the start";
  auto timeline = cut_timeline(std::move(all), anchor.value_or(0), kTimelineWindow);
  timeline.anchor = std::move(anchor_text);
  timeline.end = end;
  std::stable_sort(spans.begin(), spans.end(),
                   [](const auto& a, const auto& b) { return a.from < b.from; });
  // Windows open when the cut begins, so the diagram does not hide a running fault.
  const sim::Micros start = timeline.events.empty() ? 0 : timeline.events.front().at;
  for (const auto& sp : spans) {
    if (sp.kind == "fault-window" && sp.from < start && sp.to > start) {
      timeline.active_faults.push_back(sp.label);
    }
  }
  timeline.spans = std::move(spans);
  return timeline;
}

Timeline cut_timeline(std::vector<TimelineEvent> all, std::size_t anchor, std::size_t window) {
  Timeline t;
  t.total = all.size();
  if (all.size() <= window) {
    t.events = std::move(all);
    return t;
  }
  const std::size_t before = window * 3 / 4;
  std::size_t first = anchor > before ? anchor - before : 0;
  first = std::min(first, all.size() - window);
  t.first = first;
  t.events.assign(
      std::make_move_iterator(all.begin() + static_cast<std::ptrdiff_t>(first)),
      std::make_move_iterator(all.begin() + static_cast<std::ptrdiff_t>(first + window)));
  return t;
}

}  // namespace syncsim::scenarios
