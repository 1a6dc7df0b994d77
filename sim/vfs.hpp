// In-memory SQLite VFS for simulated clients (docs/architecture.md §2).
//
// Registered as the process's default VFS so that SQLite and the PowerSync core
// extension loaded into it see time and randomness only from the simulation:
//   - files live in a FileStore owned by the simulation, so a database and its
//     rollback journal survive a connection close and can be reopened (restarts);
//   - xCurrentTime/xCurrentTimeInt64 read the VirtualClock;
//   - xRandomness draws from the simulation's Prng;
//   - xSleep returns at once;
//   - xDl*/xGetLastError forward to the real "unix" VFS (extension loading).
//
// The sqlite3_vfs is process-global, so it is bound to one simulation at a time
// through a VfsBinding.  Any use while unbound is a bug: opening a file fails with
// SQLITE_CANTOPEN, and time/randomness calls abort().
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "sim/clock.hpp"
#include "sim/cost_region.hpp"
#include "sim/prng.hpp"

namespace syncsim::sim {

// One in-memory file.  Shared (shared_ptr) between the store and open handles, so a
// file deleted while still open stays readable through that handle, as on unix.
struct MemFile {
  std::vector<uint8_t> data;
  // Contents as of the last xSync; maintained only if the store tracks durability.
  std::vector<uint8_t> durable;
  uint64_t sync_count = 0;
};

// The files of one simulation, by name (main databases and "<name>-journal").
class FileStore {
 public:
  // With track_durability, xSync snapshots a file's contents so that
  // lose_unsynced_writes() can model a power loss.
  explicit FileStore(bool track_durability = false) : track_durability_(track_durability) {}
  FileStore(const FileStore&) = delete;
  FileStore& operator=(const FileStore&) = delete;

  [[nodiscard]] bool exists(const std::string& name) const;
  [[nodiscard]] std::size_t size(const std::string& name) const;     // 0 if absent
  [[nodiscard]] uint64_t sync_count(const std::string& name) const;  // 0 if absent
  [[nodiscard]] std::vector<std::string> names() const;              // sorted
  [[nodiscard]] bool track_durability() const { return track_durability_; }

  // Power loss: every file reverts to its contents at its last xSync (empty if never
  // synced).  Requires track_durability.  Deletions and creations are treated as
  // durable immediately.  Connections must be closed first.
  void lose_unsynced_writes();
  // The same for the files whose names start with `prefix` (one client's database and
  // journal); other files may be open.
  void lose_unsynced_writes(const std::string& prefix);

  // A copy of the files whose names start with `prefix`, and putting exactly that set back
  // (files with the prefix created since are removed).  An app kill: what the process wrote
  // stays in the files as it was, whatever closing the connection does afterwards.
  using Snapshot = std::map<std::string, MemFile>;
  [[nodiscard]] Snapshot snapshot(const std::string& prefix) const;
  void restore(const std::string& prefix, const Snapshot& snapshot);

  // A disk that lies about fsync (a deliberately injected storage bug, the "fsync-lies"
  // mutant): only a file's first xSync is made durable, so a power loss reverts it to
  // that early state and loses committed transactions.  Requires track_durability.
  void set_fsync_lies(bool lies) { fsync_lies_ = lies; }
  [[nodiscard]] bool fsync_lies() const { return fsync_lies_; }

  // The profiling tag the VFS and the clients' databases set (bench/cost_bench); null: none.
  void set_cost_meter(CostMeter* meter) { cost_meter_ = meter; }
  [[nodiscard]] CostMeter* cost_meter() const { return cost_meter_; }

  // VFS plumbing.  Names are looked up as string_views: SQLite asks by `const char*` (an
  // xAccess before every read transaction), so no std::string is built per call.
  [[nodiscard]] std::shared_ptr<MemFile> find(std::string_view name) const;
  // The file without a share of its ownership (valid until the file is removed); null: absent.
  [[nodiscard]] const MemFile* peek(std::string_view name) const;
  std::shared_ptr<MemFile> create(std::string_view name);  // existing file if present
  bool remove(std::string_view name);                      // false if absent
  // A new file `name` holding `bytes`, durable as if synced once; false if it exists already.
  bool install(const std::string& name, const std::vector<uint8_t>& bytes);

 private:
  bool track_durability_;
  bool fsync_lies_ = false;
  CostMeter* cost_meter_ = nullptr;
  // By name, hashed: SQLite asks for a file before every read transaction (xAccess), and a
  // tree of a fleet's 2,000 names walked ~11 nodes of other clients' memory per lookup (issue
  // 20 (d), docs/performance-scale.md "(scale23, issue 20 (d))").  No result depends on the
  // order: names() sorts, the other passes treat each file alone.
  struct NameHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view name) const noexcept {
      return std::hash<std::string_view>{}(name);
    }
  };
  std::unordered_map<std::string, std::shared_ptr<MemFile>, NameHash, std::equal_to<>> files_;
  // Buffers of removed files, reused (last removed, first reused) by the next file created,
  // whatever its name: a rollback journal is deleted at every commit and re-created by the
  // next transaction, of this client or another.  A few shared buffers instead of one per
  // client: less memory per client, and the next journal writes into memory still in the
  // cache (docs/performance-scale.md "(mem18, issue 20 (d))").
  static constexpr std::size_t kMaxSpareBuffers = 4;
  std::vector<std::vector<uint8_t>> spare_buffers_;
};

// Registers the sim VFS ("syncsim") as SQLite's default VFS.  Idempotent.
void register_sim_vfs_as_default();

// Runs `build` with a scratch FileStore bound in place of the current simulation's (its clock
// at the epoch, a fixed PRNG; SQLite's PRNG saved and restored around it) and returns the bytes
// of the scratch file `name` afterwards.  For a database made once per process and copied into
// every simulation that needs one (issue 20): the result does not depend on the seed nor on
// which seeds the process ran before, and the bound simulation's streams are left untouched.
std::vector<uint8_t> build_in_scratch_store(const std::string& name,
                                            const std::function<void()>& build);
// The FileStore bound now (nullptr outside a simulation).
FileStore* bound_file_store();

// Binds the sim VFS to one simulation for its lifetime.  Nested bindings abort.
// Also registers the VFS as default (idempotent), and resets SQLite's global PRNG so it
// reseeds from `prng` on next use: a seed run inside a sweep matches a run alone.
// The reseed draws 6 values from `prng`, so pass a stream dedicated to SQLite
// (e.g. prng.split("sqlite")).
class VfsBinding {
 public:
  VfsBinding(const VirtualClock& clock, Prng& prng, FileStore& files);
  ~VfsBinding();
  VfsBinding(const VfsBinding&) = delete;
  VfsBinding& operator=(const VfsBinding&) = delete;
};

}  // namespace syncsim::sim
