// Unit tests of bucket compaction (docs/protocol.md §3.3.4, I11) and of the sync stream
// (docs/protocol.md §3.1.9 Emission/Timing, §3.3, I8/I10/I13, §3.6.2 items 10-12): a SyncConnection
// (or Service::open_stream) writes to a recording fake stream inside a sim::Loop.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "model/bucket_storage.hpp"
#include "model/checkpoint_store.hpp"
#include "model/service.hpp"
#include "model/sync_stream.hpp"
#include "sim/loop.hpp"
#include "sim/net.hpp"
#include "sim/prng.hpp"
#include "sim/trace.hpp"

namespace syncsim::model {
namespace {

using nlohmann::json;
using sim::kEpoch;
using sim::kMillis;
using sim::kSeconds;
using sim::Micros;

// A copy of a bucket's ops (the pointers from ops() die with the next compact()).
std::vector<Op> all_ops(const BucketStorage& storage, const std::string& bucket) {
  std::vector<Op> out;
  for (const Op* op : storage.ops(bucket, 0, storage.last_op(), SIZE_MAX)) out.push_back(*op);
  return out;
}

// ---------------------------------------------------------------------------------------
// Compaction (docs/protocol.md §3.3.4)
// ---------------------------------------------------------------------------------------

TEST(Compaction, SupersededOpsBecomeMovesPointingAtTheNewestOpUpToTheHorizon) {
  BucketStorage storage;
  storage.append("b", put_op("todos", "z", "{}"));          // 1
  storage.append("b", put_op("todos", "a", R"({"v":1})"));  // 2
  storage.append("b", put_op("todos", "a", R"({"v":2})"));  // 3
  storage.append("b", put_op("todos", "a", R"({"v":3})"));  // 4: beyond the horizon
  const std::vector<Op> before = all_ops(storage, "b");
  const BucketState at3 = storage.state("b", 3), at4 = storage.state("b", 4);

  const CompactionStats run = storage.compact(3);
  EXPECT_EQ(run.ops_moved, 1u);
  EXPECT_EQ(run.clears, 0u);
  EXPECT_EQ(run.ops_removed, 0u);
  const std::vector<Op> after = all_ops(storage, "b");
  ASSERT_EQ(after.size(), 4u);
  EXPECT_EQ(after[0].type, OpType::Put);  // z is never superseded
  EXPECT_EQ(after[1].type, OpType::Move);
  EXPECT_FALSE(after[1].put);
  EXPECT_EQ(after[1].op_id, 2);
  EXPECT_EQ(after[1].checksum, before[1].checksum);
  EXPECT_EQ(after[1].data, "");
  EXPECT_EQ(after[1].target_op, 3);
  EXPECT_EQ(after[2].type, OpType::Put) << "op 4 is past the horizon, so 3 survives";
  EXPECT_EQ(after[2].data, R"({"v":2})");
  EXPECT_EQ(after[3].type, OpType::Put);
  EXPECT_EQ(storage.state("b", 3), at3);
  EXPECT_EQ(storage.state("b", 4), at4);

  // A later horizon moves op 3 too; op 2 keeps its target.
  storage.compact(4);
  const std::vector<Op> later = all_ops(storage, "b");
  EXPECT_EQ(later[1].target_op, 3);
  EXPECT_EQ(later[2].type, OpType::Move);
  EXPECT_EQ(later[2].target_op, 4);
  EXPECT_EQ(storage.state("b", 4), at4);
  EXPECT_EQ(storage.compaction_stats().runs, 2u);
  EXPECT_EQ(storage.compaction_stats().ops_moved, 2u);
}

TEST(Compaction, LeadingRemovesAndMovesBecomeOneClearWithTheSummedChecksum) {
  BucketStorage storage;
  storage.append("b", put_op("todos", "k", "{}"));      // 1 -> MOVE(4)
  storage.append("b", put_op("todos", "a", "{}"));      // 2 -> MOVE(5)
  storage.append("other", put_op("todos", "x", "{}"));  // 3, another bucket
  storage.append("b", remove_op("todos", "k"));         // 4
  storage.append("b", put_op("todos", "a", "{}"));      // 5
  storage.append("b", put_op("todos", "y", "{}"));      // 6
  const std::vector<Op> before = all_ops(storage, "b");
  ASSERT_EQ(before.size(), 5u);
  std::map<OpId, BucketState> states;
  for (OpId c = 0; c <= 6; ++c) states[c] = storage.state("b", c);
  const BucketState other = storage.state("other", 6);

  const CompactionStats run = storage.compact(6);
  EXPECT_EQ(run.ops_moved, 2u);
  EXPECT_EQ(run.clears, 1u);
  EXPECT_EQ(run.ops_removed, 2u);
  const std::vector<Op> after = all_ops(storage, "b");
  ASSERT_EQ(after.size(), 3u);
  EXPECT_EQ(after[0].type, OpType::Clear);
  EXPECT_EQ(after[0].op_id, 4) << "the last replaced op id";
  EXPECT_EQ(after[0].checksum, before[0].checksum + before[1].checksum + before[2].checksum);
  EXPECT_EQ(after[0].target_op, 5) << "the greatest target among the replaced MOVEs";
  EXPECT_EQ(after[0].object_id, "");
  EXPECT_EQ(after[1].op_id, 5);
  EXPECT_EQ(after[1].type, OpType::Put);
  EXPECT_EQ(after[2].op_id, 6);
  // I11: unchanged checksums at every checkpoint >= the horizon, and from the CLEAR on;
  // the count shrinks.
  for (OpId c = 4; c <= 6; ++c) {
    EXPECT_EQ(storage.state("b", c).checksum, states[c].checksum) << c;
    EXPECT_EQ(storage.state("b", c).count, states[c].count - 2) << c;
  }
  EXPECT_EQ(storage.state("other", 6), other) << "other buckets are untouched";
  // Compacting again at the same horizon changes nothing.
  const CompactionStats again = storage.compact(6);
  EXPECT_EQ(again.ops_moved + again.clears + again.ops_removed, 0u);
}

TEST(Compaction, OnlyMoveAndClearComeFromCompaction) {
  BucketStorage storage;
  Op move = put_op("todos", "a", "{}");
  move.type = OpType::Move;
  EXPECT_THROW(storage.append("b", move), std::logic_error);
  Op remove = put_op("todos", "a", "{}");
  remove.type = OpType::Remove;  // either field makes a REMOVE
  storage.append("b", remove);
  const std::vector<Op> ops = all_ops(storage, "b");
  ASSERT_EQ(ops.size(), 1u);
  EXPECT_EQ(ops[0].type, OpType::Remove);
  EXPECT_FALSE(ops[0].put);
  EXPECT_EQ(ops[0].data, "");
  EXPECT_EQ(ops[0].checksum, op_checksum(remove_op("todos", "a")));
}

// What a client holds for one bucket after applying ops (PUT sets, REMOVE deletes, MOVE
// does nothing, CLEAR drops everything before it).
using Rows = std::map<std::pair<std::string, std::string>, std::string>;
void apply(Rows& rows, const Op& op) {
  switch (op.type) {
    case OpType::Put:
      rows[{op.object_type, op.object_id}] = op.data;
      break;
    case OpType::Remove:
      rows.erase({op.object_type, op.object_id});
      break;
    case OpType::Move:
      break;
    case OpType::Clear:
      rows.clear();
      break;
  }
}

RC_GTEST_PROP(CompactionProp, KeepsChecksumsAtAndAfterTheHorizonAndTheClientsRows, ()) {
  BucketStorage storage;
  const std::vector<std::string> buckets{"b1", "b2"};
  // Rounds of appends, each followed by a compaction at some horizon <= the last op.
  // Horizons never go backwards (they are storage checkpoints).
  const int rounds = *rc::gen::inRange(1, 4);
  OpId previous_horizon = 0;
  for (int round = 0; round < rounds; ++round) {
    const int n = *rc::gen::inRange(0, 40);
    for (int i = 0; i < n; ++i) {
      const std::string bucket = buckets[*rc::gen::inRange<std::size_t>(0, 2)];
      const std::string id = std::string(1, static_cast<char>('a' + *rc::gen::inRange(0, 4)));
      if (*rc::gen::inRange(0, 3) == 0) {
        storage.append(bucket, remove_op("todos", id));
      } else {
        storage.append(bucket, put_op("todos", id, std::to_string(storage.last_op() + 1)));
      }
    }
    const OpId last = storage.last_op();
    const OpId horizon = *rc::gen::inRange<OpId>(previous_horizon, last + 1);
    previous_horizon = horizon;
    std::map<std::string, std::vector<Op>> before;
    std::map<std::string, std::vector<BucketState>> states;  // at horizon..last
    for (const auto& b : buckets) {
      before[b] = all_ops(storage, b);
      for (OpId c = horizon; c <= last; ++c) states[b].push_back(storage.state(b, c));
    }

    const CompactionStats run = storage.compact(horizon);

    uint64_t removed = 0;
    for (const auto& b : buckets) {
      const std::vector<Op> after = all_ops(storage, b);
      // I11: same checksum at every checkpoint >= horizon; count shrinks by the same
      // amount everywhere (what the CLEAR merged).
      const int64_t shrink = static_cast<int64_t>(before[b].size() - after.size());
      removed += static_cast<uint64_t>(shrink);
      for (OpId c = horizon; c <= last; ++c) {
        const BucketState want = states[b][static_cast<std::size_t>(c - horizon)];
        const BucketState got = storage.state(b, c);
        RC_ASSERT(got.checksum == want.checksum);
        RC_ASSERT(got.count == want.count - shrink);
      }
      // Structure: ascending ids, a CLEAR only first, ops past the horizon untouched,
      // MOVE targets after the op and <= horizon, one PUT/REMOVE per row <= horizon.
      std::set<std::pair<std::string, std::string>> live;
      for (std::size_t i = 0; i < after.size(); ++i) {
        const Op& op = after[i];
        RC_ASSERT(op.put == (op.type == OpType::Put));
        if (i > 0) RC_ASSERT(after[i - 1].op_id < op.op_id);
        if (op.type == OpType::Clear) RC_ASSERT(i == 0u);
        if (op.type == OpType::Move) {
          RC_ASSERT(op.target_op > op.op_id);
          RC_ASSERT(op.target_op <= horizon);
          RC_ASSERT(op.data.empty());
        }
        if (op.op_id > horizon) {
          const Op& old = before[b][before[b].size() - after.size() + i];
          RC_ASSERT(old.op_id == op.op_id);
          RC_ASSERT(old.type == op.type);
          RC_ASSERT(old.data == op.data);
        } else if (op.type == OpType::Put || op.type == OpType::Remove) {
          RC_ASSERT(live.insert({op.object_type, op.object_id}).second);
        }
      }
      // A client that had downloaded the old ops up to any position p and then fetches
      // the compacted ops after p ends with the same rows as one that saw no compaction.
      Rows full;
      for (const Op& op : before[b]) apply(full, op);
      const OpId p = *rc::gen::inRange<OpId>(0, last + 1);
      Rows client;
      for (const Op& op : before[b]) {
        if (op.op_id <= p) apply(client, op);
      }
      for (const Op& op : after) {
        if (op.op_id > p) apply(client, op);
      }
      RC_ASSERT(client == full);
    }
    RC_ASSERT(run.ops_removed == removed);
    // Idempotent at the same horizon.
    const CompactionStats again = storage.compact(horizon);
    RC_ASSERT(again.ops_moved + again.clears + again.ops_removed == 0u);
  }
}

// ---------------------------------------------------------------------------------------
// Sync stream: a recording fake stream and two worlds (a bare connection; the service)
// ---------------------------------------------------------------------------------------

class RecordingStream : public sim::ServerStream {
 public:
  RecordingStream(sim::Loop& loop, bool bson) : loop_(loop), bson_(bson) {}
  [[nodiscard]] bool closed() const override { return closed_; }
  sim::Signal& closed_signal() override { return closed_signal_; }
  void send(std::string line) override {
    if (closed_) {
      ++sent_after_close;
      return;
    }
    raw.push_back(std::move(line));
    times.push_back(loop_.now());
  }
  void end() override {
    closed_ = true;
    ended = true;
  }
  void abort() override { close(); }
  void set_content_type(const std::string& type) override { content_type = type; }
  void close() {
    closed_ = true;
    closed_signal_.notify();
  }
  [[nodiscard]] json line(std::size_t i) const {
    if (!bson_) return json::parse(raw.at(i));
    return json::from_bson(std::vector<std::uint8_t>(raw.at(i).begin(), raw.at(i).end()));
  }
  [[nodiscard]] std::vector<json> lines() const {
    std::vector<json> out;
    for (std::size_t i = 0; i < raw.size(); ++i) out.push_back(line(i));
    return out;
  }

