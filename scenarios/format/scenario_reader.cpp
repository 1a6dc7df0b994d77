#include "scenarios/format/scenario_reader.hpp"

#include <algorithm>
#include <limits>

namespace syncsim::scenarios::reader {

std::string join(const std::vector<std::string>& items) {
  if (items.empty()) return "(none)";
  std::string out;
  for (const std::string& item : items) {
    if (!out.empty()) out += ", ";
    out += item;
  }
  return out;
}

bool contains(const std::vector<std::string>& items, const std::string& item) {
  return std::find(items.begin(), items.end(), item) != items.end();
}

std::string show(const json& v) {
  constexpr size_t kMaxShown = 60;
  std::string s = v.dump(-1, ' ', false, json::error_handler_t::replace);
  if (s.size() > kMaxShown) s = s.substr(0, kMaxShown - 3) + "...";
  return s;
}

std::string child_path(const std::string& parent, const std::string& key) {
  return parent.empty() ? key : parent + "." + key;
}

std::string element_path(const std::string& parent, size_t index) {
  return parent + "[" + std::to_string(index) + "]";
}

std::optional<int64_t> to_int(const json& v, const std::string& path, const Range& r, Problems& p) {
  if (!v.is_number_integer()) {
    p.add(path, show(v) + " must be an integer; allowed: " + r.text());
    return std::nullopt;
  }
  const bool fits_int64 =
      !v.is_number_unsigned() ||
      v.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  if (fits_int64) {
    const auto x = v.get<int64_t>();
    if (x >= r.lo && x <= r.hi) return x;
  }
  p.add(path, show(v) + " is out of range; allowed: " + r.text());
  return std::nullopt;
}

std::optional<std::string> to_choice(const json& v, const std::string& path,
                                     const std::vector<std::string>& allowed, Problems& p) {
  if (!v.is_string()) {
    p.add(path, show(v) + " must be a string; allowed: " + join(allowed));
    return std::nullopt;
  }
  const auto s = v.get<std::string>();
  if (contains(allowed, s)) return s;
  p.add(path, show(v) + " is not allowed; allowed: " + join(allowed));
  return std::nullopt;
}

std::optional<Fields> section(const Fields& top, const std::string& key) {
  const json* v = top.find(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_object()) {
    top.problems().add(key, show(*v) + " must be an object");
    return std::nullopt;
  }
  return Fields(*v, key, top.problems());
}

std::vector<std::string> parse_id_list(const Fields& top, const std::string& key,
                                       const std::vector<std::string>& known,
                                       const std::string& what) {
  std::vector<std::string> ids;
  Problems& p = top.problems();
  const json* v = top.find(key);
  if (v == nullptr) return ids;
  if (!v->is_array()) {
    p.add(top.path(key),
          show(*v) + " must be an array of " + what + " ids; allowed: " + join(known));
    return ids;
  }
  for (size_t i = 0; i < v->size(); ++i) {
    const json& item = (*v)[i];
    const std::string path = element_path(top.path(key), i);
    if (!item.is_string()) {
      p.add(path, show(item) + " must be a string; allowed: " + join(known));
    } else if (!contains(known, item.get<std::string>())) {
      p.add(path, show(item) + " is not a known " + what + "; allowed: " + join(known));
    } else if (contains(ids, item.get<std::string>())) {
      p.add(path, show(item) + " is listed twice; allowed: each " + what + " once");
    } else {
      ids.push_back(item.get<std::string>());
    }
  }
  return ids;
}

}  // namespace syncsim::scenarios::reader
