// Managed write checkpoints / checkpoint requests, per storage flavour (docs/protocol.md
// §3.1.5-3.1.9).
//
// Key = "<user>/<client_id>" (§3.1.1).  One batch of the WriteCheckpointBatcher (§3.1.3) becomes
// one create_managed() call with a single source head; the transitions are those of §3.1.7:
//   generated: id = stored+1 (or 1), head = h, pending, requested_at cleared (permanent);
//   supplied r: r > stored -> id = r, head = h, pending, requested_at = now;
//               r == stored -> requested_at = now only;  r < stored -> no change at all.
// Flavours:
//   mongo    - documents with processed_at_lsn, set by every commit/keepalive with
//              lsn >= head (§3.1.8); no unique index, so two batches racing on an absent key
//              can insert duplicate documents (§3.1.5, §3.6.2.5) which later supplied requests
//              all update (updateMany) and reads take the max of; shouldAdvance iff the
//              max-id document of some key is pending (§3.1.7).
//   postgres - one row per key (PRIMARY KEY, ON CONFLICT), "processed" computed at read
//              time (§3.1.6, §3.1.9); shouldAdvance whenever the batch is non-empty (§3.1.7).
// Retention cleanup (§3.2.1) deletes request-derived records older than the cutoff; mongo
// only processed ones, postgres any; generated records never.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "model/custom_checkpoints.hpp"
#include "model/source_db.hpp"

namespace syncsim::model {

enum class StorageFlavour { Mongo, Postgres };
std::string to_string(StorageFlavour f);

struct CheckpointRecord {
  int64_t id = 0;
  Lsn head = 0;                             // the source head read by the batch (§3.1.8)
  std::optional<Lsn> processed_at_lsn;      // mongo only: first commit with lsn >= head
  std::optional<sim::Micros> requested_at;  // supplied ids only (retention, §3.2.1)
};

// One deduplicated entry of a batch: supplied (the greatest id of the key in the batch)
// or generated (several generated requests of a key share one increment, §3.1.3 / I14).
struct ManagedEntry {
  std::string key;
  std::optional<int64_t> supplied;
};

struct BatchWrite {
  std::map<std::string, int64_t> ids;  // per key: the response (what the read-back returned)
  // Per key: the id this batch's own write produced (generated: its increment; supplied: the
  // key's max after the write).  Differs from `ids` only for a mongo read-back that returns
  // another duplicate (GeneratedReadBack::Service, §3.1.5).
  std::map<std::string, int64_t> stored;
  bool should_advance = false;  // a source marker must follow (§3.1.7)
};

// How mongo answers a batch's generated keys (docs/protocol.md §3.1.5 "Read-back with
// duplicates").  Postgres answers RETURNING of the one row either way.
enum class GeneratedReadBack {
  // MongoWriteCheckpointAPI.createManagedWriteCheckpoints (v1.24.0): ONE generated key is a
  // findOneAndUpdate(returnDocument: 'after'), the document it incremented (the first);
  // TWO OR MORE are a bulkWrite of updateOne (again the first document) and then a find over
  // all documents of those keys folded with Map.set: the LAST document of the key, which with
  // duplicates is not the incremented one.
  Service,
  // The model before issue 17, for comparison: always the incremented document.
  Incremented,
};

// Deliberate store bugs (mutants) a checker must catch.
struct StoreMutants {
  bool lower_id_replaces = false;        // a lower supplied id replaces the stored one
  bool cleanup_deletes_pending = false;  // mongo cleanup also deletes pending records
  bool no_head_filter = false;           // #134: ids visible whatever the head (too early)
  bool equal_retry_keeps_age = false;    // an equal retry does not refresh requested_at
};

class CheckpointStore {
 public:
  explicit CheckpointStore(StorageFlavour flavour = StorageFlavour::Mongo,
                           StoreMutants mutants = {},
                           GeneratedReadBack read_back = GeneratedReadBack::Service)
      : flavour_(flavour), mutants_(mutants), read_back_(read_back) {}

