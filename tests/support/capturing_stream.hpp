// Test support (tests/support/): a sync stream the service model writes JSON lines into, kept
// for the test to read back.  Shared by the model and service-topology tests.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sim/net.hpp"

namespace syncsim::test_support {

class CapturingStream : public sim::ServerStream {
 public:
  [[nodiscard]] bool closed() const override { return closed_; }
  sim::Signal& closed_signal() override { return closed_signal_; }
  void send(std::string line) override {
    if (!closed_) lines.push_back(nlohmann::json::parse(line));
  }
  void end() override { closed_ = true; }
  void abort() override { close(); }
  void close() {
    closed_ = true;
    closed_signal_.notify();
  }
  // The checkpoint and checkpoint_diff bodies, in order.
  [[nodiscard]] std::vector<nlohmann::json> checkpoint_lines() const {
    std::vector<nlohmann::json> out;
    for (const auto& l : lines) {
      if (l.contains("checkpoint")) out.push_back(l["checkpoint"]);
      if (l.contains("checkpoint_diff")) out.push_back(l["checkpoint_diff"]);
    }
    return out;
  }
  // The write_checkpoint values those checkpoints carried, in order.
  [[nodiscard]] std::vector<std::string> write_checkpoints() const {
    std::vector<std::string> out;
    for (const auto& cp : checkpoint_lines()) {
      if (cp.contains("write_checkpoint")) out.push_back(cp["write_checkpoint"]);
    }
    return out;
  }
  std::vector<nlohmann::json> lines;

 private:
  bool closed_ = false;
  sim::Notifier closed_signal_;
};

}  // namespace syncsim::test_support
