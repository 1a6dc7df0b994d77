#include "scenarios/results/merge_stream.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <queue>
#include <set>

#include "scenarios/results/document_reader.hpp"

namespace syncsim::scenarios {

namespace {

using Key = std::pair<std::string, uint64_t>;

// Thrown inside one merge attempt when an input's runs are not sorted: the merge starts
// again with that input read whole.
struct OutOfOrder {
  std::size_t input;
};

void check_merge_fields(const nlohmann::json& r, const std::string& source) {
  if (!r.is_object() || !r.contains("scenario") || !r["scenario"].is_string() ||
      !r.contains("seed") || !r["seed"].is_number_unsigned() || !r.contains("expectation_met") ||
      !r["expectation_met"].is_boolean()) {
    throw MergeError(fmt::format("{}: a run without scenario, seed or expectation_met: {}", source,
                                 r.dump().substr(0, 200)));
  }
}

Key key_of(const nlohmann::json& r) {
  return {r["scenario"].get<std::string>(), r["seed"].get<uint64_t>()};
}

// One input: streamed by a DocumentReader, or (out of order, or "build" after "runs") read
// whole and sorted.
class Source {
 public:
  Source(std::string path, std::size_t index, bool whole) : path_(std::move(path)), index_(index) {
    if (!whole) {
      reader_ = std::make_unique<DocumentReader>(path_);
      if (!reader_->has_runs() || reader_->members().contains("build")) {
        members_ = reader_->members();
        check_document(reader_->has_runs());
        return;
      }
      reader_.reset();  // "build" comes after "runs": read it whole
    }
    read_whole_ = true;
    std::ifstream in(path_);
    if (!in) throw MergeError(fmt::format("cannot read {}", path_));
    nlohmann::json doc;
    try {
      doc = nlohmann::json::parse(in);
    } catch (const nlohmann::json::parse_error& e) {
      throw MergeError(fmt::format("{}: not JSON: {}", path_, e.what()));
    }
    if (!doc.is_object()) check_document(false);
    const bool has_runs = doc.contains("runs") && doc["runs"].is_array();
    if (has_runs) {
      runs_ = std::move(doc["runs"]);
      doc.erase("runs");
      for (const auto& r : runs_) check_merge_fields(r, path_);
      sort_runs(runs_);
    }
    members_ = std::move(doc);
    check_document(has_runs);
  }

  // Moves to the next run (current() is empty after the last).
  void advance() {
    current_.reset();
    if (reader_) {
      auto r = reader_->next_run();
      if (!r) {
        members_ = reader_->members();
        return;
      }
      check_merge_fields(*r, path_);
      Key k = key_of(*r);
      if (count_ > 0 && k < last_) throw OutOfOrder{index_};
      last_ = std::move(k);
      current_ = std::move(r);
    } else if (next_ < runs_.size()) {
      current_ = std::move(runs_[next_++]);
    }
    if (current_) ++count_;
  }

  std::optional<nlohmann::json>& current() { return current_; }
  [[nodiscard]] const std::string& path() const { return path_; }
  [[nodiscard]] std::string build() const { return members_["build"].get<std::string>(); }
  [[nodiscard]] const nlohmann::json& members() const { return members_; }
  [[nodiscard]] uint64_t count() const { return count_; }
  [[nodiscard]] bool read_whole() const { return read_whole_; }

 private:
  void check_document(bool has_runs) const {
    if (!members_.is_object() || !members_.contains("build") || !members_["build"].is_string() ||
        !has_runs) {
      throw MergeError(
          fmt::format("{}: not a syncsim results document (needs \"build\" and \"runs\")", path_));
    }
  }

  std::string path_;
  std::size_t index_;
  std::unique_ptr<DocumentReader> reader_;
  nlohmann::json members_ = nlohmann::json::object();
  nlohmann::json runs_;  // read whole
  std::size_t next_ = 0;
  bool read_whole_ = false;
  Key last_;
  uint64_t count_ = 0;
  std::optional<nlohmann::json> current_;
};

// The per-scenario rows of summarize() and summarize_sometimes(), built one run at a time
// from those same functions applied to each run alone, so the definitions stay in one place.
class Tally {
 public:
  void add(const nlohmann::json& run) {
    nlohmann::json slim = nlohmann::json::object();
    for (const char* k : {"scenario", "seed", "expectation_met", "repro", "violation", "stop",
                          "sometimes_listed", "sometimes"}) {
      if (run.contains(k)) slim[k] = run[k];
    }
    const auto one = nlohmann::json{{"runs", nlohmann::json::array({slim})}};
    auto row = summarize(one).at(0);
    // Runs come sorted by scenario, then seed: a new scenario starts a row, and the first
    // failing run of a scenario is its smallest failing seed.
    if (rows_.empty() || rows_.back().scenario != row.scenario) {
      rows_.push_back(row);
    } else {
      auto& r = rows_.back();
      r.seeds += row.seeds;
      r.passed += row.passed;
      r.failed += row.failed;
      if (!r.first_failing_seed && row.first_failing_seed) {
        r.first_failing_seed = row.first_failing_seed;
        r.first_failing_repro = row.first_failing_repro;
        r.first_failure = row.first_failure;
      }
    }
    for (auto& s : summarize_sometimes(one["runs"])) {
      auto [it, fresh] = sometimes_.emplace(s.scenario, s);
      if (fresh) continue;
      ++it->second.seeds;
      for (auto& [id, seeds] : it->second.listed) {
        for (const auto& [id1, seeds1] : s.listed) {
          if (id1 == id) seeds += seeds1;
        }
      }
    }
  }

