// The one XML/HTML text escaper: the JUnit writer, the findings report and the SVG/HTML
// report writers all escape through it.  Below every other layer, so each can use it.
#pragma once

#include <string>

namespace syncsim::util {

enum class XmlEscape {
  // & < > " -- text and double-quoted attributes of HTML and inline SVG.
  Markup,
  // Also ' (&apos;), and control characters XML 1.0 forbids even escaped become '?' (all but
  // tab, newline and carriage return) -- standalone XML documents such as JUnit reports.
  Xml10,
};

std::string xml_escape(const std::string& s, XmlEscape mode = XmlEscape::Markup);

}  // namespace syncsim::util
