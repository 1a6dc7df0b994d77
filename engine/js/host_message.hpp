// The js-real host's messages to C++ (engine/js/bridge.mjs lists them) without a JSON tree
// for the frequent ones (issue 20 (e), docs/performance-js-real.md "(js20)"): nlohmann's
// parse() under JsHost::deliver was the largest single item of the C++ side of a js-real seed.
// parse_host_message() reads a flat object of the shape JSON.stringify writes -- strings (ASCII,
// escapes decoded), numbers, true/false/null, and the arrays `params` (scalars or {"b64": ...})
// and `before` (strings), `timers` (flat objects) -- and gives up on anything else (a nested
// object, non-ASCII bytes, an integer beyond int64, whitespace, a duplicate key): then the line
// goes through nlohmann::json::parse() as before and the message keeps its tree, so unusual
// messages and parse errors are parse()'s own.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace syncsim::engine::js {

// One armed timer of an `idle` message: {client, at, by}.
struct HostTimer {
  std::string client;
  int64_t at = 0;
  std::string by;
};

struct HostMessage {
  std::string op;
  std::string client;
  std::string sql;
  nlohmann::json params = nlohmann::json::array();  // as parse() gives them; bytes as binary
  std::vector<std::string> before;                  // deferred BEGINs (sdk_client.mjs sql())
  int64_t read = 0;                                 // read connection, 0: the writer
  bool noreply = false;
  std::string what;                   // draw
  int64_t level = 0;                  // log
  std::string message;                // log
  std::optional<int64_t> next_timer;  // idle
  // idle: every realm's armed timers, only when they changed (bridge.mjs); a third of the
  // bytes the host writes in a basic seed, so read here too.
  std::optional<std::vector<HostTimer>> timers;
  // The whole message when the fast path gave up (fetch, notice, an idle with timers, ...);
  // null otherwise.
  nlohmann::json tree;
};

// Parses one line from the host.  Throws what nlohmann::json::parse() throws on a bad line.
HostMessage parse_host_message(std::string_view line);

// The fast path alone (tests): nullopt where it gives up.
std::optional<HostMessage> parse_host_message_fast(std::string_view line);

// Appends `text` to `out` as a JSON string (quotes included), as JSON.parse() reads back the
// same text; non-ASCII text is checked as UTF-8 by nlohmann's dump() (its type_error on bad
// input).
void append_json_string(std::string& out, std::string_view text);

}  // namespace syncsim::engine::js
