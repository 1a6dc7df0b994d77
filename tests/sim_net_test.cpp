// Unit tests of the simulation kernel's network (sim/net.hpp): a Link's requests and streams.
//
// g++ 12 coroutine rules followed here: no braced-init lists or aggregate temporaries
// inside a co_await expression (requests and deadlines are built as named locals first),
// no moving init-captures of coroutine parameters; coroutines are free functions taking
// their parameters by value or pointer.
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sim/clock.hpp"
#include "sim/loop.hpp"
#include "sim/net.hpp"
#include "sim/prng.hpp"
#include "sim/sync.hpp"
#include "tests/support/sim_kernel_helpers.hpp"

namespace syncsim::sim {
namespace {

using test_support::draws;
using test_support::ms;

// ---------------------------------------------------------------------------------------
// Link
// ---------------------------------------------------------------------------------------

class FakeServer : public HttpServer {
 public:
  explicit FakeServer(Loop& loop) : loop_(loop) {}

  void handle(const HttpRequest& request, std::function<void(HttpResponse)> respond) override {
    arrivals.emplace_back(request.path, loop_.now());
    HttpResponse response{200, "re:" + request.path + ":" + request.body};
    if (response_delay > 0) {
      loop_.after(response_delay, [respond, response] { respond(response); });
    } else {
      respond(response);
    }
  }

  HttpResponse open_stream(const HttpRequest& request,
                           std::shared_ptr<ServerStream> stream) override {
    arrivals.emplace_back(request.path, loop_.now());
    if (request.path == "/forbidden") {
      rejected.push_back(stream);
      return HttpResponse{403, "nope"};
    }
    streams.push_back(stream);
    return HttpResponse{200, ""};
  }

  Micros response_delay = 0;
  std::vector<std::pair<std::string, Micros>> arrivals;
  std::vector<std::shared_ptr<ServerStream>> streams;
  std::vector<std::shared_ptr<ServerStream>> rejected;