  // uniqueManagedWriteCheckpoints (§3.1.3): one entry per key; the greatest supplied id
  // wins, supplied beats generated.  Input order is irrelevant; output is sorted by key.
  static std::vector<ManagedEntry> dedup(const std::vector<ManagedEntry>& requests);

  // createManagedWriteCheckpoints for one batch at head `head`.  `existed_at_match` is the
  // set of keys that had a record when the batch's upsert matched (the batch read it
  // earlier than it writes); a mongo upsert of a key absent then but present now inserts
  // a duplicate document.  Pass nullptr for an atomic write.
  BatchWrite create_managed(const std::vector<ManagedEntry>& entries, Lsn head, sim::Micros now,
                            const std::set<std::string>* existed_at_match = nullptr);

  // The separate find of a mongo batch's read-back (docs/protocol.md §3.1.5 "Read-back round
  // trip"), run one storage round trip after the write when the read-back is a step of its
  // own: with two or more generated keys the key's last document, for supplied keys the max
  // over its documents (pending preferred on ties), both as the documents are NOW — a
  // concurrent batch's write may have landed in between.  Updates `w.ids` and, from the
  // supplied keys' max documents, `w.should_advance`.  A key whose documents are all gone
  // meanwhile keeps the answer of the write (MongoWriteCheckpointAPI would answer none).
  // Postgres answers RETURNING of its statement: nothing to do.
  void read_back(const std::vector<ManagedEntry>& entries, BatchWrite& w);
  // Whether read_back() has anything to read for this batch (mongo, and supplied keys or two
  // or more generated ones under GeneratedReadBack::Service).
  [[nodiscard]] bool reads_back(const std::vector<ManagedEntry>& entries) const;

  // Mongo commit()/keepalive(): updateMany({processed_at_lsn: null, head <= lsn}) (§3.1.8).
  // Runs even when the storage checkpoint itself is blocked.
  void on_commit(Lsn lsn);
  // lastWriteCheckpoint(key, lsn) of §3.1.9: the id iff its head <= lsn (mongo findOne:
  // the first matching document in natural order).
  [[nodiscard]] std::optional<int64_t> lookup(const std::string& key, Lsn lsn) const;
  // Mongo getManagedWriteCheckpointChanges for one key: the greatest id among documents
  // with processed_at_lsn in (after, up_to] (§3.1.9).
  [[nodiscard]] std::optional<int64_t> processed_between(const std::string& key, Lsn after,
                                                         Lsn up_to) const;
  // What MongoSyncBucketStorage.getManagedWriteCheckpointChanges (v1.24.0) yields for one key:
  // documents of every key with processed_at_lsn in (after, up_to], at most 1000 (more:
  // `invalidate`, and the connection falls back to lookup()); for a key with several such
  // documents the LAST in cursor (natural) order wins (Map.set), not the greatest.
  struct ManagedChanges {
    bool invalidate = false;
    std::optional<int64_t> value;
  };
  static constexpr std::size_t kChangeLimit = 1000;
  [[nodiscard]] ManagedChanges managed_changes(const std::string& key, Lsn after, Lsn up_to) const;
  // The keys of the documents processed in (after, up_to] (one entry per document, so a key
  // may repeat; valid until the next change), unless there are more than kChangeLimit of
  // them: the keys whose managed_changes() or processed_between() over that window can
  // answer a value (issue 20: a storage checkpoint visits only those users' streams).
  struct ProcessedKeys {
    std::size_t documents = 0;
    std::vector<const std::string*> keys;  // empty when documents > kChangeLimit
  };
  [[nodiscard]] ProcessedKeys processed_keys(Lsn after, Lsn up_to) const;
  // Retention cleanup inside a compact job (§3.2.1); returns the number of records deleted.
  int delete_expired(sim::Micros cutoff);
  // Explicit deletion of every record of a key (a fault); returns how many.
  int erase(const std::string& key);
  // Explicit deletion of the request-derived records of a key (the delete_request fault):
  // generated (legacy) records have no requested_at and nothing in the service deletes them
  // (docs/protocol.md §3.2.1), so they stay; returns how many went.
  int erase_requested(const std::string& key);
  // How many times records of `key` were deleted (erase or retention cleanup): a generated
  // (legacy) id restarts at 1 after one, since the counter lives only in the record (I3).
  [[nodiscard]] uint64_t deletions(const std::string& key) const;

