#include "scenarios/results/document_reader.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>

#include "scenarios/results/results.hpp"

namespace syncsim::scenarios {

namespace {
constexpr std::size_t kBufferSize = 1 << 16;
}

DocumentReader::DocumentReader(std::string path)
    : path_(std::move(path)), buf_(new char[kBufferSize]) {
  file_ = std::fopen(path_.c_str(), "rb");
  if (file_ == nullptr) {
    throw MergeError(fmt::format("cannot read {}: {}", path_, std::strerror(errno)));
  }
  skip_ws();
  if (peek() != '{') fail("a results document is a JSON object");
  get();
  read_members();
}

DocumentReader::~DocumentReader() {
  if (file_ != nullptr) std::fclose(file_);
}

void DocumentReader::fail(const std::string& what) {
  throw MergeError(
      fmt::format("{}: not a syncsim results document (byte {}): {}", path_, offset_ + pos_, what));
}

int DocumentReader::peek() {
  if (pos_ == len_) {
    offset_ += len_;
    len_ = std::fread(buf_.get(), 1, kBufferSize, file_);
    pos_ = 0;
    if (len_ == 0) {
      if (std::ferror(file_) != 0) fail("read error");
      return EOF;
    }
  }
  return static_cast<unsigned char>(buf_[pos_]);
}

int DocumentReader::get() {
  const int c = peek();
  if (c != EOF) ++pos_;
  return c;
}

void DocumentReader::skip_ws() {
  for (int c = peek(); c == ' ' || c == '\n' || c == '\r' || c == '\t'; c = peek()) get();
}

void DocumentReader::expect(char c) {
  skip_ws();
  if (get() != c) fail(fmt::format("expected '{}'", c));
}

void DocumentReader::capture_string(std::string& out) {
  out += static_cast<char>(get());  // the opening quote
  for (;;) {
    const int c = get();
    if (c == EOF) fail("unterminated string");
    out += static_cast<char>(c);
    if (c == '"') return;
    if (c == '\\') {
      const int e = get();
      if (e == EOF) fail("unterminated string");
      out += static_cast<char>(e);
    }
  }
}

// The text of one JSON value; nlohmann::json::parse checks it.
void DocumentReader::capture_value(std::string& out) {
  skip_ws();
  int depth = 0;
  for (;;) {
    const int c = peek();
    if (c == EOF) fail("unexpected end of file");
    if (c == '"') {
      capture_string(out);
    } else if (c == '{' || c == '[') {
      ++depth;
      out += static_cast<char>(get());
    } else if (c == '}' || c == ']') {
      if (depth == 0) return;  // the end of the enclosing container
      --depth;
      out += static_cast<char>(get());
    } else if (c == ',' && depth == 0) {
      return;
    } else {
      out += static_cast<char>(get());
    }
    if (depth == 0 && (c == '"' || c == '}' || c == ']')) return;
  }
}

void DocumentReader::read_members() {
  skip_ws();
  if (peek() == '}') {
    get();
  } else {
    for (;;) {
      skip_ws();
      if (peek() != '"') fail("expected a member name");
      std::string raw;
      capture_string(raw);
      const auto key = nlohmann::json::parse(raw).get<std::string>();
      expect(':');
      if (key == "runs") {
        if (saw_runs_) fail("\"runs\" occurs twice");
        expect('[');
        saw_runs_ = in_runs_ = true;
        return;
      }
      std::string text;
      capture_value(text);
      try {
        members_[key] = nlohmann::json::parse(text);
      } catch (const nlohmann::json::parse_error& e) {
        fail(fmt::format("member \"{}\": {}", key, e.what()));
      }
      skip_ws();
      const int c = get();
      if (c == '}') break;
      if (c != ',') fail("expected ',' or '}' after a member");
    }
  }
  skip_ws();
  if (peek() != EOF) fail("text after the document");
}

std::optional<nlohmann::json> DocumentReader::next_run() {
  if (!in_runs_) return std::nullopt;
  skip_ws();
  if (peek() == ']') {
    get();
    in_runs_ = false;
    skip_ws();
    const int c = get();
    if (c == ',') {
      read_members();
    } else if (c == '}') {
      skip_ws();
      if (peek() != EOF) fail("text after the document");
    } else {
      fail("expected ',' or '}' after \"runs\"");
    }
    return std::nullopt;
  }
  if (!first_run_) expect(',');
  first_run_ = false;
  std::string text;
  capture_value(text);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    fail(fmt::format("a run: {}", e.what()));
  }
}

}  // namespace syncsim::scenarios
