// Compares the observation streams of two runs of one seed (`syncsim diff`) and finds the
// first divergence that is not on the allow-list.  The streams are walked in lockstep per
// client; each differing pair of observations gets a class:
//   tx-id     an uploaded crud entry that differs only in its tx_id (docs/protocol.md §1.3.7:
//   <=0.5.2
//             gives a transaction writing a regular and an insert-only table two tx_ids)
//   timing    the same field and value at a different virtual time
//   <field>   the same field with another value, named by the field's group: write, upload,
//             target, request, status, applied, rows (see observation.hpp)
//   sequence  different fields: the runs took different paths (never allowable)
//   length    one stream ended earlier (never allowable)
// Allowed classes are counted and the walk goes on; the first unallowed one stops it.
// Per-field mode (`--per-field`) walks each client's streams split by field (write, upload,
// target, request.next, request.seed, request.current, status, applied, rows), not interleaved: two
// engines whose virtual timings cannot be aligned (the C++ port and the real JS SDK draw latencies
// from different PRNG streams) interleave the same per-kind histories differently, and that is not
// a divergence of what each kind of state went through.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "scenarios/differential/observation.hpp"

namespace syncsim::scenarios {

// The class names --allow accepts (everything but sequence and length).
const std::vector<std::string>& allowable_divergence_classes();

struct Divergence {
  int client = 0;
  std::string group;                          // per-field mode: the field walked
  std::size_t index = 0;                      // position in the client's streams
  std::string klass;                          // the first unallowed class of the pair
  std::optional<Observation> a, b;            // nullopt: that stream ended
  std::vector<Observation> before;            // up to kContext equal observations before it
  std::vector<Observation> after_a, after_b;  // up to kContext observations after it
};

struct Comparison {
  std::optional<Divergence> first;          // earliest unallowed divergence over all clients
  std::map<std::string, uint64_t> allowed;  // allowed class -> pairs seen before `first`
  uint64_t compared = 0;                    // observation pairs compared
};

inline constexpr std::size_t kDivergenceContext = 3;

// The classes a differing pair falls into (a value class and/or timing), sorted; empty when
// the observations are equal.
std::vector<std::string> classify(const Observation& a, const Observation& b);

Comparison compare_streams(const ObservationStreams& a, const ObservationStreams& b,
                           const std::set<std::string>& allow, bool per_field = false);

}  // namespace syncsim::scenarios