  [[nodiscard]] std::optional<int64_t> stored_id(const std::string& key) const;  // max over docs
  [[nodiscard]] const std::vector<CheckpointRecord>* find(const std::string& key) const;
  [[nodiscard]] const std::map<std::string, std::vector<CheckpointRecord>>& records() const {
    return records_;
  }
  [[nodiscard]] StorageFlavour flavour() const { return flavour_; }
  [[nodiscard]] uint64_t duplicates_created() const { return duplicates_created_; }
  // Generated answers that were another duplicate than the one the batch incremented.
  [[nodiscard]] uint64_t foreign_read_backs() const { return foreign_read_backs_; }
  // Custom write checkpoints (custom mode, docs/protocol.md §3.1.10).
  CustomCheckpointStore& custom() { return custom_; }
  [[nodiscard]] const CustomCheckpointStore& custom() const { return custom_; }

 private:
  // Inserts `inserted` when the upsert matched nothing (see the .cpp); true if it did.
  bool insert_if_unmatched(std::vector<CheckpointRecord>& docs, bool existed,
                           CheckpointRecord inserted);
  int64_t write_generated(std::vector<CheckpointRecord>& docs, Lsn head, bool existed);
  void write_supplied(std::vector<CheckpointRecord>& docs, int64_t r, Lsn head, sim::Micros now,
                      bool existed);
  [[nodiscard]] bool max_doc_pending(const std::vector<CheckpointRecord>& docs) const;

  StorageFlavour flavour_;
  StoreMutants mutants_;
  GeneratedReadBack read_back_;
  // Documents per key in insertion (natural) order; postgres keeps at most one.
  std::map<std::string, std::vector<CheckpointRecord>> records_;
  std::map<std::string, uint64_t> deletions_;
  uint64_t duplicates_created_ = 0;
  uint64_t foreign_read_backs_ = 0;
  CustomCheckpointStore custom_;
  // managed_changes() and processed_keys() run at every storage checkpoint (issue 20): the
  // processed documents, sorted by processed_at_lsn, are indexed once per change to records_,
  // so that a window's documents are a binary search (it was a pass over every record per
  // connection).
  uint64_t version_ = 0;  // bumped by every change to records_
  // What the index lacks: the keys whose documents were written or processed since it was
  // brought up to date (their entries are replaced, no re-sort of the rest: O(documents) per
  // change, not O(documents log documents), issue 20 (d)); a deletion rebuilds it whole.
  // Its consumers only count a window's entries or sort the keys they yield, so the order of
  // entries with equal LSNs does not matter (BucketStorage::concerned).
  mutable std::set<const std::string*> index_stale_keys_;
  mutable bool index_rebuild_ = true;
  void index_stale(const std::string& key) { index_stale_keys_.insert(&records_.find(key)->first); }
  // on_commit's last pass: the version it saw and the lowest head it left unprocessed.
  uint64_t scanned_version_ = ~uint64_t{0};
  std::optional<Lsn> lowest_pending_head_;
  mutable std::vector<std::pair<Lsn, const std::string*>> processed_index_;
  void index_processed() const;
  [[nodiscard]] std::pair<std::vector<std::pair<Lsn, const std::string*>>::const_iterator,
                          std::vector<std::pair<Lsn, const std::string*>>::const_iterator>
  processed_range(Lsn after, Lsn up_to) const;
  [[nodiscard]] std::size_t processed_in_window(Lsn after, Lsn up_to) const;
};

}  // namespace syncsim::model