 private:
  Loop& loop_;
};

struct ResponseLog {
  std::vector<std::pair<std::string, Micros>> got;
  std::string error;
};

Task<void> do_request(Loop* loop, Link* link, std::string path, AbortSignal* abort,
                      ResponseLog* out) {
  HttpRequest request;
  request.method = "POST";
  request.path = path;
  request.body = "b";
  try {
    HttpResponse response = co_await link->request(request, abort);
    out->got.emplace_back(response.body, loop->now());
  } catch (const Aborted& e) {
    out->error = std::string("aborted: ") + e.what();
  }
}

TEST(Link, RequestResponseTakesUpPlusDownLatency) {
  Loop loop;
  FakeServer server(loop);
  Link link(loop, server, ms(10), ms(25));
  ResponseLog log;
  loop.spawn(do_request(&loop, &link, "/a", nullptr, &log), "client");
  ASSERT_TRUE(loop.run_until(kEpoch + kSeconds));
  ASSERT_EQ(server.arrivals.size(), 1u);
  EXPECT_EQ(server.arrivals[0].second, kEpoch + ms(10));
  ASSERT_EQ(log.got.size(), 1u);
  EXPECT_EQ(log.got[0].first, "re:/a:b");
  EXPECT_EQ(log.got[0].second, kEpoch + ms(35));
  EXPECT_EQ(link.stats().requests, 1u);

  // A server that answers later: the down latency starts when it responds.
  server.response_delay = ms(100);
  loop.spawn(do_request(&loop, &link, "/slow", nullptr, &log), "client2");
  ASSERT_TRUE(loop.run_until(kEpoch + 2 * kSeconds));
  ASSERT_EQ(log.got.size(), 2u);
  EXPECT_EQ(log.got[1].second, kEpoch + kSeconds + ms(135));
}

TEST(Link, AbortedRequestStillReachesTheServer) {
  Loop loop;
  FakeServer server(loop);
  Link link(loop, server, ms(10), ms(10));
  AbortSignal abort;
  ResponseLog log;
  loop.spawn(do_request(&loop, &link, "/x", &abort, &log), "client");
  loop.at(kEpoch + ms(5), [&] { abort.abort("user cancelled"); });
  ASSERT_TRUE(loop.run_until(kEpoch + kSeconds)) << loop.stop_reason().message;
  EXPECT_TRUE(log.got.empty());
  EXPECT_EQ(log.error, "aborted: user cancelled");
  ASSERT_EQ(server.arrivals.size(), 1u);
  EXPECT_EQ(server.arrivals[0].second, kEpoch + ms(10));
}

TEST(Link, UpDirectionStaysInOrderWhenLatencyIsLowered) {
  Loop loop;
  FakeServer server(loop);
  Link link(loop, server, ms(100), ms(1));
  ResponseLog log;
  loop.spawn(do_request(&loop, &link, "/first", nullptr, &log), "first");
  ASSERT_TRUE(loop.run_until(kEpoch));  // the first request is on the wire
  link.set_latency(ms(10), ms(1));
  loop.spawn(do_request(&loop, &link, "/second", nullptr, &log), "second");
  ASSERT_TRUE(loop.run_until(kEpoch + ms(50)));
  EXPECT_TRUE(server.arrivals.empty()) << "the second request may not overtake the first";
  ASSERT_TRUE(loop.run_until(kEpoch + kSeconds));
  const std::vector<std::pair<std::string, Micros>> want{{"/first", kEpoch + ms(100)},
                                                         {"/second", kEpoch + ms(100)}};
  EXPECT_EQ(server.arrivals, want);
  // Later sends use the new latency again once the queue has drained.
  loop.spawn(do_request(&loop, &link, "/third", nullptr, &log), "third");
  ASSERT_TRUE(loop.run_until(kEpoch + 2 * kSeconds));
  ASSERT_EQ(server.arrivals.size(), 3u);
  EXPECT_EQ(server.arrivals[2].second, kEpoch + kSeconds + ms(10));
}

struct StreamLog {
  int status = 0;
  std::string head_body;
  Micros opened_at = 0;
  bool has_stream = false;
  std::shared_ptr<ClientStream> client;
  std::vector<std::pair<std::string, Micros>> lines;
  std::optional<ClientStream::State> final_state;
  Micros final_at = 0;
  std::string error;
};

Task<void> read_stream(Loop* loop, Link* link, std::string path, StreamLog* out,
                       AbortSignal* abort = nullptr) {
  HttpRequest request;
  request.method = "POST";
  request.path = path;
  std::shared_ptr<ClientStream> stream;
  try {
    Link::StreamOpen open = co_await link->open_stream(request, abort);
    out->status = open.head.status;
    out->head_body = open.head.body;
    out->opened_at = loop->now();
    out->has_stream = open.stream != nullptr;
    stream = open.stream;
  } catch (const NetworkError& e) {
    out->error = e.what();
    co_return;
  } catch (const Aborted& e) {
    out->error = std::string("aborted: ") + e.what();
    co_return;
  }
  if (!stream) co_return;
  out->client = stream;
  while (true) {
    while (stream->has_line()) out->lines.emplace_back(stream->take_line(), loop->now());
    if (stream->state() != ClientStream::State::Open) {
      out->final_state = stream->state();
      out->final_at = loop->now();
      co_return;
    }
    const std::optional<Micros> none;
    co_await wait_for(*loop, none, &stream->readable());
  }
}

Task<void> watch_closed(Loop* loop, std::shared_ptr<ServerStream> stream, Micros* closed_at) {
  const std::optional<Micros> none;
  while (!stream->closed()) co_await wait_for(*loop, none, &stream->closed_signal());
  *closed_at = loop->now();
}

TEST(Link, StreamLinesArriveInOrderAndEndIsSeen) {
  Loop loop;
  FakeServer server(loop);
  Link link(loop, server, ms(10), ms(20));
  StreamLog log;
  loop.spawn(read_stream(&loop, &link, "/stream", &log), "reader");
  ASSERT_TRUE(loop.run_until(kEpoch + ms(10)));
  ASSERT_EQ(server.streams.size(), 1u);
  auto stream = server.streams[0];
  EXPECT_EQ(link.open_streams(), 1u);
  stream->send("one");
  stream->send("two");
  ASSERT_TRUE(loop.run_until(kEpoch + ms(15)));
  stream->send("three");
  link.set_latency(ms(10), ms(1));  // lowered: "four" must still come after "three"
  stream->send("four");
  stream->end();
  stream->send("after end");  // dropped
  ASSERT_TRUE(loop.run_until(kEpoch + kSeconds));
  EXPECT_EQ(log.status, 200);
  EXPECT_TRUE(log.has_stream);
  EXPECT_EQ(log.opened_at, kEpoch + ms(30));
  const std::vector<std::pair<std::string, Micros>> want{{"one", kEpoch + ms(30)},
                                                         {"two", kEpoch + ms(30)},
                                                         {"three", kEpoch + ms(35)},
                                                         {"four", kEpoch + ms(35)}};
  EXPECT_EQ(log.lines, want);
  EXPECT_EQ(log.final_state, ClientStream::State::Ended);
  EXPECT_EQ(log.final_at, kEpoch + ms(35));
  EXPECT_TRUE(stream->closed());
  EXPECT_EQ(link.stats().lines_delivered, 4u);
  EXPECT_EQ(link.stats().streams_opened, 1u);
}

TEST(Link, JitterDelaysEachLineWithinItsBoundKeepsTheOrderAndRepeatsPerSeed) {
  // network.jitter_ms (docs/architecture.md §2): 0..max more per message, still in order.
  auto arrivals = [](uint64_t seed) {
    Loop loop;
    FakeServer server(loop);
    Link link(loop, server, ms(10), ms(20));
    link.set_jitter(ms(5), Prng(seed));
    StreamLog log;
    loop.spawn(read_stream(&loop, &link, "/stream", &log), "reader");
    EXPECT_TRUE(loop.run_until(kEpoch + ms(20)));
    EXPECT_EQ(server.streams.size(), 1u);
    for (int i = 0; i < 20; ++i) server.streams.at(0)->send(std::to_string(i));
    EXPECT_TRUE(loop.run_until(kEpoch + kSeconds));
    return log.lines;
  };
  const auto a = arrivals(7);
  ASSERT_EQ(a.size(), 20u);
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].first, std::to_string(i)) << "in order";
    EXPECT_GE(a[i].second, kEpoch + ms(20) + ms(20));
    EXPECT_LE(a[i].second, kEpoch + ms(20) + ms(20) + ms(5));
    if (i > 0) {
      EXPECT_GE(a[i].second, a[i - 1].second);
    }
  }
  EXPECT_EQ(arrivals(7), a) << "the same seed draws the same delays";
  EXPECT_NE(arrivals(8), a) << "the delays are drawn, not fixed";
}

