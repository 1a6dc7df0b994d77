#include "engine/js/js_host.hpp"

#include <fmt/format.h>

#include <array>
#include <cassert>
#include <charconv>
#include <cstdlib>
#include <iterator>

#include "engine/js/bridge.hpp"

#ifndef SYNCSIM_JS_REAL_SDK_DIRS
#define SYNCSIM_JS_REAL_SDK_DIRS ""
#endif
#ifndef SYNCSIM_NODE_EXECUTABLE
#define SYNCSIM_NODE_EXECUTABLE ""
#endif
#ifndef SYNCSIM_JS_HOST_SCRIPT
#define SYNCSIM_JS_HOST_SCRIPT ""
#endif

namespace syncsim::engine::js {

std::optional<std::string> js_real_project_for_core(const std::string& core) {
  // @powersync/common 2.3.0 refuses cores outside >=0.5.2 <0.6.0 (BPD.loadVersion).
  if (core.rfind("0.5.", 0) == 0 && core != "0.5.0" && core != "0.5.1") return "sdk-2.3.0";
  // The 1.x SDK that shipped with the core (@powersync/node 0.14.3 pins common 1.43.1).
  if (core == "0.4.6") return "sdk-1.43.1";
  // @powersync/node 0.18.8 (the core's SDK, engine/core_registry.cpp) pins common 1.54.0,
  // whose default is the Rust sync client.
  if (core == "0.4.12") return "sdk-1.54.0";
  return std::nullopt;
}

namespace {

// A pinned project's own version check on the core (powersync_rs_version()):
// >= min and < below, as its loadVersion / _loadVersion validates it.
struct PackageRange {
  const char* project;
  const char* package;  // what the trace and messages name
  std::array<int, 3> min;
  std::array<int, 3> below;
};

// @powersync/common 1.43.1 AbstractPowerSyncDatabase._loadVersion (">=0.4.5 <1.0.0");
// 1.47.0 and 1.54.0 loadVersion (">=0.4.10 <1.0.0"); @powersync/shared-internals 1.3.0
// BasePowerSyncDatabase.loadVersion, which @powersync/common 2.3.0 runs (">=0.5.2 <0.6.0").
constexpr std::array<PackageRange, 4> kPackages{{
    {"sdk-1.43.1", "@powersync/common 1.43.1", {0, 4, 5}, {1, 0, 0}},
    {"sdk-1.47.0", "@powersync/common 1.47.0", {0, 4, 10}, {1, 0, 0}},
    {"sdk-1.54.0", "@powersync/common 1.54.0", {0, 4, 10}, {1, 0, 0}},
    {"sdk-2.3.0", "@powersync/common 2.3.0", {0, 5, 2}, {0, 6, 0}},
}};

const PackageRange* package_named(const std::string& project) {
  for (const auto& p : kPackages) {
    if (project == p.project) return &p;
  }
  return nullptr;
}

std::string version_text(const std::array<int, 3>& v) {
  return fmt::format("{}.{}.{}", v[0], v[1], v[2]);
}

// "0.5.3" -> {0, 5, 3}; nullopt unless three dot-separated numbers.
std::optional<std::array<int, 3>> parse_version(const std::string& text) {
  std::array<int, 3> v{};
  const char* at = text.data();
  const char* end = text.data() + text.size();
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i > 0) {
      if (at == end || *at != '.') return std::nullopt;
      ++at;
    }
    const auto [next, ec] = std::from_chars(at, end, v[i]);
    if (ec != std::errc()) return std::nullopt;
    at = next;
  }
  if (at != end) return std::nullopt;
  return v;
}

}  // namespace

const std::vector<std::string>& js_real_packages() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    out.reserve(kPackages.size());
    for (const auto& p : kPackages) out.emplace_back(p.project);
    return out;
  }();
  return names;
}

bool js_real_package_is_1x(const std::string& project) { return project.rfind("sdk-1.", 0) == 0; }

std::string js_real_package_accepts(const std::string& project) {
  const PackageRange* p = package_named(project);
  if (!p) return "";
  return ">=" + version_text(p->min) + " <" + version_text(p->below);
}

std::optional<std::string> js_real_package_refuses(const std::string& project,
                                                   const std::string& core) {
  const PackageRange* p = package_named(project);
  if (!p) return "unknown SDK project " + project;
  const auto v = parse_version(core);
  if (!v) return "core " + core + " is not a version";
  if (*v >= p->min && *v < p->below) return std::nullopt;
  return fmt::format("{}'s version check refuses core {} (needs {})", p->package, core,
                     js_real_package_accepts(project));
}

std::optional<std::string> js_real_package_unavailable(const std::string& project) {
  if (std::string(SYNCSIM_NODE_EXECUTABLE).empty()) return "node was not found at configure time";
  if (!installed_js_real_project(project)) {
    return "the pinned SDK " + project + " is not installed (configure with npm available)";
  }
  return std::nullopt;
}

