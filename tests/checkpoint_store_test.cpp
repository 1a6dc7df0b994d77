// CheckpointStore (model/checkpoint_store.hpp) against docs/protocol.md §3.
//
//  1. A RapidCheck stateful test against a reference written from docs/protocol.md §3.A,
//     §3.1.3 (dedup, I14), §3.1.5-3.1.9 (transitions, shouldAdvance, duplicate mongo documents,
//     lookups) and §3.2.1 (retention cleanup), for both storage flavours, 200 cases each.
//  2. Tables reproducing the storage tests 3, 6, 7 and 8 of docs/protocol.md §3.5.
//  3. Mutant checks: with each StoreMutants field on, the stateful property must fail.
//
// LSNs: "X/Y" is written lsn(X, Y) = X * 2^32 + Y, which orders like the zero-padded
// strings the service compares.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/detail/TestListenerAdapter.h>
#include <rapidcheck/state.h>

#include <algorithm>
#include <cstdint>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "model/checkpoint_store.hpp"
#include "model/source_db.hpp"
#include "sim/clock.hpp"

namespace syncsim::model {
namespace {

using sim::kEpoch;
using sim::kSeconds;
using sim::Micros;

constexpr Micros kMinute = 60 * kSeconds;
constexpr Micros kRetention = 60 * kMinute;  // DEFAULT_CHECKPOINT_REQUEST_RETENTION_MINUTES
constexpr int64_t kMaxId = std::numeric_limits<int64_t>::max();  // CHECKPOINT_REQUEST_ID_MAX
constexpr Lsn lsn(int64_t hi, int64_t lo) { return hi * (int64_t{1} << 32) + lo; }

const std::vector<std::string> kKeys{"u1/a", "u1/b", "u2/a"};

std::string str(const std::optional<int64_t>& v) {
  return v ? std::to_string(*v) : std::string("null");
}
std::string flavour_name(StorageFlavour f) { return to_string(f); }

// RC_ASSERT for optional ids (RapidCheck cannot show std::optional); the message is only
// built on failure.
void same_id(const std::optional<int64_t>& got, const std::optional<int64_t>& want,
             const std::string& what, Lsn a = -1, Lsn b = -1) {
  if (got == want) return;
  RC_FAIL(what + "(" + std::to_string(a) + ", " + std::to_string(b) + "): store " + str(got) +
          ", reference " + str(want));
}

// =======================================================================================
// The reference (docs/protocol.md §3.A, §3.1.7-3.1.9, §3.2.1).  Written from the notes; it keeps
// a list of documents per key so that mongo's duplicate documents (§3.1.5) can be modelled.
// =======================================================================================

struct RefDoc {
  int64_t id = 0;
  Lsn head = 0;
  std::optional<Lsn> processed;        // mongo processed_at_lsn; postgres: always null
  std::optional<Micros> requested_at;  // request-derived records only
};

struct Ref {
  StorageFlavour flavour = StorageFlavour::Mongo;
  std::map<std::string, std::vector<RefDoc>> docs;  // natural (insertion) order per key
  Lsn source_head = 0;                              // monotonic
  Lsn ckpt = 0;         // the storage checkpoint LSN (replicated position), monotonic
  Micros now = kEpoch;  // wall clock
  uint64_t duplicates = 0;
  // One open sync connection per key (in-memory service state, lost on restart): the
  // write_checkpoint it would emit.
  std::map<std::string, std::optional<int64_t>> conn;
};

std::optional<int64_t> ref_stored(const Ref& m, const std::string& k) {
  auto it = m.docs.find(k);
  if (it == m.docs.end()) return std::nullopt;
  std::optional<int64_t> best;
  for (const auto& d : it->second) best = std::max(best.value_or(d.id), d.id);
  return best;
}

// §3.1.9 lastWriteCheckpoint: mongo findOne({user_id, lsns.1 <= lsn}) = the first matching
// document in natural order; postgres: the one row if lsns.1 <= lsn.
std::optional<int64_t> ref_lookup(const Ref& m, const std::string& k, Lsn l) {
  auto it = m.docs.find(k);
  if (it == m.docs.end()) return std::nullopt;
  for (const auto& d : it->second) {
    if (d.head <= l) return d.id;
  }
  return std::nullopt;
}

// §3.1.9 getManagedWriteCheckpointChanges for one key: max id processed in (after, up_to].
std::optional<int64_t> ref_processed_between(const Ref& m, const std::string& k, Lsn after,
                                             Lsn up_to) {
  std::optional<int64_t> best;
  auto it = m.docs.find(k);
  if (it == m.docs.end()) return best;
  for (const auto& d : it->second) {
    if (d.processed && *d.processed > after && *d.processed <= up_to) {
      best = std::max(best.value_or(d.id), d.id);
    }
  }
  return best;
}

// §3.1.3 uniqueManagedWriteCheckpoints / I14: for every key, the greatest supplied id if the
// batch has any, otherwise one generated entry.
std::map<std::string, std::optional<int64_t>> ref_dedup(const std::vector<ManagedEntry>& reqs) {
  std::set<std::string> keys;
  for (const auto& q : reqs) keys.insert(q.key);
  std::map<std::string, std::optional<int64_t>> out;
  for (const auto& k : keys) {
    std::vector<int64_t> supplied;
    for (const auto& q : reqs) {
      if (q.key == k && q.supplied) supplied.push_back(*q.supplied);
    }
    out[k] = supplied.empty() ? std::nullopt
                              : std::optional<int64_t>(*std::ranges::max_element(supplied));
  }
  return out;
}

struct RefBatch {
  std::map<std::string, int64_t> ids;     // the answers
  std::map<std::string, int64_t> stored;  // what the batch's own write stored
  bool marker = false;
};

// One batch (§3.1.3) of deduplicated entries at head h.  `matched`: the keys that had a record
// when the batch's upsert matched (nullptr: now).  Mongo has no unique index, so an upsert
// that matched nothing inserts even if a concurrent batch inserted since (§3.1.5, §3.6.2.5);
// postgres' ON CONFLICT always sees the committed row.
RefBatch ref_write(Ref& m, const std::map<std::string, std::optional<int64_t>>& entries, Lsn h,
                   const std::set<std::string>* matched = nullptr) {
  RefBatch out;
  // §3.1.5: the generated statement (and its read-back) runs before the supplied one.
  std::vector<std::pair<std::string, std::optional<int64_t>>> ordered;
  for (const auto& [k, r] : entries) {
    if (!r) ordered.emplace_back(k, r);
  }
  const std::size_t generated = ordered.size();
  for (const auto& [k, r] : entries) {
    if (r) ordered.emplace_back(k, r);
  }
  for (std::size_t i = 0; i < ordered.size(); ++i) {
    const auto& [k, r] = ordered[i];
    std::vector<RefDoc>& ds = m.docs[k];
    const bool matched_nothing =
        m.flavour == StorageFlavour::Mongo && matched ? matched->count(k) == 0 : ds.empty();
    const bool insert = ds.empty() || matched_nothing;
    if (insert && !ds.empty()) ++m.duplicates;
    if (!r) {
      // §3.1.7 generated: create id 1, or $inc the (one, first) matched record; head = h,
      // pending, requested_at unset (permanent).  Always a marker.
      if (insert) {
        ds.push_back(RefDoc{1, h, std::nullopt, std::nullopt});
        out.ids[k] = 1;
      } else {
        ds.front() = RefDoc{ds.front().id + 1, h, std::nullopt, std::nullopt};
        out.ids[k] = ds.front().id;
      }
      out.stored[k] = out.ids[k];
      out.marker = true;
      // §3.1.5: two or more generated keys on mongo are read back by find + Map.set after the
      // bulkWrite: each key's LAST document, whichever one was incremented.
      if (i + 1 == generated && generated > 1 && m.flavour == StorageFlavour::Mongo) {
        for (std::size_t j = 0; j < generated; ++j) {
          out.ids[ordered[j].first] = m.docs[ordered[j].first].back().id;
        }
      }
      continue;
    }
    // §3.1.7 supplied r, applied to every document of the key (updateMany).
    if (insert) {
      ds.push_back(RefDoc{*r, h, std::nullopt, m.now});
    } else {
      for (auto& d : ds) {
        if (*r > d.id) {
          d = RefDoc{*r, h, std::nullopt, m.now};
        } else if (*r == d.id) {
          d.requested_at = m.now;
        }
      }
    }
    int64_t mx = 0;
    for (const auto& d : ds) mx = std::max(mx, d.id);
    out.stored[k] = out.ids[k] = mx;  // the re-read takes the max over all documents
    // Mongo: a marker iff the max-id document is pending (a pending one wins a tie).
    for (const auto& d : ds) {
      if (d.id == mx && !d.processed) out.marker = true;
    }
  }
  // Postgres storage: a marker for every non-empty batch.
  if (m.flavour == StorageFlavour::Postgres && !entries.empty()) out.marker = true;
  if (out.marker) ++m.source_head;  // the marker is a source write after the mapping
  return out;
}

// replicate_to(L): a commit or keepalive at L (§3.1.8), then connections see checkpoint L.
void ref_replicate(Ref& m, Lsn l) {
  const Lsn prev = m.ckpt;
  if (m.flavour == StorageFlavour::Mongo) {
    for (auto& [k, ds] : m.docs) {
      for (auto& d : ds) {
        if (!d.processed && d.head <= l) d.processed = l;
      }
    }
  }
  m.ckpt = l;
  for (const auto& k : kKeys) {
    std::optional<int64_t>& wc = m.conn[k];
    if (m.flavour == StorageFlavour::Mongo) {
      // Incremental: replaced only by a greater id processed in (prev, L].
      const auto changed = ref_processed_between(m, k, prev, l);
      if (changed && (!wc || *changed > *wc)) wc = changed;
    } else {
      wc = ref_lookup(m, k, l);  // postgres re-runs the lookup on every notification
    }
  }
}

// compact(now): §3.2.1 retention cleanup with cutoff now - 60 min.
int ref_compact(Ref& m) {
  const Micros cutoff = m.now - kRetention;
  int deleted = 0;
  for (auto it = m.docs.begin(); it != m.docs.end();) {
    std::vector<RefDoc> keep;
    for (const auto& d : it->second) {
      const bool expired = d.requested_at.has_value() && *d.requested_at < cutoff;
      const bool deletable =
          expired && (m.flavour == StorageFlavour::Postgres || d.processed.has_value());
      if (deletable) {
        ++deleted;
      } else {
        keep.push_back(d);
      }
    }
    it->second = std::move(keep);
    it = it->second.empty() ? m.docs.erase(it) : std::next(it);
  }
  return deleted;
}

// =======================================================================================
// The system under test: the store (persistent) and the in-memory connection state.
// =======================================================================================

struct Sut {
  Sut(StorageFlavour f, StoreMutants mutants,
      GeneratedReadBack read_back = GeneratedReadBack::Service)
      : store(f, mutants, read_back) {
    for (const auto& k : kKeys) conn[k] = std::nullopt;
  }
  CheckpointStore store;
  std::map<std::string, std::optional<int64_t>> conn;  // lost on restart
};

using Records = std::map<std::string, std::vector<CheckpointRecord>>;

bool same(const CheckpointRecord& a, const CheckpointRecord& b) {
  return a.id == b.id && a.head == b.head && a.processed_at_lsn == b.processed_at_lsn &&
         a.requested_at == b.requested_at;
}

std::string show_doc(int64_t id, Lsn head, const std::optional<Lsn>& processed,
                     const std::optional<Micros>& requested_at) {
  std::ostringstream os;
  os << id << "@" << head << (processed ? " processed@" + std::to_string(*processed) : "")
     << (requested_at ? " requested@" + std::to_string((*requested_at - kEpoch) / kSeconds) + "s"
                      : "");
  return os.str();
}

std::string dump(const Records& recs) {
  std::ostringstream os;
  for (const auto& [k, ds] : recs) {
    os << k << ":[";
    for (const auto& d : ds) {
      os << "{" << show_doc(d.id, d.head, d.processed_at_lsn, d.requested_at) << "}";
    }
    os << "] ";
  }
  return os.str();
}

std::string dump(const Ref& m) {
  std::ostringstream os;
  for (const auto& [k, ds] : m.docs) {
    os << k << ":[";
    for (const auto& d : ds)
      os << "{" << show_doc(d.id, d.head, d.processed, d.requested_at) << "}";
    os << "] ";
  }
  return os.str();
}

std::optional<int64_t> max_id(const Records& recs, const std::string& k) {
  auto it = recs.find(k);
  if (it == recs.end() || it->second.empty()) return std::nullopt;
  int64_t best = it->second.front().id;
  for (const auto& d : it->second) best = std::max(best, d.id);
  return best;
}

// The reference and the store agree after every command.
void check_state(const Ref& m, const Sut& sut) {
  const Records& recs = sut.store.records();
  RC_ASSERT(dump(recs) == dump(m));
  RC_ASSERT(sut.store.duplicates_created() == m.duplicates);
  if (m.flavour == StorageFlavour::Postgres) {
    for (const auto& [k, ds] : recs) RC_ASSERT(ds.size() <= 1u);  // PRIMARY KEY (user_id)
    RC_ASSERT(sut.store.duplicates_created() == 0u);
  }
  for (const auto& k : kKeys) {
    same_id(sut.store.stored_id(k), ref_stored(m, k), "stored_id " + k);
    const std::string what = "lookup " + k;
    for (Lsn l = 0; l <= m.source_head + 1; ++l) {
      same_id(sut.store.lookup(k, l), ref_lookup(m, k, l), what, l);
    }
    same_id(sut.conn.at(k), m.conn.at(k), "connection write_checkpoint " + k);
  }
}

// I3 / I5 for a write (create_managed): per key the stored id never decreases and the key
// never disappears; per document (writes never delete or reorder documents) the id never
// decreases, and the head or processed state changes only together with a greater id.
void check_write_transition(const Records& before, const Records& after) {
  for (const auto& [k, ds] : before) {
    auto it = after.find(k);
    RC_ASSERT(it != after.end());
    RC_ASSERT(*max_id(after, k) >= *max_id(before, k));  // I3
    RC_ASSERT(it->second.size() >= ds.size());
    for (std::size_t i = 0; i < ds.size(); ++i) {
      const CheckpointRecord& b = ds[i];
      const CheckpointRecord& a = it->second[i];
      RC_ASSERT(a.id >= b.id);  // I3 per document
      if (a.id == b.id) {       // I5: equal or lower requests never move the head
        RC_ASSERT(a.head == b.head);
        RC_ASSERT(a.processed_at_lsn == b.processed_at_lsn);
      }
    }
  }
}

void check_unchanged(const Records& before, const Records& after) {
  RC_ASSERT(dump(after) == dump(before));
}

// =======================================================================================
// Commands
// =======================================================================================

// A supplied id relative to the stored one: below, equal, above, or the top of the range.
int64_t gen_supplied(const std::optional<int64_t>& stored) {
  const int pick = *rc::gen::inRange(0, 16);
  if (pick == 15) return kMaxId - *rc::gen::inRange<int64_t>(0, 3);
  if (!stored) return *rc::gen::inRange<int64_t>(1, 40);
  const int64_t s = *stored;
  if (pick < 5) return std::max<int64_t>(1, s - *rc::gen::inRange<int64_t>(1, 4));  // stale
  if (pick < 9) return s;                                                           // equal
  return s <= kMaxId - 3 ? s + *rc::gen::inRange<int64_t>(1, 4) : kMaxId;           // greater
}

std::string show_entry(const ManagedEntry& e) {
  return e.supplied ? "supplied(" + e.key + ", " + std::to_string(*e.supplied) + ")"
                    : "generated(" + e.key + ")";
}

// What the reference says a command must answer.
struct Expect {
  std::vector<RefBatch> batches;
  std::map<std::string, std::optional<int64_t>> dedup;
  int deleted = 0;
};

struct Cmd : rc::state::Command<Ref, Sut> {
  virtual Expect model(Ref& m) const = 0;
  virtual void exercise(const Ref& s0, const Ref& s1, const Expect& want, const Records& before,
                        Sut& sut) const = 0;