TEST(Link, CutStreamsResetsTheClientClosesTheServerAndDropsLinesInFlight) {
  Loop loop;
  FakeServer server(loop);
  Link link(loop, server, ms(10), ms(50));
  StreamLog log;
  loop.spawn(read_stream(&loop, &link, "/stream", &log), "reader");
  ASSERT_TRUE(loop.run_until(kEpoch + ms(10)));
  ASSERT_EQ(server.streams.size(), 1u);
  auto stream = server.streams[0];
  Micros closed_at = 0;
  loop.spawn(watch_closed(&loop, stream, &closed_at), "server watcher");
  stream->send("delivered");  // arrives at 60 ms
  ASSERT_TRUE(loop.run_until(kEpoch + ms(100)));
  stream->send("in flight");  // would arrive at 150 ms
  ASSERT_TRUE(loop.run_until(kEpoch + ms(120)));
  EXPECT_FALSE(stream->closed());
  link.cut_streams();
  EXPECT_TRUE(stream->closed());
  EXPECT_EQ(link.open_streams(), 0u);
  stream->send("after cut");
  ASSERT_TRUE(loop.run_until(kEpoch + kSeconds));
  const std::vector<std::pair<std::string, Micros>> want{{"delivered", kEpoch + ms(60)}};
  EXPECT_EQ(log.lines, want);
  EXPECT_EQ(log.final_state, ClientStream::State::Reset);
  EXPECT_EQ(log.final_at, kEpoch + ms(120));
  EXPECT_EQ(closed_at, kEpoch + ms(120)) << "closed_signal must fire on a cut";
  EXPECT_EQ(link.stats().cuts, 1u);
  EXPECT_EQ(link.stats().lines_delivered, 1u);
}

TEST(Link, ClientCloseClosesTheServerSide) {
  Loop loop;
  FakeServer server(loop);
  Link link(loop, server, ms(10), ms(10));
  StreamLog log;
  loop.spawn(read_stream(&loop, &link, "/stream", &log), "reader");
  ASSERT_TRUE(loop.run_until(kEpoch + ms(20)));
  ASSERT_EQ(server.streams.size(), 1u);
  ASSERT_TRUE(log.client);
  auto stream = server.streams[0];
  Micros closed_at = 0;
  loop.spawn(watch_closed(&loop, stream, &closed_at), "server watcher");
  stream->send("in flight");
  ASSERT_TRUE(loop.run_until(kEpoch + ms(25)));
  log.client->close();
  EXPECT_EQ(log.client->state(), ClientStream::State::Closed);
  EXPECT_TRUE(stream->closed());
  ASSERT_TRUE(loop.run_until(kEpoch + kSeconds));
  EXPECT_EQ(closed_at, kEpoch + ms(25));
  EXPECT_TRUE(log.lines.empty()) << "a line arriving after close is dropped";
  EXPECT_EQ(link.open_streams(), 0u);
  log.client->close();  // idempotent
  EXPECT_EQ(log.client->state(), ClientStream::State::Closed);
}

