// Sync-stream definitions and the resolution of a request's `streams` into buckets
// (docs/protocol.md §3.3.1–3.3.3, issue 7).  Pure: no storage, no time.  Not wired into the sync
// stream yet (model/sync_stream.cpp still serves the fixed todos/notes buckets).
//
// What is modelled, by section:
//  * request `streams: {include_defaults?: bool (default true), subscriptions: [{stream,
//    parameters: object|null, override_priority: 0..3|null}]}` (§3.3.1);
//  * default streams are included unless `include_defaults:false`; resolution errors are
//    reported per stream in `streams[].errors` and do not fail the connection (§3.3.3 step 2);
//  * bucket priority 0..3 (lower = higher), default 3, from the definition or the
//    subscription's `override_priority` (§3.3.3 step 2);
//  * checkpoint `streams` lists every subscribed stream in sync-config order with
//    `{name, is_default, errors: [{subscription: 'default' | index, message}]}`; each
//    bucket's `subscriptions` are `{"default": <index into streams>}` or
//    `{"sub": <index into request.subscriptions>}` (§3.3.2);
//  * more than 1000 buckets fail the whole request with PSYNC_S2305 (§3.3.1).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace syncsim::model {

// One stream of the sync config.  Its buckets are named `<name>[<values>]` where
// <values> is the JSON array of the subscription's parameter values in `parameters`
// order, plus the bucket's index when `fan_out` > 1 (a query with several result rows,
// §3.3.3 step 2 "dynamic buckets"); e.g. `lists["a"]`, `global[]`, `items["a",2]`.
struct StreamDefinition {
  std::string name;
  bool is_default = false;              // subscribed by every client unless include_defaults:false
  int priority = 3;                     // 0..3 (§3.3.3 step 2)
  std::vector<std::string> parameters;  // required subscription parameters (string or integer)
  int fan_out = 1;                      // buckets per resolved parameter set, 1..100000
};

// The stream definitions of one sync config, in config order.  Throws
// std::invalid_argument on duplicate or empty names, priorities outside 0..3, fan_out
// outside 1..100000, or a default stream with required parameters (a default
// subscription has none to give).
class StreamConfig {
 public:
  explicit StreamConfig(std::vector<StreamDefinition> definitions);
  [[nodiscard]] const std::vector<StreamDefinition>& definitions() const { return definitions_; }
  // Index of the definition named `name`, or nullopt.
  [[nodiscard]] std::optional<std::size_t> find(const std::string& name) const;

 private:
  std::vector<StreamDefinition> definitions_;
};

struct StreamSubscription {
  std::string stream;
  nlohmann::json parameters;  // object or null
  std::optional<int> override_priority;
};

struct StreamRequest {
  bool include_defaults = true;
  std::vector<StreamSubscription> subscriptions;
};

// Parses a request's `streams` field (§3.3.1); an absent field (null) is the default
// request.  Throws std::invalid_argument naming the field, the value and what is allowed.
StreamRequest parse_stream_request(const nlohmann::json& streams);

// Why a bucket is synced: a default stream (index into Resolution::streams) or an
// explicit subscription (index into request.subscriptions) (§3.3.2).
struct BucketReason {
  enum class Kind { Default, Subscription } kind = Kind::Default;
  int index = 0;
  friend bool operator==(const BucketReason&, const BucketReason&) = default;
};

struct ResolvedBucket {
  std::string name;
  int priority = 3;
  std::vector<BucketReason> reasons;  // in resolution order, no duplicates
};

struct StreamError {
  std::optional<int> subscription;  // nullopt: the default subscription
  std::string message;
};

struct ResolvedStream {
  std::string name;
  bool is_default = false;
  std::vector<StreamError> errors;
};

inline constexpr std::size_t kMaxBuckets = 1000;  // §3.3.1, PSYNC_S2305

struct Resolution {
  std::vector<ResolvedStream> streams;  // sync-config order (§3.3.2)
  std::vector<ResolvedBucket> buckets;  // first-resolved order
  // Set when the request fails as a whole (too many buckets, §3.3.1): the service ends the
  // stream; `streams`/`buckets` are then empty.
  std::optional<std::string> error_code;
  std::string error_message;
};

// Deliberately injected resolution bugs, off by default; check_resolution() must catch
// each (tests/stream_definitions_test.cpp).
enum class StreamMutant {
  ErroredSubscriptionKeepsBuckets,  // a subscription with bad parameters still gets buckets
  IgnoreOverridePriority,           // override_priority is dropped
  DefaultsDespiteOptOut,            // include_defaults:false still syncs default streams
};

// Resolves `request` against `config` (§3.3.3 step 2).  Unknown stream names in a
// subscription throw std::invalid_argument: docs/protocol.md §3 does not document what the
// service does with them, so the model refuses rather than guesses.
Resolution resolve_streams(const StreamConfig& config, const StreamRequest& request,
                           const std::vector<StreamMutant>& mutants = {});

// What §3.3.1–3.3.3 require of a resolution, checked from the outside; one message per
// violation, empty if none.  Used by the property test against random configs/requests.
std::vector<std::string> check_resolution(const StreamConfig& config, const StreamRequest& request,
                                          const Resolution& r);

// The checkpoint line's pieces (§3.3.2): `streams` and one bucket's `subscriptions`.
nlohmann::json streams_json(const Resolution& r);
nlohmann::json subscriptions_json(const ResolvedBucket& b);

}  // namespace syncsim::model