  void apply(Ref& m) const final { model(m); }
  void run(const Ref& s0, Sut& sut) const final {
    Ref s1 = s0;
    const Expect want = model(s1);
    const Records before = sut.store.records();
    exercise(s0, s1, want, before, sut);
    check_state(s1, sut);
  }
};

// A batch of requests, deduplicated with CheckpointStore::dedup (I14), written at the
// current source head.  Single requests are batches of one.
struct BatchCmd : Cmd {
  std::vector<ManagedEntry> reqs;

  void checkPreconditions(const Ref& s0) const override {
    // A generated increment of kMaxId would overflow (the real storage fails the batch:
    // "bigint out of range" / $inc overflow); the store has no error path, so not tested.
    for (const auto& [k, r] : ref_dedup(reqs)) RC_PRE(r || ref_stored(s0, k) < kMaxId);
  }
  Expect model(Ref& m) const override {
    Expect e;
    e.dedup = ref_dedup(reqs);
    e.batches.push_back(ref_write(m, e.dedup, m.source_head));
    return e;
  }
  void exercise(const Ref& s0, const Ref&, const Expect& want, const Records& before,
                Sut& sut) const override {
    const std::vector<ManagedEntry> entries = CheckpointStore::dedup(reqs);
    // I14: one entry per key, sorted by key, greatest supplied id, else generated.
    RC_ASSERT(entries.size() == want.dedup.size());
    auto wit = want.dedup.begin();
    for (const auto& e : entries) {
      RC_ASSERT(e.key == wit->first);
      RC_ASSERT(str(e.supplied) == str(wit->second));
      ++wit;
    }
    const BatchWrite w = sut.store.create_managed(entries, s0.source_head, s0.now);
    const RefBatch& rb = want.batches.front();
    RC_ASSERT(w.ids.size() == rb.ids.size());
    for (const auto& [k, id] : rb.ids) {
      RC_ASSERT(w.ids.count(k) == 1u);
      RC_ASSERT(w.ids.at(k) == id);
      RC_ASSERT(w.stored.at(k) == rb.stored.at(k));
    }
    for (const auto& q : reqs) {
      const auto stored = max_id(before, q.key);
      const int64_t got = w.ids.at(q.key);
      if (q.supplied) RC_ASSERT(got >= *q.supplied);  // I4
      const auto& best = want.dedup.at(q.key);
      if (best) {
        // Supplied: max(stored, r) for the batch's winning r.
        RC_ASSERT(got == std::max(stored.value_or(*best), *best));
      } else if (!before.count(q.key) || before.at(q.key).size() == 1) {
        // Generated: stored + 1, one increment shared by all coalesced requests.  (With
        // duplicate mongo documents findOneAndUpdate increments the first document.)
        RC_ASSERT(got == stored.value_or(0) + 1);
      }
    }
    // shouldAdvance (§3.1.7, I6): postgres always; generated always; mongo supplied iff the
    // max document is pending.
    RC_ASSERT(w.should_advance == rb.marker);
    if (s0.flavour == StorageFlavour::Postgres) RC_ASSERT(w.should_advance);
    check_write_transition(before, sut.store.records());
  }
  void show(std::ostream& os) const override {
    if (reqs.size() == 1) {
      os << show_entry(reqs.front());
      return;
    }
    os << "batch[";
    for (std::size_t i = 0; i < reqs.size(); ++i) os << (i ? ", " : "") << show_entry(reqs[i]);
    os << "]";
  }
};

struct Generated : BatchCmd {
  explicit Generated(const Ref&) {
    reqs.push_back(ManagedEntry{*rc::gen::elementOf(kKeys), std::nullopt});
  }
};

struct Supplied : BatchCmd {
  explicit Supplied(const Ref& s0) {
    const std::string k = *rc::gen::elementOf(kKeys);
    reqs.push_back(ManagedEntry{k, gen_supplied(ref_stored(s0, k))});
  }
};

struct Batch : BatchCmd {
  explicit Batch(const Ref& s0) {
    const int n = *rc::gen::inRange(2, 7);
    for (int i = 0; i < n; ++i) {
      const std::string k = *rc::gen::elementOf(kKeys);
      if (*rc::gen::inRange(0, 3) == 0) {
        reqs.push_back(ManagedEntry{k, std::nullopt});
      } else {
        reqs.push_back(ManagedEntry{k, gen_supplied(ref_stored(s0, k))});
      }
    }
  }
};

// Two batches race on an absent key (§3.1.5, §3.6.2.5): batch A matched before batch B inserted,
// B writes first (at the current head), then A (at the head it read earlier).  Mongo: a
// duplicate document; postgres: ON CONFLICT, one row.
struct UpsertRace : Cmd {
  std::string key;
  std::optional<int64_t> rb, ra;
  int64_t a_behind = 0;  // A read the head this much earlier

