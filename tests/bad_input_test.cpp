// The bad-input table (issue 19; reliability review §3, rows B01..B87, plus more): every row
// runs the real syncsim binary and asserts its exit code, a fragment of its message, that
// an existing output file is untouched on failure (no torn file), and that no temp file is
// left beside it.  Rows run at most one or two short seeds of a tiny scenario, so the whole
// table stays quick.  Ctrl-C is tested in interrupt_cli_test.cpp.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/cli_helpers.hpp"

namespace syncsim {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr const char* kGood = "GOOD OUTPUT, must survive\n";

// The fixture directory of this process (ctest runs rows in parallel processes).
const std::string& dir() {
  static const std::string d = [] {
    std::string path = ::testing::TempDir() + "bad_input." + std::to_string(getpid());
    fs::create_directories(path);
    return path;
  }();
  return d;
}

std::string fixture(const std::string& name, const std::string& text) {
  const std::string path = dir() + "/" + name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

json basic() { return json::parse(testing::read_file(testing::catalog("basic"))); }

// One client for 2 simulated seconds: a seed runs in a fraction of a second.
json tiny() {
  json j = basic();
  j["name"] = "tiny";
  j["clients"]["count"] = 1;
  j["duration_s"] = 2;
  j["faults"] = json::array();
  j.erase("sometimes");
  return j;
}

std::string nested(std::size_t depth) {
  return "{\"format\":1,\"x\":" + std::string(depth, '[') + std::string(depth, ']') + "}";
}

// A results document of the shape `run --results` writes, small and hand-made so that the
// malformed variants below need no run.
json good_results() {
  json run = {{"scenario", "tiny"},
              {"seed", 1},
              {"passed", true},
              {"expectation_met", true},
              {"stop", "finished"},
              {"stop_kind", "finished"},
              {"events", 10},
              {"wall_s", 0.1},
              {"trace_hash", "0123456789abcdef"},
              {"repro", "syncsim:tiny:tiny.json:seed=1:build=x"},
              {"checks", {{"convergence", 3}}},
              {"metrics", {{"reconnects", 0}}},
              {"sometimes", json::object()},
              {"sometimes_listed", json::array()},
              {"timeline",
               {{"events",
                 {{{"at_us", 5},
                   {"from", "client 1"},
                   {"to", "service"},
                   {"kind", "req"},
                   {"label", "sync"}}}},
                {"first", 0},
                {"total", 1},
                {"active_faults", json::array()},
                {"anchor", "the start"}}}};
  json scenario = tiny();
  return {{"build", "0.1.0+test"},
          {"sqlite_sha256", "abc"},
          {"scenario_path", "tiny.json"},
          {"scenario", scenario},
          {"cores", {{"0.5.3", {{"sha256", "ff"}, {"verified", true}}}}},
          {"invariants", {{"convergence", {{"statement", "clients converge"}}}}},
          {"sometimes_conditions", json::object()},
          {"runs", {run}},
          {"passed", 1},
          {"failed", 0}};
}

// good_results() with one change at a JSON pointer (or removal when `value` is discarded).
std::string results_with(const std::string& name, const std::string& pointer, const json& value) {
  json j = good_results();
  if (value.is_discarded()) {
    const json::json_pointer p(pointer);
    j[p.parent_pointer()].erase(p.back());
  } else {
    j[json::json_pointer(pointer)] = value;
  }
  return fixture(name, j.dump(1));
}

const json kRemove = json(json::value_t::discarded);

void make_fixtures() {
  static bool made = false;
  if (made) return;
  made = true;
  const std::string d = dir();
  fixture("tiny.json", tiny().dump(2));
  json mutant = tiny();
  mutant["name"] = "tiny-mutant";
  mutant["mutants"] = {"publish-while-blocked"};
  mutant["clients"]["count"] = 2;
  mutant["duration_s"] = 10;
  fixture("mutant.json", mutant.dump(2));
  fixture("malformed.json", R"({"format":1,"clients":{"count":3,,}})");
  const auto b = testing::read_file(testing::catalog("basic"));
  fixture("truncated.json", b.substr(0, b.size() / 2));
  fixture("empty.json", "");
  fs::create_directories(d + "/isdir");
  fs::create_directories(d + "/dir.md");
  fs::create_directories(d + "/marker_dir");
  auto with = [&](const std::string& name, auto change) {
    json j = tiny();
    change(j);
    return fixture(name, j.dump(2));
  };
  fixture("nonutf8.json", "{\"format\":1,\"name\":\"bas\xff\xfe\"}");
  {
    std::string t = tiny().dump(2);
    t.replace(t.find("\"description\": \"") + 16, 0, "\xff\xfe");
    fixture("nonutf8-desc.json", t);
  }
  fixture("bom.json", "\xef\xbb\xbf" + tiny().dump(2));
  auto raw = [&](const std::string& name, const std::string& from, const std::string& to) {
    std::string t = tiny().dump(2);
    const auto at = t.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    t.replace(at, from.size(), to);
    fixture(name, t);
  };
  raw("dur-1e400.json", "\"duration_s\": 2", "\"duration_s\": 1e400");
  raw("count-2p64.json", "\"count\": 1", "\"count\": 18446744073709551616");
  raw("count-2p63.json", "\"count\": 1", "\"count\": 9223372036854775808");
  raw("dup-format.json", "\"format\": 1", "\"format\": 1, \"format\": 1");
  with("count-neg.json", [](json& j) { j["clients"]["count"] = -1; });
  with("count-0.json", [](json& j) { j["clients"]["count"] = 0; });
  with("count-2.5.json", [](json& j) { j["clients"]["count"] = 2.5; });
  with("count-str.json", [](json& j) { j["clients"]["count"] = "3"; });
  with("count-null.json", [](json& j) { j["clients"]["count"] = nullptr; });
  with("dur-0.json", [](json& j) { j["duration_s"] = 0; });
  with("dur-neg.json", [](json& j) { j["duration_s"] = -5; });
  with("lag-1e15.json", [](json& j) { j["service"]["replication_lag_ms"] = 1e15; });
  with("colour.json", [](json& j) { j["clients"]["colour"] = "red"; });
  with("format-2.json", [](json& j) { j["format"] = 2; });
  with("client-99.json", [](json& j) {
    j["faults"] = {{{"at_ms", 100}, {"kind", "disconnect"}, {"client", 99}}};
  });
  with("at-1e9.json", [](json& j) {
    j["faults"] = {{{"at_ms", 1000000000}, {"kind", "disconnect"}, {"client", 1}}};
  });
  with("meteor.json", [](json& j) { j["faults"] = {{{"at_ms", 100}, {"kind", "meteor"}}}; });
  with("core-999.json", [](json& j) { j["clients"]["core"] = "9.9.9"; });
  // Mongo-only storage settings with postgres storage (docs/protocol.md §3.1.5, §3.3.4).
  auto on = [&](const std::string& name, const std::string& flavour, const std::string& key,
                const std::string& value) {
    with(name, [&](json& j) {
      j["service"]["flavour"] = flavour;
      j["service"][key] = value;
    });
  };
  on("pg-separate.json", "postgres", "read_back_step", "separate");
  on("pg-v3.json", "postgres", "checksum_reads", "v3-documents");
  on("pg-incremented.json", "postgres", "read_back", "incremented");
  on("mongo-separate.json", "mongo", "read_back_step", "separate");
  on("mongo-v3.json", "mongo", "checksum_reads", "v3-documents");
  on("pg-with-write.json", "postgres", "read_back_step", "with-write");
  on("pg-head-read.json", "postgres", "duplicate_window", "head-read");
  on("pg-torn.json", "postgres", "compaction_reads", "torn");
  on("pg-v3-idle-only.json", "postgres", "checksum_reads", "v3-idle-only");
  on("mongo-head-read.json", "mongo", "duplicate_window", "head-read");
  on("mongo-torn.json", "mongo", "compaction_reads", "torn");
  // Version skew (sdk_package) in a fleet group: the group's own path is named.
  with("fleet-skew.json", [](json& j) {
    j["clients"].erase("count");
    j["clients"]["fleet"] = json::array({{{"count", 1},
                                          {"core", "0.4.12"},
                                          {"checkpoint_mode", "legacy"},
                                          {"sdk", "js-real"},
                                          {"sdk_package", "sdk-2.3.0"}}});
  });
  fixture("top-array.json", "[" + tiny().dump() + "]");
  {
    // A duplicate deep inside: the path of the duplicate is reported.
    std::string t = tiny().dump();
    t.replace(
        t.find("\"faults\":[]"), 11,
        R"("faults":[{"at_ms":1,"kind":"lag","lag_ms":5},{"at_ms":2,"kind":"lag","kind":"lag","lag_ms":5}])");
    fixture("dup-deep.json", t);
  }
  fixture("deep-200000.json", nested(200000));
  fixture("deep-5000.json", nested(5000));
  fixture("deep-257.json", nested(257));
  fixture("deep-200.json", nested(200));
  fixture("big.json", "{\"format\":1,\"description\":\"" + std::string(17 << 20, 'x') + "\"}");
  ::mkfifo((d + "/fifo.json").c_str(), 0600);
  fs::remove(d + "/full.md");
  fs::create_symlink("/dev/full", d + "/full.md");

  // Results documents: good, and each malformed variant the review and the fuzzer found.
  fixture("good.json", good_results().dump(2));
  json ten = good_results();  // its JUnit XML is well over 512 bytes (small_disk)
  for (int seed = 2; seed <= 10; ++seed) {
    json run = ten["runs"][0];
    run["seed"] = seed;
    ten["runs"].push_back(run);
  }
  fixture("good10.json", ten.dump(2));
  json other = good_results();
  other["build"] = "0.0.1+other";
  other["runs"][0]["seed"] = 2;
  fixture("other-build.json", other.dump(2));
  const std::string g = good_results().dump(2);
  fixture("results-truncated.json", g.substr(0, g.size() / 2));
  results_with("stop-number.json", "/runs/0/stop", 5);
  results_with("sometimes-string.json", "/runs/0/sometimes", "often");
  results_with("seed-neg.json", "/runs/0/seed", -1);
  results_with("seed-float.json", "/runs/0/seed", 1.5);
  results_with("met-string.json", "/runs/0/expectation_met", "yes");
  results_with("violation-string.json", "/runs/0/violation", "boom");
  results_with("violation-at-string.json", "/runs/0/violation",
               json{{"invariant", "x"}, {"at_s", "soon"}});
  results_with("checks-string.json", "/runs/0/checks", "many");
  results_with("metric-string.json", "/runs/0/metrics/reconnects", "two");
  results_with("listed-number.json", "/runs/0/sometimes_listed", json::array({1}));
  results_with("runs-object.json", "/runs", json::object());
  results_with("build-number.json", "/build", 7);
  results_with("no-build.json", "/build", kRemove);
  results_with("run-string.json", "/runs/0", "a run");
  results_with("core-string.json", "/cores/0.5.3", "ff");
  results_with("fault-string.json", "/scenario/faults", json::array({"lag"}));
  results_with("expect-number.json", "/scenario/expect", 3);
  results_with("events-object.json", "/runs/0/timeline/events", json::object());
  results_with("no-events.json", "/runs/0/timeline/events", kRemove);
  results_with("det-string.json", "/runs/0/determinism", json{{"deterministic", "yes"}});
  results_with("invariant-string.json", "/invariants/convergence", "holds");
  for (const char* key : {"at_us", "from", "to", "kind", "label"}) {
    results_with(std::string("event-no-") + key + ".json",
                 std::string("/runs/0/timeline/events/0/") + key, kRemove);
  }
  results_with("event-at-string.json", "/runs/0/timeline/events/0/at_us", "5");
  // Found by the 10^6-execution fuzz campaign (tests/fuzz/regressions/): a span's time that
  // no integer holds, and a sweep's per-scenario header that the shape check did not read.
  results_with("span-float.json", "/runs/0/timeline/spans",
               json::array({json::array({"client 1", "awaiting", 1, 2.7e68, ""})}));
  results_with("header-invariant-number.json", "/scenarios",
               json{{"tiny", json{{"invariants", json{{"convergence", 5}}}}}});
  // Times and plotted numbers beyond 2^50 are refused where the document is read, so that
  // no reader's arithmetic on them can overflow (results_shape_error, parse_samples).
  results_with("span-time-2p62.json", "/runs/0/timeline/spans",
               json::array({json::array({"client 1", "awaiting", 1, int64_t{1} << 62, ""})}));
  results_with("metric-2p60.json", "/runs/0/metrics/reconnects", uint64_t{1} << 60);
  results_with("sample-huge.json", "/runs/0/samples",
               json{{"ack_direct_ms", "1,1,9223372036854775000"}});
  fixture("no-scenario.json", R"({"build":"x","runs":[]})");
  fixture("results-deep.json",
          "{\"build\":\"x\",\"runs\":" + std::string(300, '[') + std::string(300, ']') + "}");
}

struct Row {
  std::string id;
  std::string command;  // after `syncsim `; {D} is the fixture dir; a leading '!' = shell
  int exit_code;
  std::string fragment;
  std::string guard = "";   // a file under {D} holding kGood before, unchanged after
  std::string absent = "";  // must not appear in the output (e.g. a seed line: no work done)
};

std::ostream& operator<<(std::ostream& os, const Row& r) { return os << r.id; }

// Under `ulimit -f 1` (512-byte files) with SIGXFSZ ignored, a write past 512 bytes fails
// with EFBIG: a disk-full stand-in that needs no mount.
std::string small_disk(const std::string& command) {
  return "!trap '' XFSZ; ulimit -f 1; {BIN} " + command;
}

const std::string kTiny = "{D}/tiny.json";
const std::string kBasic = std::string(SYNCSIM_SOURCE_DIR) + "/scenarios/catalog/basic.json";
const std::string kMax = "18446744073709551615";
const std::string kTooBig = "18446744073709551616";

std::vector<Row> rows() {
  std::vector<Row> r = {
      // --- scenario files (validate, run) -------------------------------------------------
      {"B01_malformed", "validate {D}/malformed.json", 2, "syntax error while parsing object key"},
      {"B02_truncated", "validate {D}/truncated.json", 2, "parse error at line"},
      {"B03_empty", "validate {D}/empty.json", 2, "unexpected end of input"},
      {"B04_directory", "validate {D}/isdir", 2, "Is a directory"},
      {"B05_dev_null", "validate /dev/null", 2, "invalid JSON"},
      {"B06_non_utf8", "validate {D}/nonutf8.json", 2, "ill-formed UTF-8"},
      {"B06b_non_utf8_run_results", "run {D}/nonutf8-desc.json --results {D}/guard.json", 2,
       "ill-formed UTF-8", "guard.json"},
      {"B07_bom", "validate {D}/bom.json", 0, ": ok ("},
      {"B08_1e400", "validate {D}/dur-1e400.json", 2, "number overflow"},
      {"B09_count_2p64", "validate {D}/count-2p64.json", 2, "allowed: 1..1000"},
      {"B09b_count_2p63", "validate {D}/count-2p63.json", 2, "is out of range; allowed: 1..1000"},
      {"B10_count_negative", "validate {D}/count-neg.json", 2, "-1 is out of range"},
      {"B11_count_zero", "validate {D}/count-0.json", 2, "0 is out of range; allowed: 1..1000"},
      {"B12_count_fraction", "validate {D}/count-2.5.json", 2, "2.5 must be an integer"},
      {"B13_count_string", "validate {D}/count-str.json", 2, "\"3\" must be an integer"},
      {"B13b_count_null", "validate {D}/count-null.json", 2, "null must be an integer"},
      {"B14_duration_zero", "validate {D}/dur-0.json", 2, "allowed: 1..86400"},
      {"B14b_duration_negative", "validate {D}/dur-neg.json", 2, "allowed: 1..86400"},
      {"B15_lag_1e15", "validate {D}/lag-1e15.json", 2, "allowed: 0..3600000"},
      {"B16_duplicate_key", "validate {D}/dup-format.json", 2, "duplicate field `format`"},
      {"B16b_duplicate_key_deep", "validate {D}/dup-deep.json", 2,
       "duplicate field `faults[1].kind`"},
      {"B17_unknown_field", "validate {D}/colour.json", 2, "unknown field `clients.colour`"},
      {"B18_top_level_array", "validate {D}/top-array.json", 2, "must be a JSON object"},
      {"B19_format_2", "validate {D}/format-2.json", 2, "format: 2 is not supported"},
      {"B20_nested_200000", "validate {D}/deep-200000.json", 2, "nested more than 256 levels"},
      {"B20b_nested_5000", "validate {D}/deep-5000.json", 2, "nested more than 256 levels"},
      {"B20c_nested_257", "validate {D}/deep-257.json", 2, "allowed: at most 256 levels"},
      {"B20d_nested_200_is_read", "validate {D}/deep-200.json", 2, "unknown field `x`"},
      {"B20e_run_nested", "run {D}/deep-200000.json --results {D}/guard.json", 2,
       "nested more than 256", "guard.json"},
      {"B21_fault_client", "validate {D}/client-99.json", 2, "faults[0].client: 99"},
      {"B22_fault_at_ms", "validate {D}/at-1e9.json", 2, "faults[0].at_ms"},
      {"B23_fault_kind", "validate {D}/meteor.json", 2, "\"meteor\" is not allowed"},
      {"B24_core", "validate {D}/core-999.json", 2, "\"9.9.9\" is not allowed"},
      {"B88_postgres_separate_read_back", "validate {D}/pg-separate.json", 2,
       "service.read_back_step: \"separate\" is not allowed with service.flavour "
       "\"postgres\"; allowed: \"with-write\" (postgres answers with the write's RETURNING"},
      {"B88b_run_postgres_separate_read_back", "run {D}/pg-separate.json --results {D}/guard.json",
       2, "service.read_back_step: \"separate\" is not allowed", "guard.json", "seed="},
      {"B88c_postgres_v3_checksums", "validate {D}/pg-v3.json", 2,
       "service.checksum_reads: \"v3-documents\" is not allowed with service.flavour "
       "\"postgres\"; allowed: \"atomic\" (storage v3's checksum documents are mongo"},
      {"B88d_run_postgres_v3_checksums", "run {D}/pg-v3.json --results {D}/guard.json", 2,
       "service.checksum_reads: \"v3-documents\" is not allowed", "guard.json", "seed="},
      {"B88e_postgres_incremented_read_back", "validate {D}/pg-incremented.json", 2,
       "service.read_back: \"incremented\" is not allowed with service.flavour "
       "\"postgres\"; allowed: \"service\""},
      {"B88f_mongo_separate_read_back_is_read", "validate {D}/mongo-separate.json", 0, ": ok ("},
      {"B88g_mongo_v3_checksums_is_read", "validate {D}/mongo-v3.json", 0, ": ok ("},
      {"B88h_postgres_with_write_is_read", "validate {D}/pg-with-write.json", 0, ": ok ("},
      {"B88j_postgres_head_read_duplicate_window", "validate {D}/pg-head-read.json", 2,
       "service.duplicate_window: \"head-read\" is not allowed with service.flavour "
       "\"postgres\"; allowed: \"write\" (write_checkpoints.user_id is postgres storage's "
       "primary key"},
      {"B88k_postgres_torn_compaction_reads", "validate {D}/pg-torn.json", 2,
       "service.compaction_reads: \"torn\" is not allowed with service.flavour \"postgres\"; "
       "allowed: \"atomic\" (a postgres page read is one SELECT"},
      {"B88l_run_postgres_torn_compaction_reads", "run {D}/pg-torn.json --results {D}/guard.json",
       2, "service.compaction_reads: \"torn\" is not allowed", "guard.json", "seed="},
      {"B88m_postgres_v3_idle_only", "validate {D}/pg-v3-idle-only.json", 2,
       "service.checksum_reads: \"v3-idle-only\" is not allowed with service.flavour"},
      {"B88n_mongo_head_read_is_read", "validate {D}/mongo-head-read.json", 0, ": ok ("},
      {"B88o_mongo_torn_is_read", "validate {D}/mongo-torn.json", 0, ": ok ("},
      {"B88i_set_postgres_on_a_mongo_only_setting",
       "run {D}/mongo-separate.json --set service.flavour=postgres", 2,
       "service.read_back_step: \"separate\" is not allowed with service.flavour", "", "seed="},
      // --- version skew: clients.sdk_package / sdk_package_force (engine/js/README.md) -----
      {"S01_sdk_package_refused_by_the_sdk",
       "run " + kTiny +
           " --set clients.sdk=js-real --set clients.core=0.4.12"
           " --set clients.checkpoint_mode=legacy --set clients.sdk_package=sdk-2.3.0"
           " --results {D}/guard.json",
       2,
       "clients.sdk_package: \"sdk-2.3.0\" cannot run core 0.4.12: @powersync/common 2.3.0's "
       "version check refuses core 0.4.12 (needs >=0.5.2 <0.6.0); allowed with core 0.4.12: "
       "\"sdk-1.43.1\", \"sdk-1.47.0\", \"sdk-1.54.0\", or sdk_package_force: true to run it "
       "anyway",
       "guard.json", "seed="},
      {"S02_sdk_package_unknown", "run " + kTiny + " --set clients.sdk_package=sdk-9.9.9", 2,
       "clients.sdk_package: \"sdk-9.9.9\" is not allowed; allowed: sdk-1.43.1, sdk-1.47.0, "
       "sdk-1.54.0, sdk-2.3.0",
       "", "seed="},
      {"S03_sdk_package_without_js_real", "run " + kTiny + " --set clients.sdk_package=sdk-1.54.0",
       2,
       "clients.sdk_package: \"sdk-1.54.0\" is not allowed with sdk \"auto\"; allowed: only "
       "with sdk \"js-real\"",
       "", "seed="},
      {"S04_sdk_package_force_without_package",
       "run " + kTiny + " --set clients.sdk=js-real --set clients.sdk_package_force=true", 2,
       "clients.sdk_package_force: true is not allowed without sdk_package", "", "seed="},
      {"S05_sdk_package_force_not_a_bool",
       "run " + kTiny + " --set clients.sdk=js-real --set clients.sdk_package_force=1", 2,
       "clients.sdk_package_force: 1 must be true or false", "", "seed="},
      {"S06_sdk_package_1x_needs_legacy_mode",
       "run " + kTiny + " --set clients.sdk=js-real --set clients.sdk_package=sdk-1.43.1", 2,
       "clients.checkpoint_mode: \"requests\" is not allowed with sdk_package \"sdk-1.43.1\" "
       "on core 0.5.3",
       "", "seed="},
      {"S07_sdk_package_refused_in_a_fleet", "validate {D}/fleet-skew.json", 2,
       "clients.fleet[0].sdk_package: \"sdk-2.3.0\" cannot run core 0.4.12"},
      {"B25_over_16MiB", "validate {D}/big.json", 2, "allowed: at most 16 MiB"},
      {"B27_missing", "validate {D}/nope.json", 2, "No such file or directory"},
      {"B77_dev_zero", "validate /dev/zero", 2, "larger than the input limit"},
      {"B77b_fifo", "validate {D}/fifo.json", 2, "a FIFO or socket"},
      {"B77c_run_dev_zero", "run /dev/zero", 2, "allowed: at most 16 MiB"},
      {"B77d_sweep_fifo", "sweep {D}/fifo.json --seeds 1..2", 2, "a FIFO or socket"},
      {"B86_stdin", "validate -", 2, "No such file or directory"},
      // --- seeds --------------------------------------------------------------------------
      {"B28_run_seeds_reversed", "run " + kTiny + " --seeds 5..1", 2, "'5..1' is not a range"},
      {"B29_sweep_seeds_reversed", "sweep " + kTiny + " --seeds 5..1", 2, "'5..1' is not a range"},
      {"B30_jobs_zero", "sweep " + kTiny + " --seeds 1..2 --jobs 0", 2, "--jobs"},
      {"B31_shard_3_of_2", "sweep " + kTiny + " --seeds 1..2 --shard 3/2", 2, "'3/2' is not i/n"},
      {"B31b_shard_0_of_2", "sweep " + kTiny + " --seeds 1..2 --shard 0/2", 2, "'0/2' is not i/n"},
      {"B32_run_seed_minus_1", "run " + kTiny + " --seed -1", 2,
       "--seed: '-1' is not a seed; allowed: an integer 0.." + kMax, "", "seed="},
      {"B33_run_seed_2p64", "run " + kTiny + " --seed " + kTooBig, 2,
       "--seed: '" + kTooBig + "' is not a seed", "", "seed="},
      {"B33b_run_seed_max_terminates", "run " + kTiny + " --seed " + kMax, 0,
       "summary: tiny seeds " + kMax + ".." + kMax + ": 1 passed"},
      {"B33c_run_range_to_max_terminates",
       "run " + kTiny + " --seeds 18446744073709551614.." + kMax, 0, ": 2 passed, 0 failed"},
      {"B33d_run_seed_plus", "run " + kTiny + " --seed +1", 2, "'+1' is not a seed"},
      {"B33e_run_seed_hex", "run " + kTiny + " --seed 0x10", 2, "'0x10' is not a seed"},
      {"B33f_run_seed_exponent", "run " + kTiny + " --seed 1e3", 2, "'1e3' is not a seed"},
      {"B33g_run_seed_space", "run " + kTiny + " --seed ' 1'", 2, "is not a seed"},
      {"B52_diff_seed_minus_1", "diff " + kTiny + " --seed -1", 2, "--seed: '-1' is not a seed", "",
       "SAME"},
      {"B52b_diff_seed_2p64", "diff " + kTiny + " --seed " + kTooBig, 2, "is not a seed", "",
       "SAME"},
      {"B52c_diff_seeds_too_many", "diff " + kTiny + " --seeds 1..2000000", 2,
       "has 2000000 seeds; allowed: at most 1000000 per command"},
      {"B34_run_seeds_19_digits", "run " + kTiny + " --seeds 1..1000000000000000000", 2,
       "allowed: at most 1000000 per command"},
      {"B34b_run_seeds_past_2p64", "run " + kTiny + " --seeds 1.." + kTooBig, 2,
       "is not a range; expected A..B with 0 <= A <= B <= " + kMax},
      {"B84_sweep_huge_range", "sweep " + kTiny + " --seeds 1..99999999999", 2,
       "allowed: at most 1000000 runs per sweep"},
      {"B84b_sweep_whole_u64", "sweep " + kTiny + " --seeds 0.." + kMax, 2,
       "allowed: at most 1000000 runs per sweep"},
      {"B84c_sweep_huge_sharded", "sweep " + kTiny + " --seeds 1..99999999999 --shard 2/1000", 2,
       "--shard 2/1000 is 100000000 seeds"},
      {"B35_seeds_word", "run " + kTiny + " --seeds abc", 2, "'abc' is not a range"},
      {"B35b_seeds_signed", "run " + kTiny + " --seeds -1..2", 2, "'-1..2' is not a range"},
      {"B35c_seeds_open", "run " + kTiny + " --seeds 1..", 2, "'1..' is not a range"},
      {"B36_seed_and_seeds", "run " + kTiny + " --seed 1 --seeds 1..2", 2, "excludes"},
      {"B37_unknown_flag", "run " + kTiny + " --frobnicate", 2, "--frobnicate"},
      {"B83_report_seeds_reversed", "report " + kTiny + " --seeds 5..1", 2,
       "'5..1' is not a range"},
      {"B83b_report_seeds_too_many", "report " + kTiny + " --seeds 1..1000001", 2,
       "allowed: at most 1000000 per command"},
      {"B85_no_subcommand", "", 2, "Usage"},
      // --- output paths: checked before any work ----------------------------------------
      {"B38_report_format", "report {D}/good.json --format pdf", 2, "--format"},
      {"B39_report_out_extension", "report {D}/good.json --out {D}/x.txt", 2,
       "cannot tell the format from its extension"},
      {"B40_sweep_report_extension", "sweep " + kBasic + " --seeds 1..2 --report {D}/x.txt", 2,
       "cannot tell the format", "", "sweep:"},
      {"B41_report_out_directory", "report {D}/good.json --out {D}/dir.md", 2,
       "--out: cannot write {D}/dir.md: Is a directory"},
      {"B42_run_results_missing_dir", "run " + kBasic + " --results /nonexistent/dir/r.json", 2,
       "--results: cannot write /nonexistent/dir/r.json: directory /nonexistent/dir: No such "
       "file or directory",
       "", "seed="},
      {"B42b_run_results_directory", "run " + kBasic + " --results {D}/isdir", 2, "Is a directory",
       "", "seed="},
      {"B43_run_results_proc", "run " + kBasic + " --results /proc/version", 2,
       "--results: cannot write /proc/version", "", "seed="},
      {"B44_run_report_missing_dir", "run " + kBasic + " --report /nonexistent/r.md", 2,
       "--report: cannot write /nonexistent/r.md", "", "seed="},
      {"B44b_run_report_extension", "run " + kBasic + " --report {D}/r.pdf", 2,
       "cannot tell the format", "", "seed="},
      {"B45_run_trace_missing_dir", "run " + kBasic + " --trace /nonexistent/t.txt", 2,
       "--trace: cannot write /nonexistent/t.txt", "", "seed="},
      {"B45b_run_trace_range_missing_dir", "run " + kBasic + " --seeds 1..2 --trace /nonexistent/t",
       2, "--trace: cannot write /nonexistent/t.1", "", "seed="},
      {"B45c_run_trace_directory", "run " + kBasic + " --trace {D}/isdir", 2, "Is a directory", "",
       "seed="},
      {"B72_shrink_out_directory",
       "shrink 'syncsim:x:{D}/mutant.json:seed=1:build=x' --out {D}/isdir", 2,
       "--out: cannot write {D}/isdir: Is a directory", "", "shrink:"},
      {"B72b_shrink_out_missing_dir",
       "shrink 'syncsim:x:{D}/mutant.json:seed=1:build=x' --out /nonexistent/s.json", 2,
       "--out: cannot write /nonexistent/s.json", "", "shrink:"},
      {"B87_sweep_results_missing_dir",
       "sweep " + kBasic + " --seeds 1..2 --results /nonexistent/r.json", 2,
       "--results: cannot write /nonexistent/r.json", "", "sweep:"},
      {"B87b_sweep_junit_missing_dir",
       "sweep " + kBasic + " --seeds 1..2 --junit /nonexistent/j.xml", 2,
       "--junit: cannot write /nonexistent/j.xml", "", "sweep:"},
      {"B87c_sweep_report_missing_dir",
       "sweep " + kBasic + " --seeds 1..2 --report /nonexistent/r.md", 2,
       "--report: cannot write /nonexistent/r.md", "", "sweep:"},
      {"B87d_sweep_results_directory", "sweep " + kBasic + " --seeds 1..2 --results {D}/isdir", 2,
       "Is a directory", "", "sweep:"},
      {"M01_merge_results_missing_dir", "merge {D}/good.json --results /nonexistent/m.json", 2,
       "--results: cannot write /nonexistent/m.json"},
      {"M02_merge_junit_directory", "merge {D}/good.json --junit {D}/isdir", 2,
       "--junit: cannot write {D}/isdir: Is a directory"},
      {"M03_report_out_missing_dir", "report {D}/good.json --out /nonexistent/r.md", 2,
       "--out: cannot write /nonexistent/r.md"},
      {"M04_replay_trace_missing_dir",
       "replay 'syncsim:tiny:{D}/tiny.json:seed=1:build=x' --trace /nonexistent/t.txt", 2,
       "--trace: cannot write /nonexistent/t.txt", "", "seed="},
      // --- write failures: /dev/full (streamed) per output flag -> exit 3 with errno --------
      {"B46_run_results_dev_full", "run " + kTiny + " --results /dev/full", 3,
       "--results: cannot write /dev/full: No space left on device"},
      {"B47_run_trace_dev_full", "run " + kTiny + " --trace /dev/full", 3,
       "--trace: cannot write /dev/full: No space left on device"},
      {"B48_run_report_dev_full", "run " + kTiny + " --report {D}/full.md", 3,
       "--report: cannot write {D}/full.md: No space left on device"},
      {"B49_merge_results_dev_full", "merge {D}/good.json --results /dev/full", 3,
       "--results: cannot write /dev/full: No space left on device"},
      {"B50_merge_junit_dev_full", "merge {D}/good.json --junit /dev/full", 3,
       "--junit: cannot write /dev/full: No space left on device"},
      {"B51_report_out_dev_full", "report {D}/good.json --out {D}/full.md", 3,
       "--out: cannot write {D}/full.md: No space left on device"},
      {"B51b_report_out_dev_full_format", "report {D}/good.json --out /dev/full --format html", 3,
       "--out: cannot write /dev/full: No space left on device"},
      {"D01_sweep_results_dev_full",
       "sweep " + kTiny + " --seeds 1..1 --jobs 1 --results /dev/full", 3,
       "--results: cannot write /dev/full: No space left on device"},
      {"D02_sweep_junit_dev_full", "sweep " + kTiny + " --seeds 1..1 --jobs 1 --junit /dev/full", 3,
       "--junit: cannot write /dev/full: No space left on device"},
      {"D03_sweep_report_dev_full",
       "sweep " + kTiny + " --seeds 1..1 --jobs 1 --report {D}/full.md", 3,
       "--report: cannot write {D}/full.md: No space left on device"},
      {"D04_replay_trace_dev_full",
       "replay 'syncsim:tiny:{D}/tiny.json:seed=1:build=x' --trace /dev/full", 3,
       "--trace: cannot write /dev/full: No space left on device"},
      {"D05_shrink_out_dev_full",
       "shrink 'syncsim:x:{D}/mutant.json:seed=1:build=x' --max-attempts 1 --out /dev/full", 3,
       "--out: cannot write /dev/full: No space left on device"},
      {"D06_merge_findings_dev_full", "merge {D}/good.json --findings /dev/full", 3,
       "--findings: cannot write /dev/full: No space left on device"},
      // Standard output (no file named) is an output too: a full device there exits 3.
      {"D07_report_stdout_dev_full", "!{BIN} report {D}/good.json > /dev/full", 3,
       "cannot write standard output: No space left on device"},
      {"D08_merge_stdout_dev_full", "!{BIN} merge {D}/good.json > /dev/full", 3,
       "cannot write standard output: No space left on device"},
      {"D09_list_stdout_dev_full", "!{BIN} list invariants > /dev/full", 3,
       "cannot write standard output: No space left on device"},
      // --- write failures on a regular file: the old file survives, no temp left ---------
      // The merged runs spool to a temporary file first: a full disk fails there, and the
      // old --results file survives.
      {"B73_merge_results_disk_full", small_disk("merge {D}/good10.json --results {D}/guard.json"),
       3, "cannot write the merged runs to a temporary file: File too large", "guard.json"},
      {"B74_run_trace_disk_full", small_disk("run " + kTiny + " --trace {D}/guard.txt"), 3,
       "--trace: cannot write {D}/guard.txt: File too large", "guard.txt"},
      {"B75_report_out_disk_full", small_disk("report {D}/good.json --out {D}/guard.md"), 3,
       "--out: cannot write {D}/guard.md: File too large", "guard.md"},
      {"B76_merge_junit_disk_full", small_disk("merge {D}/good10.json --junit {D}/guard.xml"), 3,
       "cannot write the merged runs to a temporary file: File too large", "guard.xml"},
      {"F01_run_results_disk_full", small_disk("run " + kTiny + " --results {D}/guard.json"), 3,
       "--results: cannot write {D}/guard.json: File too large", "guard.json"},
      {"F02_sweep_results_disk_full",
       small_disk("sweep " + kTiny + " --seeds 1..1 --jobs 1 --results {D}/guard.json"), 3,
       "--results: cannot write {D}/guard.json: File too large", "guard.json"},
      // Directory outputs (no /dev/full stand-in): a findings file that cannot be written.
      {"F03_sweep_findings_disk_full",
       small_disk("sweep {D}/mutant.json --seeds 1..1 --jobs 1 --findings {D}/fdir"), 3,
       "--findings: cannot write {D}/fdir/"},
      {"F04_hunt_findings_disk_full",
       small_disk("hunt " + std::string(SYNCSIM_SOURCE_DIR) +
                  "/scenarios/catalog/swarm-faults.json --seeds 1..1 --jobs 1 --max-shrink 0 "
                  "--findings {D}/hdir"),
       3, "--findings: cannot write {D}/hdir/findings.json: File too large"},
      // --- results documents reaching merge and report ----------------------------------
      {"B53_merge_builds_differ", "merge {D}/good.json {D}/other-build.json", 2, "builds differ"},
      {"B54_merge_same_twice", "merge {D}/good.json {D}/good.json", 2, "occurs twice"},
      {"B55_merge_scenario_file", "merge " + kTiny, 2, "not a syncsim results document"},
      {"B56_merge_stop_number", "merge {D}/stop-number.json", 2,
       "{D}/stop-number.json: not a valid results document: runs[0].stop: 5 is a number; "
       "allowed: a string"},
      {"B57_merge_sometimes_string", "merge {D}/sometimes-string.json", 2,
       "runs[0].sometimes: \"often\" is a string; allowed: an object"},
      {"B58_merge_seed_negative", "merge {D}/seed-neg.json", 2,
       "runs[0].seed: -1 is a number; allowed: an integer >= 0"},
      {"B58b_merge_seed_float", "merge {D}/seed-float.json", 2, "runs[0].seed: 1.5"},
      {"B58c_merge_met_string", "merge {D}/met-string.json", 2, "runs[0].expectation_met"},
      {"B59_merge_truncated", "merge {D}/results-truncated.json", 2, "not JSON"},
      {"B60_report_sometimes_string", "report {D}/sometimes-string.json", 2,
       "{D}/sometimes-string.json: not a valid results document: runs[0].sometimes"},
      {"B61_report_stop_number", "report {D}/stop-number.json", 2, "runs[0].stop: 5 is a number"},
      {"B62_report_no_scenario", "report {D}/no-scenario.json", 2, "'runs' is empty"},
      {"X01_report_event_no_at_us", "report {D}/event-no-at_us.json", 2,
       "runs[0].timeline.events[0].at_us: missing"},
      {"X02_report_event_no_from", "report {D}/event-no-from.json", 2,
       "runs[0].timeline.events[0].from: missing"},
      {"X03_report_event_no_to", "report {D}/event-no-to.json", 2,
       "runs[0].timeline.events[0].to: missing"},
      {"X04_report_event_no_kind", "report {D}/event-no-kind.json", 2,
       "runs[0].timeline.events[0].kind: missing"},
      {"X05_report_event_no_label", "report {D}/event-no-label.json", 2,
       "runs[0].timeline.events[0].label: missing"},
      {"X06_report_violation_string", "report {D}/violation-string.json", 2,
       "runs[0].violation: \"boom\" is a string; allowed: an object"},
      {"X07_merge_violation_string", "merge {D}/violation-string.json", 2, "runs[0].violation"},
      {"X08_report_event_at_string", "report {D}/event-at-string.json", 2,
       "runs[0].timeline.events[0].at_us: \"5\" is a string; allowed: an integer"},
      {"X09_report_violation_at_string", "report {D}/violation-at-string.json", 2,
       "runs[0].violation.at_s"},
      {"X10_report_checks_string", "report {D}/checks-string.json", 2, "runs[0].checks"},
      {"X11_report_metric_string", "report {D}/metric-string.json", 2,
       "runs[0].metrics.reconnects"},
      {"X12_merge_listed_number", "merge {D}/listed-number.json", 2, "runs[0].sometimes_listed[0]"},
      {"X13_report_runs_object", "report {D}/runs-object.json", 2, "runs: {} is an object"},
      {"X14_merge_build_number", "merge {D}/build-number.json", 2,
       "not a valid results document: build: 7 is a number"},
      {"X15_report_no_build", "report {D}/no-build.json", 2, "build: missing"},
      {"X16_merge_run_string", "merge {D}/run-string.json", 2, "runs[0]: \"a run\" is a string"},
      {"X17_report_core_string", "report {D}/core-string.json", 2, "cores.0.5.3"},
      {"X18_report_fault_string", "report {D}/fault-string.json", 2, "scenario.faults[0]"},
      {"X19_report_expect_number", "report {D}/expect-number.json", 2, "scenario.expect"},
      {"X20_report_events_object", "report {D}/events-object.json", 2,
       "runs[0].timeline.events: {} is an object"},
      {"X21_report_no_events", "report {D}/no-events.json", 2, "runs[0].timeline.events: missing"},
      {"X22_merge_determinism_string", "merge {D}/det-string.json", 2,
       "runs[0].determinism.deterministic"},
      {"X23_report_invariant_string", "report {D}/invariant-string.json", 2,
       "invariants.convergence"},
      {"X24_merge_nested", "merge {D}/results-deep.json", 2, "nested more than 256 levels"},
      {"X25_report_nested", "report {D}/results-deep.json", 2, "nested more than 256 levels"},
      {"X26_merge_dev_zero", "merge /dev/zero", 2, "larger than the input limit"},
      {"X27_report_fifo", "report {D}/fifo.json", 2, "a FIFO or socket"},
      {"X30_report_span_float", "report {D}/span-float.json", 2,
       "runs[0].timeline.spans[0][3]: 2.7e+68 is a number; allowed: an integer"},
      {"X31_merge_header_invariant_number", "merge {D}/header-invariant-number.json", 2,
       "scenarios.tiny.invariants.convergence: 5 is a number; allowed: an object"},
      {"X32_report_header_invariant_number", "report {D}/header-invariant-number.json", 2,
       "scenarios.tiny.invariants.convergence"},
      {"X33_report_span_time_2p62", "report {D}/span-time-2p62.json", 2,
       "runs[0].timeline.spans[0][3]: 4611686018427387904 is a number; allowed: an integer from 0 "
       "to 2^50"},
      {"X34_merge_metric_2p60", "merge {D}/metric-2p60.json", 2,
       "runs[0].metrics.reconnects: 1152921504606846976 is a number; allowed: an integer from 0 "
       "to 2^50"},
      {"X35_report_sample_huge", "report {D}/sample-huge.json", 2,
       "samples.ack_direct_ms: \"1,1,9223372036854775000\": at_ms and ms must be integers from 0 "
       "to 2^50"},
      {"X28_merge_good", "merge {D}/good.json --results {D}/merged.json", 0, "merged 1 files"},
      {"X29_report_good", "report {D}/good.json --out {D}/good-report.md", 0, ""},
      // --- repro strings ----------------------------------------------------------------
      {"B64_repro_bad_hash", "replay 'syncsim:tiny:{D}/tiny.json:seed=1:build=x:hash=zzzz'", 2,
       "bad fields after the path"},
      {"B66_repro_missing_scenario", "replay 'syncsim:basic:/nope/basic.json:seed=1:build=x'", 2,
       "cannot read /nope/basic.json: No such file or directory"},
      {"B67_repro_hello", "replay hello", 2, "does not start with 'syncsim:'"},
      {"B68_repro_max_seed", "replay 'syncsim:tiny:{D}/tiny.json:seed=" + kMax + ":build=x'", 0,
       "tiny seed=" + kMax + " PASS"},
      {"B68b_repro_seed_2p64", "replay 'syncsim:tiny:{D}/tiny.json:seed=" + kTooBig + ":build=x'",
       2, "seed=" + kTooBig + " is out of range; allowed: 0.." + kMax},
      {"B70_shrink_max_attempts",
       "shrink 'syncsim:tiny:{D}/tiny.json:seed=1:build=x' --max-attempts -1", 2, "--max-attempts"},
      {"B71_shrink_passing", "shrink 'syncsim:tiny:{D}/tiny.json:seed=1:build=x'", 2,
       "nothing to shrink"},
      // --- cores and diff ---------------------------------------------------------------
      {"B78_core_path_not_elf", "run " + kTiny + " --core-path /etc/passwd", 3,
       "refusing to load a core: core file /etc/passwd"},
      {"B79_core_path_directory", "run " + kTiny + " --core-path {D}/isdir", 2,
       "not a regular file"},
      {"B80_diff_bogus_core", "diff " + kTiny + " --a core=bogus", 2,
       "--a: clients.core: \"bogus\" is not allowed"},
      {"B81_diff_no_key", "diff " + kTiny + " --a nokey", 2, "'nokey' is not KEY=VALUE"},
      {"B82_sweep_same_twice", "sweep " + kTiny + " " + kTiny + " --seeds 1..2", 2,
       "are both named 'tiny'"},
  };
  return r;
}

std::string expand(std::string s) {
  for (std::size_t at; (at = s.find("{D}")) != std::string::npos;) s.replace(at, 3, dir());
  for (std::size_t at; (at = s.find("{BIN}")) != std::string::npos;)
    s.replace(at, 5, SYNCSIM_BINARY);
  return s;
}

// Leftover temp files of OutputFile (".<name>.tmp-XXXXXX") in the fixture directory.
std::vector<std::string> temp_files() {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir())) {
    const auto name = e.path().filename().string();
    if (name.find(".tmp-") != std::string::npos || name.starts_with(".syncsim-probe")) {
      out.push_back(name);
    }
  }
  return out;
}