std::vector<std::pair<std::string, std::string>> installed_js_real_projects() {
  std::vector<std::pair<std::string, std::string>> out;
  const std::string dirs = SYNCSIM_JS_REAL_SDK_DIRS;
  std::size_t start = 0;
  while (start < dirs.size()) {
    std::size_t end = dirs.find('|', start);
    if (end == std::string::npos) end = dirs.size();
    const std::string entry = dirs.substr(start, end - start);
    const auto eq = entry.find('=');
    if (eq != std::string::npos) out.emplace_back(entry.substr(0, eq), entry.substr(eq + 1));
    start = end + 1;
  }
  return out;
}

std::optional<std::string> installed_js_real_project(const std::string& project) {
  for (const auto& [name, dir] : installed_js_real_projects()) {
    if (name == project) return dir;
  }
  return std::nullopt;
}

std::optional<std::string> js_real_unavailable(const std::string& core) {
  if (std::string(SYNCSIM_NODE_EXECUTABLE).empty()) return "node was not found at configure time";
  const auto project = js_real_project_for_core(core);
  if (!project) {
    return "no pinned JS SDK pairs with core " + core + " (js-real needs 0.4.6, 0.4.12 or 0.5.2+)";
  }
  if (!installed_js_real_project(*project)) {
    return "the pinned SDK " + *project + " is not installed (configure with npm available)";
  }
  return std::nullopt;
}

JsHost::JsHost(sim::Loop& loop, sim::Trace& trace, std::string project, uint64_t seed,
               HostProcesses* shared)
    : loop_(loop), trace_(trace), project_(std::move(project)), seed_(seed), shared_(shared) {}

JsHost::~JsHost() {
  if (armed_) loop_.cancel(*armed_);
  if (draining_ && shared_) shared_->discard(project_);  // a run died mid-drain
}

void JsHost::start() {
  const char* op = "next_run";
  if (shared_ && shared_->find(project_) && shared_->worn_out(project_)) {
    shared_->discard(project_);  // Node 20 leaks vm module contexts: recycle (js_host.hpp)
  }
  process_ = shared_ ? shared_->find(project_) : nullptr;
  if (!process_) {
    const auto dir = installed_js_real_project(project_);
    if (!dir) throw std::runtime_error("js-real: SDK project " + project_ + " is not installed");
    // vm modules: one realm per client (engine/js/realm.mjs); gc: heap_bytes on request.
    // --no-opt: no TurboFan.  Every realm has its own closures, so V8 optimised the same SDK
    // functions again per client and per seed, ~15 % of a seed's CPU that the short-lived
    // realms never earned back (docs/performance-ci.md, perf16).  Semantics are unchanged.
    // Every installed project follows the run's own: an app update may switch a client to
    // the SDK that pairs with its new core (loaded by the host on first use).
    std::vector<std::string> argv{SYNCSIM_NODE_EXECUTABLE, "--experimental-vm-modules"};
    // --hash-seed=1: V8's string hash seed, random per process otherwise, is in every code
    // cache; fixed, the build's load cache is byte-reproducible and V8 accepts it only under
    // the same flags (cmake/JsRealSdk.cmake builds it with these).  Nothing JavaScript can
    // observe depends on it (property and Map orders are insertion orders).
    argv.insert(argv.end(),
                {"--expose-gc", "--no-opt", "--hash-seed=1", SYNCSIM_JS_HOST_SCRIPT, *dir});
    for (const auto& [name, project_dir] : installed_js_real_projects()) {
      argv.push_back(name + "=" + project_dir);
    }
    // The build's load cache (engine/js/load_cache.mjs): resolutions and code caches, so the
    // first realm does not compile the SDK (docs/performance-js-real.md, "Fixed cost per host").
    if (!std::string(SYNCSIM_JS_LOAD_CACHE_DIR).empty()) {
      argv.push_back(std::string("--load-cache=") + SYNCSIM_JS_LOAD_CACHE_DIR);
    }
    auto process = std::make_unique<NodeProcess>(std::move(argv));
    if (shared_) {
      shared_->count_start();
      shared_->worn_out(project_);  // this run is the new process's first
      process_ = &shared_->adopt(project_, std::move(process));
    } else {
      owned_ = std::move(process);
      process_ = owned_.get();
    }
    op = "init";
  }
  draining_ = true;  // until `ready`: a failure here leaves the pipe out of step
  process_->write_line(nlohmann::json{{"op", op},
                                      {"v", kProtocolVersion},
                                      {"now", loop_.now()},
                                      {"seed", std::to_string(seed_)},
                                      {"heap", shared_ && shared_->measuring_heap()}}
                           .dump());
  const auto ready = nlohmann::json::parse(process_->read_line());
  if (ready.value("op", "") != "ready" || ready.value("v", 0) != kProtocolVersion) {
    throw std::runtime_error("js-real: host answered " + ready.dump() + ", expected ready v" +
                             std::to_string(kProtocolVersion));
  }
  draining_ = false;
  sdk_version_ = ready.value("sdk", "");
  if (shared_ && ready.contains("heap_bytes")) shared_->record_heap(ready["heap_bytes"]);
  trace_.log("js", "host started: {} ({}) protocol v{}", project_, sdk_version_, kProtocolVersion);
}