  std::vector<std::string> raw;
  std::vector<Micros> times;
  std::string content_type;
  bool ended = false;
  int sent_after_close = 0;

 private:
  sim::Loop& loop_;
  bool bson_;
  bool closed_ = false;
  sim::Notifier closed_signal_;
};

std::string kind(const json& line) { return line.begin().key(); }

// "data:<bucket>", "partial:<priority>", "complete:<op>", "checkpoint:<op>", "diff:<op>",
// "token:<seconds>": a compact view of a line sequence.
std::string brief(const json& l) {
  const std::string k = kind(l);
  const json& v = l.at(k);
  if (k == "data") return "data:" + v.at("bucket").get<std::string>();
  if (k == "partial_checkpoint_complete")
    return "partial:" + std::to_string(v.at("priority").get<int>());
  if (k == "checkpoint_complete") return "complete:" + v.at("last_op_id").get<std::string>();
  if (k == "checkpoint") return "checkpoint:" + v.at("last_op_id").get<std::string>();
  if (k == "checkpoint_diff") return "diff:" + v.at("last_op_id").get<std::string>();
  if (k == "token_expires_in") return "token:" + std::to_string(v.get<int64_t>());
  return k;
}

std::vector<std::string> briefs(const std::vector<json>& lines, std::size_t from = 0) {
  std::vector<std::string> out;
  for (std::size_t i = from; i < lines.size(); ++i) out.push_back(brief(lines[i]));
  return out;
}

sim::Task<void> drive(std::shared_ptr<SyncConnection> conn) { co_await conn->run(); }

ConnectionRequest request(const std::vector<std::string>& buckets,
                          const std::map<std::string, int>& priorities = {}) {
  ConnectionRequest r;
  r.user = "u";
  r.key = "u";
  r.buckets = buckets;
  r.priorities = priorities;
  r.token_expires_at = kEpoch + 86400 * kSeconds;
  return r;
}

// A bare connection over our own storage (no write checkpoints: the store stays empty).
struct StreamWorld {
  ~StreamWorld() { loop.shutdown(); }

  void open(ConnectionRequest req, Micros batch_delay = kMillis, uint64_t seed = 1,
            bool torn_reads = false) {
    stream = std::make_shared<RecordingStream>(loop, req.encoding == StreamEncoding::Bson);
    ConnectionContext ctx{loop,  trace, storage, checkpoints, stats, kMillis,
                          false, false, false,   false,       {}};
    ctx.batch_delay = batch_delay;
    ctx.torn_reads = torn_reads;
    ctx.mutant_torn_read_skips_op = mutant_torn_read_skips_op;
    ctx.v3_checksum_documents = v3_checksum_documents;
    ctx.mutant_straddled_checksum_served = mutant_straddled_checksum_served;
    ctx.v3_superseding_skip = v3_superseding_skip;
    auto conn = std::make_shared<SyncConnection>(ctx, std::move(req), stream, sim::Prng(seed));
    loop.spawn(drive(conn), "sync-connection");
  }
  void fill(const std::string& bucket, int n) {
    for (int i = 0; i < n; ++i) {
      storage.append(bucket, put_op("todos", bucket + std::to_string(i), "{}"));
    }
  }
  void checkpoint() { storage.checkpoint(++lsn); }
  void run_for(Micros d) {
    loop.run_until(loop.now() + d);
    ASSERT_FALSE(loop.stopped()) << loop.stop_reason().message;
  }

  sim::Loop loop;
  sim::Trace trace{loop.clock()};
  BucketStorage storage;
  CheckpointStore checkpoints;
  StreamStats stats;
  std::shared_ptr<RecordingStream> stream;
  Lsn lsn = 0;
  bool mutant_torn_read_skips_op = false;
  bool v3_checksum_documents = false;
  bool mutant_straddled_checksum_served = false;
  bool v3_superseding_skip = true;
};

// The protocol as a client sees it (I8, §3.3.2): checks every line in order, keeps each
// bucket's checksum the way the client does (a CLEAR replaces it), and compares at every
// (partial) complete when `check_checksums`.  Returns the first problem, "" if none.
struct ProtocolChecker {
  std::map<std::string, int> priority;  // bucket -> priority as announced
  bool check_checksums = true;