class BadInput : public ::testing::TestWithParam<Row> {
 protected:
  static void SetUpTestSuite() { make_fixtures(); }
};

TEST_P(BadInput, ExitCodeMessageAndNoTornOutput) {
  const Row& row = GetParam();
  std::string guard;
  if (!row.guard.empty()) {
    guard = dir() + "/" + row.guard;
    std::ofstream(guard) << kGood;
  }
  const std::string command =
      expand(row.command.starts_with("!") ? row.command.substr(1) : "{BIN} " + row.command);
  // A bound on every row: a hang is a failure, not a stuck suite.
  const std::string shell = "cd " + dir() + " && timeout -k 2 60 sh -c '" + [&] {
    std::string q;
    for (char c : command) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q;
  }() + "' 2>&1";
  testing::Outcome o;
  FILE* pipe = popen(shell.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::array<char, 4096> buf{};
  while (fgets(buf.data(), buf.size(), pipe)) o.output += buf.data();
  const int status = pclose(pipe);
  o.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;

  if (row.exit_code == 0 && o.exit_code == 4) o.exit_code = 0;  // vacuous is a pass here
  EXPECT_EQ(o.exit_code, row.exit_code) << command << "\n" << o.output;
  EXPECT_NE(o.output.find(expand(row.fragment)), std::string::npos)
      << "expected: " << expand(row.fragment) << "\n"
      << o.output;
  if (!row.absent.empty()) {
    EXPECT_EQ(o.output.find(row.absent), std::string::npos)
        << "work ran before the bad input was refused:\n"
        << o.output;
  }
  EXPECT_EQ(o.output.find("internal error: "), std::string::npos) << o.output;
  if (!guard.empty()) {
    EXPECT_EQ(testing::read_file(guard), kGood) << "the existing output file was changed";
  }
  EXPECT_TRUE(temp_files().empty()) << "temp file left: " << temp_files().front();
}

INSTANTIATE_TEST_SUITE_P(Table, BadInput, ::testing::ValuesIn(rows()),
                         [](const ::testing::TestParamInfo<Row>& info) { return info.param.id; });

TEST(BadInputTable, HasAtLeastOneHundredRows) { EXPECT_GE(rows().size(), 100u); }

}  // namespace
}  // namespace syncsim