TEST(Link, RejectedStreamYieldsNoStream) {
  Loop loop;
  FakeServer server(loop);
  Link link(loop, server, ms(10), ms(10));
  StreamLog log;
  loop.spawn(read_stream(&loop, &link, "/forbidden", &log), "reader");
  ASSERT_TRUE(loop.run_until(kEpoch + kSeconds));
  EXPECT_EQ(log.status, 403);
  EXPECT_EQ(log.head_body, "nope");
  EXPECT_FALSE(log.has_stream);
  EXPECT_EQ(log.opened_at, kEpoch + ms(20));
  ASSERT_EQ(server.rejected.size(), 1u);
  EXPECT_TRUE(server.rejected[0]->closed());
  EXPECT_EQ(link.open_streams(), 0u);
}

TEST(Link, CutWhileOpeningFailsTheOpen) {
  Loop loop;
  FakeServer server(loop);
  Link link(loop, server, ms(10), ms(10));
  StreamLog before_arrival;
  loop.spawn(read_stream(&loop, &link, "/stream", &before_arrival), "reader1");
  ASSERT_TRUE(loop.run_until(kEpoch + ms(5)));
  link.cut_streams();
  ASSERT_TRUE(loop.run_until(kEpoch + ms(100)));
  EXPECT_NE(before_arrival.error.find("reset"), std::string::npos) << before_arrival.error;
  EXPECT_TRUE(server.arrivals.empty()) << "a cut connection never reaches the server";

  StreamLog after_arrival;  // accepted by the server, head still on its way back
  loop.spawn(read_stream(&loop, &link, "/stream", &after_arrival), "reader2");
  ASSERT_TRUE(loop.run_until(kEpoch + ms(115)));
  ASSERT_EQ(server.streams.size(), 1u);
  link.cut_streams();
  ASSERT_TRUE(loop.run_until(kEpoch + kSeconds));
  EXPECT_NE(after_arrival.error.find("reset"), std::string::npos) << after_arrival.error;
  EXPECT_FALSE(after_arrival.has_stream);
  EXPECT_TRUE(server.streams[0]->closed());
  EXPECT_FALSE(loop.stopped());
}

// docs/findings-world.md W34: an SDK that aborts its fetch while the stream request is on the
// wire closes the connection, so the server never keeps that stream (before, the port's aborted
// iteration left it open and the service counted it against its connection limit for good).
TEST(Link, AbortWhileOpeningClosesTheConnection) {
  Loop loop;
  FakeServer server(loop);
  Link link(loop, server, ms(10), ms(10));
  AbortSignal before;  // fired before the request reaches the server
  StreamLog before_arrival;
  loop.spawn(read_stream(&loop, &link, "/stream", &before_arrival, &before), "reader1");
  ASSERT_TRUE(loop.run_until(kEpoch + ms(5)));
  before.abort("app closed");
  ASSERT_TRUE(loop.run_until(kEpoch + ms(100)));
  EXPECT_EQ(before_arrival.error, "aborted: app closed");
  EXPECT_TRUE(server.streams.empty()) << "a closed connection's request opens no stream";
  EXPECT_EQ(link.open_streams(), 0u);

  AbortSignal after;  // fired once the server accepted, the head still on its way back
  StreamLog after_arrival;
  loop.spawn(read_stream(&loop, &link, "/stream", &after_arrival, &after), "reader2");
  ASSERT_TRUE(loop.run_until(kEpoch + ms(115)));
  ASSERT_EQ(server.streams.size(), 1u);
  EXPECT_FALSE(server.streams[0]->closed());
  Micros closed_at = 0;
  loop.spawn(watch_closed(&loop, server.streams[0], &closed_at), "server watcher");
  after.abort("iteration ended");
  ASSERT_TRUE(loop.run_until(kEpoch + kSeconds));
  EXPECT_TRUE(server.streams[0]->closed());
  EXPECT_EQ(closed_at, kEpoch + ms(115)) << "the server sees the close at once";
  EXPECT_EQ(after_arrival.error, "aborted: iteration ended");
  EXPECT_FALSE(after_arrival.has_stream);
  EXPECT_EQ(link.open_streams(), 0u);
  EXPECT_FALSE(loop.stopped());
}

}  // namespace
}  // namespace syncsim::sim