  std::string check(const std::vector<json>& lines) {
    std::optional<std::string> current;  // last_op_id of the last checkpoint line
    bool completed = false;
    int last_partial = -1;
    int data_priority = -1;
    std::map<std::string, uint32_t> have;  // the client's sums
    std::map<std::string, std::string> next_after;
    std::map<std::string, std::string> subkeys;  // the subkey each row was sent with
    for (std::size_t i = 0; i < lines.size(); ++i) {
      const json& l = lines[i];
      const std::string k = kind(l);
      const json& v = l.at(k);
      const std::string at = " at line " + std::to_string(i) + ": " + l.dump().substr(0, 200);
      if (k == "checkpoint" || k == "checkpoint_diff") {
        if (current && !completed) ++incomplete;
        if (current && std::stoll(v.at("last_op_id").get<std::string>()) < std::stoll(*current)) {
          return "last_op_id went backwards" + at;
        }
        current = v.at("last_op_id").get<std::string>();
        completed = false;
        last_partial = -1;
        data_priority = -1;
        if (k == "checkpoint") target.clear();
        for (const auto& b : v.at(k == "checkpoint" ? "buckets" : "updated_buckets")) {
          const std::string name = b.at("bucket");
          target[name] = b.at("checksum").get<int32_t>();
          priority[name] = b.at("priority").get<int>();
          if (priority[name] < 0 || priority[name] > 3) return "priority out of range" + at;
        }
        if (k == "checkpoint_diff") {
          for (const auto& b : v.at("removed_buckets")) {  // the client drops the bucket
            target.erase(b.get<std::string>());
            have.erase(b.get<std::string>());
            next_after.erase(b.get<std::string>());
          }
        }
        ++checkpoint_lines;
      } else if (k == "data") {
        if (!current || completed) return "data outside a checkpoint download" + at;
        const std::string bucket = v.at("bucket");
        if (!target.contains(bucket)) return "data for a bucket not in the checkpoint" + at;
        const int p = priority.at(bucket);
        if (p <= last_partial) return "data for an already completed priority" + at;
        if (p < data_priority) return "priorities out of order" + at;
        data_priority = p;
        if (next_after.contains(bucket) && next_after[bucket] != v.at("after")) {
          return "data does not continue where the bucket left off" + at;
        }
        next_after[bucket] = v.at("next_after");
        for (const auto& op : v.at("data")) {
          if (std::stoll(op.at("op_id").get<std::string>()) > std::stoll(*current)) {
            return "op beyond the checkpoint" + at;
          }
          const std::string type = op.at("op");
          if (type == "CLEAR") {
            have[bucket] = op.at("checksum").get<uint32_t>();
          } else {
            have[bucket] += op.at("checksum").get<uint32_t>();
          }
          if ((type == "PUT") != op.contains("data")) return "data field mismatch" + at;
          if ((type == "PUT" || type == "REMOVE") != op.contains("object_id")) {
            return "object_id field mismatch" + at;
          }
          // docs/protocol.md §3.3.2 op entries: the service always sends a string subkey, the
          // same for every op of a row (a 1.x JS client's keys depend on it).
          if (type == "PUT" || type == "REMOVE") {
            if (!op.contains("subkey") || !op.at("subkey").is_string()) return "no subkey" + at;
            const std::string row = op.at("object_type").get<std::string>() + "/" +
                                    op.at("object_id").get<std::string>();
            auto [it, fresh] = subkeys.try_emplace(row, op.at("subkey").get<std::string>());
            if (!fresh && it->second != op.at("subkey")) return "subkey changed for " + row + at;
          } else if (op.contains("subkey")) {
            return "subkey on a " + type + at;
          }
        }
        ops += v.at("data").size();
      } else if (k == "partial_checkpoint_complete" || k == "checkpoint_complete") {
        if (!current || completed) return "complete without a pending checkpoint" + at;
        if (v.at("last_op_id") != *current) return "last_op_id does not match (I8)" + at;
        std::optional<int> upto;
        if (k == "partial_checkpoint_complete") {
          const int p = v.at("priority");
          if (p <= last_partial) return "partial priorities not ascending" + at;
          last_partial = p;
          upto = p;
          ++partials;
        } else {
          completed = true;
          ++completes;
        }
        if (check_checksums) {
          for (const auto& [bucket, checksum] : target) {
            if (upto && priority.at(bucket) > *upto) continue;
            if (static_cast<int32_t>(have[bucket]) != checksum) {
              return "checksum mismatch for " + bucket + at;
            }
          }
        }
      } else if (k != "token_expires_in") {
        return "unknown line" + at;
      }
    }
    if (current && !completed) ++incomplete;
    return "";
  }

  uint64_t checkpoint_lines = 0, completes = 0, partials = 0, incomplete = 0, ops = 0;
  std::map<std::string, int32_t> target;  // the last announced bucket checksums
};

// The app through the service: uploads, checkpoint requests and Service::open_stream.
struct ServiceStreamWorld {
  explicit ServiceStreamWorld(ServiceConfig config)
      : svc(loop, trace, sim::Prng(11), std::move(config)) {
    svc.start();
  }
  ~ServiceStreamWorld() { loop.shutdown(); }

  sim::HttpResponse call(const std::string& path, const std::string& body) {
    sim::HttpRequest r;
    r.method = "POST";
    r.path = path;
    r.body = body;
    r.subject = "alice";
    sim::HttpResponse out{-1, ""};
    svc.handle(r, [&out](sim::HttpResponse response) { out = std::move(response); });
    // A route may answer a turn later (batched checkpoint requests): let it.
    for (int i = 0; i < 100 && out.status == -1; ++i) {
      loop.run_until(loop.now() + (i == 0 ? 0 : kMillis));
    }
    return out;
  }
  void upload_todos(int n) {
    json crud = json::array();
    for (int i = 0; i < n; ++i) {
      crud.push_back(
          {{"op", "PUT"}, {"type", "todos"}, {"id", fmt::format("t{}", i)}, {"data", {{"i", i}}}});
    }
    const json body{{"client_id", "c1"}, {"crud", crud}};
    ASSERT_EQ(call("/backend/upload", body.dump()).status, 200);
  }
  void request_checkpoint(int64_t id) {
    const json body{{"client_id", "c1"}, {"checkpoint_request_id", id}};
    ASSERT_EQ(call("/sync/checkpoint-request", body.dump()).status, 200);
  }
  // `accept`: the request's Accept header (empty: none).
  std::shared_ptr<RecordingStream> open(bool bson, const std::string& accept = "") {
    auto stream = std::make_shared<RecordingStream>(loop, bson);
    sim::HttpRequest r;
    r.accept = accept;
    r.method = "POST";
    r.path = "/sync/stream";
    r.subject = "alice";
    r.body = json{{"client_id", "c1"}}.dump();
    EXPECT_EQ(svc.open_stream(r, stream).status, 200);
    return stream;
  }
  void run_until(Micros t) {
    loop.run_until(t);
    ASSERT_FALSE(loop.stopped()) << loop.stop_reason().message;
  }