void JsHost::attach(const std::string& name, HostedClient* client) { clients_[name] = client; }

void JsHost::detach(const std::string& name) { clients_.erase(name); }

void JsHost::deliver(const nlohmann::json& event) { deliver_text(event.dump()); }

void JsHost::deliver_text(std::string line) {
  if (!process_) start();
  assert(!draining_ && "an event was delivered from inside a drain");
  // What each life's write connection looks like now: within the drain only that client's
  // own bridge calls touch it, so the host may answer its first BEGIN itself (a round trip
  // for the first transaction of almost every event; docs/performance-js-real.md, "The real JS
  // SDK").  Appended as text: no tree per client and event (js20).
  line.pop_back();  // the event's closing brace
  fmt::format_to(std::back_inserter(line), R"({}"now":{},"connections":{{)",
                 line.size() > 1 ? "," : "", loop_.now());
  bool first = true;
  for (const auto& [name, client] : clients_) {
    const auto state = client->connection_state();
    if (!state) continue;
    if (!first) line += ',';
    first = false;
    append_json_string(line, name);
    fmt::format_to(std::back_inserter(line), R"(:{{"autocommit":{},"changes":{},"insert_id":{}}})",
                   state->autocommit, state->changes, state->insert_id);
  }
  line += "}}";
  ++events_;
  draining_ = true;
  process_->write_line(line);
  std::vector<std::pair<std::string, nlohmann::json>> acts;
  for (;;) {
    const std::string text = process_->read_line();
    HostMessage message = parse_host_message(text);
    const std::string& op = message.op;
    if (op == "idle") {
      arm(message.next_timer);
      // Sent only when they changed since the last idle (bridge.mjs).
      if (message.timers) {
        timers_.clear();
        for (const auto& t : *message.timers) {
          timers_[t.client].push_back({t.at, fmt::format("{}µs by {}", t.at - sim::kEpoch, t.by)});
        }
      }
      break;
    }
    const std::string& name = message.client;
    auto it = clients_.find(name);
    HostedClient* client = it == clients_.end() ? nullptr : it->second;
    // A realm the host should have dropped with its app: visible, never silently served.
    if (!client && !name.empty()) trace_.log("js", "{}: {} after its app closed", name, op);
    if (op == "sql" || op == "touched" || op == "credentials" || op == "draw" || op == "uploaded") {
      // `uploaded` and a `noreply` statement get no reply (bridge.mjs).
      const bool noreply = op == "uploaded" || message.noreply;
      if (!client && noreply) continue;  // traced above; nothing to run
      SqlReply reply;
      if (!client) {
        reply.error = "the app was closed";
        reply.line =
            nlohmann::json{{"op", "sql_error"}, {"message", *reply.error}, {"code", 21}}.dump();
      } else if (op == "sql") {
        reply = client->sql(message);
      } else if (op == "touched") {
        reply.line = client->touched().dump();
      } else if (op == "uploaded") {
        reply.line = client->uploaded().dump();
      } else if (op == "draw") {
        reply.line = client->draw(message.what).dump();
      } else {
        reply.line = client->credentials().dump();
      }
      if (!noreply) {
        process_->write_line(reply.line);
      } else if (reply.error) {
        // The host already told the SDK it succeeded (a COMMIT, a read transaction's
        // BEGIN/COMMIT: sdk_client.mjs replyless()); a failure here cannot be reported to
        // it, so the run stops rather than go on with an SDK that believes otherwise.
        throw std::runtime_error(fmt::format("js-real: {}'s reply-less `{}` failed: {}", name,
                                             op == "sql" ? message.sql : op, *reply.error));
      }
    } else if (op == "log") {
      if (client) {
        client->log(int(message.level), message.message);
      } else {
        trace_.log("js", "{}", message.message);
      }
    } else if (op == "fetch" || op == "abort" || op == "notice") {
      // Their keys are not the fast parser's: they come with their tree (host_message.hpp).
      if (message.tree.is_null()) message.tree = nlohmann::json::parse(text);
      acts.emplace_back(name, std::move(message.tree));
    } else {
      throw std::runtime_error("js-real: unknown host message " + text);
    }
  }
  draining_ = false;
  for (auto& [name, message] : acts) {
    auto it = clients_.find(name);
    if (it != clients_.end()) it->second->act(message);
  }
}

void JsHost::arm(std::optional<sim::Micros> next_timer) {
  std::optional<sim::Micros> at;
  if (next_timer) at = std::max(*next_timer, loop_.now());
  if (armed_ && at && armed_->deadline == *at) return;
  if (armed_) loop_.cancel(*armed_);
  armed_.reset();
  if (!at) return;
  armed_ = loop_.at(*at, [this] {
    armed_.reset();
    deliver({{"op", "timer"}});
  });
}

}  // namespace syncsim::engine::js
