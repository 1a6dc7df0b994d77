// Test support (tests/support/): one js-real host process per SDK project for every run of a
// test process, as a sweep worker keeps them: each run after the first skips Node's start-up
// (docs/performance-js-real.md, "The real JS SDK"), and a run after others has the trace it has
// alone (JsReal.AHostKeptAcrossSeedsLeaksNoState, which starts its own processes).
#pragma once

#include <memory>

#include "engine/js/js_host.hpp"

namespace syncsim::scenarios::test_support {

inline std::shared_ptr<engine::js::HostProcesses> kept_hosts() {
  static const auto processes = std::make_shared<engine::js::HostProcesses>();
  return processes;
}

}  // namespace syncsim::scenarios::test_support