  explicit UpsertRace(const Ref&) {
    key = *rc::gen::elementOf(kKeys);
    if (*rc::gen::inRange(0, 3)) rb = *rc::gen::inRange<int64_t>(1, 40);
    if (*rc::gen::inRange(0, 3)) ra = *rc::gen::inRange<int64_t>(1, 40);
    a_behind = *rc::gen::inRange<int64_t>(0, 3);
  }
  void checkPreconditions(const Ref& s0) const override { RC_PRE(s0.docs.count(key) == 0u); }
  [[nodiscard]] Lsn head_a(const Ref& s0) const {
    return std::max<Lsn>(0, s0.source_head - a_behind);
  }
  Expect model(Ref& m) const override {
    const Lsn ha = head_a(m);
    std::set<std::string> matched;
    for (const auto& [k, ds] : m.docs) matched.insert(k);
    Expect e;
    e.batches.push_back(ref_write(m, {{key, rb}}, m.source_head));
    e.batches.push_back(ref_write(m, {{key, ra}}, ha, &matched));
    return e;
  }
  void exercise(const Ref& s0, const Ref&, const Expect& want, const Records& before,
                Sut& sut) const override {
    std::set<std::string> matched;
    for (const auto& [k, ds] : before) matched.insert(k);
    const BatchWrite wb = sut.store.create_managed({ManagedEntry{key, rb}}, s0.source_head, s0.now);
    const BatchWrite wa =
        sut.store.create_managed({ManagedEntry{key, ra}}, head_a(s0), s0.now, &matched);
    RC_ASSERT(wb.ids.at(key) == want.batches[0].ids.at(key));
    RC_ASSERT(wa.ids.at(key) == want.batches[1].ids.at(key));
    RC_ASSERT(wb.should_advance == want.batches[0].marker);
    RC_ASSERT(wa.should_advance == want.batches[1].marker);
    const auto* docs = sut.store.find(key);
    RC_ASSERT(docs != nullptr);
    if (s0.flavour == StorageFlavour::Mongo) {
      RC_ASSERT(docs->size() == 2u);
      RC_ASSERT(sut.store.duplicates_created() == s0.duplicates + 1);
    } else {
      RC_ASSERT(docs->size() == 1u);  // postgres never has duplicates
    }
    check_write_transition(before, sut.store.records());
  }
  void show(std::ostream& os) const override {
    os << "upsert_race(" << key << ": B=" << (rb ? "supplied " + std::to_string(*rb) : "generated")
       << " at head, then A=" << (ra ? "supplied " + std::to_string(*ra) : "generated")
       << " at head-" << a_behind << ", A matched before B inserted)";
  }
};

struct SourceAdvance : Cmd {
  int64_t n = 1;
  explicit SourceAdvance(const Ref&) { n = *rc::gen::inRange<int64_t>(1, 4); }
  Expect model(Ref& m) const override {
    m.source_head += n;
    return {};
  }
  void exercise(const Ref&, const Ref&, const Expect&, const Records& before,
                Sut& sut) const override {
    check_unchanged(before, sut.store.records());
  }
  void show(std::ostream& os) const override { os << "source_advance(+" << n << ")"; }
};

// Replication commits (or keepalives) at L, ckpt <= L <= source head; then every open
// connection reads checkpoint L the way its flavour does (§3.1.9).
struct ReplicateTo : Cmd {
  Lsn l = 0;
  explicit ReplicateTo(const Ref& s0) { l = *rc::gen::inRange<Lsn>(s0.ckpt, s0.source_head + 1); }
  void checkPreconditions(const Ref& s0) const override {
    RC_PRE(l >= s0.ckpt && l <= s0.source_head);
  }
  Expect model(Ref& m) const override {
    ref_replicate(m, l);
    return {};
  }
  void exercise(const Ref& s0, const Ref&, const Expect&, const Records& before,
                Sut& sut) const override {
    sut.store.on_commit(l);
    for (const auto& k : kKeys) {
      std::optional<int64_t>& wc = sut.conn[k];
      if (s0.flavour == StorageFlavour::Mongo) {
        const auto changed = sut.store.processed_between(k, s0.ckpt, l);
        if (changed && (!wc || *changed > *wc)) wc = changed;
      } else {
        wc = sut.store.lookup(k, l);
      }
    }
    // §3.1.8: a commit only marks pending documents with head <= L as processed at L
    // (mongo), never overwrites processed_at_lsn, and changes nothing else.
    const Records& after = sut.store.records();
    RC_ASSERT(after.size() == before.size());
    for (const auto& [k, ds] : before) {
      const auto& as = after.at(k);
      RC_ASSERT(as.size() == ds.size());
      for (std::size_t i = 0; i < ds.size(); ++i) {
        CheckpointRecord want = ds[i];
        if (s0.flavour == StorageFlavour::Mongo && !want.processed_at_lsn && want.head <= l) {
          want.processed_at_lsn = l;
        }
        RC_ASSERT(same(as[i], want));
      }
    }
  }
  void show(std::ostream& os) const override { os << "replicate_to(" << l << ")"; }
};

struct Tick : Cmd {
  int64_t minutes = 1;
  explicit Tick(const Ref&) { minutes = *rc::gen::inRange<int64_t>(1, 91); }
  Expect model(Ref& m) const override {
    m.now += minutes * kMinute;
    return {};
  }
  void exercise(const Ref&, const Ref&, const Expect&, const Records& before,
                Sut& sut) const override {
    check_unchanged(before, sut.store.records());
  }
  void show(std::ostream& os) const override { os << "tick(+" << minutes << "min)"; }
};

// A compact job: delete_expired(now - 60 min) (§3.2.1, I12).
struct Compact : Cmd {
  explicit Compact(const Ref&) {}
  Expect model(Ref& m) const override {
    Expect e;
    e.deleted = ref_compact(m);
    return e;
  }
  void exercise(const Ref& s0, const Ref&, const Expect& want, const Records& before,
                Sut& sut) const override {
    const Micros cutoff = s0.now - kRetention;
    const int n = sut.store.delete_expired(cutoff);
    RC_ASSERT(n == want.deleted);
    // I12 from the store's own previous state: exactly the request-derived records with
    // requested_at < cutoff go, on mongo only processed ones; generated records never.
    Records expected;
    int gone = 0;
    for (const auto& [k, ds] : before) {
      for (const auto& d : ds) {
        const bool request_derived = d.requested_at.has_value();
        const bool expired = request_derived && *d.requested_at < cutoff;
        const bool pending = !d.processed_at_lsn.has_value();
        if (expired && !(s0.flavour == StorageFlavour::Mongo && pending)) {
          ++gone;
        } else {
          expected[k].push_back(d);
        }
      }
    }
    RC_ASSERT(n == gone);
    RC_ASSERT(dump(sut.store.records()) == dump(expected));
  }
  void show(std::ostream& os) const override { os << "compact(cutoff = now - 60min)"; }
};

struct Delete : Cmd {
  std::string key;
  explicit Delete(const Ref&) { key = *rc::gen::elementOf(kKeys); }
  Expect model(Ref& m) const override {
    Expect e;
    auto it = m.docs.find(key);
    e.deleted = it == m.docs.end() ? 0 : static_cast<int>(it->second.size());
    m.docs.erase(key);
    return e;
  }
  void exercise(const Ref&, const Ref&, const Expect& want, const Records& before,
                Sut& sut) const override {
    RC_ASSERT(sut.store.erase(key) == want.deleted);
    Records expected = before;
    expected.erase(key);
    RC_ASSERT(dump(sut.store.records()) == dump(expected));
    RC_ASSERT(sut.store.find(key) == nullptr);
  }
  void show(std::ostream& os) const override { os << "delete(" << key << ")"; }
};

// lookup(K, L) for every L in range, processed_between(K, a, b] for every window whose
// ends are 0, the checkpoint, the head or a document's head / processed LSN (+-1).
struct Lookup : Cmd {
  std::string key;
  explicit Lookup(const Ref&) { key = *rc::gen::elementOf(kKeys); }
  Expect model(Ref&) const override { return {}; }
  void exercise(const Ref& s0, const Ref&, const Expect&, const Records& before,
                Sut& sut) const override {
    const std::string what = "lookup " + key;
    for (Lsn l = 0; l <= s0.source_head + 1; ++l) {
      const auto got = sut.store.lookup(key, l);
      same_id(got, ref_lookup(s0, key, l), what, l);
      if (got) {
        // I1: an id is visible at L only if a document with that id has head <= L.
        bool backed = false;
        for (const auto& d : *sut.store.find(key)) backed |= d.id == *got && d.head <= l;
        RC_ASSERT(backed);
      }
    }
    std::set<Lsn> points{0, s0.ckpt, s0.source_head, s0.source_head + 1};
    if (const auto* ds = sut.store.find(key)) {
      for (const auto& d : *ds) {
        for (Lsn p : {d.head, d.processed_at_lsn.value_or(0)}) {
          points.insert({p - 1, p, p + 1});
        }
      }
    }
    for (Lsn a : points) {
      for (Lsn b : points) {
        if (a > b) continue;
        same_id(sut.store.processed_between(key, a, b), ref_processed_between(s0, key, a, b),
                "processed_between " + key, a, b);
      }
    }
    check_unchanged(before, sut.store.records());
  }
  void show(std::ostream& os) const override { os << "lookup(" << key << ", every L)"; }
};

// Service restart (§3.6.2.7): in-memory state is lost (connections reconnect and do the
// initial lookup at the current checkpoint), storage is kept and must be unaffected.
struct Restart : Cmd {
  explicit Restart(const Ref&) {}
  Expect model(Ref& m) const override {
    for (const auto& k : kKeys) m.conn[k] = ref_lookup(m, k, m.ckpt);
    return {};
  }
  void exercise(const Ref& s0, const Ref&, const Expect&, const Records& before,
                Sut& sut) const override {
    sut.conn.clear();
    for (const auto& k : kKeys) sut.conn[k] = sut.store.lookup(k, s0.ckpt);
    check_unchanged(before, sut.store.records());
  }
  void show(std::ostream& os) const override { os << "restart"; }
};

void stateful_property(StorageFlavour f, StoreMutants mutants,
                       GeneratedReadBack read_back = GeneratedReadBack::Service) {
  Ref m0;
  m0.flavour = f;
  for (const auto& k : kKeys) m0.conn[k] = std::nullopt;
  Sut sut(f, mutants, read_back);
  rc::state::check(
      m0, sut,
      rc::state::gen::execOneOfWithArgs<Generated, Supplied, Supplied, Batch, UpsertRace,
                                        SourceAdvance, ReplicateTo, ReplicateTo, Tick, Tick,
                                        Compact, Compact, Delete, Lookup, Restart>());
}

rc::detail::TestMetadata metadata(StorageFlavour f) {
  rc::detail::TestMetadata meta;
  meta.id = "checkpoint_store_stateful/" + flavour_name(f);
  meta.description = meta.id;
  return meta;
}

std::string describe(const rc::detail::TestResult& result) {
  std::ostringstream os;
  rc::detail::printResultMessage(result, os);
  return os.str();
}

constexpr int kCases = 200;
constexpr int kMaxSize = 150;  // command sequences up to ~150 long

void expect_store_passes(StorageFlavour f) {
  // The seed comes from RapidCheck's configuration (RC_PARAMS="seed=..." reproduces a
  // failure); the number of cases is fixed here.
  rc::detail::TestParams params = rc::detail::configuration().testParams;
  params.maxSuccess = kCases;
  params.maxSize = kMaxSize;
  // RapidCheck's default listener: a failure prints its RC_PARAMS="reproduce=..." string.
  const auto result =
      rc::detail::checkTestable([f] { stateful_property(f, StoreMutants{}); }, metadata(f), params);
  ASSERT_TRUE(result.is<rc::detail::SuccessResult>()) << describe(result);
  EXPECT_EQ(result.get<rc::detail::SuccessResult>().numSuccess, kCases);
}

TEST(CheckpointStoreStateful, MongoMatchesReference) { expect_store_passes(StorageFlavour::Mongo); }
TEST(CheckpointStoreStateful, PostgresMatchesReference) {
  expect_store_passes(StorageFlavour::Postgres);
}

// =======================================================================================
// Mutants: the stateful property must find each one.  A fixed seed, no shrinking; the
// result is inspected instead of failing the test.
// =======================================================================================

constexpr uint64_t kMutantSeed = 20260724;

// Cases RapidCheck needed to find a failure (numSuccess + 1), or 0 if it found none.
int cases_to_detect(StorageFlavour f, StoreMutants mutants,
                    GeneratedReadBack read_back = GeneratedReadBack::Service) {
  rc::detail::TestParams params;
  params.seed = kMutantSeed;
  params.maxSuccess = kCases;
  params.maxSize = kMaxSize;
  params.disableShrinking = true;
  rc::detail::TestListenerAdapter quiet;  // an expected failure: no reproduce message
  const auto result = rc::detail::checkTestable(
      [f, mutants, read_back] { stateful_property(f, mutants, read_back); }, metadata(f), params,
      quiet);
  if (!result.is<rc::detail::FailureResult>()) return 0;
  return result.get<rc::detail::FailureResult>().numSuccess + 1;
}

// Cases to detection with seed 20260724 (200 cases allowed, maxSize 150) are recorded in
// each test.
TEST(CheckpointStoreMutants, LowerIdReplacesIsFound) {
  // Matters for both flavours (I3, I5).  Mongo: 14 cases, postgres: 14 cases.
  for (StorageFlavour f : {StorageFlavour::Mongo, StorageFlavour::Postgres}) {
    const int n = cases_to_detect(f, StoreMutants{.lower_id_replaces = true});
    EXPECT_GT(n, 0) << flavour_name(f) << ": lower_id_replaces not detected";
    std::cout << "lower_id_replaces/" << flavour_name(f) << ": detected after " << n << " cases\n";
  }
}

TEST(CheckpointStoreMutants, CleanupDeletesPendingIsFound) {
  // Matters for mongo only: postgres cleanup deletes pending records anyway.  59 cases.
  const int n =
      cases_to_detect(StorageFlavour::Mongo, StoreMutants{.cleanup_deletes_pending = true});
  EXPECT_GT(n, 0) << "cleanup_deletes_pending not detected";
  std::cout << "cleanup_deletes_pending/mongo: detected after " << n << " cases\n";
}

TEST(CheckpointStoreMutants, NoHeadFilterIsFound) {
  // Matters for both (lookup; mongo also processed_at_lsn).  Mongo: 5, postgres: 5 cases.
  for (StorageFlavour f : {StorageFlavour::Mongo, StorageFlavour::Postgres}) {
    const int n = cases_to_detect(f, StoreMutants{.no_head_filter = true});
    EXPECT_GT(n, 0) << flavour_name(f) << ": no_head_filter not detected";
    std::cout << "no_head_filter/" << flavour_name(f) << ": detected after " << n << " cases\n";
  }
}

TEST(CheckpointStoreMutants, IncrementedReadBackIsFound) {
  // docs/protocol.md §3.1.5: the model before issue 17 answered every generated key with the
  // document it incremented; the reference answers a multi-key batch with each key's last
  // document (MongoWriteCheckpointAPI v1.24.0).  Needs a duplicate and then a batch with two
  // generated keys, so mongo only (postgres RETURNING has one row).
  const int n =
      cases_to_detect(StorageFlavour::Mongo, StoreMutants{}, GeneratedReadBack::Incremented);
  EXPECT_GT(n, 0) << "the incremented-document read-back not detected";
  std::cout << "incremented_read_back/mongo: detected after " << n << " cases\n";
}

// =======================================================================================
// docs/protocol.md §3.5 storage tests, step by step
// =======================================================================================

struct Answer {
  int64_t id = 0;
  bool should_advance = false;
};
Answer request(CheckpointStore& s, const std::string& key, std::optional<int64_t> r, Lsn head,
               Micros now) {
  const BatchWrite w = s.create_managed({ManagedEntry{key, r}}, head, now);
  EXPECT_EQ(w.ids.size(), 1u);
  return {w.ids.at(key), w.should_advance};
}
const CheckpointRecord& only(const CheckpointStore& s, const std::string& key) {
  const auto* docs = s.find(key);
  EXPECT_TRUE(docs != nullptr && docs->size() == 1u);
  static const CheckpointRecord kNone{};
  return docs && docs->size() == 1u ? docs->front() : kNone;
}

// Test 3, "managed write checkpoints - client supplied ids are monotonic" (both flavours;
// no replication runs, so the mongo record stays pending throughout).
TEST(CheckpointStoreTable, Test3SuppliedIdsAreMonotonic) {
  struct Step {
    const char* what;
    std::optional<int64_t> r;
    Lsn head;
    int64_t want_id;
    bool want_advance;
    std::vector<std::pair<Lsn, std::optional<int64_t>>> lookups;
  };
  const std::vector<Step> steps{
      {"42@5/0", 42, lsn(5, 0), 42, true, {{lsn(5, 0), 42}, {lsn(5, 0) - 1, std::nullopt}}},
      {"stale 41@8/0", 41, lsn(8, 0), 42, true, {{lsn(6, 0), 42}}},
      {"equal 42@8/0", 42, lsn(8, 0), 42, true, {{lsn(6, 0), 42}}},
      {"43@8/0", 43, lsn(8, 0), 43, true, {{lsn(7, 0), std::nullopt}, {lsn(8, 0), 43}}},
      {"generated@9/0", std::nullopt, lsn(9, 0), 44, true, {{lsn(8, 0), std::nullopt}}},
  };
  for (StorageFlavour f : {StorageFlavour::Mongo, StorageFlavour::Postgres}) {
    CheckpointStore s(f);
    Micros now = kEpoch;
    for (const auto& st : steps) {
      SCOPED_TRACE(flavour_name(f) + " " + st.what);
      now += kSeconds;
      const Answer a = request(s, "user/client", st.r, st.head, now);
      EXPECT_EQ(a.id, st.want_id);
      EXPECT_EQ(a.should_advance, st.want_advance);
      for (const auto& [l, want] : st.lookups) EXPECT_EQ(s.lookup("user/client", l), want);
    }
    const CheckpointRecord& rec = only(s, "user/client");
    EXPECT_EQ(rec.head, lsn(9, 0));
    EXPECT_FALSE(rec.requested_at.has_value()) << "the generated request made it permanent";
  }
}

// Tests 6 (mongo) and 8 (postgres): "uses checkpoint_requested_at as the client-requested
// checkpoint marker".  (Their custom-row part is outside CheckpointStore.)
void requested_at_rules(StorageFlavour f) {
  SCOPED_TRACE(flavour_name(f));
  CheckpointStore s(f);
  const std::string k = "user-1/client";
  const Micros t1 = kEpoch + 1 * kSeconds, t2 = t1 + kSeconds, t3 = t2 + kSeconds,
               t4 = t3 + kSeconds, t5 = t4 + kSeconds;

  // A new record: pending, requested_at set.
  EXPECT_EQ(request(s, k, 42, lsn(5, 0), t1).id, 42);
  EXPECT_EQ(only(s, k).id, 42);
  EXPECT_EQ(only(s, k).head, lsn(5, 0));
  EXPECT_FALSE(only(s, k).processed_at_lsn.has_value());
  EXPECT_EQ(only(s, k).requested_at, t1);
  // A stale request keeps the timestamp (and the head).
  EXPECT_EQ(request(s, k, 41, lsn(6, 0), t2).id, 42);
  EXPECT_EQ(only(s, k).requested_at, t1);
  EXPECT_EQ(only(s, k).head, lsn(5, 0));
  // An equal retry refreshes the timestamp, keeps lsns 5/0 and pending.
  EXPECT_EQ(request(s, k, 42, lsn(6, 0), t3).id, 42);
  EXPECT_EQ(only(s, k).requested_at, t3);
  EXPECT_EQ(only(s, k).head, lsn(5, 0));
  EXPECT_FALSE(only(s, k).processed_at_lsn.has_value());
  // A greater id refreshes the timestamp and sets lsns 6/0.
  EXPECT_EQ(request(s, k, 43, lsn(6, 0), t4).id, 43);
  EXPECT_EQ(only(s, k).requested_at, t4);
  EXPECT_EQ(only(s, k).head, lsn(6, 0));
  // A generated request unsets the field (NULL on postgres).
  EXPECT_EQ(request(s, k, std::nullopt, lsn(7, 0), t5).id, 44);
  EXPECT_FALSE(only(s, k).requested_at.has_value());
  EXPECT_EQ(only(s, k).head, lsn(7, 0));

  // An expired request whose head 8/0 is not replicated (replication at 1/1).
  const std::string k2 = "user-2/client";
  EXPECT_EQ(request(s, k2, 1, lsn(8, 0), t5).id, 1);
  s.on_commit(lsn(1, 1));
  const Micros later = t5 + kRetention + kMinute;
  if (f == StorageFlavour::Mongo) {
    EXPECT_EQ(s.delete_expired(later - kRetention), 0) << "mongo keeps pending requests";
    ASSERT_NE(s.find(k2), nullptr);
    s.on_commit(lsn(8, 0));  // keepalive('8/0') processes it
    EXPECT_EQ(only(s, k2).processed_at_lsn, lsn(8, 0));
    EXPECT_EQ(s.delete_expired(later - kRetention), 1);
  } else {
    EXPECT_EQ(s.delete_expired(later - kRetention), 1) << "postgres deletes it unreplicated";
    EXPECT_FALSE(only(s, k).processed_at_lsn.has_value()) << "postgres has no processed state";
  }
  EXPECT_EQ(s.find(k2), nullptr);
  EXPECT_EQ(only(s, k).id, 44) << "generated records are never deleted";
  EXPECT_EQ(s.delete_expired(later + 1000 * kRetention), 0);
}

TEST(CheckpointStoreTable, Test6MongoRequestedAt) { requested_at_rules(StorageFlavour::Mongo); }
TEST(CheckpointStoreTable, Test8PostgresRequestedAt) {
  requested_at_rules(StorageFlavour::Postgres);
}

// Test 7 (mongo), "updates duplicate managed rows on supplied checkpoint requests":
// duplicates {50, processed} and {42, pending}; seed id 1 returns 50 with
// shouldAdvance=false; 51 updates both documents to 51@51/0, pending, request-derived.
TEST(CheckpointStoreTable, Test7MongoDuplicateDocuments) {
  CheckpointStore s(StorageFlavour::Mongo);
  const std::string k = "user/client";
  const std::set<std::string> matched_nothing;
  // Batch B inserts {50}; replication processes it; batch A, which matched before B's
  // insert, inserts {42} at a later head: two documents.
  EXPECT_EQ(request(s, k, 50, lsn(10, 0), kEpoch).id, 50);
  s.on_commit(lsn(10, 0));
  const BatchWrite a =
      s.create_managed({ManagedEntry{k, 42}}, lsn(20, 0), kEpoch, &matched_nothing);
  EXPECT_EQ(a.ids.at(k), 50) << "the response re-reads all documents";
  // §3.1.7: the max document (50) is processed, so no marker although A's own 42 is pending.
  EXPECT_FALSE(a.should_advance);
  ASSERT_EQ(s.find(k)->size(), 2u);
  EXPECT_EQ(s.duplicates_created(), 1u);
  EXPECT_EQ((*s.find(k))[0].id, 50);
  EXPECT_TRUE((*s.find(k))[0].processed_at_lsn.has_value());
  EXPECT_EQ((*s.find(k))[1].id, 42);
  EXPECT_FALSE((*s.find(k))[1].processed_at_lsn.has_value());

  // Seed: id 1 returns 50, no marker (the max document is processed), nothing changes.
  const Records before = s.records();
  const Answer seed = request(s, k, 1, lsn(30, 0), kEpoch + kSeconds);
  EXPECT_EQ(seed.id, 50);
  EXPECT_FALSE(seed.should_advance);
  EXPECT_EQ(dump(s.records()), dump(before));

  // 51 updates both documents.
  const Micros t = kEpoch + 2 * kSeconds;
  const Answer next = request(s, k, 51, lsn(51, 0), t);
  EXPECT_EQ(next.id, 51);
  EXPECT_TRUE(next.should_advance);
  ASSERT_EQ(s.find(k)->size(), 2u);
  for (const auto& d : *s.find(k)) {
    EXPECT_EQ(d.id, 51);
    EXPECT_EQ(d.head, lsn(51, 0));
    EXPECT_FALSE(d.processed_at_lsn.has_value());
    EXPECT_EQ(d.requested_at, t);
  }
  EXPECT_EQ(s.stored_id(k), 51);
}

// docs/protocol.md §3.1.5 "Read-back with duplicates" (MongoWriteCheckpointAPI
// .createManagedWriteCheckpoints, v1.24.0): duplicates {1, 1} of a key from two racing
// generated upserts.  A batch with ONE generated key answers the document findOneAndUpdate
// incremented; a batch with TWO generated keys increments the first document (updateOne) but
// answers the last one the separate find returns: 1, an id the key already had.
TEST(CheckpointStoreTable, MultiKeyGeneratedReadBackAnswersLastDuplicate) {
  for (GeneratedReadBack rb : {GeneratedReadBack::Service, GeneratedReadBack::Incremented}) {
    CheckpointStore s(StorageFlavour::Mongo, StoreMutants{}, rb);
    const std::string k = "u1/a";
    const std::string other = "u2/a";
    const std::set<std::string> matched_nothing;
    EXPECT_EQ(s.create_managed({ManagedEntry{k, std::nullopt}}, lsn(1, 0), kEpoch).ids.at(k), 1);
    EXPECT_EQ(s.create_managed({ManagedEntry{k, std::nullopt}}, lsn(1, 0), kEpoch, &matched_nothing)
                  .ids.at(k),
              1);
    ASSERT_EQ(s.find(k)->size(), 2u);
    s.on_commit(lsn(1, 0));
    // One generated key: findOneAndUpdate(returnDocument 'after') answers its own increment.
    const BatchWrite one = s.create_managed({ManagedEntry{k, std::nullopt}}, lsn(2, 0), kEpoch);
    EXPECT_EQ(one.ids.at(k), 2);
    EXPECT_EQ(one.stored.at(k), 2);
    // Two generated keys: updateOne increments the first document to 3, find + Map.set
    // answers the last document, still 1 (processed at 1/0: already acknowledged).
    const BatchWrite two = s.create_managed(
        {ManagedEntry{k, std::nullopt}, ManagedEntry{other, std::nullopt}}, lsn(3, 0), kEpoch);
    EXPECT_EQ(two.stored.at(k), 3);
    EXPECT_EQ((*s.find(k))[0].id, 3);
    EXPECT_EQ((*s.find(k))[1].id, 1);
    EXPECT_TRUE((*s.find(k))[1].processed_at_lsn.has_value());
    EXPECT_EQ(two.ids.at(other), 1) << "no duplicates: the key's own increment";
    if (rb == GeneratedReadBack::Service) {
      EXPECT_EQ(two.ids.at(k), 1) << "the last document, not the incremented one";
      EXPECT_EQ(s.foreign_read_backs(), 1u);
    } else {
      EXPECT_EQ(two.ids.at(k), 3);
      EXPECT_EQ(s.foreign_read_backs(), 0u);
    }
  }
  // Postgres: RETURNING the one row, never another document.
  CheckpointStore pg(StorageFlavour::Postgres);
  const std::set<std::string> matched_nothing;
  pg.create_managed({ManagedEntry{"u1/a", std::nullopt}}, lsn(1, 0), kEpoch);
  pg.create_managed({ManagedEntry{"u1/a", std::nullopt}}, lsn(1, 0), kEpoch, &matched_nothing);
  const BatchWrite two = pg.create_managed(
      {ManagedEntry{"u1/a", std::nullopt}, ManagedEntry{"u2/a", std::nullopt}}, lsn(2, 0), kEpoch);
  EXPECT_EQ(two.ids.at("u1/a"), 3);
  EXPECT_EQ(pg.foreign_read_backs(), 0u);
}

// docs/protocol.md §3.1.5 "Read-back round trip" (fidelity review item 12;
// MongoWriteCheckpointAPI.createManagedWriteCheckpoints and createSuppliedManagedWriteCheckpoints,
// v1.24.0): the answer is a separate find after the bulkWrite, so a batch that writes in
// between shows through.  Batch A stores 5, batch B stores 7 before A's find: A answers 7
// while having stored 5; A's shouldAdvance comes from the documents as read.  A generated
// multi-key read-back likewise sees B's increment.  Postgres answers RETURNING: no read-back.
TEST(CheckpointStoreTable, ASeparateReadBackSeesAConcurrentBatchsWrite) {
  CheckpointStore s(StorageFlavour::Mongo);
  const std::string k = "u1/a";
  const std::vector<ManagedEntry> a = {ManagedEntry{k, 5}};
  BatchWrite wa = s.create_managed(a, lsn(1, 0), kEpoch);
  EXPECT_EQ(wa.ids.at(k), 5);
  ASSERT_TRUE(s.reads_back(a));
  s.create_managed({ManagedEntry{k, 7}}, lsn(2, 0), kEpoch);  // B, between A's write and find
  s.read_back(a, wa);
  EXPECT_EQ(wa.ids.at(k), 7) << "the find returns B's id";
  EXPECT_EQ(wa.stored.at(k), 5) << "A's own write";
  EXPECT_TRUE(wa.should_advance) << "B's document is pending";
  // Once B's document is processed, a read-back that finds only it writes no marker.
  s.on_commit(lsn(2, 0));
  BatchWrite stale = s.create_managed({ManagedEntry{k, 6}}, lsn(3, 0), kEpoch);
  s.read_back({ManagedEntry{k, 6}}, stale);
  EXPECT_EQ(stale.ids.at(k), 7);
  EXPECT_FALSE(stale.should_advance);

  // Two generated keys: the find after B's increment answers B's id.
  const std::vector<ManagedEntry> g = {ManagedEntry{"u2/a", std::nullopt},
                                       ManagedEntry{"u3/a", std::nullopt}};
  BatchWrite wg = s.create_managed(g, lsn(4, 0), kEpoch);
  EXPECT_EQ(wg.ids.at("u2/a"), 1);
  s.create_managed({ManagedEntry{"u2/a", std::nullopt}}, lsn(5, 0), kEpoch);
  s.read_back(g, wg);
  EXPECT_EQ(wg.ids.at("u2/a"), 2);
  EXPECT_EQ(wg.stored.at("u2/a"), 1);
  EXPECT_EQ(wg.ids.at("u3/a"), 1);
  // One generated key is findOneAndUpdate: atomic, nothing to read back.
  EXPECT_FALSE(s.reads_back({ManagedEntry{"u2/a", std::nullopt}}));
  // A key deleted before the find keeps the write's answer.
  BatchWrite wd = s.create_managed({ManagedEntry{"u4/a", 3}}, lsn(6, 0), kEpoch);
  s.erase("u4/a");
  s.read_back({ManagedEntry{"u4/a", 3}}, wd);
  EXPECT_EQ(wd.ids.at("u4/a"), 3);

  CheckpointStore pg(StorageFlavour::Postgres);
  EXPECT_FALSE(pg.reads_back(a));
  EXPECT_FALSE(pg.reads_back(g));
}

// The same race on postgres: ON CONFLICT, one row; A's 42 is a stale request.
TEST(CheckpointStoreTable, Test7PostgresNeverDuplicates) {
  CheckpointStore s(StorageFlavour::Postgres);
  const std::string k = "user/client";
  const std::set<std::string> matched_nothing;
  EXPECT_EQ(request(s, k, 50, lsn(10, 0), kEpoch).id, 50);
  const BatchWrite a =
      s.create_managed({ManagedEntry{k, 42}}, lsn(20, 0), kEpoch + kSeconds, &matched_nothing);
  EXPECT_EQ(a.ids.at(k), 50);
  EXPECT_TRUE(a.should_advance);
  const CheckpointRecord& rec = only(s, k);
  EXPECT_EQ(rec.id, 50);
  EXPECT_EQ(rec.head, lsn(10, 0));
  EXPECT_EQ(rec.requested_at, kEpoch) << "a stale request does not refresh requested_at";
  EXPECT_EQ(s.duplicates_created(), 0u);
}

}  // namespace
}  // namespace syncsim::model