  void finish(StreamMergeSummary& out) {
    for (auto& [name, s] : sometimes_) {
      s.vacuous.clear();
      for (const auto& [id, seeds] : s.listed) {
        if (seeds == 0) s.vacuous.push_back(id);
      }
      out.sometimes.push_back(s);
    }
    for (auto& row : rows_) {
      row.lists_sometimes = false;
      row.vacuous.clear();
      if (auto it = sometimes_.find(row.scenario); it != sometimes_.end()) {
        row.lists_sometimes = true;
        row.vacuous = it->second.vacuous;
      }
    }
    out.scenarios = std::move(rows_);
  }

 private:
  std::vector<ScenarioSummary> rows_;
  std::map<std::string, SometimesSummary> sometimes_;
};

// A run as it appears inside the merged document dumped with indent 2 (two levels deep).
void write_run(std::FILE* f, const nlohmann::json& run) {
  const std::string text = run.dump(2);
  std::string out = "    ";
  out.reserve(text.size() + text.size() / 8);
  for (char c : text) {
    out += c;
    if (c == '\n') out += "    ";  // JSON strings never hold a raw newline
  }
  if (std::fwrite(out.data(), 1, out.size(), f) != out.size()) {
    throw MergeError(
        fmt::format("cannot write the merged runs to a temporary file: {}", std::strerror(errno)));
  }
}

std::pair<uint64_t, uint64_t> shard_order(const nlohmann::json& coverage) {
  unsigned long long i = 0, n = 0;
  std::sscanf(coverage.value("shard", std::string("0/0")).c_str(), "%llu/%llu", &i, &n);
  return {n, i};
}

struct TmpFile {
  std::FILE* f = std::tmpfile();
  ~TmpFile() {
    if (f != nullptr) std::fclose(f);
  }
};

StreamMergeSummary merge_attempt(const std::vector<std::string>& inputs,
                                 const std::set<std::size_t>& whole, const std::string& out_path) {
  StreamMergeSummary summary;
  std::vector<std::unique_ptr<Source>> sources;
  std::string build_source;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    sources.push_back(std::make_unique<Source>(inputs[i], i, whole.contains(i)));
    const auto b = sources.back()->build();
    if (i == 0) {
      summary.build = b;
      build_source = inputs[i];
    } else if (b != summary.build) {
      throw MergeError(fmt::format("builds differ: {} is build {}, {} is build {}", build_source,
                                   summary.build, inputs[i], b));
    }
  }
  using Entry = std::pair<Key, std::size_t>;
  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> heap;
  for (std::size_t i = 0; i < sources.size(); ++i) {
    sources[i]->advance();
    if (auto& c = sources[i]->current()) heap.emplace(key_of(*c), i);
  }
  TmpFile runs_file;
  if (runs_file.f == nullptr) throw MergeError("cannot create a temporary file");
  Tally tally;
  Key last;
  std::size_t last_source = 0;
  while (!heap.empty()) {
    auto [key, i] = heap.top();
    heap.pop();
    nlohmann::json run = std::move(*sources[i]->current());
    if (summary.runs > 0 && key == last) {
      throw MergeError(fmt::format("{} seed {} occurs twice: in {} and in {} (overlapping shards?)",
                                   key.first, key.second, inputs[last_source], inputs[i]));
    }
    if (summary.runs > 0) std::fputs(",\n", runs_file.f);
    write_run(runs_file.f, run);
    ++summary.runs;
    run["expectation_met"].get<bool>() ? ++summary.passed : ++summary.failed;
    tally.add(run);
    if (auto f = finding_of_run(run)) summary.findings.add(*f, inputs[i]);
    last = std::move(key);
    last_source = i;
    sources[i]->advance();
    if (auto& c = sources[i]->current()) heap.emplace(key_of(*c), i);
  }
  tally.finish(summary);

