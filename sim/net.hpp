// The simulated network between clients and the service.  Each client has one Link; a
// Link delivers messages in order per direction (deliver = max(previous delivery, now +
// latency), docs/architecture.md §2).  Plain request/response and a streaming response are
// supported; a Link's streams can be cut (both ends see it, in-flight lines are lost).
// sim/ knows nothing about PowerSync: bodies are opaque strings.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "sim/prng.hpp"
#include "sim/sync.hpp"

namespace syncsim::sim {

struct HttpRequest {
  std::string method;  // "GET" | "POST"
  std::string path;    // including the query string
  std::string body;
  std::string subject;  // the authenticated user (JWT `sub`), empty = not signed in
  // The token's expiry (JWT `exp`) as virtual time; nullopt = a token without expiry.
  std::optional<Micros> token_expires_at = std::nullopt;
  // The `Accept` header; empty = none.  The service negotiates the sync-stream encoding from it
  // (docs/protocol.md §3.3.1).
  std::string accept = {};
};

struct HttpResponse {
  int status = 200;
  std::string body;
  // Not a response: the connection was reset (lost request or reply, server restart).
  // The client sees a NetworkError carrying `why`.
  static HttpResponse reset(std::string why) { return {kReset, std::move(why)}; }
  [[nodiscard]] bool is_reset() const { return status == kReset; }
  static constexpr int kReset = 0;
};

// The service's end of a streaming response.
class ServerStream {
 public:
  virtual ~ServerStream() = default;
  [[nodiscard]] virtual bool closed() const = 0;
  // Fires when the client went away or the link was cut.
  virtual Signal& closed_signal() = 0;
  virtual void send(std::string line) = 0;
  // The response's `Content-Type`, set before the head is returned (docs/protocol.md §3.3.1:
  // the negotiated line encoding); the client reads it from ClientStream::content_type().  Test
  // doubles that only record lines may ignore it.
  virtual void set_content_type(const std::string& /*type*/) {}
  virtual void end() = 0;
  // The server drops the connection (a restart): the client sees a reset.
  virtual void abort() = 0;
};

class HttpServer {
 public:
  virtual ~HttpServer() = default;
  // `respond` may be called later (asynchronously), exactly once.
  virtual void handle(const HttpRequest& request, std::function<void(HttpResponse)> respond) = 0;
  // Accepts (status 200, lines follow on `stream`) or rejects (non-200 body, no lines).
  virtual HttpResponse open_stream(const HttpRequest& request,
                                   std::shared_ptr<ServerStream> stream) = 0;
};

// The client's end of a streaming response.
class ClientStream {
 public:
  enum class State { Open, Ended, Reset, Closed };
  [[nodiscard]] State state() const { return state_; }
  [[nodiscard]] bool has_line() const { return !lines_.empty(); }
  // Empty unless the server named one (NDJSON then).
  [[nodiscard]] const std::string& content_type() const { return content_type_; }
  std::string take_line() {
    std::string l = std::move(lines_.front());
    lines_.pop_front();
    return l;
  }
  // Wakes when a line arrives or the stream ends/resets.
  Notifier& readable() { return readable_; }
  // The client cancels the response (SDK aborts the fetch).
  void close();

 private:
  friend class Link;
  std::deque<std::string> lines_;
  std::string content_type_ = {};
  State state_ = State::Open;
  Notifier readable_;
  std::function<void()> on_close_;
};

struct LinkStats {
  uint64_t requests = 0;
  uint64_t streams_opened = 0;
  uint64_t lines_delivered = 0;
  uint64_t cuts = 0;
};

class Link {
 public:
  Link(Loop& loop, HttpServer& server, Micros latency_up, Micros latency_down);
  ~Link();
  Link(const Link&) = delete;
  Link& operator=(const Link&) = delete;

  // If `abort` fires first the request still reaches the server but the caller stops
  // waiting and gets Aborted (the SDK aborting a fetch).
  Task<HttpResponse> request(HttpRequest request, AbortSignal* abort = nullptr);
  // Returns the response head; on 200 `stream` receives the body lines.  If `abort` fires before
  // the head arrives the caller gets Aborted and the connection is closed: the server never
  // keeps the stream the request opens (the SDK aborting its fetch).
  struct StreamOpen {
    HttpResponse head;
    std::shared_ptr<ClientStream> stream;  // null unless head.status == 200
  };
  Task<StreamOpen> open_stream(HttpRequest request, AbortSignal* abort = nullptr);

  // Cuts every open stream of this link: lines in flight are dropped, the client sees a
  // reset, the server sees its stream closed.
  void cut_streams();

  void set_latency(Micros up, Micros down) {
    latency_up_ = up;
    latency_down_ = down;
  }
  // Adds a uniform 0..max delay to every message, in both directions, drawn from `rng`
  // (the link's own stream): without it clients on the same cadence reach the service in
  // the same microsecond every round, a lockstep no real network keeps (docs/architecture.md
  // §2).  Delivery stays in order per direction.
  void set_jitter(Micros max, Prng rng) {
    jitter_max_ = max;
    jitter_rng_ = rng;
  }
  [[nodiscard]] const LinkStats& stats() const { return stats_; }
  [[nodiscard]] std::size_t open_streams() const;

 private:
  class Stream;
  Micros jitter();
  Micros deliver_up();
  Micros deliver_down();

  Loop& loop_;
  HttpServer& server_;
  Micros latency_up_;
  Micros latency_down_;
  Micros last_up_ = 0;
  Micros last_down_ = 0;
  Micros jitter_max_ = 0;
  Prng jitter_rng_{0};
  std::vector<std::shared_ptr<Stream>> streams_;
  LinkStats stats_;
};

class NetworkError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace syncsim::sim
