#include "reports/mermaid.hpp"

#include <fmt/format.h>

namespace syncsim::reports {

namespace {

constexpr std::size_t kMaxLabel = 64;

// Mermaid reads ';' and '#' in message text as syntax and '<'/'>' as markup.
std::string mermaid_text(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case ';':
        out += ',';
        break;
      case '#':
        out += "no.";
        break;
      case '<':
        out += "‹";
        break;
      case '>':
        out += "›";
        break;
      case '\n':
        out += ' ';
        break;
      default:
        out += c;
    }
  }
  return out;
}

// At most `max` bytes of `s`, cut before a UTF-8 continuation byte, "…" added when cut: a
// long label widens the whole Mermaid diagram (GitHub scales it down to unreadable).
std::string bounded(const std::string& s, std::size_t max) {
  if (s.size() <= max) return s;
  std::size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return s.substr(0, cut) + "…";
}

std::string alias_of(const std::string& lane) {
  if (lane == "service") return "S";
  if (lane == "replication") return "R";
  if (lane.rfind("client ", 0) == 0) return "C" + lane.substr(7);
  return "X";
}

}  // namespace

std::string mermaid_sequence(const Diagram& d) {
  std::string out = "sequenceDiagram\n";
  for (const auto& lane : d.lanes)
    out += fmt::format("  participant {} as {}\n", alias_of(lane), lane);
  if (!d.active_faults.empty()) {
    std::string open;
    for (const auto& f : d.active_faults) open += (open.empty() ? "" : ", ") + f;
    out += fmt::format("  Note over S,R: already open: {}\n", mermaid_text(open));
  }
  for (const auto& e : d.events) {
    const std::string text =
        mermaid_text(fmt::format("{} {}", seconds_text(e.at_us), bounded(e.label, kMaxLabel)));
    if (e.is_note()) {
      out += fmt::format("  Note over {}: {}\n", alias_of(e.from), text);
    } else {
      // Replies from the service are dashed, requests solid.
      const char* arrow = e.from == "service" ? "-->>" : "->>";
      out += fmt::format("  {}{}{}: {}\n", alias_of(e.from), arrow, alias_of(e.to), text);
    }
  }
  return out;
}

}  // namespace syncsim::reports
