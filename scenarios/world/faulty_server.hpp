// A per-client wrapper around the service that loses HTTP requests or their responses
// (docs/faults.md §1: "HTTP request loss before or after the service processed it (so retries
// duplicate)").  Losses are rules armed by `request_lost` faults; the client sees a reset
// connection either way and applies its normal retry policy.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <string>

#include "sim/net.hpp"
#include "sim/trace.hpp"

namespace syncsim::scenarios {

class FaultyServer : public sim::HttpServer {
 public:
  FaultyServer(sim::HttpServer& inner, sim::Trace& trace, std::string name)
      : inner_(inner), trace_(trace), name_(std::move(name)) {}

  struct Loss {
    bool after_processing = false;     // "response": the service processed it, the reply is lost
    std::string route = "checkpoint";  // "checkpoint" | "upload" | "any"
    int count = 1;
  };
  void arm(const Loss& loss) { losses_.push_back(loss); }
  void heal() { losses_.clear(); }
  [[nodiscard]] uint64_t lost() const { return lost_; }

  void handle(const sim::HttpRequest& request,
              std::function<void(sim::HttpResponse)> respond) override;
  sim::HttpResponse open_stream(const sim::HttpRequest& request,
                                std::shared_ptr<sim::ServerStream> stream) override {
    return inner_.open_stream(request, std::move(stream));
  }

 private:
  static bool matches(const std::string& route, const sim::HttpRequest& r);

  sim::HttpServer& inner_;
  sim::Trace& trace_;
  std::string name_;
  std::deque<Loss> losses_;
  uint64_t lost_ = 0;
};

}  // namespace syncsim::scenarios
