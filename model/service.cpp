#include "model/service.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cassert>
#include <cmath>
#include <regex>
#include <utility>

namespace syncsim::model {

std::string global_bucket() { return "global[]"; }
std::string notes_bucket(const std::string& user) { return fmt::format("notes[\"{}\"]", user); }

std::optional<ItemId> parse_item_id(const std::string& id) {
  const auto a = id.find(':');
  if (a == std::string::npos) return std::nullopt;
  const auto b = id.find(':', a + 1);
  if (b == std::string::npos) return std::nullopt;
  return ItemId{id.substr(0, a), id.substr(a + 1, b - a - 1)};
}

std::optional<std::string> item_bucket(const StreamConfig& config, const std::string& id) {
  auto item = parse_item_id(id);
  if (!item) return std::nullopt;
  auto d = config.find(item->stream);
  if (!d) return std::nullopt;
  const StreamDefinition& def = config.definitions()[*d];
  // The bucket names of stream_definitions.cpp (fan_out 1): the parameter values in order.
  if (def.parameters.empty()) return def.name + "[]";
  return def.name + nlohmann::json::array({item->value}).dump();
}

namespace {
std::vector<std::string> route_row(const std::optional<StreamConfig>& streams, const RowKey& key,
                                   const Row& row) {
  if (key.table == "todos") return {global_bucket()};
  if (key.table == "notes") return {notes_bucket(row.owner)};
  // Sync streams (issue 7): an `items` row goes to its stream's bucket (item_bucket()).
  if (streams && key.table == "items") {
    if (auto b = item_bucket(*streams, key.id)) return {*b};
  }
  // Anything else, e.g. the insert-only `events` table (docs/protocol.md §1.1.1, §1.3.7: client
  // writes that are uploaded, never synced down), is stored by the backend but in no bucket.
  return {};
}

sim::HttpResponse not_signed_in() {
  return error_response(401, "PSYNC_S2101", "Authentication required", "no token");
}

// docs/protocol.md §3.1.2: every route authenticates with authUser (JWT).  docs/protocol.md §3 does
// not spell out expired tokens; a JWT past its `exp` fails verification, so the model answers it
// like a missing token (401) -- minimal, and the SDK invalidates on any 401 (docs/protocol.md
// §2.1.6).
bool unauthenticated(const sim::HttpRequest& request, sim::Micros now) {
  return request.subject.empty() ||
         (request.token_expires_at.has_value() && now >= *request.token_expires_at);
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
      checkpoints_(
          config_.flavour,
          StoreMutants{.lower_id_replaces = has_mutant(ServiceMutant::LowerIdReplaces),
                       .cleanup_deletes_pending = has_mutant(ServiceMutant::CleanupDeletesPending),
                       .no_head_filter = has_mutant(ServiceMutant::AckBeforeReplication),
                       .equal_retry_keeps_age = has_mutant(ServiceMutant::EqualRetryKeepsAge)},
          config_.generated_read_back),
      replication_(
          loop, trace, source_, storage_, checkpoints_,
          [this](const RowKey& key, const Row& row) {
            return route_row(config_.streams, key, row);
          },
          config_.replication_lag,
          config_.source == SourceFlavour::Mysql ? kMysqlBinlogHeartbeat : config_.heartbeat) {
  replication_.set_source(config_.source, config_.mysql_keepalive);
  BatcherConfig batcher;
  batcher.step_latency_max = config_.batch_latency_max;
  batcher.marker_before_mapping = has_mutant(ServiceMutant::MarkerBeforeMapping);
  batcher.head_read = config_.head_at_last_commit || config_.source == SourceFlavour::Mysql
                          ? HeadRead::AtLastCommit
                          : HeadRead::AfterLastCommit;
  batcher.writes_markers = config_.source != SourceFlavour::Mysql;
  batcher.duplicate_window = config_.duplicate_window;
  batcher.separate_read_back = config_.separate_read_back;
  if (config_.batch_failure_pct > 0 && !config_.batch_failures.empty()) {
    batcher.draw_failure = [this](bool has_generated, bool has_supplied) {
      if (!failure_rng_.percent(static_cast<uint64_t>(config_.batch_failure_pct))) {
        return BatchFailure::None;
      }
      const BatchFailure f =
          config_.batch_failures[failure_rng_.uniform(config_.batch_failures.size())];
      // A partial write needs both statements; otherwise the one statement fails whole.
      if (f == BatchFailure::PartialWrite && !(has_generated && has_supplied)) {
        return BatchFailure::HeadRead;
      }
      return f;
    };
  }
  if (config_.write_checkpoint_mode == WriteCheckpointMode::Custom) {
    backend_.set_custom_write_checkpoints(true);
    if (!has_mutant(ServiceMutant::CustomCheckpointBeforeReplication)) {
      replication_.set_custom_checkpoint_hook(
          [this](const std::string& key, int64_t n) { on_custom_checkpoint(key, n, 1, storage_); });
    }
  }
  assert(config_.api_processes >= 1);
  for (int i = 0; i < config_.api_processes; ++i) {
    BatcherHooks hooks;
    hooks.write_marker = [this] { write_marker(); };
    hooks.on_write = [this](const auto& entries, const auto& before, const auto& w) {
      on_batch_write(entries, before, w);
    };
    BatcherConfig own = batcher;
    // One process keeps the names (and so the traces and PRNG streams) of before issue 17.
    if (config_.api_processes > 1) own.name = fmt::format("api{}", i + 1);
    batchers_.push_back(std::make_unique<CheckpointBatcher>(
        loop_, trace_, rng_.split(i == 0 ? std::string("batcher") : own.name), source_,
        checkpoints_, own, std::move(hooks)));
  }
}

void Service::on_custom_checkpoint(const std::string& key, int64_t checkpoint, int id,
                                   BucketStorage& storage) {
  // batch.addCustomWriteCheckpoint, persisted at flush (docs/protocol.md §3.1.10): mongo stamps
  // it with a fresh op id (opSeq.next()), postgres stores no op id.  Each sync-rules
  // instance's job writes its own records (keyed by its sync_rules_id).
  const OpId op = config_.flavour == StorageFlavour::Mongo ? storage.allocate_op() : 0;
  checkpoints_.custom().upsert(key, id, checkpoint, op);
  trace_.log("repl", "custom write checkpoint {} = {} (sync rules {}, op {})", key, checkpoint, id,
             op);
}

std::size_t Service::pick_process() {
  if (batchers_.size() == 1) return 0;  // no draw: one process keeps the PRNG streams
  return static_cast<std::size_t>(balancer_rng_.uniform(batchers_.size()));
}

Service::~Service() = default;

void Service::write_marker() {
  // pg_logical_emit_message / the _powersync_checkpoints bump (§2.1.4): a source commit
  // without rows that replication will observe.
  source_.commit(loop_.now(), CommitKind::Marker, {});
  ++metrics_.markers_written;
  notify_replications();
}

void Service::on_batch_write(const std::vector<ManagedEntry>& entries,
                             const std::map<std::string, std::optional<int64_t>>& before,
                             const BatchWrite& w) {
  constexpr const char* kId = "service-stored-id-monotonic";
  if (mapping_stored_) {
    for (std::size_t i = 0; i < entries.size(); ++i) {
      // Once per key: a batch may hold two requests of one client.
      const auto same_key = [&](const ManagedEntry& e) { return e.key == entries[i].key; };
      if (std::none_of(entries.begin(), entries.begin() + static_cast<std::ptrdiff_t>(i),
                       same_key)) {
        mapping_stored_(entries[i].key);
      }
    }
  }
  for (const auto& e : entries) {
    // The retention ledger (retention-deletes-only-what-it-may), independent of the
    // store's own requested_at: §2.1.7 refreshes on a supplied id >= the stored one.
    const auto was = before.at(e.key);
    if (e.supplied && (!was || *e.supplied >= *was)) {
      retention_ledger_[e.key].refreshed_at = loop_.now();
    }
  }
  if (verdicts_) verdicts_->checked(kId);
  const uint64_t batch_line = trace_.lines();
  for (const auto& e : entries) {
    const auto after = checkpoints_.stored_id(e.key);
    const auto was = before.at(e.key);
    const int64_t response = w.ids.at(e.key);
    // The request that established the id stored before (the ack ledger keeps its lines).
    const auto was_req = was ? ledger_.requirement_for(e.key, *was) : std::nullopt;
    const uint64_t was_line = was_req ? was_req->batch_line : 0;
    const auto show = [](std::optional<int64_t> v) {
      return v ? std::to_string(*v) : std::string("none");
    };
    const auto fail = [&](const std::string& message) {
      std::vector<sim::ViolationInput> inputs{
          {"stored before", show(was),
           fmt::format("the store's id for {} before this batch", e.key), was_line},
          {"stored after", show(after), "the store's id after the batch wrote", batch_line},
          {"response", std::to_string(response), "the id the batch answers the request with",
           batch_line},
          {"posted id", e.supplied ? std::to_string(*e.supplied) : "(generated)",
           "the request's body", batch_line}};
      std::vector<sim::CauseStep> chain;
      if (was_line) {
        chain.push_back({fmt::format("a batch stores id {} for {}", show(was), e.key), was_line});
      }
      chain.push_back(
          {fmt::format("a batch with {} entr{} writes {} for {} and answers {}", entries.size(),
                       entries.size() == 1 ? "y" : "ies", show(after), e.key, response),
           batch_line});
      violation(kId, message, std::move(inputs), std::move(chain));
    };
    if (!after || *after < 1) {
      return fail(fmt::format("{}: stored id {} outside 1..2^63-1", e.key, show(after)));
    }
    if (was && *after < *was) {
      return fail(fmt::format("{}: stored id went from {} down to {}", e.key, *was, *after));
    }
    if (response != *after) {
      return fail(
          fmt::format("{}: response {} but {} stored after the batch", e.key, response, *after));
    }
    if (e.supplied && response < *e.supplied) {
      return fail(
          fmt::format("{}: response {} below the posted id {}", e.key, response, *e.supplied));
    }
  }
}

bool Service::has_mutant(ServiceMutant m) const {
  return std::find(config_.mutants.begin(), config_.mutants.end(), m) != config_.mutants.end();
}

void Service::start() {
  replication_.start();
  schedule_compaction();
}

void Service::schedule_compaction() {
  if (config_.compact_interval <= 0) return;
  loop_.after(config_.compact_interval, [this] {
    compact();
    schedule_compaction();
  });
}

void Service::compact() {
  ++metrics_.compact_jobs;
  // compact-action.ts: deleteCheckpointRequestsBefore = now - retention (§2.2.1).
  const sim::Micros cutoff = loop_.now() - config_.checkpoint_request_retention;
  const auto records_before = checkpoints_.records();
  const int deleted = checkpoints_.delete_expired(cutoff);
  metrics_.requests_deleted += static_cast<uint64_t>(deleted);
  check_retention(records_before, cutoff);
  // Bucket compaction (MOVE/CLEAR) up to the latest storage checkpoint (§2.3.4).
  BucketStorage& storage = *active_storage_;
  const uint64_t removed_before = storage.compaction_stats().ops_removed;
  // docs/protocol.md §3.3.4: torn reads need each bucket's ops from before the compaction.
  storage.keep_pre_compaction_ops(config_.torn_compaction_reads);
  storage.compact(storage.latest().op_id, has_mutant(ServiceMutant::ClearLosesChecksum));
  trace_.log("svc", "compact job: {} checkpoint-request records deleted, {} ops compacted away",
             deleted, storage.compaction_stats().ops_removed - removed_before);
}

std::optional<Service::Deletion> Service::deletion_of(const std::string& key) const {
  auto it = deletions_.find(key);
  if (it == deletions_.end()) return std::nullopt;
  return it->second;
}

void Service::delete_request(const std::string& key) {
  // Only request-derived records: a generated (legacy) record is permanent, nothing in the
  // service deletes it (docs/protocol.md §3.2.1), so the fault leaves it (world hunt finding, issue
  // 14).
  const int deleted = checkpoints_.erase_requested(key);
  if (deleted > 0) deletions_[key] = Deletion{loop_.now(), "a delete_request fault"};
  metrics_.requests_deleted += static_cast<uint64_t>(deleted);
  trace_.log("svc", "deleted {} checkpoint-request record(s) of {}", deleted, key);
}

void Service::restart(sim::Micros down) {
  ++metrics_.restarts;
  down_until_ = loop_.now() + down;
  for (auto& b : batchers_) b->fail_all("service restarting");
  for (auto& open : streams_) {
    if (auto s = open.stream.lock()) s->abort();
  }
  streams_.clear();
  if (active_replication_ == &replication_) replication_.restart(down);  // not once stopped
  for (auto& r : reprocessed_) {
    if (r->state == SyncRulesInstance::State::Processing ||
        r->state == SyncRulesInstance::State::Active) {
      r->replication->restart(down);
    }
  }
  trace_.log("svc", "restart: down for {} ms", down / sim::kMillis);
}

void Service::restart_replication(sim::Micros down) {
  // Only the replication process: a commit blocked during the replay can mark a record
  // processed below the next checkpoint's LSN while connections opened before stay open
  // (docs/protocol.md §3.1.8, §3.4).
  ++metrics_.replication_restarts;
  if (active_replication_ == &replication_) replication_.restart(down);  // not once stopped
  for (auto& r : reprocessed_) {
    if (r->state == SyncRulesInstance::State::Processing ||
        r->state == SyncRulesInstance::State::Active) {
      r->replication->restart(down);
    }
  }
  trace_.log("svc", "replication-only restart: replication down for {} ms, {} stream(s) kept",
             down / sim::kMillis, streams_.size());
}

std::vector<std::string> Service::route(const RowKey& key, const Row& row) const {
  return route_row(config_.streams, key, row);
}

void Service::end_streams_of(const std::set<std::string>& keys) {
  std::erase_if(streams_, [&](const OpenStream& open) {
    if (!keys.contains(open.key)) return false;
    if (auto s = open.stream.lock()) s->end();
    trace_.log("svc", "stream of {} ended (line fault healed)", open.key);
    return true;
  });
}

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
  if (loop_.now() < down_until_) {
    return respond(sim::HttpResponse::reset("service down (restarting)"));
  }
  // docs/protocol.md §3.1.2: validation runs before authorisation (the route handlers check).
  if (request.method == "POST" && request.path == "/sync/checkpoint-request") {
    return checkpoint_request(request, std::move(respond));
  }
  if (request.method == "GET" && (request.path == "/write-checkpoint2.json" ||
                                  request.path.rfind("/write-checkpoint2.json?", 0) == 0)) {
    return write_checkpoint2(request, std::move(respond));
  }
  if (request.method == "POST" && request.path == "/backend/checkpoint-request") {
    return forward_checkpoint_request(request, std::move(respond));
  }
  if (request.subject.empty()) {
    return respond(not_signed_in());
  }
  if (request.method == "POST" && request.path == "/backend/upload") {
    return respond(upload(request));
  }
  respond(error_response(404, "PSYNC_S2002", "Not found", request.method + " " + request.path));
}

namespace {
// The value of `name` in a query string ("a=1&client_id=x"); no percent-decoding (the
// simulated clients send plain ids).
std::optional<std::string> query_param(const std::string& path, const std::string& name) {
  auto q = path.find('?');
  if (q == std::string::npos) return std::nullopt;
  std::string rest = path.substr(q + 1);
  while (!rest.empty()) {
    auto amp = rest.find('&');
    std::string part = rest.substr(0, amp);
    auto eq = part.find('=');
    if (part.substr(0, eq) == name) {
      return eq == std::string::npos ? std::string() : part.substr(eq + 1);
    }
    if (amp == std::string::npos) break;
    rest = rest.substr(amp + 1);
  }
  return std::nullopt;
}
}  // namespace

void Service::enqueue(const std::string& key, std::optional<int64_t> supplied, bool generated,
                      std::function<void(sim::HttpResponse)> respond) {
  if (config_.write_checkpoint_mode == WriteCheckpointMode::Custom) {
    // §3.1.2: custom mode rejects both managed routes, differently per storage.
    ++metrics_.rejected_requests;
    trace_.log("svc", "managed checkpoint rejected: custom write checkpoint mode");
    if (config_.flavour == StorageFlavour::Mongo) {
      return respond(error_response(500, "PSYNC_S0001", "Internal assertion",
                                    "managed write checkpoints are disabled in custom mode"));
    }
    return respond(error_response(400, "PSYNC_S2001", "Validation failed",
                                  "Attempting to create a managed Write Checkpoint when the "
                                  "current Write Checkpoint mode is set to custom"));
  }
  // The position at which this request was received: everything the client uploaded
  // before posting is at or below it (judged by service-ack-after-replication).
  const Lsn received_at = source_.head();
  const sim::Micros received_when = loop_.now();
  const std::size_t process = pick_process();
  batchers_[process]->enqueue(
      key, supplied,
      [this, key, supplied, generated, received_at, received_when,
       respond = std::move(respond)](BatchOutcome out) {
        if (!out.ok) {
          ++metrics_.failed_requests;
          trace_.log("svc", "checkpoint request of {} failed: {}", key, out.error);
          return respond(sim::HttpResponse::reset(out.error));
        }
        // An id this request established (not a stale or equal answer) must not be acked
        // before `received_at` is replicated.
        trace_.log("svc", "{} {} {} -> {} (head {})", generated ? "write-checkpoint2" : "request",
                   key, supplied ? std::to_string(*supplied) : "-", out.id, out.head);
        // What the batch's own write stored: a mongo read-back of another duplicate answers
        // an older id (docs/protocol.md §3.1.5), but the increment is this request's.
        if (!out.before || *out.before < out.stored) {
          ledger_.established(key, out.stored, received_at, received_when,
                              active_replication_->lag(), trace_.lines(), out.batch_line, out.head);
        }
        if (observer_) observer_->on_request_answered(key, supplied, out.before, out.id);
        // Mutant stale-route-response: the stored id as the batch read it before writing.
        const int64_t response =
            has_mutant(ServiceMutant::StaleRouteResponse) && out.before ? *out.before : out.id;
        check_route_response(key, supplied, out, response);
        if (generated) {
          ++metrics_.generated_requests;
          if (has_mutant(ServiceMutant::GeneratedAnswerAhead)) {
            trace_.log("svc", "MUTANT write-checkpoint2 answers {} (stored {})", response + 1,
                       response);
            return respond(data_response({{"write_checkpoint", std::to_string(response + 1)}}));
          }
          return respond(data_response({{"write_checkpoint", std::to_string(response)}}));
        }
        ++metrics_.supplied_requests;
        respond(data_response({{"checkpoint_request_id", std::to_string(response)}}));
      });
}

void Service::checkpoint_request(const sim::HttpRequest& request,
                                 std::function<void(sim::HttpResponse)> respond) {
  ++metrics_.checkpoint_requests;
  auto reject = [&](const std::string& details) {
    ++metrics_.rejected_requests;
    trace_.log("svc", "checkpoint-request rejected: {}", details);
    respond(error_response(400, "PSYNC_S2001", "Validation failed", details));
  };
  auto body = nlohmann::json::parse(request.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded() || !body.is_object()) return reject("body must be a JSON object");
  if (!body.contains("client_id") || !body["client_id"].is_string()) {
    return reject("client_id must be a string");
  }
  if (!body.contains("checkpoint_request_id")) return reject("checkpoint_request_id is required");
  auto decoded = decode_checkpoint_request_id(body["checkpoint_request_id"]);
  if (auto* problem = std::get_if<std::string>(&decoded)) {
    // The accept-non-positive-ids mutant skips the range check (the bug 2968208 fixed).
    const auto& v = body["checkpoint_request_id"];
    if (!(has_mutant(ServiceMutant::AcceptNonPositiveIds) && v.is_number_integer() &&
          v.get<int64_t>() <= 0)) {
      return reject(*problem);
    }
    decoded = v.get<int64_t>();
  }
  const int64_t id = std::get<int64_t>(decoded);
  if (unauthenticated(request, loop_.now())) return respond(not_signed_in());
  enqueue(request.subject + "/" + body["client_id"].get<std::string>(), id, false,
          std::move(respond));
}

void Service::write_checkpoint2(const sim::HttpRequest& request,
                                std::function<void(sim::HttpResponse)> respond) {
  ++metrics_.checkpoint_requests;
  if (unauthenticated(request, loop_.now())) return respond(not_signed_in());
  // §3.1.1: "<user>/<client_id>", or just "<user>" without a client_id.
  auto client_id = query_param(request.path, "client_id");
  const std::string key = client_id ? request.subject + "/" + *client_id : request.subject;
  enqueue(key, std::nullopt, true, std::move(respond));
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
    notify_replications();
    trace_.log("backend", "applied {} ops from {} at lsn {}", body["crud"].size(), request.subject,
               lsn);
    if (auto custom = backend_.last_custom_checkpoint()) {
      // Custom mode: the answer carries the new custom write checkpoint, which must not be
      // acknowledged before this commit is replicated.
      const std::string key = request.subject + "/" + body["client_id"].get<std::string>();
      ledger_.established(key, *custom, lsn, loop_.now(), active_replication_->lag(),
                          trace_.lines());
      if (has_mutant(ServiceMutant::CustomCheckpointBeforeReplication)) {
        trace_.log("svc", "MUTANT custom write checkpoint {} = {} stored before replication", key,
                   *custom);
        checkpoints_.custom().upsert(key, sync_rules_id_, *custom, active_storage_->allocate_op());
      }
      return data_response({{"lsn", lsn}, {"write_checkpoint", std::to_string(*custom)}});
    }
    return data_response({{"lsn", lsn}});
  } catch (const std::exception& e) {
    return error_response(400, "APP_BAD_UPLOAD", "Bad upload", e.what());
  }
}

void Service::forward_checkpoint_request(const sim::HttpRequest& request,
                                         std::function<void(sim::HttpResponse)> respond) {
  // The app backend behind a connector's postCheckpointRequest (docs/protocol.md §2.2.6, quirk
  // §2.7.3): it authenticates the app user its own way and calls the service's route for them with
  // a backend-minted token (no expiry) after a seeded delay.
  sim::HttpRequest forwarded{"POST", "/sync/checkpoint-request", request.body, request.subject};
  const auto delay = backend_rng_.range(0, config_.backend_forward_delay_max);
  loop_.after(delay, [this, forwarded = std::move(forwarded), respond = std::move(respond)] {
    trace_.log("backend", "forwards checkpoint request of {}", forwarded.subject);
    handle(forwarded, respond);
  });
}

sim::HttpResponse Service::open_stream(const sim::HttpRequest& request,
                                       std::shared_ptr<sim::ServerStream> stream) {
  if (loop_.now() < down_until_) return sim::HttpResponse::reset("service down (restarting)");
  // The connection limit is an onRequest hook: it runs before authentication.
  // Mutant connection-slot-leak: a closed stream keeps its slot for good.
  const bool leak = has_mutant(ServiceMutant::ConnectionSlotLeak);
  std::erase_if(streams_, [leak](const OpenStream& o) {
    auto s = o.stream.lock();
    return !leak && (!s || s->closed());
  });
  const std::size_t process = pick_process();
  if (config_.max_concurrent_streams > 0) {
    // createRequestQueueHook with max_queue_depth 0: 429 once `concurrency` run (hooks.ts).
    const auto open_here = std::count_if(streams_.begin(), streams_.end(),
                                         [&](const OpenStream& o) { return o.process == process; });
    if (open_here >= config_.max_concurrent_streams) {
      ++metrics_.rejected_streams;
      trace_.log("svc", "stream of {} rejected: {} open on process {} (429)", request.subject,
                 open_here, process + 1);
      return sim::HttpResponse{429, ""};
    }
  }
  if (unauthenticated(request, loop_.now())) {
    return not_signed_in();
  }
  if (request.method != "POST" || request.path != "/sync/stream") {
    return error_response(404, "PSYNC_S2002", "Not found", request.path);
  }
  // docs/protocol.md §3.3.1: the encoding is negotiated from the request's Accept header before
  // the headers go out (BSON when the client accepts it, as every SDK's BSON-first accept does);
  // a request without one gets the configured encoding.
  const StreamEncoding encoding = request.accept.find(kBsonStreamType) != std::string::npos
                                      ? StreamEncoding::Bson
                                      : config_.stream_encoding;
  stream->set_content_type(encoding == StreamEncoding::Bson ? kBsonStreamType
                                                            : "application/x-ndjson");
  auto body = nlohmann::json::parse(request.body, nullptr, false);
  ConnectionRequest req;
  req.user = request.subject;
  req.buckets = buckets_for(req.user);
  // The stream ends at the token's own expiry (docs/protocol.md §3.3.5); a request without one
  // gets the configured lifetime from now.
  req.token_expires_at = request.token_expires_at.value_or(loop_.now() + config_.token_lifetime);
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
  // docs/protocol.md §3.1.1: the key is "<user>/<client_id>", or just "<user>" without a client id.
  // An empty client_id still counts, as on the checkpoint-request route.
  req.key = req.has_client_id ? req.user + "/" + req.client_id : req.user;
  for (const auto& b : req.buckets) {
    auto p = config_.bucket_priorities.find(b.substr(0, b.find('[')));
    if (p != config_.bucket_priorities.end()) req.priorities[b] = p->second;
  }
  if (config_.streams) {
    std::optional<std::string> failed;
    try {
      failed = resolve_request_streams(body, req);
    } catch (const std::invalid_argument& e) {
      return error_response(400, "PSYNC_S2001", "Validation failed", e.what());
    }
    if (failed) {
      // docs/protocol.md §3.3.1: "Once headers are sent, errors just end the stream" (too many
      // buckets, PSYNC_S2305): 200, then the stream ends without a line.
      ++failed_stream_requests_;
      trace_.log("svc", "stream of {} failed: {}", req.key, *failed);
      stream->end();
      return {200, ""};
    }
  }
  if (active_storage_ != &storage_) version_buckets(req);  // model/sync_rules.cpp
  req.encoding = encoding;
  ++metrics_.streams_opened;
  streams_.push_back(OpenStream{stream, process, req.key});
  if (req.encoding == StreamEncoding::Bson) {
    ++stream_stats_.bson_streams;
    trace_.log("svc", "stream open #{} {} (bson)", next_connection_, req.key);
  } else {
    trace_.log("svc", "stream open #{} {}", next_connection_, req.key);
  }
  auto conn = std::make_shared<SyncConnection>(
      ConnectionContext{
          loop_,
          trace_,
          *active_storage_,
          checkpoints_,
          stream_stats_,
          config_.stream_batch_delay,
          has_mutant(ServiceMutant::NoCompleteForWriteCheckpointOnly),
          has_mutant(ServiceMutant::WriteCheckpointMayDrop),
          has_mutant(ServiceMutant::StaleWriteCheckpointOnConnect),
          config_.sticky_invalidation,
          [this](const std::string& key, int64_t id, Lsn lsn) { on_emission(key, id, lsn); },
          &line_faults_,
          config_.write_checkpoint_mode == WriteCheckpointMode::Custom,
          sync_rules_id_,
          config_.change_feed_takes_max,
          config_.torn_compaction_reads,
          has_mutant(ServiceMutant::TornReadSkipsOp),
          config_.v3_checksum_documents,
          has_mutant(ServiceMutant::StraddledChecksumServed),
          config_.batch_latency_max,
          config_.v3_superseding_skip,
          has_mutant(ServiceMutant::CompleteDespiteInvalidation),
          config_.fetch_per_page,
          config_.custom_changes_own_config},
      std::move(req), stream, rng_.split(fmt::format("conn{}", next_connection_++)));
  loop_.spawn([](std::shared_ptr<SyncConnection> c) -> sim::Task<void> { co_await c->run(); }(conn),
              "sync-connection");
  return {200, ""};
}

std::optional<std::string> Service::resolve_request_streams(const nlohmann::json& body,
                                                            ConnectionRequest& req) {
  // docs/protocol.md §3.3.1: `streams?: {include_defaults?, subscriptions}`; absent = defaults
  // only.
  const StreamRequest request =
      parse_stream_request(body.contains("streams") ? body["streams"] : nlohmann::json());
  // §3.3.3 step 2: subscriptions from request.streams, defaults unless include_defaults:false,
  // per-stream errors that do not fail the connection, priority from the definition or
  // override_priority (model/stream_definitions.cpp).
  const Resolution r = resolve_streams(*config_.streams, request);
  if (r.error_code) return *r.error_code + " " + r.error_message;
  // §3.3.2: "Legacy bucket_definitions appear as default streams": the world's global and
  // per-user buckets come first as the default streams "global" (0) and "notes" (1), in
  // every request.  Whether include_defaults:false also drops legacy definitions is not
  // documented; the model keeps them (the workload never opts out).
  constexpr int kLegacyStreams = 2;
  nlohmann::json streams = nlohmann::json::array(
      {{{"name", "global"}, {"is_default", true}, {"errors", nlohmann::json::array()}},
       {{"name", "notes"}, {"is_default", true}, {"errors", nlohmann::json::array()}}});
  for (const auto& s : streams_json(r)) streams.push_back(s);
  req.bucket_subscriptions[global_bucket()] = nlohmann::json::array({{{"default", 0}}});
  req.bucket_subscriptions[notes_bucket(req.user)] = nlohmann::json::array({{{"default", 1}}});
  std::vector<std::string> resolved;
  std::map<std::string, int>& seen = stream_buckets_seen_[req.key];
  for (const auto& b : r.buckets) {
    nlohmann::json subs = nlohmann::json::array();
    for (const auto& reason : b.reasons) {
      if (reason.kind == BucketReason::Kind::Default) {
        subs.push_back({{"default", reason.index + kLegacyStreams}});
      } else {
        subs.push_back({{"sub", reason.index}});
      }
    }
    req.buckets.push_back(b.name);
    req.priorities[b.name] = b.priority;
    req.bucket_subscriptions[b.name] = std::move(subs);
    resolved.push_back(b.name);
  }
  if (has_mutant(ServiceMutant::RemovedSubscriptionKeepsBuckets)) {
    // MUTANT: buckets of earlier connections' subscriptions keep syncing.
    for (const auto& [name, priority] : seen) {
      if (std::find(resolved.begin(), resolved.end(), name) != resolved.end()) continue;
      req.buckets.push_back(name);
      req.priorities[name] = priority;
      req.bucket_subscriptions[name] = nlohmann::json::array();
      trace_.log("svc", "MUTANT stream {} keeps removed bucket {}", req.key, name);
    }
  }
  for (const auto& b : r.buckets) seen[b.name] = b.priority;
  stream_buckets_latest_[req.key] = resolved;
  req.streams = std::move(streams);
  trace_.log("svc", "stream {} streams: {} subscription(s), {} stream bucket(s), {} error(s)",
             req.key, request.subscriptions.size(), resolved.size(), [&r] {
               std::size_t n = 0;
               for (const auto& s : r.streams) n += s.errors.size();
               return n;
             }());
  return std::nullopt;
}

std::vector<std::string> Service::stream_buckets_of(const std::string& key) const {
  auto it = stream_buckets_latest_.find(key);
  return it == stream_buckets_latest_.end() ? std::vector<std::string>{} : it->second;
}

std::string Service::pending() const {
  std::string out = fmt::format("source head {}, replication {}, storage checkpoint op {} lsn {}",
                                source_.head(), active_replication_->pending(),
                                active_storage_->latest().op_id, active_storage_->latest().lsn);
  if (config_.max_concurrent_streams > 0) out += streams_pending();
  return out;
}

// Who holds the connection slots of a full process (docs/protocol.md §3.3.1), counted as the
// next stream's open counts them: a client refused with 429 until the end is explained by the
// streams that fill its process (docs/findings-world.md W34).  At most eight keys each.
std::string Service::streams_pending() const {
  const bool leak = has_mutant(ServiceMutant::ConnectionSlotLeak);
  std::vector<std::vector<const std::string*>> open(
      static_cast<std::size_t>(config_.api_processes));
  for (const auto& o : streams_) {
    auto s = o.stream.lock();
    if (leak || (s && !s->closed())) open.at(o.process).push_back(&o.key);
  }
  std::string out;
  for (std::size_t p = 0; p < open.size(); ++p) {
    if (std::cmp_less(open[p].size(), config_.max_concurrent_streams)) continue;
    out +=
        fmt::format("; process {} has {} sync streams open, its limit (new ones get 429):", p + 1,
                    open[p].size());
    for (std::size_t i = 0; i < open[p].size() && i < 8; ++i) out += " " + *open[p][i];
    if (open[p].size() > 8) out += " …";
  }
  return out;
}

}  // namespace syncsim::model
