#include "scenarios/results/repro.hpp"

#include <fmt/format.h>

#include <fstream>
#include <iterator>
#include <limits>
#include <regex>

#include "engine/sha256.hpp"

namespace syncsim::scenarios {

namespace {
constexpr const char* kForm =
    "syncsim:<name>:<scenario path>:seed=<n>:build=<id>[:hash=<16 hex>][:scenario=<16 hex>]"
    "[:swarm]";

[[noreturn]] void fail(const std::string& text, const std::string& why) {
  throw ReproError(fmt::format("repro '{}': {}; expected {}", text, why, kForm));
}
}  // namespace

std::string format_repro(const Repro& r) {
  std::string out = fmt::format("syncsim:{}:{}:seed={}:build={}", r.name, r.path, r.seed, r.build);
  if (r.hash) out += ":hash=" + *r.hash;
  if (r.scenario_hash) out += ":scenario=" + *r.scenario_hash;
  if (r.swarm) out += ":swarm";
  return out;
}

Repro parse_repro(const std::string& text) {
  static const std::string kPrefix = "syncsim:";
  if (text.rfind(kPrefix, 0) != 0) fail(text, "does not start with 'syncsim:'");
  const std::string rest = text.substr(kPrefix.size());
  const auto name_end = rest.find(':');
  if (name_end == std::string::npos || name_end == 0) fail(text, "no scenario name");
  const auto seed_at = rest.rfind(":seed=");
  if (seed_at == std::string::npos || seed_at <= name_end) fail(text, "no ':seed=' field");
  Repro r;
  r.name = rest.substr(0, name_end);
  r.path = rest.substr(name_end + 1, seed_at - name_end - 1);
  if (r.path.empty()) fail(text, "empty scenario path");
  static const std::regex kTail(
      R"(^:seed=([0-9]{1,20}):build=([^:]+)(?::hash=([0-9a-f]{16}))?(?::scenario=([0-9a-f]{16}))?(:swarm)?$)");
  std::smatch m;
  const std::string tail = rest.substr(seed_at);
  if (!std::regex_match(tail, m, kTail)) {
    fail(text, fmt::format("bad fields after the path: '{}'", tail));
  }
  try {
    r.seed = std::stoull(m[1]);
  } catch (const std::out_of_range&) {
    fail(text, fmt::format("seed={} is out of range; allowed: 0..{}", m[1].str(),
                           std::numeric_limits<uint64_t>::max()));
  }
  r.build = m[2];
  if (m[3].matched) r.hash = m[3];
  if (m[4].matched) r.scenario_hash = m[4];
  r.swarm = m[5].matched;
  return r;
}

std::optional<std::string> scenario_content_hash(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  return engine::sha256_hex(text).substr(0, 16);
}

}  // namespace syncsim::scenarios