  sim::Loop loop;
  sim::Trace trace{loop.clock()};
  Service svc;
};

std::vector<std::string> names(const json& list) {
  std::vector<std::string> out;
  for (const auto& b : list)
    out.push_back(b.is_string() ? b.get<std::string>() : b.at("bucket").get<std::string>());
  return out;
}

using Briefs = std::vector<std::string>;

// ---------------------------------------------------------------------------------------
// Priorities (docs/protocol.md §3.3.3 step 5, I8)
// ---------------------------------------------------------------------------------------

TEST(SyncStream, BucketsDownloadByPriorityEachGroupButTheLastEndingInAPartialComplete) {
  StreamWorld w;
  for (const char* b : {"a[]", "b[]", "c[]", "d[]"}) w.fill(b, 2);
  w.checkpoint();  // op 8
  w.open(request({"c[]", "a[]", "d[]", "b[]"}, {{"a[]", 0}, {"b[]", 1}}));
  w.run_for(100 * kMillis);
  std::vector<json> lines = w.stream->lines();
  EXPECT_EQ(briefs(lines), (Briefs{"checkpoint:8", "data:a[]", "partial:0", "data:b[]", "partial:1",
                                   "data:c[]", "data:d[]", "complete:8"}));
  std::map<std::string, int> announced;
  for (const auto& b : lines.at(0).at("checkpoint").at("buckets")) {
    announced[b.at("bucket")] = b.at("priority");
  }
  EXPECT_EQ(announced,
            (std::map<std::string, int>{{"a[]", 0}, {"b[]", 1}, {"c[]", 3}, {"d[]", 3}}));
  EXPECT_EQ(lines.at(2).at("partial_checkpoint_complete").at("last_op_id"), "8");
  // The download takes time: every data line follows its own fetch of 0.9-1.1 ms.
  for (std::size_t i = 1; i < lines.size(); ++i) {
    if (kind(lines[i]) != "data") continue;
    const Micros gap = w.stream->times[i] - w.stream->times[i - 1];
    EXPECT_GE(gap, 900) << i;
    EXPECT_LE(gap, 1100) << i;
  }

  // A diff downloads only the changed buckets, still by priority.
  std::size_t n = lines.size();
  w.storage.append("c[]", put_op("todos", "c-new", "{}"));  // 9
  w.storage.append("a[]", put_op("todos", "a-new", "{}"));  // 10
  w.checkpoint();
  w.run_for(100 * kMillis);
  lines = w.stream->lines();
  EXPECT_EQ(briefs(lines, n),
            (Briefs{"diff:10", "data:a[]", "partial:0", "data:c[]", "complete:10"}));
  EXPECT_EQ(names(lines.at(n).at("checkpoint_diff").at("updated_buckets")), (Briefs{"c[]", "a[]"}));

  // I8: no partial complete for the lowest priority present, even if it is not 3.
  n = lines.size();
  w.storage.append("b[]", put_op("todos", "b-new", "{}"));  // 11
  w.checkpoint();
  w.run_for(100 * kMillis);
  lines = w.stream->lines();
  EXPECT_EQ(briefs(lines, n), (Briefs{"diff:11", "data:b[]", "complete:11"}));

  ProtocolChecker checker;
  EXPECT_EQ(checker.check(lines), "");
  EXPECT_EQ(checker.incomplete, 0u);
  EXPECT_EQ(w.stats.partial_completes, 3u);
  EXPECT_EQ(w.stats.checkpoint_completes, 3u);
  EXPECT_EQ(w.stats.checkpoint_lines, 3u);
  EXPECT_EQ(w.stats.data_lines, 7u);
}

// ---------------------------------------------------------------------------------------
// Interruption (docs/protocol.md §3.1.9 Timing, §3.6.2 item 12)
// ---------------------------------------------------------------------------------------

TEST(SyncStream, ANewCheckpointSupersedesTheDownloadOnce1000OpsWereSent) {
  StreamWorld w;
  w.fill("big[]", 2500);
  w.fill("small[]", 1);
  w.checkpoint();  // op 2501
  w.open(request({"big[]", "small[]"}));
  w.run_for(500);  // the checkpoint line; the first fetch is still running
  ASSERT_EQ(briefs(w.stream->lines()), (Briefs{"checkpoint:2501"}));
  w.storage.append("small[]", put_op("todos", "late", "{}"));  // 2502
  w.checkpoint();
  w.run_for(100 * kMillis);
  const std::vector<json> lines = w.stream->lines();
  // Waits for 1000 ops, then computes the diff while the next page is fetched (sync.ts
  // waitForNewCheckpointLine, one fetch time here); the diff interrupts: no complete for
  // 2501, and the unfinished buckets (big[] half-way, small[] not started) carry over.
  EXPECT_EQ(briefs(lines), (Briefs{"checkpoint:2501", "data:big[]", "data:big[]", "diff:2502",
                                   "data:big[]", "data:small[]", "complete:2502"}));
  EXPECT_EQ(lines.at(1).at("data").at("data").size(), 1000u);
  EXPECT_EQ(lines.at(1).at("data").at("has_more"), true);
  EXPECT_EQ(names(lines.at(3).at("checkpoint_diff").at("updated_buckets")), (Briefs{"small[]"}));
  EXPECT_EQ(lines.at(4).at("data").at("after"), "2000");
  EXPECT_EQ(lines.at(5).at("data").at("after"), "0");
  EXPECT_EQ(lines.at(5).at("data").at("data").size(), 2u);
  ProtocolChecker checker;
  EXPECT_EQ(checker.check(lines), "");
  EXPECT_EQ(checker.incomplete, 1u);
  EXPECT_EQ(w.stats.superseded_downloads, 1u);
  EXPECT_EQ(w.stats.checkpoint_completes, 1u);
}

TEST(SyncStream, BeforeAThousandOpsTheDownloadFinishesAndTheNextLineWaits10ms) {
  StreamWorld w;
  w.fill("big[]", 900);
  w.fill("small[]", 1);
  w.checkpoint();  // op 901
  w.open(request({"big[]", "small[]"}));
  w.run_for(500);
  w.storage.append("small[]", put_op("todos", "late", "{}"));  // 902
  w.checkpoint();
  w.run_for(100 * kMillis);
  const std::vector<json> lines = w.stream->lines();
  EXPECT_EQ(briefs(lines), (Briefs{"checkpoint:901", "data:big[]", "data:small[]", "complete:901",
                                   "diff:902", "data:small[]", "complete:902"}));
  EXPECT_EQ(w.stream->times.at(4) - w.stream->times.at(3), 10 * kMillis);
  EXPECT_EQ(w.stats.superseded_downloads, 0u);
  ProtocolChecker checker;
  EXPECT_EQ(checker.check(lines), "");
}

TEST(SyncStream, ACheckpointThatChangesNothingForTheConnectionNeitherInterruptsNorSendsALine) {
  StreamWorld w;
  w.fill("big[]", 2500);
  w.checkpoint();  // op 2500
  w.open(request({"big[]"}));
  w.run_for(500);
  w.fill("other[]", 3);  // another user's bucket
  w.checkpoint();
  w.run_for(100 * kMillis);
  w.checkpoint();  // an empty keepalive checkpoint
  w.run_for(100 * kMillis);
  EXPECT_EQ(briefs(w.stream->lines()),
            (Briefs{"checkpoint:2500", "data:big[]", "data:big[]", "data:big[]", "complete:2500"}));
  EXPECT_EQ(w.stats.superseded_downloads, 0u);
  EXPECT_EQ(w.stats.checkpoint_lines, 1u);
}

TEST(SyncStream, AWriteCheckpointChangeAloneSupersedesALongDownload) {
  ServiceConfig config;
  config.stream_batch_delay = 300 * kMillis;  // slow enough for an ack to land mid-download
  config.batch_latency_max = 0;               // the checkpoint request's batch is instant
  // The line supersedes as soon as it is due (the pre-issue-17 timing; with the concurrent
  // line computation of one fetch time, 300 ms here, the whole download would finish first).
  config.sticky_invalidation = true;
  ServiceStreamWorld w(config);
  w.upload_todos(2500);
  w.run_until(kEpoch + kSeconds);  // replicated at 200 ms
  auto stream = w.open(false);
  w.run_until(kEpoch + kSeconds + 50 * kMillis);  // the checkpoint line, a fetch running
  // Visible at once (head 1 is replicated) but seen with the marker's checkpoint at 1.25 s,
  // which changes only the write checkpoint; the first batch ends at 1.27-1.33 s.
  w.request_checkpoint(5);
  w.run_until(kEpoch + 5 * kSeconds);
  const std::vector<json> lines = stream->lines();
  EXPECT_EQ(briefs(lines), (Briefs{"checkpoint:2500", "data:global[]", "diff:2500", "data:global[]",
                                   "data:global[]", "complete:2500"}));
  const json& diff = lines.at(2).at("checkpoint_diff");
  EXPECT_EQ(diff.at("write_checkpoint"), "5");
  EXPECT_TRUE(diff.at("updated_buckets").empty());
  EXPECT_TRUE(diff.at("removed_buckets").empty());
  EXPECT_EQ(lines.at(3).at("data").at("after"), "1000");
  EXPECT_EQ(w.svc.stream_stats().superseded_downloads, 1u);
  EXPECT_EQ(w.svc.stream_stats().write_checkpoint_only_diffs, 1u);
  ProtocolChecker checker;
  EXPECT_EQ(checker.check(lines), "");
}

// ---------------------------------------------------------------------------------------
// Invalidation by compaction (docs/protocol.md §3.3.3 step 6, §3.6.2 item 10)
// ---------------------------------------------------------------------------------------

TEST(SyncStream, AMoveTargetPastTheCheckpointWithholdsItsCompletes) {
  StreamWorld w;
  w.storage.append("a[]", put_op("todos", "x", "1"));  // 1
  w.storage.append("a[]", put_op("todos", "y", "1"));  // 2
  w.storage.append("c[]", put_op("todos", "z", "1"));  // 3
  w.checkpoint();
  w.open(request({"a[]", "c[]"}, {{"a[]", 0}}));
  w.run_for(500);  // the checkpoint line for 3; the first fetch is running
  w.storage.append("a[]", put_op("todos", "x", "2"));  // 4 supersedes 1
  w.checkpoint();
  EXPECT_EQ(w.storage.compact(4).ops_moved, 1u);  // 1 -> MOVE(4), past checkpoint 3
  w.run_for(100 * kMillis);
  const std::vector<json> lines = w.stream->lines();
  // No partial complete for priority 0 and nothing for c[] under checkpoint 3; the diff
  // for 4 fetches a[] again and c[], still pending.
  EXPECT_EQ(briefs(lines), (Briefs{"checkpoint:3", "data:a[]", "diff:4", "data:a[]", "partial:0",
                                   "data:c[]", "complete:4"}));
  const json move = lines.at(1).at("data").at("data").at(0);
  EXPECT_EQ(move, (json{{"op_id", "1"}, {"op", "MOVE"}, {"checksum", move.at("checksum")}}));
  EXPECT_EQ(lines.at(1).at("data").at("data").at(1).at("op"), "PUT");
  EXPECT_EQ(names(lines.at(2).at("checkpoint_diff").at("updated_buckets")), (Briefs{"a[]"}));
  EXPECT_EQ(w.stats.invalidated_checkpoints, 1u);
  EXPECT_EQ(w.stats.partial_completes, 1u);
  EXPECT_EQ(w.stats.checkpoint_completes, 1u);
  ProtocolChecker checker;
  EXPECT_EQ(checker.check(lines), "") << "the client's checksums match at 4";
  EXPECT_EQ(checker.incomplete, 1u);
}

// sync.ts bucketDataBatch (powersync-service v1.24.0): `checkpointInvalidated` is local to
// one storage page (DEFAULT_DOCUMENT_BATCH_LIMIT = 1000 ops); a MOVE beyond the checkpoint
// in page 1 is forgotten when a clean page 2 ends the download, so checkpoint_complete is
// sent (docs/protocol.md §3.3.3 step 6).  The superseding line is computed concurrently, so
// page 2 races it; over seeds both outcomes occur.  "sticky" (the model before issue 17)
// never completes the invalidated checkpoint.
struct PageOutcome {
  int completed_invalidated = 0;  // seeds where checkpoint 1500 completed after all
  int forgotten = 0;
};
PageOutcome page_invalidation(bool sticky) {
  PageOutcome out;
  for (uint64_t seed = 1; seed <= 30; ++seed) {
    StreamWorld w;
    w.fill("a[]", 1500);  // ops 1..1500, x0 is op 1
    w.checkpoint();
    ConnectionContext ctx{w.loop, w.trace, w.storage, w.checkpoints, w.stats, kMillis,
                          false,  false,   false,     sticky,        {}};
    w.stream = std::make_shared<RecordingStream>(w.loop, false);
    auto conn = std::make_shared<SyncConnection>(ctx, request({"a[]"}), w.stream, sim::Prng(seed));
    w.loop.spawn(drive(conn), "sync-connection");
    w.run_for(500);  // the checkpoint line; the first page is being fetched
    w.storage.append("a[]", put_op("todos", "a[]0", "{}"));  // 1501 supersedes op 1
    w.checkpoint();
    EXPECT_EQ(w.storage.compact(1501).ops_moved, 1u);  // op 1 -> MOVE(1501), in page 1
    w.run_for(100 * kMillis);
    const Briefs b = briefs(w.stream->lines());
    if (std::find(b.begin(), b.end(), "complete:1500") != b.end()) ++out.completed_invalidated;
    out.forgotten += static_cast<int>(w.stats.forgotten_invalidations);
    EXPECT_EQ(b.back(), "complete:1501") << "the next checkpoint always completes";
    ProtocolChecker checker;
    EXPECT_EQ(checker.check(w.stream->lines()), "");
  }
  return out;
}

TEST(SyncStream, ACleanLastPageCompletesACheckpointAnEarlierPageInvalidated) {
  const PageOutcome page = page_invalidation(false);
  EXPECT_GT(page.completed_invalidated, 0);
  EXPECT_LT(page.completed_invalidated, 30) << "the superseding line sometimes wins";
  EXPECT_GE(page.forgotten, page.completed_invalidated);
  const PageOutcome sticky = page_invalidation(true);
  EXPECT_EQ(sticky.completed_invalidated, 0);
  EXPECT_EQ(sticky.forgotten, 0);
}

TEST(SyncStream, AClearStandingForAMovePastTheCheckpointWithholdsTheComplete) {
  StreamWorld w;
  w.storage.append("a[]", put_op("todos", "x", "1"));  // 1
  w.storage.append("a[]", put_op("todos", "y", "1"));  // 2
  w.storage.append("a[]", put_op("todos", "w", "1"));  // 3
  const std::vector<Op> original = all_ops(w.storage, "a[]");
  w.checkpoint();
  w.open(request({"a[]"}));
  w.run_for(500);
  w.storage.append("a[]", put_op("todos", "x", "2"));  // 4
  w.storage.append("a[]", put_op("todos", "y", "2"));  // 5
  w.checkpoint();
  EXPECT_EQ(w.storage.compact(5).clears, 1u);  // MOVE(4), MOVE(5) -> CLEAR 2, target 5
  w.run_for(100 * kMillis);
  const std::vector<json> lines = w.stream->lines();
  EXPECT_EQ(briefs(lines),
            (Briefs{"checkpoint:3", "data:a[]", "diff:5", "data:a[]", "complete:5"}));
  const json clear = lines.at(1).at("data").at("data").at(0);
  const uint32_t sum = original[0].checksum + original[1].checksum;
  EXPECT_EQ(clear, (json{{"op_id", "2"}, {"op", "CLEAR"}, {"checksum", sum}}));
  EXPECT_EQ(w.stats.invalidated_checkpoints, 1u);
  ProtocolChecker checker;
  EXPECT_EQ(checker.check(lines), "");
}

// docs/protocol.md §3.3.4 "Compaction is not atomic with sync reads": a page whose fetch spans
// a compaction of its bucket sees ops up to a seeded point from before it and the rest after
// it (MongoCompactorV1: MOVE bulkWrites and CLEAR transactions while the page's find runs).
// A MOVE keeps its op's checksum and a CLEAR replaces the client's bucket checksum with the sum
// of everything it stands for, so a torn page still sums right: the client's checksums match
// at every complete, and the rows are those of the checkpoint.  With atomic reads (the model
// before) no page is torn.
int torn_compaction_pages(bool torn_reads, bool mutant_skips_op = false,
                          int* checksum_mismatches = nullptr) {
  int torn = 0;
  for (uint64_t seed = 1; seed <= 30; ++seed) {
    StreamWorld w;
    w.mutant_torn_read_skips_op = mutant_skips_op;
    w.storage.keep_pre_compaction_ops(true);
    w.fill("a[]", 40);  // ops 1..40, rows a[]0..a[]39
    w.checkpoint();
    w.open(request({"a[]"}), 10 * kMillis, seed, torn_reads);
    w.run_for(500);  // the checkpoint line; the first page's fetch is running
    for (int i = 0; i < 30; ++i)
      w.storage.append("a[]", remove_op("todos", "a[]" + std::to_string(i)));
    w.checkpoint();
    const CompactionStats c = w.storage.compact(w.storage.latest().op_id);
    EXPECT_EQ(c.clears, 1u);  // ops 1..30 and their REMOVEs 41..70 become one CLEAR
    w.run_for(200 * kMillis);
    ProtocolChecker checker;
    torn += static_cast<int>(w.stats.torn_reads);
    if (mutant_skips_op) {
      const std::string problem = checker.check(w.stream->lines());
      if (problem.starts_with("checksum mismatch")) ++*checksum_mismatches;
      continue;
    }
    EXPECT_EQ(checker.check(w.stream->lines()), "") << "seed " << seed;
    EXPECT_EQ(briefs(w.stream->lines()).back(), "complete:70") << "seed " << seed;
  }
  return torn;
}

TEST(SyncStream, ATornCompactionReadStillSumsToTheCheckpointsChecksum) {
  EXPECT_GT(torn_compaction_pages(true), 0);
  EXPECT_EQ(torn_compaction_pages(false), 0);
}

// The mutant torn-read-skips-op resumes the torn scan one op too far: the op at the resume
// point never reaches the client, and its bucket checksum no longer matches the checkpoint's
// (what the core reports as "Checksums didn't match" and checksums-agree catches end to end).
TEST(SyncStream, ATornReadThatSkipsTheResumeOpBreaksTheChecksum) {
  int mismatches = 0;
  EXPECT_GT(torn_compaction_pages(true, true, &mismatches), 0);
  EXPECT_GT(mismatches, 0);
  int none = 0;
  torn_compaction_pages(false, true, &none);  // atomic reads: the mutant has nothing to act on
  EXPECT_EQ(none, 0);
}

// docs/protocol.md §3.3.4 "The checksum-invalidated candidate skip" (sync.ts
// waitForNewCheckpointLine, MongoChecksumsV3, powersync-service v1.24.0): the connection takes
// candidate 5 and reads its checksums one fetch later; meanwhile op 6 arrives and a compaction
// turns ops 1..3 into MOVEs, merging the bucket's documents into one spanning ops 1..6.  Its
// document checksum counts op 6, past the candidate's end, so v3 drops candidate 5 without a
// line and serves 6.  With atomic reads (the model before) 5 is served at once.  The mutant
// serves 5 with the merged document's checksum: the client's ops up to 5 do not match it.
struct CandidateRun {
  std::vector<json> lines;
  uint64_t skipped = 0;
};
CandidateRun compaction_during_checksum_read(bool v3, bool mutant = false) {
  StreamWorld w;
  w.v3_checksum_documents = v3;
  w.mutant_straddled_checksum_served = mutant;
  w.fill("a[]", 3);  // ops 1..3, rows a[]0..a[]2
  w.checkpoint();
  w.open(request({"a[]"}), 10 * kMillis);
  w.run_for(200 * kMillis);
  EXPECT_EQ(briefs(w.stream->lines()).back(), "complete:3");
  w.storage.append("a[]", put_op("todos", "a[]0", "{\"v\":2}"));  // 4
  w.storage.append("a[]", put_op("todos", "a[]1", "{\"v\":2}"));  // 5
  w.checkpoint();                                                 // candidate 5
  w.run_for(2 * kMillis);  // v3: the candidate's checksum read is running
  w.storage.append("a[]", put_op("todos", "a[]2", "{\"v\":2}"));  // 6
  w.checkpoint();
  EXPECT_EQ(w.storage.compact(w.storage.latest().op_id).ops_moved, 3u);
  w.run_for(200 * kMillis);
  return {w.stream->lines(), w.stats.checksum_invalidated_candidates};
}

TEST(SyncStream, AV3CandidateACompactedDocumentStraddlesIsSkipped) {
  const CandidateRun v3 = compaction_during_checksum_read(true);
  EXPECT_EQ(v3.skipped, 1u);
  EXPECT_EQ(briefs(v3.lines, 3), (Briefs{"diff:6", "data:a[]", "complete:6"}));
  EXPECT_EQ(ProtocolChecker().check(v3.lines), "");
  const CandidateRun atomic = compaction_during_checksum_read(false);
  EXPECT_EQ(atomic.skipped, 0u);
  EXPECT_EQ(briefs(atomic.lines, 3).front(), "diff:5");
  EXPECT_EQ(ProtocolChecker().check(atomic.lines), "");
}

TEST(SyncStream, AStraddledV3CandidateServedWithItsDocumentsChecksumMismatches) {
  const CandidateRun m = compaction_during_checksum_read(true, true);
  EXPECT_EQ(m.skipped, 0u);
  EXPECT_EQ(briefs(m.lines, 3).front(), "diff:5");
  EXPECT_TRUE(ProtocolChecker().check(m.lines).starts_with("checksum mismatch"))
      << ProtocolChecker().check(m.lines);
}

// docs/protocol.md §3.3.4 "The checksum-invalidated candidate skip", while a download is being
// superseded (sync.ts maybeRaceForNewCheckpoint, powersync-service v1.24.0): a 2500-op download
// of checkpoint 2500 has sent its first page when checkpoint 2501 (a new version of row 0) is
// there, so the race for a new line takes candidate 2501 and reads its checksums for one fetch.
// Meanwhile op 2502 arrives and a compaction merges the bucket's documents into one spanning
// ops ..2502, past the candidate's end.  v3 drops 2501 without a line and without interrupting
// the download; the race goes on with 2502.  The model before (v3-idle-only) takes the latest
// checkpoint when the race's read ends, so nothing straddles it.  The mutant serves 2501 with
// the merged document's checksum: the client's ops up to 2501 do not sum to it.
struct RaceRun {
  std::vector<json> lines;
  uint64_t skipped = 0;
  uint64_t superseded = 0;
};
RaceRun compaction_during_superseding_read(bool superseding_skip, bool mutant = false) {
  StreamWorld w;
  w.v3_checksum_documents = true;
  w.v3_superseding_skip = superseding_skip;
  w.mutant_straddled_checksum_served = mutant;
  w.fill("a[]", 2500);  // ops 1..2500: three storage pages
  w.checkpoint();
  w.open(request({"a[]"}), 10 * kMillis);
  w.run_for(15 * kMillis);  // the line (after its checksum read), page 1 being fetched
  w.storage.append("a[]", put_op("todos", "a[]0", "{\"v\":2}"));  // 2501
  w.checkpoint();                                                 // the race's candidate
  w.run_for(8 * kMillis);  // page 1 sent at about 20 ms: the race reads 2501 until about 30 ms
  EXPECT_EQ(briefs(w.stream->lines()), (Briefs{"checkpoint:2500", "data:a[]"}));
  w.storage.append("a[]", put_op("todos", "a[]1", "{\"v\":2}"));  // 2502
  w.checkpoint();
  EXPECT_GT(w.storage.compact(w.storage.latest().op_id).ops_moved, 0u);
  w.run_for(300 * kMillis);
  return {w.stream->lines(), w.stats.checksum_invalidated_candidates, w.stats.superseded_downloads};
}

bool has_line(const std::vector<json>& lines, const std::string& b) {
  const auto all = briefs(lines);
  return std::find(all.begin(), all.end(), b) != all.end();
}

TEST(SyncStream, AV3CandidateStraddledWhileRacingADownloadIsSkippedAndTheDownloadGoesOn) {
  const RaceRun v3 = compaction_during_superseding_read(true);
  EXPECT_EQ(v3.skipped, 1u);
  EXPECT_FALSE(has_line(v3.lines, "diff:2501"));
  EXPECT_EQ(briefs(v3.lines).back(), "complete:2502");
  EXPECT_EQ(ProtocolChecker().check(v3.lines), "");
  const RaceRun before = compaction_during_superseding_read(false);
  EXPECT_EQ(before.skipped, 0u);
  EXPECT_EQ(before.superseded, 1u);
  EXPECT_FALSE(has_line(before.lines, "diff:2501"));
  EXPECT_EQ(briefs(before.lines).back(), "complete:2502");
  EXPECT_EQ(ProtocolChecker().check(before.lines), "");
}

TEST(SyncStream, AStraddledRaceCandidateServedWithItsDocumentsChecksumMismatches) {
  const RaceRun m = compaction_during_superseding_read(true, true);
  EXPECT_EQ(m.skipped, 0u);
  EXPECT_TRUE(has_line(m.lines, "diff:2501"));
  EXPECT_TRUE(ProtocolChecker().check(m.lines).starts_with("checksum mismatch"))
      << ProtocolChecker().check(m.lines);
}

// ---------------------------------------------------------------------------------------
// Only real changes make lines (docs/protocol.md §3.1.9 Emission, I10)
// ---------------------------------------------------------------------------------------

TEST(SyncStream, ACountOnlyChangeIsADiffAndNoChangeIsNoLine) {
  StreamWorld w;
  w.storage.append("a[]", put_op("todos", "x", "1"));  // 1
  w.storage.append("a[]", remove_op("todos", "x"));    // 2
  w.storage.append("a[]", put_op("todos", "y", "1"));  // 3
  w.checkpoint();
  w.open(request({"a[]"}));
  w.run_for(100 * kMillis);
  ASSERT_EQ(briefs(w.stream->lines()), (Briefs{"checkpoint:3", "data:a[]", "complete:3"}));
  const BucketState before = w.storage.state("a[]", 3);
  EXPECT_EQ(w.storage.compact(3).clears, 1u);  // MOVE 1, REMOVE 2 -> CLEAR 2
  w.checkpoint();                              // a keepalive checkpoint: same op id
  w.run_for(100 * kMillis);
  w.checkpoint();  // nothing changed at all: no line
  w.run_for(100 * kMillis);
  const std::vector<json> lines = w.stream->lines();
  EXPECT_EQ(briefs(lines, 3), (Briefs{"diff:3", "complete:3"}));
  const json& updated = lines.at(3).at("checkpoint_diff").at("updated_buckets");
  ASSERT_EQ(updated.size(), 1u);
  EXPECT_EQ(updated.at(0).at("checksum"), before.checksum);
  EXPECT_EQ(updated.at(0).at("count"), before.count - 1);
  EXPECT_EQ(w.stats.checkpoint_lines, 2u);
}

TEST(SyncStream, RemovedAndAddedBucketsAreDiffs) {
  StreamWorld w;
  w.fill("a[]", 1);
  w.fill("b[]", 1);
  w.checkpoint();  // op 2
  auto subscribed = std::make_shared<std::vector<std::string>>(Briefs{"a[]", "b[]"});
  ConnectionRequest r = request({});
  r.resolve_buckets = [subscribed] { return *subscribed; };
  w.open(r);
  w.run_for(100 * kMillis);
  *subscribed = {"a[]"};
  w.checkpoint();
  w.run_for(100 * kMillis);
  *subscribed = {"a[]", "b[]"};
  w.checkpoint();
  w.run_for(100 * kMillis);
  const std::vector<json> lines = w.stream->lines();
  EXPECT_EQ(briefs(lines), (Briefs{"checkpoint:2", "data:a[]", "data:b[]", "complete:2", "diff:2",
                                   "complete:2", "diff:2", "data:b[]", "complete:2"}));
  const json& removed = lines.at(4).at("checkpoint_diff");
  EXPECT_EQ(names(removed.at("removed_buckets")), (Briefs{"b[]"}));
  EXPECT_TRUE(removed.at("updated_buckets").empty());
  const json& added = lines.at(6).at("checkpoint_diff");
  EXPECT_EQ(names(added.at("updated_buckets")), (Briefs{"b[]"}));
  EXPECT_TRUE(added.at("removed_buckets").empty());
  EXPECT_EQ(lines.at(7).at("data").at("after"), "0") << "a re-added bucket starts over";
  ProtocolChecker checker;
  EXPECT_EQ(checker.check(lines), "");
}

// Upload a todo, open a stream once it is replicated, then request a write checkpoint:
// the marker's checkpoint changes only the write checkpoint (docs/protocol.md §3.1.9 Emission).
std::vector<json> write_checkpoint_only_run(bool mutant, StreamStats* stats) {
  ServiceConfig config;
  if (mutant) config.mutants.push_back(ServiceMutant::NoCompleteForWriteCheckpointOnly);
  ServiceStreamWorld w(config);
  w.upload_todos(1);
  w.run_until(kEpoch + kSeconds);
  auto stream = w.open(false);
  w.run_until(kEpoch + 2 * kSeconds);
  w.request_checkpoint(5);
  w.run_until(kEpoch + 3 * kSeconds);
  *stats = w.svc.stream_stats();
  return stream->lines();
}

TEST(SyncStream, AWriteCheckpointOnlyChangeIsAnEmptyDiffAndAComplete) {
  StreamStats stats;
  const std::vector<json> lines = write_checkpoint_only_run(false, &stats);
  EXPECT_EQ(briefs(lines),
            (Briefs{"checkpoint:1", "data:global[]", "complete:1", "diff:1", "complete:1"}));
  EXPECT_FALSE(lines.at(0).at("checkpoint").contains("write_checkpoint"));
  const json& diff = lines.at(3).at("checkpoint_diff");
  EXPECT_EQ(diff.at("write_checkpoint"), "5");
  EXPECT_TRUE(diff.at("updated_buckets").empty());
  EXPECT_TRUE(diff.at("removed_buckets").empty());
  EXPECT_EQ(stats.write_checkpoint_only_diffs, 1u);
  ProtocolChecker checker;
  EXPECT_EQ(checker.check(lines), "");
  EXPECT_EQ(checker.incomplete, stats.superseded_downloads + stats.invalidated_checkpoints);
}

TEST(SyncStream, TheNoCompleteMutantDropsThatCompleteAndTheProtocolCheckSeesIt) {
  StreamStats stats;
  const std::vector<json> lines = write_checkpoint_only_run(true, &stats);
  EXPECT_EQ(briefs(lines), (Briefs{"checkpoint:1", "data:global[]", "complete:1", "diff:1"}));
  EXPECT_EQ(stats.write_checkpoint_only_diffs, 1u);
  EXPECT_EQ(stats.checkpoint_completes, 1u);
  ProtocolChecker checker;
  EXPECT_EQ(checker.check(lines), "");
  // I8 as a checker states it: every incomplete checkpoint was superseded or invalidated.
  EXPECT_NE(checker.incomplete, stats.superseded_downloads + stats.invalidated_checkpoints);
}

// ---------------------------------------------------------------------------------------
// token_expires_in (docs/protocol.md §3.3.5, I13, §3.6.2 item 11)
// ---------------------------------------------------------------------------------------

TEST(SyncStream, TokenLinesEvery20sPlusTheWarningThenZeroEndsTheStream) {
  std::set<Micros> first_keepalives;
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    StreamWorld w;
    ConnectionRequest r = request({"a[]"});
    const Micros exp = kEpoch + 70 * kSeconds;
    r.token_expires_at = exp;
    w.open(r, kMillis, seed);
    w.run_for(100 * kSeconds);
    const std::vector<json> lines = w.stream->lines();
    ASSERT_GE(lines.size(), 4u);
    EXPECT_EQ(briefs(lines).at(0), "checkpoint:0");
    EXPECT_EQ(briefs(lines).at(1), "complete:0");
    Micros previous_keepalive = kEpoch;
    bool warned = false;
    for (std::size_t i = 2; i < lines.size(); ++i) {
      ASSERT_EQ(kind(lines[i]), "token_expires_in") << seed;
      const Micros t = w.stream->times[i];
      EXPECT_GT(t, kEpoch) << "none at the start";
      // sync/util.ts tokenStream: max(0, ceil(exp - now)), timers 3 ms after the instant.
      const int64_t ceil_s = t >= exp ? 0 : (exp - t + kSeconds - 1) / kSeconds;
      EXPECT_EQ(lines[i].at("token_expires_in").get<int64_t>(), ceil_s) << seed;
      if (i + 1 == lines.size()) {
        EXPECT_EQ(t, exp + 3 * kMillis);
        EXPECT_EQ(lines[i].at("token_expires_in"), 0);
      } else if (t == exp - 20 * kSeconds + 3 * kMillis) {
        EXPECT_EQ(lines[i].at("token_expires_in"), 20);
        warned = true;
      } else {
        EXPECT_GE(t - previous_keepalive, 18 * kSeconds) << seed;
        EXPECT_LE(t - previous_keepalive, 22 * kSeconds) << seed;
        if (previous_keepalive == kEpoch) first_keepalives.insert(t);
        previous_keepalive = t;
      }
    }
    EXPECT_TRUE(warned) << "a line at exp - 20 s, seed " << seed;
    EXPECT_TRUE(w.stream->ended);
    EXPECT_EQ(w.stats.expired_streams, 1u);
    // Nothing after the end, whatever happens in storage.
    const std::size_t n = w.stream->raw.size();
    w.fill("a[]", 1);
    w.checkpoint();
    w.run_for(30 * kSeconds);
    EXPECT_EQ(w.stream->raw.size(), n);
    EXPECT_EQ(w.stream->sent_after_close, 0);
  }
  EXPECT_GT(first_keepalives.size(), 5u) << "the interval is jittered per connection";
}

TEST(SyncStream, AnExpiredTokenGetsOneZeroAndTheEnd) {
  StreamWorld w;
  w.fill("a[]", 3);
  w.checkpoint();
  ConnectionRequest r = request({"a[]"});
  r.token_expires_at = kEpoch;
  w.open(r);
  w.run_for(kSeconds);
  EXPECT_EQ(briefs(w.stream->lines()), (Briefs{"token:0"}));
  EXPECT_TRUE(w.stream->ended);
  EXPECT_EQ(w.stats.checkpoint_lines, 0u);
}

TEST(SyncStream, ExpiryEndsTheStreamMidDownload) {
  StreamWorld w;
  w.fill("big[]", 5000);
  w.checkpoint();
  ConnectionRequest r = request({"big[]"});
  r.token_expires_at = kEpoch + 22 * kMillis;  // after two batches of 9-11 ms
  w.open(r, 10 * kMillis);
  w.run_for(kSeconds);
  EXPECT_EQ(briefs(w.stream->lines()),
            (Briefs{"checkpoint:5000", "data:big[]", "data:big[]", "token:0"}));
  // tokenStream's timer fires 3 ms after the expiry (sync/util.ts).
  EXPECT_EQ(w.stream->times.back(), kEpoch + 25 * kMillis);
  EXPECT_TRUE(w.stream->ended);
}

// ---------------------------------------------------------------------------------------
// BSON lines (docs/protocol.md §3.3.1, §3.1.9 BSON mode)
// ---------------------------------------------------------------------------------------

std::shared_ptr<RecordingStream> encoding_run(StreamEncoding encoding) {
  ServiceConfig config;
  config.stream_encoding = encoding;
  config.bucket_priorities = {{"notes", 1}};
  ServiceStreamWorld w(config);
  w.upload_todos(3);
  auto stream = w.open(encoding == StreamEncoding::Bson);
  w.run_until(kEpoch + kSeconds);
  w.request_checkpoint(5);
  w.run_until(kEpoch + 2 * kSeconds);
  return stream;
}

// Follows syncLineToBson (packages/service-core/src/sync/util.ts, powersync-service v1.24.0):
// bson@6.10.4 serialize() with its defaults, ignoreUndefined = true, so an absent
// write_checkpoint is omitted in BSON exactly as in JSON (docs/protocol.md §3.1.9, corrected).
TEST(SyncStream, BsonLinesDecodeToTheJsonLinesAndOmitAnAbsentWriteCheckpoint) {
  const auto text = encoding_run(StreamEncoding::Json);
  const auto bson = encoding_run(StreamEncoding::Bson);
  ASSERT_EQ(text->raw.size(), bson->raw.size());
  EXPECT_EQ(text->times, bson->times);
  EXPECT_FALSE(json::accept(bson->raw.at(0))) << "BSON bytes, not JSON text";
  int absent = 0;
  for (std::size_t i = 0; i < text->raw.size(); ++i) {
    const json from_text = text->line(i);
    const json from_bson = bson->line(i);
    EXPECT_EQ(from_bson, from_text) << i;
    for (const char* k : {"checkpoint", "checkpoint_diff"}) {
      if (!from_bson.contains(k)) continue;
      const json& body = from_bson.at(k);
      if (!body.contains("write_checkpoint")) {
        ++absent;
      } else {
        EXPECT_FALSE(body.at("write_checkpoint").is_null()) << "never an explicit null: " << i;
      }
    }
  }
  EXPECT_EQ(absent, 2) << "the first checkpoint and the data diff have no write checkpoint";
  EXPECT_EQ(briefs(text->lines()), (Briefs{"checkpoint:0", "partial:1", "complete:0", "diff:3",
                                           "data:global[]", "complete:3", "diff:3", "complete:3"}));
}

// docs/protocol.md §3.3.1: the encoding follows the request's Accept header (the SDK's
// BSON-first accept gets BSON whatever the configured default); no Accept gets the default.
TEST(SyncStream, TheEncodingIsNegotiatedFromTheAcceptHeader) {
  ServiceStreamWorld w(ServiceConfig{});  // stream_encoding: Json
  w.upload_todos(2);
  auto bson =
      w.open(true, "application/vnd.powersync.bson-stream;q=0.9,application/x-ndjson;q=0.8");
  auto text = w.open(false);
  w.run_until(kEpoch + kSeconds);
  EXPECT_EQ(bson->content_type, kBsonStreamType);
  EXPECT_EQ(text->content_type, "application/x-ndjson");
  ASSERT_FALSE(bson->raw.empty());
  ASSERT_EQ(bson->raw.size(), text->raw.size());
  EXPECT_FALSE(json::accept(bson->raw.front())) << "BSON bytes, not JSON text";
  EXPECT_EQ(bson->lines(), text->lines());
  EXPECT_EQ(w.svc.stream_stats().bson_streams, 1u);
  EXPECT_EQ(w.svc.stream_stats().bson_lines, bson->raw.size());
}

// ---------------------------------------------------------------------------------------
// Random schedules: the protocol holds (I8), stats agree with the lines
// ---------------------------------------------------------------------------------------

RC_GTEST_PROP(SyncStreamProp, EveryLineSequenceFollowsTheProtocol, ()) {
  StreamWorld w;
  const std::vector<std::string> buckets{"a[]", "b[]", "c[]", "other[]"};  // other: unsubscribed
  std::map<std::string, int> priorities;
  for (std::size_t i = 0; i < 3; ++i) priorities[buckets[i]] = *rc::gen::inRange(0, 4);
  const bool compaction = *rc::gen::arbitrary<bool>();
  // Slow fetches and steps spread over several download cycles, so that checkpoints and
  // compactions land mid-download.
  const Micros batch_delay = *rc::gen::inRange<Micros>(1, 8) * kMillis;
  w.open(request({"a[]", "b[]", "c[]"}, priorities), batch_delay,
         *rc::gen::inRange<uint64_t>(1, 1000));
  const int steps = *rc::gen::inRange(1, 16);
  Micros t = kEpoch;
  for (int step = 0; step < steps; ++step) {
    t += *rc::gen::inRange<Micros>(0, 20 * kMillis);
    const std::string bucket = buckets[*rc::gen::inRange<std::size_t>(0, buckets.size())];
    const int n =
        *rc::gen::inRange(0, 4) == 0 ? *rc::gen::inRange(900, 1400) : *rc::gen::inRange(1, 20);
    const bool compact = compaction && *rc::gen::arbitrary<bool>();
    w.loop.at(t, [&w, bucket, n, compact, step] {
      for (int i = 0; i < n; ++i) {
        const std::string row = fmt::format("r{}", (step * 31 + i) % 11);
        if (i % 5 == 4) {
          w.storage.append(bucket, remove_op("todos", row));
        } else {
          w.storage.append(bucket, put_op("todos", row, std::to_string(i)));
        }
      }
      w.checkpoint();
      if (compact) w.storage.compact(w.storage.latest().op_id);
    });
  }
  w.run_for(t - kEpoch + kSeconds);
  const std::vector<json> lines = w.stream->lines();
  ProtocolChecker checker;
  // A compaction can legitimately leave a client's checksum wrong (the client then
  // re-downloads); without one the sums must match at every (partial) complete.
  checker.check_checksums = w.storage.compaction_stats().runs == 0;
  RC_ASSERT(checker.check(lines) == "");
  RC_ASSERT(checker.incomplete == w.stats.superseded_downloads + w.stats.invalidated_checkpoints);
  RC_ASSERT(checker.completes == w.stats.checkpoint_completes);
  RC_ASSERT(checker.partials == w.stats.partial_completes);
  RC_ASSERT(checker.checkpoint_lines == w.stats.checkpoint_lines);
  RC_ASSERT(lines.size() == w.stats.checkpoint_lines + w.stats.data_lines +
                                w.stats.partial_completes + w.stats.checkpoint_completes);
  // Quiet at the end: the last line completes a checkpoint announcing the latest state.
  RC_ASSERT(kind(lines.back()) == "checkpoint_complete");
  for (std::size_t i = 0; i < 3; ++i) {
    const BucketState s = w.storage.state(buckets[i], w.storage.latest().op_id);
    RC_ASSERT(checker.target.at(buckets[i]) == s.checksum);
  }
}

TEST(SyncStream, SameSeedSameLinesAndTimes) {
  auto run = [](uint64_t seed) {
    StreamWorld w;
    w.fill("a[]", 1500);
    w.fill("b[]", 10);
    w.checkpoint();
    w.open(request({"a[]", "b[]"}, {{"b[]", 0}}), kMillis, seed);
    w.run_for(kSeconds);
    return std::make_pair(w.stream->raw, w.stream->times);
  };
  EXPECT_EQ(run(3), run(3));
  EXPECT_NE(run(3).second, run(4).second) << "the batch delays come from the seed";
}

// ---------------------------------------------------------------------------------------
// Sync streams (issue 7, docs/protocol.md §3.3.1–3.3.3)
// ---------------------------------------------------------------------------------------

ServiceConfig stream_config(std::vector<ServiceMutant> mutants = {}) {
  ServiceConfig c;
  c.stream_batch_delay = 0;
  c.mutants = std::move(mutants);
  c.streams.emplace(
      std::vector<StreamDefinition>{{"lists", false, 2, {"id"}, 1}, {"board", true, 1, {}, 1}});
  return c;
}

std::shared_ptr<RecordingStream> open_with(ServiceStreamWorld& w, const json& streams,
                                           int expect_status = 200) {
  auto stream = std::make_shared<RecordingStream>(w.loop, false);
  sim::HttpRequest r;
  r.method = "POST";
  r.path = "/sync/stream";
  r.subject = "alice";
  json body{{"client_id", "c1"}};
  if (!streams.is_null()) body["streams"] = streams;
  r.body = body.dump();
  EXPECT_EQ(w.svc.open_stream(r, stream).status, expect_status);
  return stream;
}

json bucket_entry(const json& checkpoint, const std::string& name) {
  for (const auto& b : checkpoint.at("buckets")) {
    if (b.at("bucket") == name) return b;
  }
  return json();
}

TEST(SyncStreams, CheckpointLinesCarryStreamsAndPerBucketSubscriptions) {
  ServiceStreamWorld w(stream_config());
  w.run_until(kEpoch + kSeconds);
  const json request = {
      {"include_defaults", true},
      {"subscriptions",
       {{{"stream", "lists"}, {"parameters", {{"id", "a"}}}, {"override_priority", 0}},
        {{"stream", "lists"}, {"parameters", {{"wrong", "x"}}}, {"override_priority", nullptr}},
        {{"stream", "lists"}, {"parameters", {{"id", "b"}}}, {"override_priority", nullptr}}}}};
  auto stream = open_with(w, request);
  w.run_until(w.loop.now() + kSeconds);
  ASSERT_FALSE(stream->raw.empty());
  const json cp = stream->line(0).at("checkpoint");
  // §3.3.2: streams in config order, the legacy definitions first as default streams; the
  // bad subscription (index 1) is an error of its stream, not of the connection (§3.3.3).
  ASSERT_EQ(cp.at("streams").size(), 4u) << cp.dump();
  EXPECT_EQ(cp["streams"][0],
            (json{{"name", "global"}, {"is_default", true}, {"errors", json::array()}}));
  EXPECT_EQ(cp["streams"][1]["name"], "notes");
  EXPECT_EQ(
      cp["streams"][2],
      (json{{"name", "lists"},
            {"is_default", false},
            {"errors",
             {{{"subscription", 1}, {"message", cp["streams"][2]["errors"][0]["message"]}}}}}));
  EXPECT_EQ(cp["streams"][3],
            (json{{"name", "board"}, {"is_default", true}, {"errors", json::array()}}));
  EXPECT_EQ(bucket_entry(cp, "global[]").at("subscriptions"), json::parse(R"([{"default":0}])"));
  EXPECT_EQ(bucket_entry(cp, "board[]").at("subscriptions"), json::parse(R"([{"default":3}])"));
  EXPECT_EQ(bucket_entry(cp, "board[]").at("priority"), 1);
  // override_priority 0 (§3.3.3 step 2) vs the definition's 2.
  EXPECT_EQ(bucket_entry(cp, R"(lists["a"])").at("subscriptions"), json::parse(R"([{"sub":0}])"));
  EXPECT_EQ(bucket_entry(cp, R"(lists["a"])").at("priority"), 0);
  EXPECT_EQ(bucket_entry(cp, R"(lists["b"])").at("subscriptions"), json::parse(R"([{"sub":2}])"));
  EXPECT_EQ(bucket_entry(cp, R"(lists["b"])").at("priority"), 2);
  EXPECT_EQ(cp.at("buckets").size(), 5u) << "global, notes, board, lists a, lists b";
  // Priority groups: 0 (lists a), 1 (board), 2 (lists b), 3 (global, notes).
  Briefs got;
  for (std::size_t i = 1; i < stream->raw.size(); ++i) got.push_back(brief(stream->line(i)));
  EXPECT_NE(std::find(got.begin(), got.end(), "partial:0"), got.end())
      << ::testing::PrintToString(got);
  EXPECT_NE(std::find(got.begin(), got.end(), "partial:1"), got.end());
  EXPECT_NE(std::find(got.begin(), got.end(), "partial:2"), got.end());
}

TEST(SyncStreams, IncludeDefaultsFalseDropsTheDefaultStreamAndAbsentStreamsMeansDefaults) {
  ServiceStreamWorld w(stream_config());
  w.run_until(kEpoch + kSeconds);
  auto off = open_with(w, {{"include_defaults", false}, {"subscriptions", json::array()}});
  auto absent = open_with(w, json());
  w.run_until(w.loop.now() + kSeconds);
  const json a = off->line(0).at("checkpoint"), b = absent->line(0).at("checkpoint");
  EXPECT_TRUE(bucket_entry(a, "board[]").is_null()) << a.dump();
  EXPECT_FALSE(bucket_entry(b, "board[]").is_null()) << b.dump();
  EXPECT_FALSE(bucket_entry(a, "global[]").is_null()) << "legacy definitions are kept";
}

TEST(SyncStreams, ItemsRowsGoToTheirStreamBucket) {
  const StreamConfig config(
      std::vector<StreamDefinition>{{"lists", false, 2, {"id"}, 1}, {"inbox", false, 3, {}, 1}});
  EXPECT_EQ(item_bucket(config, "lists:a:3"), std::optional<std::string>(R"(lists["a"])"));
  EXPECT_EQ(item_bucket(config, "inbox::0"), std::optional<std::string>("inbox[]"));
  EXPECT_EQ(item_bucket(config, "other:a:0"), std::nullopt);
  EXPECT_EQ(item_bucket(config, "nocolon"), std::nullopt);
}

TEST(SyncStreams, ARemovedSubscriptionsBucketIsGoneUnlessTheMutantKeepsIt) {
  for (const bool mutant : {false, true}) {
    ServiceStreamWorld w(stream_config(
        mutant ? std::vector<ServiceMutant>{ServiceMutant::RemovedSubscriptionKeepsBuckets}
               : std::vector<ServiceMutant>{}));
    w.run_until(kEpoch + kSeconds);
    const json with = {
        {"subscriptions",
         {{{"stream", "lists"}, {"parameters", {{"id", "a"}}}, {"override_priority", nullptr}}}}};
    auto first = open_with(w, with);
    w.run_until(w.loop.now() + kSeconds);
    first->close();
    auto second = open_with(w, {{"subscriptions", json::array()}});
    w.run_until(w.loop.now() + kSeconds);
    EXPECT_FALSE(bucket_entry(first->line(0).at("checkpoint"), R"(lists["a"])").is_null());
    const json kept = bucket_entry(second->line(0).at("checkpoint"), R"(lists["a"])");
    EXPECT_EQ(kept.is_null(), !mutant) << second->line(0).dump();
    if (mutant) {
      EXPECT_EQ(kept.at("subscriptions"), json::array());
    }
  }
}

TEST(SyncStreams, TooManyBucketsEndsTheStreamAfterTheHeaders) {
  ServiceConfig c = stream_config();
  c.streams.emplace(std::vector<StreamDefinition>{{"wide", true, 3, {}, 1001}});
  ServiceStreamWorld w(std::move(c));
  w.run_until(kEpoch + kSeconds);
  auto stream = open_with(w, json());
  w.run_until(w.loop.now() + kSeconds);
  EXPECT_TRUE(stream->ended);  // §3.3.1: 200, then the stream ends (PSYNC_S2305)
  EXPECT_TRUE(stream->raw.empty());
  EXPECT_EQ(w.svc.failed_stream_requests(), 1u);
}

TEST(SyncStreams, WithoutStreamDefinitionsLinesHaveNoStreamFields) {
  ServiceStreamWorld w(ServiceConfig{});
  w.run_until(kEpoch + kSeconds);
  auto stream = open_with(w, {{"subscriptions", json::array()}});
  w.run_until(w.loop.now() + kSeconds);
  const json cp = stream->line(0).at("checkpoint");
  EXPECT_FALSE(cp.contains("streams"));
  for (const auto& b : cp.at("buckets")) EXPECT_FALSE(b.contains("subscriptions"));
}

}  // namespace
}  // namespace syncsim::model
