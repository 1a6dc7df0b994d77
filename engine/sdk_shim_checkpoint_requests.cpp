// The SDK shim's checkpoint requests: readiness (docs/protocol.md §2.3.2), posting a request,
// requestCheckpoint()/waitForSync() (§2.3.1) and the repost loop (§2.3.3).
#include <fmt/format.h>

#include <algorithm>
#include <cassert>

#include "engine/js/js_real_client.hpp"
#include "engine/sdk_shim.hpp"
#include "engine/sdk_shim_internal.hpp"

namespace syncsim::engine {

using namespace shim_detail;  // NOLINT(google-build-using-namespace): the shim's own helpers

// ---------------------------------------------------------------------------------
// checkpoint readiness (docs/protocol.md §2.3.2)

void Client::set_checkpoint_state(CheckpointState s, std::string error) {
  if (checkpoint_state_ == CheckpointState::Disconnected) return;  // terminal
  checkpoint_state_ = s;
  checkpoint_error_ = std::move(error);
  checkpoint_state_changed_.notify();
}

void Client::download_iteration_ended() {
  set_checkpoint_state(CheckpointState::Pending);
  waiter_ = std::make_shared<sim::Latch<bool>>();
}

sim::Task<bool> Client::wait_ready(sim::AbortSignal* abort, bool wake) {
  // waitForCheckpointRequestsReady (@powersync/shared-internals 1.3.0
  // lib/client/sync/stream/CheckpointState.js): "A retry can reach this waiter after disconnect
  // has already aborted its signal" -- an aborted signal answers false before the state is read.
  if (abort && abort->aborted()) co_return false;
  // handleState notifies the notifier current when it runs: at registration the current
  // iteration's; on a state change inside updateState, which for `pending` is
  // downloadIterationEnded's, before it swaps in the next iteration's notifier -- so that
  // notification is lost (quirk §2.7.2).  The port resumes after the swap: it wakes the
  // generation it saw before waiting (`syncsim diff` source-postgres seed 15).
  auto generation = waiter_;
  while (true) {
    switch (checkpoint_state_) {
      case CheckpointState::Ready:
        co_return true;
      case CheckpointState::Error:
        // Quirk §2.7.2: only a pending state wakes the retry delay; the fix also wakes it
        // from a stale error so the next iteration can re-seed.
        if (wake && quirk_fixed(Quirk::WaiterWakesOnlyWhenPending)) waiter_->resolve(true);
        throw std::runtime_error(checkpoint_error_);
      case CheckpointState::Disconnected:
        throw std::runtime_error(kDisconnectedError);
      case CheckpointState::Pending:
        break;
    }
    if (abort && abort->aborted()) co_return false;
    if (wake) generation->resolve(true);
    generation = waiter_;  // what the listener reaches at the next state change
    co_await sim::wait_for(loop_, std::nullopt, &checkpoint_state_changed_, abort);
  }
}

sim::Task<std::string> Client::request_next_checkpoint(sim::AbortSignal* abort) {
  // requestNextCheckpointFromService (docs/protocol.md §2.2.4)
  if (!co_await wait_ready(abort, true)) throw sim::Aborted(abort ? abort->reason() : "aborted");
  auto id = control_int("next_checkpoint_request_id", std::nullopt);
  if (!id) throw std::runtime_error("next_checkpoint_request_id returned NULL");
  last_posted_id_ = id;
  // requestCheckpointFromService(abort, ...): the caller's signal reaches the POST, so a
  // disconnect aborts an upload's checkpoint request (fidelity review item 5).
  co_return co_await post_checkpoint_request(std::to_string(*id), abort);
}

sim::Task<std::string> Client::post_checkpoint_request(const std::string& id,
                                                       sim::AbortSignal* abort) {
  // requestCheckpointFromService (docs/protocol.md §2.2.6): the connector's postCheckpointRequest
  // (through the app backend; the abort signal is not passed on, quirk §2.7.3) or
  // POST /sync/checkpoint-request.
  ++stats_.checkpoint_posts;
  nlohmann::json body = {{"client_id", options_.client_id}, {"checkpoint_request_id", id}};
  const bool backend = options_.post_checkpoint_request_via_backend;
  const std::string path = backend ? "/backend/checkpoint-request" : "/sync/checkpoint-request";
  sim::HttpRequest http;
  if (backend) {
    http = sim::HttpRequest{"POST", path, body.dump(), options_.user};
  } else {
    http = co_await build_request("POST", path, body.dump());
  }
  if (observer_) observer_->on_checkpoint_request_sent(*this);
  ++requests_in_flight_;
  InFlight guard{requests_in_flight_};
  auto response = co_await link_.request(std::move(http), backend ? nullptr : abort);
  if (!backend) note_status(response.status);
  if (response.status != 200) {
    throw std::runtime_error(
        fmt::format("Received {} when getting from {}: {}", response.status, path, response.body));
  }
  auto parsed = nlohmann::json::parse(response.body, nullptr, false);
  if (parsed.is_discarded() || !parsed.contains("data") ||
      !parsed["data"].contains("checkpoint_request_id") ||
      !parsed["data"]["checkpoint_request_id"].is_string()) {
    throw std::runtime_error("malformed checkpoint-request response: " + response.body);
  }
  std::string accepted = parsed["data"]["checkpoint_request_id"].get<std::string>();
  const int64_t accepted_id = std::stoll(accepted);
  highest_accepted_ = std::max(highest_accepted_.value_or(0), accepted_id);
  co_return accepted;
}

// ---------------------------------------------------------------------------------
// requestCheckpoint / waitForSync (docs/protocol.md §2.3.1)

bool Client::is_checkpoint_request_applied(int64_t id) const {
  return applied_request_id_.has_value() && *applied_request_id_ >= id;
}

sim::Task<int64_t> Client::request_checkpoint() {
  // BPD.requestCheckpoint: a sync implementation exists from connect() until disconnect()
  // begins (ConnectionManager.performDisconnect); then impl.requestCheckpoint() with a
  // never-aborting signal.
  if (js_) co_return co_await js_->request_checkpoint();  // the real SDK's own
  if (!sync_impl_) throw SyncApiError(kDisconnectedError, "");
  if (options_.checkpoint_mode == CheckpointMode::Legacy) throw SyncApiError(kLegacyError, "");
  std::string answer = co_await request_next_checkpoint(nullptr);
  co_return std::stoll(answer);
}

sim::Task<void> Client::wait_for_sync(int64_t id, std::shared_ptr<sim::AbortSignal> abort) {
  // Mutant wait-resolves-on-seen: a validated but withheld checkpoint counts as applied.
  auto applied = [&] {
    return is_checkpoint_request_applied(id) ||
           (has_mutant(EngineMutant::WaitResolvesOnSeen) && last_seen().value_or(0) >= id);
  };
  auto resolved = [&] {
    if (observer_) observer_->on_wait_resolved(*this, id);
  };
  if (js_) {  // the real SDK's own
    co_await js_->wait_for_sync(id, std::move(abort));
    resolved();
    co_return;
  }
  if (applied()) {
    resolved();
    co_return;
  }
  // CheckpointRequestImpl.waitForSync: `manager.syncStreamImplementation == null` (§2.3.1).
  if (!sync_impl_) throw SyncApiError(kDisconnectedError, "");
  if (options_.checkpoint_mode == CheckpointMode::Legacy) throw SyncApiError(kLegacyError, "");
  // db.waitForStatus(pred): evaluated now and on every status change (docs/protocol.md §2.3.1 step
  // 3).
  while (true) {
    if (applied()) {
      resolved();
      co_return;
    }
    if (download_error_ || upload_error_) {
      throw SyncApiError(kSyncWaitError, download_error_ ? *download_error_ : *upload_error_);
    }
    if (!connected_ && !connecting_) throw SyncApiError(kDisconnectedError, "");
    if (abort && abort->aborted()) throw SyncApiError(abort->reason(), "");
    co_await sim::wait_for(loop_, std::nullopt, &status_changed_, abort.get());
  }
}

// ---------------------------------------------------------------------------------
// repost loop (docs/protocol.md §2.3.3)

sim::Task<void> Client::repost_loop() {
  // Legacy mode has no client-allocated ids to re-post: the loop returns at once.
  if (options_.checkpoint_mode == CheckpointMode::Legacy) co_return;
  while (!outer_->aborted()) {
    bool failed = false;
    try {
      if (!co_await wait_ready(outer_.get(), false)) co_return;
      auto id = control_int("current_checkpoint_request_id", std::nullopt);
      repost_timer_ = RepostTimer{sdk_timer_deadline(sdk_jitter(options_.repost_delay)), id};
      co_await sim::wait_for(loop_, repost_timer_->at, outer_.get());
      repost_timer_.reset();
      // delayRetry also ends on abort, and the SDK reads `current` before it looks at the
      // signal again (AbstractStreamingSyncImplementation.js, the repost loop: `await
      // this.delayRetry(abort, retryDelay); if (requestId != (await ...readCheckpointRequestId(
      // 'current')))`): a graceful close reads it once more.  `syncsim diff` restart seed 2.
      auto now_id = control_int("current_checkpoint_request_id", std::nullopt);
      if (outer_->aborted()) co_return;
      const bool stale = has_mutant(EngineMutant::RepostStaleId);
      if (id != now_id && !stale) continue;  // a new request was made: restart the timer
      if (id && applied_request_id_ && *applied_request_id_ >= *id && !stale) continue;
      // Quirk §2.7.8 fix: stop once the service accepted an id >= current.
      if (quirk_fixed(Quirk::RepostUntilApplied) && id && highest_accepted_ &&
          *highest_accepted_ >= *id && !stale) {
        continue;
      }
      if (!co_await wait_ready(outer_.get(), false)) co_return;
      if (!id) continue;
      trace_.log(name_, "repost {}", *id);
      ++stats_.reposts;
      if (observer_) observer_->on_reposted(*this, *id);
      co_await post_checkpoint_request(std::to_string(*id), outer_.get());
    } catch (const std::exception& e) {
      if (outer_->aborted()) co_return;
      trace_.log(name_, "repost failed: {}", e.what());
      failed = true;
    }
    if (failed) {
      co_await sim::wait_for(loop_, sdk_timer_deadline(sdk_jitter(options_.repost_delay)),
                             outer_.get());
    }
  }
}

}  // namespace syncsim::engine