namespace syncsim::model {
namespace {

// The delete_request fault deletes request-derived records only: a generated (legacy)
// record is permanent in the service (docs/protocol.md §3.2.1), so legacy ids never restart at 1
// because of it (world hunt finding, issue 14); a supplied record goes, pending or not.
TEST(CheckpointStoreTable, EraseRequestedKeepsGeneratedRecords) {
  for (StorageFlavour f : {StorageFlavour::Mongo, StorageFlavour::Postgres}) {
    SCOPED_TRACE(flavour_name(f));
    CheckpointStore s(f);
    Micros now = kEpoch + kSeconds;
    EXPECT_EQ(request(s, "u/generated", std::nullopt, lsn(1, 0), now).id, 1);
    EXPECT_EQ(request(s, "u/generated", std::nullopt, lsn(2, 0), now).id, 2);
    EXPECT_EQ(request(s, "u/supplied", 7, lsn(2, 0), now).id, 7);
    EXPECT_EQ(s.erase_requested("u/generated"), 0);
    EXPECT_EQ(s.deletions("u/generated"), 0u);
    EXPECT_EQ(s.stored_id("u/generated"), 2);
    EXPECT_EQ(request(s, "u/generated", std::nullopt, lsn(3, 0), now).id, 3) << "no restart";
    EXPECT_EQ(s.erase_requested("u/supplied"), 1);
    EXPECT_EQ(s.deletions("u/supplied"), 1u);
    EXPECT_FALSE(s.stored_id("u/supplied").has_value());
    EXPECT_EQ(s.erase_requested("u/absent"), 0);
  }
}

}  // namespace
}  // namespace syncsim::model