  nlohmann::json coverage = nlohmann::json::array();
  for (const auto& s : sources) {
    MergedInput in{s->path(), s->members().value("shard", std::string()), s->count(),
                   s->members().value("coverage", nlohmann::json()), s->read_whole()};
    if (!in.coverage.is_null()) coverage.push_back(in.coverage);
    summary.inputs.push_back(std::move(in));
  }
  std::stable_sort(coverage.begin(), coverage.end(),
                   [](const auto& a, const auto& b) { return shard_order(a) < shard_order(b); });
  // Scenario headers (what a report names; merge_results' rule): shards of one sweep carry
  // identical ones, and a scenario whose header differs between inputs is refused.
  nlohmann::json headers = nlohmann::json::object();
  std::map<std::string, std::string> header_source;
  for (const auto& s : sources) {
    const auto h = s->members().value("scenarios", nlohmann::json::object());
    if (!h.is_object()) continue;
    for (const auto& [name, header] : h.items()) {
      auto [at, fresh] = header_source.emplace(name, s->path());
      if (fresh) {
        headers[name] = header;
      } else if (headers[name].value("scenario", nlohmann::json()) !=
                 header.value("scenario", nlohmann::json())) {
        throw MergeError(
            fmt::format("scenario {} differs between {} and {}", name, at->second, s->path()));
      }
    }
  }

  // The document around the runs, dumped by nlohmann::json as merge_results' would be; the
  // runs go where the placeholder is.
  const std::string placeholder = "\x01runs\x01";
  nlohmann::json doc = {{"build", summary.build},
                        {"sometimes", sometimes_summary_json(summary.sometimes)},
                        {"runs", placeholder},
                        {"passed", summary.passed},
                        {"failed", summary.failed}};
  if (!coverage.empty()) doc["coverage"] = std::move(coverage);
  if (!headers.empty()) doc["scenarios"] = std::move(headers);
  const std::string frame = doc.dump(2);
  const std::string quoted = nlohmann::json(placeholder).dump();
  const auto at = frame.find(quoted);
  assert(at != std::string::npos);
  const std::string tmp_path = out_path + ".tmp";
  {
    std::ofstream out(tmp_path, std::ios::binary | std::ios::trunc);
    out << frame.substr(0, at) << (summary.runs == 0 ? "[" : "[\n");
    std::rewind(runs_file.f);
    char buf[1 << 16];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, runs_file.f)) > 0) {
      out.write(buf, static_cast<std::streamsize>(n));
    }
    out << (summary.runs == 0 ? "]" : "\n  ]") << frame.substr(at + quoted.size()) << "\n";
    if (!out.flush()) throw MergeError(fmt::format("cannot write {}", tmp_path));
  }
  std::error_code ec;
  std::filesystem::rename(tmp_path, out_path, ec);
  if (ec) throw MergeError(fmt::format("cannot write {}: {}", out_path, ec.message()));
  return summary;
}

}  // namespace

StreamMergeSummary merge_result_files(const std::vector<std::string>& inputs,
                                      const std::string& out_path) {
  if (inputs.empty()) throw MergeError("nothing to merge");
  std::set<std::size_t> whole;
  for (;;) {
    try {
      return merge_attempt(inputs, whole, out_path);
    } catch (const OutOfOrder& o) {
      whole.insert(o.input);  // at most once per input
    }
  }
}

std::string coverage_report(const StreamMergeSummary& summary) {
  std::string out;
  for (const auto& in : summary.inputs) {
    out += fmt::format("  {}: {}{} runs", in.source,
                       in.shard.empty() ? "" : fmt::format("shard {}, ", in.shard), in.runs);
    if (!in.coverage.is_null()) {
      out += fmt::format(
          ", budget {}s, {}", in.coverage.value("budget_s", 0.0),
          in.coverage.value("complete", false) ? "covered its whole range" : "ran out of time");
      const auto scenarios = in.coverage.value("scenarios", nlohmann::json::object());
      for (const auto& [name, s] : scenarios.items()) {
        out += fmt::format("\n    {}: {} of {} seeds", name, s.value("seeds", uint64_t{0}),
                           in.coverage.value("shard_seeds", uint64_t{0}));
        if (s.contains("first")) {
          out += fmt::format(" ({}..{} step {})", s["first"].get<uint64_t>(),
                             s["last"].get<uint64_t>(), s.value("step", uint64_t{1}));
        }
      }
    }
    if (in.read_whole) out += " (runs out of order: read whole)";
    out += "\n";
  }
  return out;
}

}  // namespace syncsim::scenarios
