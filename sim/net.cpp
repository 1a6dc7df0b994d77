#include "sim/net.hpp"

#include <algorithm>

namespace syncsim::sim {

// Both ends of one streaming response.
class Link::Stream : public ServerStream, public std::enable_shared_from_this<Link::Stream> {
 public:
  Stream(Link& link) : link_(link), client_(std::make_shared<ClientStream>()) {}

  [[nodiscard]] bool closed() const override { return server_closed_; }
  Signal& closed_signal() override { return closed_; }

  void send(std::string line) override {
    if (server_closed_) return;
    auto self = shared_from_this();
    link_.loop_.at(link_.deliver_down(), [self, line = std::move(line)]() mutable {
      if (self->client_->state_ != ClientStream::State::Open) return;  // cut or closed
      self->client_->lines_.push_back(std::move(line));
      ++self->link_.stats_.lines_delivered;
      self->client_->readable_.notify();
    });
  }

  void set_content_type(const std::string& type) override { client_->content_type_ = type; }

  void end() override {
    if (server_closed_) return;
    server_closed_ = true;
    auto self = shared_from_this();
    link_.loop_.at(link_.deliver_down(), [self] {
      if (self->client_->state_ != ClientStream::State::Open) return;
      self->client_->state_ = ClientStream::State::Ended;
      self->client_->readable_.notify();
    });
  }

  void abort() override { reset(ClientStream::State::Reset); }

  // The connection is gone for both ends at once.
  void reset(ClientStream::State client_state) {
    if (client_->state_ == ClientStream::State::Open) {
      client_->state_ = client_state;
      client_->readable_.notify();
    }
    close_server_side();
  }

  void close_server_side() {
    if (!closed_flag_) {
      closed_flag_ = true;
      server_closed_ = true;
      closed_.notify();
    }
  }

  std::shared_ptr<ClientStream> client() { return client_; }
  [[nodiscard]] bool live() const { return !closed_flag_; }

 private:
  Link& link_;
  std::shared_ptr<ClientStream> client_;
  bool server_closed_ = false;  // no more sends (ended or closed)
  bool closed_flag_ = false;    // the connection itself is gone
  Notifier closed_;
};

void ClientStream::close() {
  if (state_ == State::Open) state_ = State::Closed;
  if (on_close_) {
    auto f = std::move(on_close_);
    on_close_ = nullptr;
    f();
  }
}

Link::Link(Loop& loop, HttpServer& server, Micros latency_up, Micros latency_down)
    : loop_(loop), server_(server), latency_up_(latency_up), latency_down_(latency_down) {}

Link::~Link() {
  for (auto& s : streams_) s->client()->on_close_ = nullptr;
}

Micros Link::jitter() {
  if (jitter_max_ <= 0) return 0;  // no draw: a link without jitter keeps its old trace
  return static_cast<Micros>(jitter_rng_.uniform(static_cast<uint64_t>(jitter_max_) + 1));
}

Micros Link::deliver_up() {
  last_up_ = std::max(last_up_, loop_.now() + latency_up_ + jitter());
  return last_up_;
}

Micros Link::deliver_down() {
  last_down_ = std::max(last_down_, loop_.now() + latency_down_ + jitter());
  return last_down_;
}

std::size_t Link::open_streams() const {
  return static_cast<std::size_t>(
      std::count_if(streams_.begin(), streams_.end(), [](const auto& s) { return s->live(); }));
}

Task<HttpResponse> Link::request(HttpRequest request, AbortSignal* abort) {
  ++stats_.requests;
  auto result = std::make_shared<Latch<HttpResponse>>();
  // Coroutine parameters go through a shared_ptr: g++ 12 miscompiles init-captures that
  // move from them.
  auto req = std::make_shared<HttpRequest>(std::move(request));
  loop_.at(deliver_up(), [this, req, result] {
    server_.handle(*req, [this, result](HttpResponse response) {
      loop_.at(deliver_down(), [result, response = std::move(response)]() mutable {
        if (response.is_reset()) return result->reject("connection reset: " + response.body);
        result->resolve(std::move(response));
      });
    });
  });
  int which = co_await wait_for(loop_, std::nullopt, result.get(), abort);
  if (which == 1) throw Aborted(abort->reason());
  if (!result->ok()) throw NetworkError(result->error());
  co_return *result->value();
}

Task<Link::StreamOpen> Link::open_stream(HttpRequest request, AbortSignal* abort) {
  ++stats_.streams_opened;
  auto stream = std::make_shared<Stream>(*this);
  std::erase_if(streams_, [](const auto& s) { return !s->live(); });
  streams_.push_back(stream);
  std::weak_ptr<Stream> weak = stream;
  stream->client()->on_close_ = [weak] {
    if (auto s = weak.lock()) s->close_server_side();
  };
  auto head = std::make_shared<Latch<HttpResponse>>();
  auto req = std::make_shared<HttpRequest>(std::move(request));
  loop_.at(deliver_up(), [this, req, stream, head] {
    if (!stream->live()) return head->reject("connection reset before the request arrived");
    HttpResponse response = server_.open_stream(*req, stream);
    if (response.is_reset()) {
      stream->reset(ClientStream::State::Reset);
      return head->reject("connection reset: " + response.body);
    }
    if (response.status != 200) stream->close_server_side();
    loop_.at(deliver_down(), [head, response = std::move(response)]() mutable {
      head->resolve(std::move(response));
    });
  });
  // A cut while the request is in flight must not leave us waiting forever.
  while (!head->settled()) {
    if (stream->client()->state() == ClientStream::State::Reset) {
      throw NetworkError("connection reset while opening the stream");
    }
    if (abort != nullptr && abort->aborted()) {
      // The connection closes with the fetch, like a client closing an open stream: at once for
      // the server (docs/findings-world.md W34).
      stream->client()->close();
      throw Aborted(abort->reason());
    }
    co_await wait_for(loop_, std::nullopt, head.get(), &stream->client()->readable(), abort);
  }
  if (!head->ok()) throw NetworkError(head->error());
  if (stream->client()->state() == ClientStream::State::Reset) {
    throw NetworkError("connection reset while opening the stream");
  }
  StreamOpen open{*head->value(), nullptr};
  if (open.head.status == 200) open.stream = stream->client();
  co_return open;
}

void Link::cut_streams() {
  ++stats_.cuts;
  for (auto& s : streams_) s->reset(ClientStream::State::Reset);
  streams_.clear();
}

}  // namespace syncsim::sim
