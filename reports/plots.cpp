#include "reports/plots.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "reports/svg.hpp"

namespace syncsim::reports {

namespace {

constexpr int kWidth = 470, kHeight = 250;
constexpr int kLeft = 52, kRight = 12, kTop = 26, kBottom = 64;  // bottom: axis + legend
constexpr int kPlotW = kWidth - kLeft - kRight, kPlotH = kHeight - kTop - kBottom;
constexpr const char* kColours[] = {"#0969da", "#cf222e", "#1a7f37",
                                    "#0969da", "#cf222e", "#1a7f37"};

// Plotted values are clamped to [0, 2^50] (35,000 years in ms, 35 years in us) where they
// enter, so that no scaling below (value x width, nice_step's x25) can overflow. A results
// document's own values are already refused outside that range where it is read
// (results_shape_error, parse_samples); the clamp guards values computed here (sums, spans).
constexpr int64_t kPlotLimit = int64_t{1} << 50;
int64_t plotted(int64_t v) { return std::clamp<int64_t>(v, 0, kPlotLimit); }

// 1, 2 or 5 times a power of ten, so that about five ticks cover [0, top].
int64_t nice_step(int64_t top) {
  int64_t step = 1;
  while (step * 5 < top) {
    if (step * 2 * 5 >= top) return step * 2;
    if (step * 5 * 5 >= top) return step * 5;
    step *= 10;
  }
  return step;
}

std::string ms_label(int64_t ms, int64_t top) {
  if (top >= 10'000) return fmt::format("{} s", ms / 1000);
  if (top >= 2'000 && ms % 1000 != 0)
    return fmt::format("{:.1f} s", static_cast<double>(ms) / 1000);
  if (top >= 2'000) return fmt::format("{} s", ms / 1000);
  return fmt::format("{} ms", ms);
}

std::string frame(const std::string& cls, const std::string& title) {
  return fmt::format(
      "<svg class=\"{}\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" "
      "viewBox=\"0 0 {} {}\" role=\"img\" aria-label=\"{}\">\n"
      "<text class=\"plot-title\" x=\"{}\" y=\"16\">{}</text>\n"
      "<rect class=\"plot-area\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"/>\n",
      cls, kWidth, kHeight, kWidth, kHeight, xml_escape(title), kLeft, xml_escape(title), kLeft,
      kTop, kPlotW, kPlotH);
}

// Ticks along x for [0, top] in ms-like units, labelled by `label`.
template <typename Label>
std::string x_ticks(int64_t top, Label label) {
  std::string out;
  const int64_t step = nice_step(top);
  for (int64_t v = 0; v <= top; v += step) {
    const int x = kLeft + static_cast<int>(v * kPlotW / top);
    out += fmt::format(
        "<line class=\"grid\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/><text class=\"axis\" "
        "x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
        x, kTop, x, kTop + kPlotH, x, kTop + kPlotH + 13, xml_escape(label(v)));
  }
  return out;
}

std::string legend(const std::vector<PlotSeries>& series) {
  std::string out;
  int x = kLeft;
  const int y = kHeight - 18;
  for (const auto& s : series) {
    const auto text = fmt::format("{} (n={})", s.label, s.points.size());
    out += fmt::format(
        "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"2.5\"{}/>"
        "<text class=\"axis\" x=\"{}\" y=\"{}\">{}</text>\n",
        x, y - 4, x + 18, y - 4, kColours[s.style % 6],
        s.style >= 3 ? " stroke-dasharray=\"5 3\"" : "", x + 22, y, xml_escape(text));
    x += 30 + static_cast<int>(text.size()) * 6;
    if (x > kWidth - 120) break;  // the rest would not fit; titles name the series anyway
  }
  return out;
}

}  // namespace

std::string svg_cdf(const std::string& title, const std::vector<PlotSeries>& series) {
  int64_t top = 1;
  std::size_t total = 0;
  for (const auto& s : series) {
    total += s.points.size();
    for (const auto& p : s.points) top = std::max(top, plotted(p.first));
  }
  std::string out = frame("cdf", title);
  if (total == 0) {
    return out + fmt::format(
                     "<text class=\"missing\" x=\"{}\" y=\"{}\">no samples in any seed</text>\n"
                     "</svg>\n",
                     kLeft + 12, kTop + kPlotH / 2);
  }
  top = (top / nice_step(top) + 1) * nice_step(top);
  out += x_ticks(top, [&](int64_t v) { return ms_label(v, top); });
  for (int pct = 0; pct <= 100; pct += 25) {
    const int y = kTop + kPlotH - pct * kPlotH / 100;
    out += fmt::format(
        "<line class=\"grid\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/><text class=\"axis\" "
        "x=\"{}\" y=\"{}\" text-anchor=\"end\">{}%</text>\n",
        kLeft, y, kLeft + kPlotW, y, kLeft - 4, y + 4, pct);
  }
  for (const auto& s : series) {
    if (s.points.empty()) continue;
    std::vector<int64_t> v;
    for (const auto& p : s.points) v.push_back(plotted(p.first));
    std::sort(v.begin(), v.end());
    // A step curve through at most ~300 ranks (evenly spaced, always the last).
    const std::size_t stride = std::max<std::size_t>(1, v.size() / 300);
    std::string path =
        fmt::format("M{},{}", kLeft + static_cast<int>(v.front() * kPlotW / top), kTop + kPlotH);
    for (std::size_t i = 0; i < v.size(); i += stride) {
      const std::size_t last = std::min(v.size() - 1, i + stride - 1);
      const int x = kLeft + static_cast<int>(v[last] * kPlotW / top);
      const int y = kTop + kPlotH - static_cast<int>((last + 1) * kPlotH / v.size());
      path += fmt::format(" H{} V{}", x, y);
    }
    out += fmt::format(
        "<path class=\"curve\" d=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"{}/>\n", path,
        kColours[s.style % 6], s.style >= 3 ? " stroke-dasharray=\"5 3\"" : "");
  }
  out += fmt::format("<text class=\"axis\" x=\"{}\" y=\"{}\" text-anchor=\"end\">latency</text>\n",
                     kLeft + kPlotW, kTop + kPlotH + 26);
  return out + legend(series) + "</svg>\n";
}

std::string svg_over_time(const std::string& title, const std::vector<PlotSeries>& series,
                          int64_t end_ms) {
  int64_t top = 1, right = std::max<int64_t>(plotted(end_ms), 1);
  std::size_t total = 0;
  for (const auto& s : series) {
    total += s.points.size();
    for (const auto& p : s.points) {
      top = std::max(top, plotted(p.second));
      right = std::max(right, plotted(p.first));
    }
  }
  std::string out = frame("over-time", title);
  if (total == 0) {
    return out + fmt::format(
                     "<text class=\"missing\" x=\"{}\" y=\"{}\">no samples in any seed</text>\n"
                     "</svg>\n",
                     kLeft + 12, kTop + kPlotH / 2);
  }
  top = (top / nice_step(top) + 1) * nice_step(top);
  out += x_ticks(right, [&](int64_t v) { return fmt::format("{} s", v / 1000); });
  const int64_t ystep = nice_step(top);
  for (int64_t v = 0; v <= top; v += ystep) {
    const int y = kTop + kPlotH - static_cast<int>(v * kPlotH / top);
    out += fmt::format(
        "<line class=\"grid\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/><text class=\"axis\" "
        "x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\n",
        kLeft, y, kLeft + kPlotW, y, kLeft - 4, y + 4, xml_escape(ms_label(v, top)));
  }
  for (const auto& s : series) {
    // At most ~1500 points per series (every k-th), so pages stay small.
    const std::size_t stride = std::max<std::size_t>(1, s.points.size() / 1500);
    std::string dots;
    for (std::size_t i = 0; i < s.points.size(); i += stride) {
      const int64_t at = plotted(s.points[i].first), ms = plotted(s.points[i].second);
      dots += fmt::format("M{},{}h0", kLeft + static_cast<int>(at * kPlotW / right),
                          kTop + kPlotH - static_cast<int>(ms * kPlotH / top));
    }
    out += fmt::format(
        "<path class=\"dots\" d=\"{}\" stroke=\"{}\" stroke-width=\"{}\" stroke-linecap=\"round\" "
        "opacity=\"0.6\"/>\n",
        dots, kColours[s.style % 6], s.style >= 3 ? 3 : 4);
  }
  out += fmt::format(
      "<text class=\"axis\" x=\"{}\" y=\"{}\" text-anchor=\"end\">simulated time the interval "
      "began</text>\n",
      kLeft + kPlotW, kTop + kPlotH + 26);
  return out + legend(series) + "</svg>\n";
}

std::string svg_run_timeline(const Diagram& d) {
  constexpr int kW = 1300, kLabel = 90, kBar = 16, kGap = 8, kAxis = 36;
  const int64_t end = std::max<int64_t>(plotted(d.end_us), 1);
  std::vector<std::string> rows = {"faults"};
  for (const auto& l : d.lanes)
    if (l.rfind("client", 0) == 0) rows.push_back(l);
  const int plot_h = static_cast<int>(rows.size()) * (kBar + kGap);
  const int height = 10 + plot_h + kAxis;
  auto x_of = [&](int64_t t) {
    return kLabel + static_cast<int>(std::clamp<int64_t>(t, 0, end) * (kW - kLabel - 10) / end);
  };
  auto row_y = [&](const std::string& lane) {
    auto it = std::find(rows.begin(), rows.end(), lane);
    return 10 + static_cast<int>(it == rows.end() ? 0 : it - rows.begin()) * (kBar + kGap);
  };
  std::string out = fmt::format(
      "<svg class=\"states\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" "
      "viewBox=\"0 0 {} {}\" role=\"img\" aria-label=\"timeline of the whole run\">\n",
      kW, height, kW, height);
  // The stretch the sequence diagram shows, behind everything.
  if (!d.events.empty()) {
    const int x0 = x_of(d.events.front().at_us), x1 = x_of(d.events.back().at_us);
    out += fmt::format(
        "<rect class=\"diagram-window\" x=\"{}\" y=\"4\" width=\"{}\" height=\"{}\"><title>the "
        "sequence diagram's window</title></rect>\n",
        x0, std::max(2, x1 - x0), plot_h + 4);
  }
  for (const auto& r : rows) {
    out += fmt::format("<text class=\"row-name\" x=\"4\" y=\"{}\">{}</text>", row_y(r) + 12,
                       xml_escape(r));
  }
  out += "\n";
  for (const auto& sp : d.spans) {
    const std::string lane = sp.lane.rfind("client", 0) == 0 ? sp.lane : "faults";
    const int x = x_of(sp.from_us), w = std::max(2, x_of(sp.to_us) - x);
    const auto when = seconds_text(sp.from_us) +
                      (sp.to_us > sp.from_us ? "–" + seconds_text(sp.to_us) : std::string());
    if (sp.kind == "heal") {
      out += fmt::format(
          "<rect class=\"heal\" x=\"{}\" y=\"6\" width=\"{}\" height=\"{}\"><title>heal phase "
          "{}</title></rect><text class=\"axis\" x=\"{}\" y=\"{}\">heal phase</text>\n",
          x, w, plot_h, when, x + 3, 10 + plot_h - 2);
    } else if (sp.kind == "fault-window") {
      // A lag or stall over the replication row (faults), a client fault over its client.
      out += fmt::format(
          "<rect class=\"fault-window\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"><title>{} "
          "{}</title></rect>\n",
          x, row_y(lane), w, kBar, when, xml_escape(sp.label));
    } else if (sp.kind == "fault" || sp.kind == "armed" || sp.kind == "life") {
      const char* cls = sp.kind == "fault" ? "fault-tick" : sp.kind == "armed" ? "armed" : "life";
      out += fmt::format(
          "<rect class=\"{}\" x=\"{}\" y=\"{}\" width=\"3\" height=\"{}\"><title>{} {}{}</title>"
          "</rect>\n",
          cls, x, row_y(lane), kBar, when, sp.kind == "armed" ? "armed, not fired: " : "",
          xml_escape(sp.label));
    } else if (sp.kind == "awaiting") {
      out += fmt::format(
          "<rect class=\"awaiting\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"><title>{}: "
          "barrier closed {}</title></rect>",
          x, row_y(lane) + 3, w, kBar - 6, xml_escape(sp.lane), when);
    } else if (sp.kind == "violation") {
      out += fmt::format(
          "<line class=\"violation-line\" x1=\"{}\" y1=\"4\" x2=\"{}\" y2=\"{}\"/><text "
          "class=\"violation-label\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{} at {}</text>\n",
          x, x, 10 + plot_h, x - 3, 10 + plot_h + 28, xml_escape(sp.label),
          seconds_text(sp.from_us));
    }
  }
  out += "\n";
  const int axis_y = 10 + plot_h;
  const int64_t step = nice_step(std::max<int64_t>(end / 1000, 1)) * 1000;
  for (int64_t t = 0; t <= end; t += step) {
    out += fmt::format(
        "<line class=\"axis-line\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/><text class=\"axis\" "
        "x=\"{}\" y=\"{}\" text-anchor=\"middle\">{} s</text>",
        x_of(t), axis_y, x_of(t), axis_y + 4, x_of(t), axis_y + 15, t / 1'000'000);
  }
  out += fmt::format(
      "<line class=\"axis-line\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/><text class=\"axis\" "
      "x=\"{}\" y=\"{}\" text-anchor=\"end\">run ended {}</text>\n</svg>\n",
      kLabel, axis_y, x_of(end), axis_y, x_of(end), axis_y + 28, seconds_text(end));
  return out;
}

}  // namespace syncsim::reports
