#include "util/xml_escape.hpp"

namespace syncsim::util {

std::string xml_escape(const std::string& s, XmlEscape mode) {
  const bool xml10 = mode == XmlEscape::Xml10;
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += xml10 ? "&apos;" : "'";
        break;
      default:
        // XML 1.0 forbids most control characters, even escaped.
        if (xml10 && static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t' && c != '\r') {
          out += '?';
        } else {
          out += c;
        }
    }
  }
  return out;
}

}  // namespace syncsim::util
