#include "sim/vfs.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <cassert>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

#include "sim/cost_region.hpp"

// The bundled amalgamation, not the system's older SQLite (xCurrentTimeInt64 etc.).
static_assert(SQLITE_VERSION_NUMBER >= 3044000, "build against the bundled SQLite");

namespace syncsim::sim {

// ---- FileStore ----------------------------------------------------------------

bool FileStore::exists(const std::string& name) const { return files_.contains(name); }

std::size_t FileStore::size(const std::string& name) const {
  auto f = find(name);
  return f ? f->data.size() : 0;
}

uint64_t FileStore::sync_count(const std::string& name) const {
  auto f = find(name);
  return f ? f->sync_count : 0;
}

std::vector<std::string> FileStore::names() const {
  std::vector<std::string> out;
  out.reserve(files_.size());
  for (const auto& [name, file] : files_) out.push_back(name);
  std::sort(out.begin(), out.end());
  return out;
}

void FileStore::lose_unsynced_writes() {
  if (!track_durability_) {
    std::fprintf(stderr, "FileStore::lose_unsynced_writes needs track_durability\n");
    std::abort();
  }
  for (auto& [name, file] : files_) file->data = file->durable;
}

void FileStore::lose_unsynced_writes(const std::string& prefix) {
  if (!track_durability_) {
    std::fprintf(stderr, "FileStore::lose_unsynced_writes needs track_durability\n");
    std::abort();
  }
  for (auto& [name, file] : files_) {
    if (name.starts_with(prefix)) file->data = file->durable;
  }
}

FileStore::Snapshot FileStore::snapshot(const std::string& prefix) const {
  Snapshot out;
  for (const auto& [name, file] : files_) {
    if (name.starts_with(prefix)) out.emplace(name, *file);
  }
  return out;
}

void FileStore::restore(const std::string& prefix, const Snapshot& snapshot) {
  std::erase_if(files_, [&](const auto& entry) { return entry.first.starts_with(prefix); });
  for (const auto& [name, file] : snapshot) {
    assert(name.starts_with(prefix));
    files_[name] = std::make_shared<MemFile>(file);
  }
}

std::shared_ptr<MemFile> FileStore::find(std::string_view name) const {
  auto it = files_.find(name);
  return it == files_.end() ? nullptr : it->second;
}

const MemFile* FileStore::peek(std::string_view name) const {
  auto it = files_.find(name);
  return it == files_.end() ? nullptr : it->second.get();
}

std::shared_ptr<MemFile> FileStore::create(std::string_view name) {
  auto it = files_.find(name);
  if (it == files_.end()) it = files_.emplace(std::string(name), nullptr).first;
  auto& slot = it->second;
  if (!slot) {
    slot = std::make_shared<MemFile>();
    if (!spare_buffers_.empty()) {
      slot->data = std::move(spare_buffers_.back());  // empty, with a removed file's capacity
      spare_buffers_.pop_back();
    }
  }
  return slot;
}

bool FileStore::remove(std::string_view name) {
  auto it = files_.find(name);
  if (it == files_.end()) return false;
  // Keep the buffer only if no open handle still reads the deleted file.
  if (it->second.use_count() == 1 && spare_buffers_.size() < kMaxSpareBuffers) {
    std::vector<uint8_t> buffer = std::move(it->second->data);
    buffer.clear();
    spare_buffers_.push_back(std::move(buffer));
  }
  files_.erase(it);
  return true;
}

bool FileStore::install(const std::string& name, const std::vector<uint8_t>& bytes) {
  if (files_.contains(name)) return false;
  // Not create(): a spare buffer is kept for the journals, the copy allocates its own.
  auto file = std::make_shared<MemFile>();
  files_.emplace(name, file);
  file->data = bytes;
  file->sync_count = 1;
  if (track_durability_) file->durable = bytes;
  return true;
}

// ---- The VFS ------------------------------------------------------------------

namespace {

// The one tolerated global: SQLite's VFS is process-global and its callbacks get no
// per-simulation context, so the binding of the current simulation must live here.
struct Context {
  const VirtualClock* clock = nullptr;
  Prng* prng = nullptr;
  FileStore* files = nullptr;
};
Context g_ctx;

// The bound simulation's cost meter (null outside one, or when nobody measures).
CostMeter* bound_meter() { return g_ctx.files != nullptr ? g_ctx.files->cost_meter() : nullptr; }

[[noreturn]] void die_unbound(const char* what) {
  std::fprintf(stderr, "sim VFS used outside a simulation (%s)\n", what);
  std::abort();
}

sqlite3_vfs* real_vfs() {
  static sqlite3_vfs* const unix_vfs = sqlite3_vfs_find("unix");
  if (unix_vfs == nullptr) {
    std::fprintf(stderr, "sim VFS: real \"unix\" VFS not found\n");
    std::abort();
  }
  return unix_vfs;
}

// SQLite allocates szOsFile bytes and we placement-new into them; xClose destroys.
struct SimFile {
  sqlite3_file base;  // must be first: SQLite sees a sqlite3_file*
  std::shared_ptr<MemFile> file;
  std::string name;  // set only for a file deleted on close (to remove it then)
  FileStore* store = nullptr;
  bool delete_on_close = false;
  bool track_durability = false;
  int lock = SQLITE_LOCK_NONE;
};

SimFile* as_sim(sqlite3_file* f) { return reinterpret_cast<SimFile*>(f); }

int file_close(sqlite3_file* f) {
  const VfsCostScope cost(bound_meter());
  SimFile* sf = as_sim(f);
  // The store may already be gone if the simulation ended first; only touch it if
  // it is still the bound one.
  if (sf->delete_on_close && !sf->name.empty() && sf->store == g_ctx.files && g_ctx.files) {
    g_ctx.files->remove(sf->name);
  }
  sf->~SimFile();
  return SQLITE_OK;
}

int file_read(sqlite3_file* f, void* buf, int amount, sqlite3_int64 offset) {
  const VfsCostScope cost(bound_meter());
  const auto& data = as_sim(f)->file->data;
  auto* out = static_cast<uint8_t*>(buf);
  const auto off = static_cast<std::size_t>(offset);
  const auto want = static_cast<std::size_t>(amount);
  const std::size_t have = off >= data.size() ? 0 : std::min(want, data.size() - off);
  if (have > 0) std::memcpy(out, data.data() + off, have);
  if (have < want) {
    std::memset(out + have, 0, want - have);  // SQLite requires zero-fill on short read
    return SQLITE_IOERR_SHORT_READ;
  }
  return SQLITE_OK;
}

int file_write(sqlite3_file* f, const void* buf, int amount, sqlite3_int64 offset) {
  const VfsCostScope cost(bound_meter());
  auto& data = as_sim(f)->file->data;
  const auto off = static_cast<std::size_t>(offset);
  const auto n = static_cast<std::size_t>(amount);
  const auto* in = static_cast<const uint8_t*>(buf);
  // Only a hole before `off` is zero-filled; the written bytes are appended, not zeroed first.
  if (data.size() < off) data.resize(off);
  const std::size_t overlap = std::min(n, data.size() - off);
  // An empty file's data() may be null: memcpy of 0 bytes from/to null is still UB (UBSan).
  if (overlap > 0) std::memcpy(data.data() + off, in, overlap);
  data.insert(data.end(), in + overlap, in + n);
  return SQLITE_OK;
}

int file_truncate(sqlite3_file* f, sqlite3_int64 size) {
  const VfsCostScope cost(bound_meter());
  auto& data = as_sim(f)->file->data;
  if (static_cast<std::size_t>(size) < data.size()) data.resize(static_cast<std::size_t>(size));
  return SQLITE_OK;
}

int file_sync(sqlite3_file* f, int /*flags*/) {
  const VfsCostScope cost(bound_meter());
  SimFile* sf = as_sim(f);
  ++sf->file->sync_count;
  const bool lies = sf->store != nullptr && sf->store == g_ctx.files && sf->store->fsync_lies() &&
                    sf->file->sync_count > 1;
  if (sf->track_durability && !lies) sf->file->durable = sf->file->data;
  return SQLITE_OK;
}

int file_size(sqlite3_file* f, sqlite3_int64* out) {
  *out = static_cast<sqlite3_int64>(as_sim(f)->file->data.size());
  return SQLITE_OK;
}

// One connection per file in a simulation, so locks only record the level.
int file_lock(sqlite3_file* f, int level) {
  SimFile* sf = as_sim(f);
  sf->lock = std::max(sf->lock, level);
  return SQLITE_OK;
}

int file_unlock(sqlite3_file* f, int level) {
  SimFile* sf = as_sim(f);
  sf->lock = std::min(sf->lock, level);
  return SQLITE_OK;
}

int file_check_reserved_lock(sqlite3_file* f, int* out) {
  *out = as_sim(f)->lock >= SQLITE_LOCK_RESERVED ? 1 : 0;
  return SQLITE_OK;
}

int file_control(sqlite3_file* /*f*/, int /*op*/, void* /*arg*/) { return SQLITE_NOTFOUND; }

int file_sector_size(sqlite3_file* /*f*/) { return 4096; }

// No optimistic guarantees (atomic writes, safe append...): SQLite stays conservative,
// which keeps its journaling correct once power loss is simulated.
int file_device_characteristics(sqlite3_file* /*f*/) { return 0; }

// Version 1: no shared memory, so WAL works only with locking_mode=EXCLUSIVE.
const sqlite3_io_methods kIoMethods = {
    1,
    file_close,
    file_read,
    file_write,
    file_truncate,
    file_sync,
    file_size,
    file_lock,
    file_unlock,
    file_check_reserved_lock,
    file_control,
    file_sector_size,
    file_device_characteristics,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
};

int vfs_open(sqlite3_vfs* /*vfs*/, sqlite3_filename name, sqlite3_file* f, int flags,
             int* out_flags) {
  const VfsCostScope cost(bound_meter());
  f->pMethods = nullptr;  // on failure SQLite must not call xClose
  FileStore* store = g_ctx.files;
  if (store == nullptr) return SQLITE_CANTOPEN;

  std::shared_ptr<MemFile> file;
  const bool delete_on_close = (flags & SQLITE_OPEN_DELETEONCLOSE) != 0;
  if (name == nullptr) {
    file = std::make_shared<MemFile>();  // anonymous temp file, never in the store
  } else {
    file = store->find(name);
    if (file && (flags & SQLITE_OPEN_EXCLUSIVE)) return SQLITE_CANTOPEN;
    if (!file) {
      if (!(flags & SQLITE_OPEN_CREATE)) return SQLITE_CANTOPEN;
      file = store->create(name);
    }
  }

  auto* sf = new (f) SimFile{};
  sf->file = std::move(file);
  // The name is only needed to delete the file on close.
  if (delete_on_close && name != nullptr) sf->name = name;
  sf->store = store;
  sf->delete_on_close = delete_on_close;
  sf->track_durability = store->track_durability();
  sf->base.pMethods = &kIoMethods;
  if (out_flags != nullptr) *out_flags = flags;
  return SQLITE_OK;
}

int vfs_delete(sqlite3_vfs* /*vfs*/, const char* name, int /*sync_dir*/) {
  const VfsCostScope cost(bound_meter());
  if (g_ctx.files == nullptr) return SQLITE_IOERR_DELETE;
  return g_ctx.files->remove(name) ? SQLITE_OK : SQLITE_IOERR_DELETE_NOENT;
}

int vfs_access(sqlite3_vfs* /*vfs*/, const char* name, int flags, int* out) {
  const VfsCostScope cost(bound_meter());
  *out = 0;
  if (g_ctx.files == nullptr) return SQLITE_OK;
  // Asked before every read transaction (is there a hot journal?): no copy of the name, no
  // share of the file's ownership.
  const MemFile* file = g_ctx.files->peek(name);
  // Like the unix VFS: an empty file does not "exist" (an empty journal is not hot).
  if (flags == SQLITE_ACCESS_EXISTS) {
    *out = file && !file->data.empty() ? 1 : 0;
  } else {
    *out = file ? 1 : 0;
  }
  return SQLITE_OK;
}

int vfs_full_pathname(sqlite3_vfs* /*vfs*/, const char* name, int n_out, char* out) {
  const std::size_t len = std::strlen(name);
  if (len + 1 > static_cast<std::size_t>(n_out)) return SQLITE_CANTOPEN;
  std::memcpy(out, name, len + 1);
  return SQLITE_OK;
}

void* vfs_dl_open(sqlite3_vfs* /*vfs*/, const char* path) {
  return real_vfs()->xDlOpen(real_vfs(), path);
}

void vfs_dl_error(sqlite3_vfs* /*vfs*/, int n, char* msg) {
  real_vfs()->xDlError(real_vfs(), n, msg);
}

void (*vfs_dl_sym(sqlite3_vfs* /*vfs*/, void* handle, const char* symbol))(void) {
  return real_vfs()->xDlSym(real_vfs(), handle, symbol);
}

void vfs_dl_close(sqlite3_vfs* /*vfs*/, void* handle) { real_vfs()->xDlClose(real_vfs(), handle); }

int vfs_randomness(sqlite3_vfs* /*vfs*/, int n, char* out) {
  if (g_ctx.prng == nullptr) die_unbound("xRandomness");
  for (int i = 0; i < n; i += 8) {
    uint64_t word = g_ctx.prng->next();
    for (int b = 0; b < 8 && i + b < n; ++b) {  // little-endian, independent of host
      out[i + b] = static_cast<char>(word & 0xff);
      word >>= 8;
    }
  }
  return n;
}

int vfs_sleep(sqlite3_vfs* /*vfs*/, int micros) { return micros; }

// Julian-day milliseconds of the Unix epoch (2440587.5 days).
constexpr sqlite3_int64 kUnixEpochJulianMs = 210866760000000LL;

int vfs_current_time_int64(sqlite3_vfs* /*vfs*/, sqlite3_int64* out) {
  if (g_ctx.clock == nullptr) die_unbound("xCurrentTimeInt64");
  *out = g_ctx.clock->now() / kMillis + kUnixEpochJulianMs;
  return SQLITE_OK;
}

int vfs_current_time(sqlite3_vfs* vfs, double* out) {
  sqlite3_int64 ms = 0;
  vfs_current_time_int64(vfs, &ms);
  *out = static_cast<double>(ms) / 86400000.0;
  return SQLITE_OK;
}

int vfs_get_last_error(sqlite3_vfs* /*vfs*/, int n, char* out) {
  return real_vfs()->xGetLastError(real_vfs(), n, out);
}

sqlite3_vfs g_vfs = {
    2,                // iVersion: has xCurrentTimeInt64
    sizeof(SimFile),  // szOsFile
    512,              // mxPathname
    nullptr,          // pNext
    "syncsim",        // zName
    nullptr,          // pAppData (context is g_ctx)
    vfs_open,
    vfs_delete,
    vfs_access,
    vfs_full_pathname,
    vfs_dl_open,
    vfs_dl_error,
    vfs_dl_sym,
    vfs_dl_close,
    vfs_randomness,
    vfs_sleep,
    vfs_current_time,
    vfs_get_last_error,
    vfs_current_time_int64,
    nullptr,  // xSetSystemCall (v3)
    nullptr,  // xGetSystemCall
    nullptr,  // xNextSystemCall
};

}  // namespace

void register_sim_vfs_as_default() {
  static const bool registered = [] {
    real_vfs();  // fail early if the forwarding target is missing
    if (sqlite3_vfs_register(&g_vfs, 1) != SQLITE_OK) {
      std::fprintf(stderr, "sim VFS: sqlite3_vfs_register failed\n");
      std::abort();
    }
    return true;
  }();
  (void)registered;
}

FileStore* bound_file_store() { return g_ctx.files; }

std::vector<uint8_t> build_in_scratch_store(const std::string& name,
                                            const std::function<void()>& build) {
  register_sim_vfs_as_default();
  const VirtualClock clock;
  Prng prng(0x5eed'0f'5c7a7c4ULL);
  FileStore files;
  const Context outer = g_ctx;
  sqlite3_test_control(SQLITE_TESTCTRL_PRNG_SAVE);
  g_ctx = Context{&clock, &prng, &files};
  sqlite3_randomness(0, nullptr);  // reseeds from the scratch PRNG
  struct Restore {
    Context outer;
    ~Restore() {
      g_ctx = outer;
      sqlite3_test_control(SQLITE_TESTCTRL_PRNG_RESTORE);
    }
  } restore{outer};
  build();
  auto file = files.find(name);
  if (!file) {
    std::fprintf(stderr, "sim VFS: the scratch build made no file %s\n", name.c_str());
    std::abort();
  }
  return file->data;
}

VfsBinding::VfsBinding(const VirtualClock& clock, Prng& prng, FileStore& files) {
  if (g_ctx.files != nullptr) {
    std::fprintf(stderr, "sim VFS: nested VfsBinding (one simulation at a time)\n");
    std::abort();
  }
  register_sim_vfs_as_default();
  g_ctx = Context{&clock, &prng, &files};
  // After binding: SQLite's PRNG reseeds from our xRandomness on its next use.
  sqlite3_randomness(0, nullptr);
}

VfsBinding::~VfsBinding() {
  g_ctx = Context{};
  // Leave no state seeded by this simulation behind; the next use outside a binding
  // then aborts instead of silently continuing this run's stream.
  sqlite3_randomness(0, nullptr);
}

}  // namespace syncsim::sim
