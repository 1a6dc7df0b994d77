#include "model/line_fault.hpp"

#include <algorithm>
#include <stdexcept>
#include <utility>

namespace syncsim::model {

namespace {
using json = nlohmann::json;

// The body of a checkpoint / checkpoint_diff line, nullptr for other lines.
json* checkpoint_body(json& line) {
  if (!line.is_object()) return nullptr;
  if (auto it = line.find("checkpoint"); it != line.end()) return &*it;
  if (auto it = line.find("checkpoint_diff"); it != line.end()) return &*it;
  return nullptr;
}

std::optional<int64_t> write_checkpoint_of(const json& body) {
  auto it = body.find("write_checkpoint");
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) return std::stoll(it->get<std::string>());
  return it->get<int64_t>();
}

bool is_data(const json& line) { return line.is_object() && line.contains("data"); }
bool is_complete(const json& line) {
  return line.is_object() && line.contains("checkpoint_complete");
}
}  // namespace

const std::vector<LineFaultRule>& line_fault_rules() {
  // The converges, requests-complete and no-lost-writes invariants stay on for every kind:
  // they are the pass criterion after heal.  A stray, doubled or late data line also breaks
  // stream-progress by construction: the core counts every op it receives into
  // count_since_last (docs/protocol.md §1.2.5), so downloaded exceeds the checkpoint's total
  // (world hunt seed 37: 2/1 after data_after_complete).
  static const std::vector<LineFaultRule> rules = {
      {"data_after_complete",
       {"checksums-agree", "barrier-holds", "monotonic-reads", "read-your-writes",
        "stream-progress"},
       "the core keeps the stray op in its oplog until a later checkpoint covers it (or a "
       "checksum failure makes it re-sync), and the client converges after heal"},
      {"duplicate_line",
       {"checksums-agree", "monotonic-reads", "read-your-writes", "stream-progress"},
       "a duplicated op is idempotent (same op_id) or the doubled checksum fails the "
       "checkpoint and the core re-syncs; the client converges after heal"},
      {"out_of_order",
       {"checksums-agree", "barrier-holds", "monotonic-reads", "read-your-writes",
        "stream-progress"},
       "a late data line lands after its checkpoint_complete: the checkpoint fails its "
       "checksum or the op waits for the next one; the client converges after heal"},
      {"corrupt_checksum",
       {"checksums-agree", "monotonic-reads"},
       "the core notices (\"Checksums didn't match\"), clears the bucket and re-downloads; "
       "the client converges after heal"},
      {"lower_write_checkpoint",
       {"gate-never-recloses", "applied-id-monotonic", "wait-for-sync-keeps-promise",
        "service-ack-after-replication", "no-wedge"},
       "last_seen may drop below the target (the gate re-closes by the service's fault), a "
       "later checkpoint with a higher id reopens it; the connection itself never resends "
       "the id it believes it sent, so the heal ends that key's streams and the reconnect's "
       "first checkpoint carries the real id; requests complete and the client converges "
       "after heal"},
  };
  return rules;
}

const LineFaultRule* find_line_fault(const std::string& kind) {
  for (const auto& r : line_fault_rules()) {
    if (r.kind == kind) return &r;
  }
  return nullptr;
}

std::vector<std::string> line_fault_kinds() {
  std::vector<std::string> out;
  for (const auto& r : line_fault_rules()) out.push_back(r.kind);
  return out;
}

void LineFaultInjector::arm(const std::string& kind, const std::string& key) {
  if (!find_line_fault(kind)) throw std::invalid_argument("unknown line fault kind " + kind);
  armed_.push_back({kind, key, std::nullopt});
}

std::set<std::string> LineFaultInjector::disarm() {
  armed_.clear();
  return std::exchange(lowered_, {});
}

bool LineFaultInjector::intercepts(const std::string& key, const json& line) const {
  if (line.is_object() && (line.contains("checkpoint") || line.contains("checkpoint_diff"))) {
    return true;
  }
  return armed_for(key);
}

bool LineFaultInjector::armed_for(const std::string& key) const {
  return std::any_of(armed_.begin(), armed_.end(), [&](const Armed& a) { return a.key == key; });
}

void LineFaultInjector::sent_unchanged(const std::string& key,
                                       std::optional<int64_t> write_checkpoint) {
  if (!write_checkpoint) return;
  auto& h = highest_write_checkpoint_[key];
  h = std::max(h, *write_checkpoint);
}

std::vector<json> LineFaultInjector::rewrite(const std::string& key, const json& line) {
  std::vector<json> out = {line};
  for (auto it = armed_.begin(); it != armed_.end();) {
    if (it->key != key) {
      ++it;
      continue;
    }
    bool fired = false;
    const std::string& k = it->kind;
    json& current = out.back();
    if (k == "duplicate_line" && is_data(current)) {
      out.push_back(current);
      fired = true;
    } else if (k == "data_after_complete") {
      if (!it->held && is_data(current)) {
        it->held = current;
      } else if (it->held && is_complete(current)) {
        out.push_back(*it->held);
        fired = true;
      }
    } else if (k == "out_of_order") {
      if (it->held) {
        out.push_back(*it->held);  // the held data line goes after this one
        fired = true;
      } else if (is_data(current)) {
        it->held = current;
        out.pop_back();  // held back
      }
    } else if (k == "corrupt_checksum") {
      json* body = checkpoint_body(current);
      // A full checkpoint lists `buckets`, a diff `updated_buckets`.
      const char* list = body && body->contains("buckets") ? "buckets" : "updated_buckets";
      if (body && body->contains(list) && !(*body)[list].empty()) {
        auto& b = (*body)[list][0];
        b["checksum"] = static_cast<int32_t>(static_cast<uint32_t>(b.value("checksum", 0)) + 1u);
        fired = true;
      }
    } else if (k == "lower_write_checkpoint") {
      json* body = checkpoint_body(current);
      auto h = highest_write_checkpoint_.find(key);
      if (body && h != highest_write_checkpoint_.end() && h->second > 1) {
        (*body)["write_checkpoint"] = std::to_string(h->second - 1);
        lowered_.insert(key);
        fired = true;
      }
    }
    if (fired) {
      ++fired_;
      it = armed_.erase(it);
      if (out.empty()) break;
    } else {
      ++it;
    }
    if (out.empty()) break;
  }
  // Track the highest write_checkpoint actually sent on the key (after any rewrite).
  for (auto& l : out) {
    if (json* body = checkpoint_body(l)) {
      if (auto wc = write_checkpoint_of(*body)) {
        auto& h = highest_write_checkpoint_[key];
        h = std::max(h, *wc);
      }
    }
  }
  return out;
}

}  // namespace syncsim::model
