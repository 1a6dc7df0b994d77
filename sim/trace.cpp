#include "sim/trace.hpp"

namespace syncsim::sim {

void Trace::commit() {
  for (char c : buffer_) {
    hash_ ^= static_cast<unsigned char>(c);
    hash_ *= 0x100000001b3ULL;
  }
  ++lines_;
  if (sink_) sink_->write(buffer_.data(), static_cast<std::streamsize>(buffer_.size()));
  if (keep_ > 0) {
    recent_.emplace_back(buffer_.data(), buffer_.size() - 1);
    if (recent_.size() > keep_) recent_.pop_front();
  }
}

}  // namespace syncsim::sim
