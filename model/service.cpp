#include "model/service.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <regex>

namespace syncsim::model {

std::string global_bucket() { return "global[]"; }
std::string notes_bucket(const std::string& user) { return fmt::format("notes[\"{}\"]", user); }

namespace {
std::vector<std::string> route_row(const RowKey& key, const Row& row) {
  if (key.table == "todos") return {global_bucket()};
  if (key.table == "notes") return {notes_bucket(row.owner)};
  return {};
}

sim::HttpResponse not_signed_in() {
  return error_response(401, "PSYNC_S2101", "Authentication required", "no token");
}

sim::HttpResponse data_response(const nlohmann::json& data) {
  return {200, nlohmann::json{{"data", data}}.dump()};
}
}  // namespace

sim::HttpResponse error_response(int status, const std::string& code,
                                 const std::string& description, const std::string& details) {
  return {status, nlohmann::json{{"error",
                                  {{"code", code},
                                   {"status", status},
                                   {"description", description},
                                   {"details", details}}}}
                      .dump()};
}

std::variant<int64_t, std::string> decode_checkpoint_request_id(const nlohmann::json& value) {
  static const std::string kRange =
      "Expected checkpoint_request_id between 1 and 9223372036854775807";
  if (value.is_number_integer() || value.is_number_float()) {
    // JSON numbers must be safe integers; 1.0 and 1e3 are integers, 2^53 is not.
    constexpr double kMaxSafe = 9007199254740991.0;
    double d = value.get<double>();
    if (value.is_number_integer()) {
      if (value.is_number_unsigned()) {
        auto u = value.get<uint64_t>();
        if (u > 9007199254740991ULL)
          return std::string("checkpoint_request_id is not a safe integer");
        d = static_cast<double>(u);
      } else {
        auto i = value.get<int64_t>();
        if (i > 9007199254740991LL || i < -9007199254740991LL) {
          return std::string("checkpoint_request_id is not a safe integer");
        }
        d = static_cast<double>(i);
      }
    }
    if (!std::isfinite(d) || std::floor(d) != d || std::fabs(d) > kMaxSafe) {
      return std::string("checkpoint_request_id is not a safe integer");
    }
    auto n = static_cast<int64_t>(d);
    if (n < 1) return kRange;
    return n;
  }
  if (value.is_string()) {
    const std::string s = value.get<std::string>();
    static const std::regex kDigits("^-?[0-9]+$");
    if (!std::regex_match(s, kDigits)) {
      return std::string("checkpoint_request_id must be an integer or integer string");
    }
    if (s[0] == '-') {
      return kRange;  // every negative value (and -0) is out of range
    }
    auto digits = s.substr(std::min(s.find_first_not_of('0'), s.size()));
    static const std::string kMax = "9223372036854775807";
    if (digits.empty()) return kRange;  // zero
    if (digits.size() > kMax.size() || (digits.size() == kMax.size() && digits > kMax)) {
      return kRange;
    }
    return static_cast<int64_t>(std::stoll(digits));
  }
  return std::string("checkpoint_request_id must be an integer or integer string");
}

Service::Service(sim::Loop& loop, sim::Trace& trace, sim::Prng rng, ServiceConfig config)
    : loop_(loop),
      trace_(trace),
      rng_(rng),
      config_(std::move(config)),
      backend_(source_),
      replication_(loop, trace, source_, storage_, checkpoints_, route_row, config_.replication_lag,
                   config_.heartbeat) {}

bool Service::has_mutant(ServiceMutant m) const {
  return std::find(config_.mutants.begin(), config_.mutants.end(), m) != config_.mutants.end();
}

void Service::start() { replication_.start(); }

std::vector<std::string> Service::buckets_for(const std::string& user) const {
  return {global_bucket(), notes_bucket(user)};
}

std::map<RowKey, Row> Service::rows_for(const std::string& user) const {
  std::map<RowKey, Row> out;
  for (const auto& [key, row] : source_.rows()) {
    if (key.table == "todos" || (key.table == "notes" && row.owner == user)) out[key] = row;
  }
  return out;
}

void Service::handle(const sim::HttpRequest& request,
                     std::function<void(sim::HttpResponse)> respond) {
  // service.md §1.2: validation runs before authorisation (checkpoint_request() checks).
  if (request.method == "POST" && request.path == "/sync/checkpoint-request") {
    return respond(checkpoint_request(request));
  }
  if (request.subject.empty()) {
    return respond(not_signed_in());
  }
  if (request.method == "POST" && request.path == "/backend/upload") {
    return respond(upload(request));
  }
  respond(error_response(404, "PSYNC_S2002", "Not found", request.method + " " + request.path));
}

sim::HttpResponse Service::checkpoint_request(const sim::HttpRequest& request) {
  ++metrics_.checkpoint_requests;
  auto reject = [&](const std::string& details) {
    ++metrics_.rejected_requests;
    trace_.log("svc", "checkpoint-request rejected: {}", details);
    return error_response(400, "PSYNC_S2001", "Validation failed", details);
  };
  auto body = nlohmann::json::parse(request.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded() || !body.is_object()) return reject("body must be a JSON object");
  if (!body.contains("client_id") || !body["client_id"].is_string()) {
    return reject("client_id must be a string");
  }
  if (!body.contains("checkpoint_request_id")) return reject("checkpoint_request_id is required");
  auto decoded = decode_checkpoint_request_id(body["checkpoint_request_id"]);
  if (auto* problem = std::get_if<std::string>(&decoded)) return reject(*problem);
  const int64_t id = std::get<int64_t>(decoded);
  if (request.subject.empty()) {
    return not_signed_in();
  }
  const std::string key = request.subject + "/" + body["client_id"].get<std::string>();

  // createReplicationHead (service.md §1.4): read the head, store the mapping, then (and
  // only then) force a marker if storage says so.
  const Lsn head = source_.head();
  SupplyResult r = checkpoints_.supply(key, id, head, loop_.now());
  if (has_mutant(ServiceMutant::AckBeforeReplication)) {
    checkpoints_.force_visible(key);  // bug: visible before replication reached `head`
    write_checkpoints_poked_.notify();
  }
  if (r.should_advance) {
    source_.commit(loop_.now(), CommitKind::Marker, {});
    ++metrics_.markers_written;
    replication_.on_source_commit();
  }
  trace_.log("svc", "checkpoint-request {} id={} head={} -> {}{}", key, id, head, r.stored_id,
             r.should_advance ? " +marker" : "");
  return data_response({{"checkpoint_request_id", std::to_string(r.stored_id)}});
}

sim::HttpResponse Service::upload(const sim::HttpRequest& request) {
  auto body = nlohmann::json::parse(request.body, nullptr, false);
  if (body.is_discarded() || !body.is_object() || !body.contains("crud") ||
      !body.contains("client_id") || !body["client_id"].is_string()) {
    return error_response(400, "APP_BAD_UPLOAD", "Bad upload", "expected {client_id, crud}");
  }
  try {
    Lsn lsn = backend_.apply(loop_.now(), request.subject, body["client_id"], body["crud"]);
    ++metrics_.uploads;
    replication_.on_source_commit();
    trace_.log("backend", "applied {} ops from {} at lsn {}", body["crud"].size(), request.subject,
               lsn);
    return data_response({{"lsn", lsn}});
  } catch (const std::exception& e) {
    return error_response(400, "APP_BAD_UPLOAD", "Bad upload", e.what());
  }
}

sim::HttpResponse Service::open_stream(const sim::HttpRequest& request,
                                       std::shared_ptr<sim::ServerStream> stream) {
  if (request.subject.empty()) {
    return not_signed_in();
  }
  if (request.method != "POST" || request.path != "/sync/stream") {
    return error_response(404, "PSYNC_S2002", "Not found", request.path);
  }
  auto body = nlohmann::json::parse(request.body, nullptr, false);
  ConnectionRequest req;
  req.user = request.subject;
  req.buckets = buckets_for(req.user);
  req.token_expires_at = loop_.now() + config_.token_lifetime;
  try {
    if (body.is_discarded() || !body.is_object()) throw std::invalid_argument("not an object");
    if (body.contains("client_id") && !body["client_id"].is_null()) {
      req.client_id = body["client_id"].get<std::string>();
      req.has_client_id = true;
    }
    for (const auto& b : body.value("buckets", nlohmann::json::array())) {
      req.after[b.at("name").get<std::string>()] = std::stoll(b.at("after").get<std::string>());
    }
  } catch (const std::exception& e) {
    return error_response(400, "PSYNC_S2001", "Validation failed", e.what());
  }
  // service.md §1.1: the key is "<user>/<client_id>", or just "<user>" without a client id.
  // An empty client_id still counts, as on the checkpoint-request route.
  req.key = req.has_client_id ? req.user + "/" + req.client_id : req.user;
  for (const auto& b : req.buckets) {
    auto p = config_.bucket_priorities.find(b.substr(0, b.find('[')));
    if (p != config_.bucket_priorities.end()) req.priorities[b] = p->second;
  }
  req.encoding = config_.stream_encoding;
  ++metrics_.streams_opened;
  trace_.log("svc", "stream open #{} {}", next_connection_, req.key);
  auto conn = std::make_shared<SyncConnection>(
      ConnectionContext{loop_, trace_, storage_, checkpoints_, write_checkpoints_poked_,
                        stream_stats_, config_.stream_batch_delay,
                        has_mutant(ServiceMutant::NoCompleteForWriteCheckpointOnlyDiff)},
      std::move(req), stream, rng_.split(fmt::format("conn{}", next_connection_++)));
  loop_.spawn([](std::shared_ptr<SyncConnection> c) -> sim::Task<void> { co_await c->run(); }(conn),
              "sync-connection");
  return {200, ""};
}

std::string Service::pending() const {
  return fmt::format("source head {}, replication {}, storage checkpoint op {} lsn {}",
                     source_.head(), replication_.pending(), storage_.latest().op_id,
                     storage_.latest().lsn);
}

}  // namespace syncsim::model
