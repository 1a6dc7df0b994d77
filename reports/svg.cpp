#include "reports/svg.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "util/xml_escape.hpp"

namespace syncsim::reports {

std::string xml_escape(const std::string& s) { return util::xml_escape(s); }

namespace {

constexpr int kLaneWidth = 190;
constexpr int kLeft = 110;
constexpr int kRow = 24;
constexpr int kTop = 50;

int lane_x(const Diagram& d, const std::string& lane) {
  auto it = std::find(d.lanes.begin(), d.lanes.end(), lane);
  const int i = it == d.lanes.end() ? 0 : static_cast<int>(it - d.lanes.begin());
  return kLeft + i * kLaneWidth;
}

const char* note_class(const DiagramEvent& e) {
  if (e.kind == "violation") return "violation";
  if (e.kind == "fault") return "fault";
  return "note";
}

}  // namespace

std::string svg_sequence(const Diagram& d) {
  const int width = kLeft + static_cast<int>(d.lanes.size()) * kLaneWidth;
  const int height = kTop + static_cast<int>(d.events.size() + 1) * kRow + 20;
  std::string out = fmt::format(
      "<svg class=\"sequence\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" "
      "viewBox=\"0 0 {} {}\" role=\"img\" aria-label=\"sequence diagram, seed {}\">\n"
      "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" "
      "markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 "
      "z\"/></marker></defs>\n",
      width, height, width, height, d.seed);
  for (const auto& lane : d.lanes) {
    const int x = lane_x(d, lane);
    out += fmt::format(
        "<rect class=\"lane-head\" x=\"{}\" y=\"8\" width=\"150\" height=\"26\" rx=\"4\"/>"
        "<text class=\"lane-name\" x=\"{}\" y=\"26\" text-anchor=\"middle\">{}</text>"
        "<line class=\"lifeline\" x1=\"{}\" y1=\"34\" x2=\"{}\" y2=\"{}\"/>\n",
        x - 75, x, xml_escape(lane), x, x, height - 8);
  }
  int y = kTop;
  for (const auto& e : d.events) {
    y += kRow;
    out += fmt::format("<text class=\"time\" x=\"4\" y=\"{}\">{}</text>", y + 4,
                       seconds_text(e.at_us));
    if (e.is_note()) {
      const int x = lane_x(d, e.from);
      const int w = std::max(80, static_cast<int>(e.label.size()) * 6 + 12);
      out += fmt::format(
          "<g class=\"{}\"><rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"18\" rx=\"3\"/>"
          "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text></g>\n",
          note_class(e), x - w / 2, y - 12, w, x, y + 1, xml_escape(e.label));
    } else {
      const int x1 = lane_x(d, e.from), x2 = lane_x(d, e.to);
      out += fmt::format(
          "<g class=\"msg {}\"><line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" "
          "marker-end=\"url(#arrow)\"/><text x=\"{}\" y=\"{}\" "
          "text-anchor=\"middle\">{}</text></g>\n",
          e.from == "service" ? "reply" : "request", x1, y + 2, x2, y + 2, (x1 + x2) / 2, y - 3,
          xml_escape(e.label));
    }
  }
  out += "</svg>\n";
  return out;
}

std::string svg_state_timeline(const Diagram& d) {
  if (d.events.empty()) return "<p>(no events recorded)</p>\n";
  const int64_t t0 = d.events.front().at_us, t1 = std::max(d.events.back().at_us, t0 + 1);
  constexpr int kWidth = 900, kLabel = 120, kBar = 16, kGap = 8;
  auto x_of = [&](int64_t t) {
    return kLabel + static_cast<int>((t - t0) * (kWidth - kLabel - 10) / (t1 - t0));
  };
  // Rows: faults, then each client.  Client state: awaiting ack from a concrete target
  // until the next full checkpoint applied (the barrier is closed for it meanwhile).
  std::vector<std::string> rows = {"faults"};
  for (const auto& l : d.lanes)
    if (l.rfind("client", 0) == 0) rows.push_back(l);
  const int height = static_cast<int>(rows.size()) * (kBar + kGap) + 40;
  std::string out = fmt::format(
      "<svg class=\"states\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" "
      "viewBox=\"0 0 {} {}\" role=\"img\" aria-label=\"timeline of faults and client states\">\n",
      kWidth, height, kWidth, height);
  auto row_y = [&](const std::string& row) {
    const auto i = std::find(rows.begin(), rows.end(), row) - rows.begin();
    return 10 + static_cast<int>(i) * (kBar + kGap);
  };
  for (const auto& r : rows) {
    out += fmt::format("<text class=\"row-name\" x=\"4\" y=\"{}\">{}</text>", row_y(r) + 12,
                       xml_escape(r));
  }
  // Fault windows (lag, stall) as bars; instant faults as ticks.
  std::map<std::string, int64_t> open;
  for (const auto& f : d.active_faults) open[f] = t0;
  std::map<std::string, int64_t> waiting;  // client -> target set at
  for (const auto& e : d.events) {
    if (e.kind == "fault") {
      const std::string label = e.label.rfind("⚡ ", 0) == 0 ? e.label.substr(4) : e.label;
      if (e.label.rfind("end of ", 0) == 0) {
        const auto name = e.label.substr(7);
        auto it = open.find(name);
        const int64_t from = it == open.end() ? t0 : it->second;
        if (it != open.end()) open.erase(it);
        out += fmt::format(
            "<rect class=\"fault-window\" x=\"{}\" y=\"{}\" width=\"{}\" "
            "height=\"{}\"><title>{}</title></rect>\n",
            x_of(from), row_y("faults"), std::max(2, x_of(e.at_us) - x_of(from)), kBar,
            xml_escape(name));
      } else if (label.rfind("lag", 0) == 0 || label.rfind("replication stall", 0) == 0) {
        open[label] = e.at_us;
      } else {
        out += fmt::format(
            "<rect class=\"fault-tick\" x=\"{}\" y=\"{}\" width=\"3\" height=\"{}\"><title>{} "
            "{}</title></rect>\n",
            x_of(e.at_us), row_y("faults"), kBar, seconds_text(e.at_us), xml_escape(label));
      }
    } else if (e.kind == "target") {
      waiting.emplace(e.from, e.at_us);
    } else if (e.kind == "applied") {
      auto it = waiting.find(e.from);
      if (it != waiting.end()) {
        out += fmt::format(
            "<rect class=\"awaiting\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"><title>{}: "
            "awaiting ack {}..{}</title></rect>\n",
            x_of(it->second), row_y(e.from), std::max(2, x_of(e.at_us) - x_of(it->second)), kBar,
            xml_escape(e.from), seconds_text(it->second), seconds_text(e.at_us));
        waiting.erase(it);
      }
    } else if (e.kind == "write" || e.kind == "stream") {
      out += fmt::format("<rect class=\"{}\" x=\"{}\" y=\"{}\" width=\"2\" height=\"{}\"/>", e.kind,
                         x_of(e.at_us), row_y(e.from) + (e.kind == "write" ? 10 : 0),
                         e.kind == "write" ? kBar - 10 : kBar);
    } else if (e.kind == "life") {
      // A new app life after a lifecycle fault (restart, kill, up/downgrade, ...).
      out += fmt::format(
          "<rect class=\"life\" x=\"{}\" y=\"{}\" width=\"4\" height=\"{}\"><title>{} {}: "
          "{}</title></rect>\n",
          x_of(e.at_us), row_y(e.from), kBar, seconds_text(e.at_us), xml_escape(e.from),
          xml_escape(e.label));
    } else if (e.kind == "violation") {
      out += fmt::format(
          "<rect class=\"violation-mark\" x=\"{}\" y=\"{}\" width=\"4\" "
          "height=\"{}\"><title>{}</title></rect>\n",
          x_of(e.at_us),
          row_y(rows.size() > 1 && e.from.rfind("client", 0) == 0 ? e.from : "faults"), kBar,
          xml_escape(e.label));
    }
  }
  for (const auto& [name, from] : open) {
    out += fmt::format(
        "<rect class=\"fault-window\" x=\"{}\" y=\"{}\" width=\"{}\" "
        "height=\"{}\"><title>{}</title></rect>\n",
        x_of(from), row_y("faults"), std::max(2, x_of(t1) - x_of(from)), kBar, xml_escape(name));
  }
  for (const auto& [client, from] : waiting) {
    out += fmt::format(
        "<rect class=\"awaiting\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"><title>{}: awaiting "
        "ack from {}</title></rect>\n",
        x_of(from), row_y(client), std::max(2, x_of(t1) - x_of(from)), kBar, xml_escape(client),
        seconds_text(from));
  }
  const int axis_y = height - 16;
  out += fmt::format(
      "<text class=\"axis\" x=\"{}\" y=\"{}\">{}</text><text class=\"axis\" x=\"{}\" y=\"{}\" "
      "text-anchor=\"end\">{}</text>\n",
      kLabel, axis_y + 12, seconds_text(t0), kWidth - 10, axis_y + 12, seconds_text(t1));
  out += "</svg>\n";
  return out;
}

namespace {

std::string bars(
    const std::vector<std::vector<std::pair<uint64_t, std::optional<uint64_t>>>>& series,
    const std::string& title, const std::string& unit) {
  constexpr int kHeight = 160, kPlot = 110, kLeftAxis = 50;
  std::size_t n = 0;
  uint64_t top = 1;
  for (const auto& s : series) {
    n = std::max(n, s.size());
    for (const auto& [seed, v] : s)
      if (v) top = std::max(top, *v);
  }
  const int group = std::clamp(600 / static_cast<int>(std::max<std::size_t>(n, 1)), 8, 36);
  const int bar = std::max(2, (group - 2) / static_cast<int>(series.size()));
  const int width = std::max(220, kLeftAxis + group * static_cast<int>(n) + 10);
  std::string out = fmt::format(
      "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" "
      "viewBox=\"0 0 {} {}\" role=\"img\" aria-label=\"{}\">\n"
      "<text class=\"axis\" x=\"4\" y=\"14\">{} {}</text><text class=\"axis\" x=\"4\" "
      "y=\"{}\">0</text>\n"
      "<line class=\"axis-line\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/>\n",
      width, kHeight, width, kHeight, xml_escape(title), top, xml_escape(unit), 20 + kPlot,
      kLeftAxis, 20 + kPlot, width, 20 + kPlot);
  for (std::size_t k = 0; k < series.size(); ++k) {
    for (std::size_t i = 0; i < series[k].size(); ++i) {
      const auto& [seed, v] = series[k][i];
      const int x = kLeftAxis + static_cast<int>(i) * group + static_cast<int>(k) * bar;
      if (!v) {
        out += fmt::format("<text class=\"missing\" x=\"{}\" y=\"{}\">–</text>", x, 18 + kPlot);
        continue;
      }
      const int h = static_cast<int>(*v * kPlot / top);
      out += fmt::format(
          "<rect class=\"bar s{}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"><title>seed {}: {} "
          "{}</title></rect>",
          k, x, 20 + kPlot - h, bar - 1, std::max(h, 1), seed, *v, xml_escape(unit));
    }
  }
  out += "\n";
  const auto& first = series.front();
  for (std::size_t i = 0; i < first.size(); ++i) {
    if (first.size() > 25 && i % 5 != 0) continue;
    out += fmt::format("<text class=\"axis\" x=\"{}\" y=\"{}\">{}</text>",
                       kLeftAxis + static_cast<int>(i) * group, 20 + kPlot + 14, first[i].first);
  }
  out += fmt::format("<text class=\"axis\" x=\"{}\" y=\"{}\">seed</text>\n</svg>\n", kLeftAxis,
                     kHeight - 4);
  return out;
}

}  // namespace

std::string svg_bar_chart(const MetricSeries& s) { return bars({s.by_seed}, s.title, s.unit); }

std::string svg_paired_bar_chart(const MetricSeries& a, const MetricSeries& b) {
  return bars({a.by_seed, b.by_seed}, a.title, a.unit);
}

}  // namespace syncsim::reports
