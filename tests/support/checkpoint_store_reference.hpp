// Test support (tests/support/): the reference of docs/protocol.md §3.A (§3.1.7-3.1.9, §3.2.1)
// that checkpoint_store_stateful_test checks CheckpointStore (model/checkpoint_store.hpp)
// against, with the constants and record dumps checkpoint_store_table_test shares.
//
// LSNs: "X/Y" is written lsn(X, Y) = X * 2^32 + Y, which orders like the zero-padded
// strings the service compares.
#pragma once

#include <rapidcheck.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "model/checkpoint_store.hpp"
#include "model/source_db.hpp"
#include "sim/clock.hpp"

namespace syncsim::test_support {

inline constexpr sim::Micros kMinute = 60 * sim::kSeconds;
inline constexpr sim::Micros kRetention =
    60 * kMinute;  // DEFAULT_CHECKPOINT_REQUEST_RETENTION_MINUTES
inline constexpr int64_t kMaxId = std::numeric_limits<int64_t>::max();  // CHECKPOINT_REQUEST_ID_MAX
inline constexpr model::Lsn lsn(int64_t hi, int64_t lo) { return hi * (int64_t{1} << 32) + lo; }

inline const std::vector<std::string> kKeys{"u1/a", "u1/b", "u2/a"};

inline std::string str(const std::optional<int64_t>& v) {
  return v ? std::to_string(*v) : std::string("null");
}
inline std::string flavour_name(model::StorageFlavour f) { return to_string(f); }

// RC_ASSERT for optional ids (RapidCheck cannot show std::optional); the message is only
// built on failure.
inline void same_id(const std::optional<int64_t>& got, const std::optional<int64_t>& want,
                    const std::string& what, model::Lsn a = -1, model::Lsn b = -1) {
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
  model::Lsn head = 0;
  std::optional<model::Lsn> processed;      // mongo processed_at_lsn; postgres: always null
  std::optional<sim::Micros> requested_at;  // request-derived records only
};

struct Ref {
  model::StorageFlavour flavour = model::StorageFlavour::Mongo;
  std::map<std::string, std::vector<RefDoc>> docs;  // natural (insertion) order per key
  model::Lsn source_head = 0;                       // monotonic
  model::Lsn ckpt = 0;            // the storage checkpoint LSN (replicated position), monotonic
  sim::Micros now = sim::kEpoch;  // wall clock
  uint64_t duplicates = 0;
  // One open sync connection per key (in-memory service state, lost on restart): the
  // write_checkpoint it would emit.
  std::map<std::string, std::optional<int64_t>> conn;
};

inline std::optional<int64_t> ref_stored(const Ref& m, const std::string& k) {
  auto it = m.docs.find(k);
  if (it == m.docs.end()) return std::nullopt;
  std::optional<int64_t> best;
  for (const auto& d : it->second) best = std::max(best.value_or(d.id), d.id);
  return best;
}

// §3.1.9 lastWriteCheckpoint: mongo findOne({user_id, lsns.1 <= lsn}) = the first matching
// document in natural order; postgres: the one row if lsns.1 <= lsn.
inline std::optional<int64_t> ref_lookup(const Ref& m, const std::string& k, model::Lsn l) {
  auto it = m.docs.find(k);
  if (it == m.docs.end()) return std::nullopt;
  for (const auto& d : it->second) {
    if (d.head <= l) return d.id;
  }
  return std::nullopt;
}

// §3.1.9 getManagedWriteCheckpointChanges for one key: max id processed in (after, up_to].
inline std::optional<int64_t> ref_processed_between(const Ref& m, const std::string& k,
                                                    model::Lsn after, model::Lsn up_to) {
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
inline std::map<std::string, std::optional<int64_t>> ref_dedup(
    const std::vector<model::ManagedEntry>& reqs) {
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
inline RefBatch ref_write(Ref& m, const std::map<std::string, std::optional<int64_t>>& entries,
                          model::Lsn h, const std::set<std::string>* matched = nullptr) {
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
        m.flavour == model::StorageFlavour::Mongo && matched ? matched->count(k) == 0 : ds.empty();
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
      if (i + 1 == generated && generated > 1 && m.flavour == model::StorageFlavour::Mongo) {
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
  if (m.flavour == model::StorageFlavour::Postgres && !entries.empty()) out.marker = true;
  if (out.marker) ++m.source_head;  // the marker is a source write after the mapping
  return out;
}

// replicate_to(L): a commit or keepalive at L (§3.1.8), then connections see checkpoint L.
inline void ref_replicate(Ref& m, model::Lsn l) {
  const model::Lsn prev = m.ckpt;
  if (m.flavour == model::StorageFlavour::Mongo) {
    for (auto& [k, ds] : m.docs) {
      for (auto& d : ds) {
        if (!d.processed && d.head <= l) d.processed = l;
      }
    }
  }
  m.ckpt = l;
  for (const auto& k : kKeys) {
    std::optional<int64_t>& wc = m.conn[k];
    if (m.flavour == model::StorageFlavour::Mongo) {
      // Incremental: replaced only by a greater id processed in (prev, L].
      const auto changed = ref_processed_between(m, k, prev, l);
      if (changed && (!wc || *changed > *wc)) wc = changed;
    } else {
      wc = ref_lookup(m, k, l);  // postgres re-runs the lookup on every notification
    }
  }
}

// compact(now): §3.2.1 retention cleanup with cutoff now - 60 min.
inline int ref_compact(Ref& m) {
  const sim::Micros cutoff = m.now - kRetention;
  int deleted = 0;
  for (auto it = m.docs.begin(); it != m.docs.end();) {
    std::vector<RefDoc> keep;
    for (const auto& d : it->second) {
      const bool expired = d.requested_at.has_value() && *d.requested_at < cutoff;
      const bool deletable =
          expired && (m.flavour == model::StorageFlavour::Postgres || d.processed.has_value());
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

using Records = std::map<std::string, std::vector<model::CheckpointRecord>>;

inline std::string show_doc(int64_t id, model::Lsn head, const std::optional<model::Lsn>& processed,
                            const std::optional<sim::Micros>& requested_at) {
  std::ostringstream os;
  os << id << "@" << head << (processed ? " processed@" + std::to_string(*processed) : "")
     << (requested_at
             ? " requested@" + std::to_string((*requested_at - sim::kEpoch) / sim::kSeconds) + "s"
             : "");
  return os.str();
}

inline std::string dump(const Records& recs) {
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

inline std::string dump(const Ref& m) {
  std::ostringstream os;
  for (const auto& [k, ds] : m.docs) {
    os << k << ":[";
    for (const auto& d : ds)
      os << "{" << show_doc(d.id, d.head, d.processed, d.requested_at) << "}";
    os << "] ";
  }
  return os.str();
}

}  // namespace syncsim::test_support
