#include "scenarios/run_recorder.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "scenarios/sync_lines.hpp"

namespace syncsim::scenarios {

std::string lane_of_client(int index) { return fmt::format("client {}", index); }

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
      return {lane_of_client(f.client), fmt::format("switch user, down {} ms", f.down_ms)};
    case FaultKind::ForeignRequest:
      return {lane_of_client(f.client),
              fmt::format("a second installation posts checkpoint_request_id {}", f.request_id)};
    default:
      return {kService, to_string(f.kind)};
  }
}

}  // namespace

RunRecorder::RunRecorder(const sim::VirtualClock& clock, const Scenario& scenario)
    : clock_(clock),
      scenario_(scenario),
      clients_(static_cast<std::size_t>(scenario.clients.count)) {
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

void RunRecorder::on_target_set(engine::Client& c, int64_t target) {
  auto& s = state(c);
  s.awaiting_ack.insert(s.awaiting_ack.end(), s.awaiting_target.begin(), s.awaiting_target.end());
  s.awaiting_target.clear();
  const auto lane = lane_of_client(c.index());
  if (c.checkpoint_mode() == engine::CheckpointMode::Legacy) {
    s.unacked_requests.push_back(target);
    add(kService, lane, "request", fmt::format("write-checkpoint2 → {}", target));
  }
  add(lane, lane, "target", fmt::format("target := {}", target));
}

void RunRecorder::on_sync_applied(engine::Client& c, std::optional<int64_t> applied_id) {
  // DidCompleteSync: the barrier passed, so every write covered by a target is visible
  // with its acknowledgement.
  auto& s = state(c);
  const auto now = clock_.elapsed();
  for (auto t : s.awaiting_ack) write_to_ack_ms_.push_back((now - t) / sim::kMillis);
  s.awaiting_ack.clear();
  const auto lane = lane_of_client(c.index());
  add(lane, lane, "applied",
      applied_id ? fmt::format("applied, last_applied = {}", *applied_id) : "applied");
}

void RunRecorder::on_control(engine::Client& c, const std::string& op,
                             const std::optional<std::string>& payload,
                             const std::optional<std::string>& result) {
  auto& s = state(c);  // first, so a new life is noted before what it does
  const auto lane = lane_of_client(c.index());
  if (op == "line_text" && payload) {
    auto wc = write_checkpoint_of(*payload);
    if (wc && wc != s.last_write_checkpoint) {
      std::string hidden;
      std::erase_if(s.unacked_requests, [&](int64_t id) {
        if (id > *wc) return false;
        if (id < *wc) {
          hidden += fmt::format("{}{}", hidden.empty() ? "" : ", ", id);
          ++hidden_acks_;
        }
        return true;
      });
      if (!hidden.empty() && !first_hidden_ack_) first_hidden_ack_ = events_.size();
      add(kService, lane, "checkpoint",
          fmt::format("checkpoint, write_checkpoint {}{}", *wc,
                      hidden.empty() ? "" : " (hides the ack of " + hidden + ")"));
      add(lane, lane, "last_seen", fmt::format("last_seen = {}", *wc));
    }
    if (wc) s.last_write_checkpoint = wc;
  } else if (op == "next_checkpoint_request_id" && result) {
    s.unacked_requests.push_back(std::stoll(*result));
    add(lane, kService, "request", fmt::format("POST checkpoint-request {}", *result));
  } else if (op == "seed_checkpoint_request_id" && payload) {
    add(kService, lane, "request", fmt::format("seed → {}", *payload));
  } else if (op == "start") {
    ++stream_starts_;
    s.last_write_checkpoint.reset();
    add(lane, kService, "stream", "open sync stream");
  }
}

void RunRecorder::on_quiesce() { add(kService, kService, "fault", "quiesce: faults heal"); }

Timeline RunRecorder::finish(const std::optional<sim::Violation>& violation) {
  // Fault windows come from the schedule, which the world follows to the microsecond.
  std::vector<TimelineEvent> faults;
  for (const auto& f : scenario_.faults) {
    auto [lane, label] = fault_lane_and_label(f);
    faults.push_back({f.at_ms * sim::kMillis, lane, lane, "fault", "⚡ " + label});
    if (f.duration_ms && (f.kind == FaultKind::Lag || f.kind == FaultKind::Stall)) {
      faults.push_back(
          {(f.at_ms + *f.duration_ms) * sim::kMillis, lane, lane, "fault", "end of " + label});
    }
  }
  std::stable_sort(faults.begin(), faults.end(),
                   [](const auto& a, const auto& b) { return a.at < b.at; });
  std::vector<TimelineEvent> all;
  all.reserve(events_.size() + faults.size() + 1);
  std::merge(faults.begin(), faults.end(), events_.begin(), events_.end(), std::back_inserter(all),
             [](const auto& a, const auto& b) { return a.at < b.at; });
  std::optional<std::size_t> anchor;
  if (violation) {
    std::string lane = violation->subject.rfind("client", 0) == 0 ? violation->subject : kService;
    TimelineEvent v{violation->at, lane, lane, "violation",
                    fmt::format("VIOLATION {}", violation->invariant)};
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
  // Windows open when the cut begins, so the diagram does not hide a running fault.
  const sim::Micros start = timeline.events.empty() ? 0 : timeline.events.front().at;
  for (const auto& f : scenario_.faults) {
    const sim::Micros from = f.at_ms * sim::kMillis;
    const bool windowed = f.kind == FaultKind::Lag || f.kind == FaultKind::Stall;
    if (!windowed || from >= start) continue;
    if (f.duration_ms && from + *f.duration_ms * sim::kMillis <= start) continue;
    timeline.active_faults.push_back(fault_lane_and_label(f).second);
  }
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
