#include "scenarios/world/faulty_server.hpp"

namespace syncsim::scenarios {

bool FaultyServer::matches(const std::string& route, const sim::HttpRequest& r) {
  const bool checkpoint =
      r.path == "/sync/checkpoint-request" || r.path.rfind("/write-checkpoint2.json", 0) == 0;
  if (route == "checkpoint") return checkpoint;
  if (route == "upload") return r.path == "/backend/upload";
  return true;  // "any"
}

void FaultyServer::handle(const sim::HttpRequest& request,
                          std::function<void(sim::HttpResponse)> respond) {
  for (auto it = losses_.begin(); it != losses_.end(); ++it) {
    if (!matches(it->route, request)) continue;
    const bool after = it->after_processing;
    if (--it->count == 0) losses_.erase(it);
    ++lost_;
    if (!after) {
      trace_.log("fault", "{}: {} {} lost before the service saw it", name_, request.method,
                 request.path);
      return respond(sim::HttpResponse::reset("request lost"));
    }
    trace_.log("fault", "{}: {} {} processed, response lost", name_, request.method, request.path);
    return inner_.handle(request, [respond = std::move(respond)](const sim::HttpResponse&) {
      respond(sim::HttpResponse::reset("response lost"));
    });
  }
  inner_.handle(request, std::move(respond));
}

}  // namespace syncsim::scenarios
