// Sync-stream status size on a real core (issue 7): runs bench/stream_status_probe over a
// grid of shapes and writes JSON (stdout or --json FILE) and a Markdown table
// (--markdown FILE).  Usage:
//   stream_status_bench [--core 0.5.3] [--quick] [--json FILE] [--markdown FILE]
// --quick runs the small shapes only (≤ 100 buckets).  Byte counts and update counts are
// deterministic; CPU seconds are this machine's and appear in the JSON only.
#include <fmt/format.h>

#include <cstdio>
#include <exception>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench/stream_status_probe.hpp"
#include "engine/core_registry.hpp"

using syncsim::bench::ProbeResult;
using syncsim::bench::ProbeShape;
using syncsim::bench::StatusStats;

namespace {

std::vector<ProbeShape> grid(bool quick) {
  std::vector<ProbeShape> out;
  for (int streams : {1, 10, 100}) {
    for (int subs : {1, 10}) {
      for (int buckets : {1, 10, 100}) {
        ProbeShape s{streams, subs, buckets};
        if (quick && s.total_buckets() > 100) continue;
        out.push_back(s);
      }
    }
  }
  // The review's worry (seed 003): one default stream with 10k buckets.
  if (!quick) out.push_back(ProbeShape{1, 1, 10000, 1, true});
  // Mixed priorities: the checkpoint applies in four steps.
  out.push_back(ProbeShape{10, 10, 10, 4});
  if (!quick) out.push_back(ProbeShape{100, 10, 100, 4});
  return out;
}

nlohmann::json stats_json(const StatusStats& s) {
  return {{"control_calls", s.control_calls},    {"status_updates", s.updates},
          {"status_bytes_total", s.total_bytes}, {"status_bytes_min", s.min_bytes},
          {"status_bytes_max", s.max_bytes},     {"result_bytes", s.result_bytes},
          {"cpu_seconds", s.cpu_seconds}};
}

nlohmann::json result_json(const ProbeResult& r) {
  return {{"core", r.core},
          {"streams", r.shape.streams},
          {"subscriptions_per_stream", r.shape.subs_per_stream},
          {"buckets_per_stream", r.shape.buckets_per_stream},
          {"total_buckets", r.shape.total_buckets()},
          {"priorities", r.shape.priorities},
          {"default_streams", r.shape.default_streams},
          {"request_subscriptions", r.request_subscriptions},
          {"checkpoint_line_bytes", r.checkpoint_line_bytes},
          {"status_stream_entries", r.status_stream_entries},
          {"status_progress_total", r.status_progress_total},
          {"initial_checkpoint", stats_json(r.initial)},
          {"one_bucket_diff", stats_json(r.diff)}};
}

std::string human(int64_t bytes) {
  if (bytes >= 1000 * 1000 * 1000)
    return fmt::format("{:.1f} GB", static_cast<double>(bytes) / 1e9);
  if (bytes >= 10 * 1000 * 1000) return fmt::format("{:.0f} MB", static_cast<double>(bytes) / 1e6);
  if (bytes >= 1000 * 1000) return fmt::format("{:.1f} MB", static_cast<double>(bytes) / 1e6);
  if (bytes >= 10 * 1000) return fmt::format("{:.0f} kB", static_cast<double>(bytes) / 1e3);
  return fmt::format("{} B", bytes);
}

std::string markdown(const std::vector<ProbeResult>& results) {
  std::string out =
      "| streams | subs/stream | buckets/stream | buckets | prio | status entries | status bytes "
      "(max) | updates per initial checkpoint | status bytes per initial checkpoint | updates per "
      "1-bucket diff | status bytes per 1-bucket diff |\n"
      "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const auto& r : results) {
    out += fmt::format("| {}{} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
                       r.shape.streams, r.shape.default_streams ? " (default)" : "",
                       r.shape.subs_per_stream, r.shape.buckets_per_stream, r.shape.total_buckets(),
                       r.shape.priorities == 1 ? "3" : "0–3", r.status_stream_entries,
                       human(r.initial.max_bytes), r.initial.updates, human(r.initial.total_bytes),
                       r.diff.updates, human(r.diff.total_bytes));
  }
  return out;
}

[[noreturn]] void usage(const std::string& why) {
  std::cerr << "stream_status_bench: " << why
            << "\nusage: stream_status_bench [--core VERSION] [--quick] [--json FILE] "
               "[--markdown FILE]\n";
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  std::string core_name = "0.5.3";
  std::string json_file;
  std::string markdown_file;
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--core") {
      core_name = value();
    } else if (arg == "--json") {
      json_file = value();
    } else if (arg == "--markdown") {
      markdown_file = value();
    } else if (arg == "--quick") {
      quick = true;
    } else {
      usage("unknown argument '" + arg + "'");
    }
  }
  const auto* core = syncsim::engine::find_core(core_name);
  if (core == nullptr) usage("unknown core '" + core_name + "'");
  if (!core->supports_requests) usage("core " + core_name + " is not a 0.5.x core");

  std::vector<ProbeResult> results;
  nlohmann::json out = nlohmann::json::array();
  try {
    for (const auto& shape : grid(quick)) {
      std::cerr << "  " << shape.label() << " ..." << std::flush;
      results.push_back(syncsim::bench::run_status_probe(shape, *core));
      out.push_back(result_json(results.back()));
      std::cerr << fmt::format(" {} updates, max {} B, {:.1f}s CPU\n",
                               results.back().initial.updates, results.back().initial.max_bytes,
                               results.back().initial.cpu_seconds);
    }
  } catch (const std::exception& e) {
    std::cerr << "\nstream_status_bench: " << e.what() << "\n";
    return 3;
  }
  if (json_file.empty()) {
    std::cout << out.dump(2) << "\n";
  } else {
    std::ofstream(json_file) << out.dump(2) << "\n";
  }
  if (!markdown_file.empty()) std::ofstream(markdown_file) << markdown(results);
  return 0;
}
