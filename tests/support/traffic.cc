#include "tests/support/traffic.h"

#include "tests/support/http_client.h"

namespace fiberlb::testing {
namespace {

// One request on `client` (connecting first when needed); records the outcome in `result`.
void oneRequest(HttpClient& client, uint16_t port, bool keep_alive, Deadline deadline,
                TrafficResult& result) {
  auto fail = [&](const std::string& what) {
    ++result.failures;
    if (result.errors.size() < 10) result.errors.push_back(what);
    client.close();
  };
  if (!client.connected() && !client.connect(port, deadline)) {
    return fail("connect: " + client.error());
  }
  const std::string request = getRequest("/traffic", keep_alive ? "" : "Connection: close\r\n");
  if (!client.send(request, deadline)) return fail("send: " + client.error());
  Response r = client.readResponse(deadline);
  if (!r.ok()) return fail("read: " + r.error);
  if (r.status != 200) return fail("status " + std::to_string(r.status) + ": " + r.body);
  const std::string backend = r.header("X-Backend").value_or("<none>");
  ++result.by_backend[backend];
  result.sequence.push_back(backend);
  const auto connection = r.header("Connection");
  if (!keep_alive || r.until_close || (connection && iequals(*connection, "close"))) {
    client.close();
  }
}

}  // namespace

TrafficResult sendRequests(uint16_t port, int n, Deadline deadline, bool keep_alive) {
  TrafficResult result;
  HttpClient client;
  for (int i = 0; i < n; ++i)
    oneRequest(client, port, keep_alive, deadline, result);
  return result;
}

void BackgroundLoad::start(uint16_t port, int threads) {
  port_ = port;
  for (int i = 0; i < threads; ++i)
    threads_.emplace_back([this] { run(); });
}

BackgroundLoad::~BackgroundLoad() {
  stop();
}

void BackgroundLoad::run() {
  HttpClient client;
  int n = 0;
  while (!stop_.load()) {
    // Every 10th request opens a new connection, so both new and reused connections see
    // whatever the test changes meanwhile.
    const bool keep_alive = ++n % 10 != 0;
    TrafficResult one;
    oneRequest(client, port_, keep_alive, deadlineIn(10000), one);
    std::lock_guard<std::mutex> lock(mu_);
    result_.failures += one.failures;
    for (auto& e : one.errors) {
      if (result_.errors.size() < 10) result_.errors.push_back(e);
    }
    for (auto& s : one.sequence) {
      ++result_.by_backend[s];
      result_.sequence.push_back(s);
    }
    ++completed_;
  }
}

bool BackgroundLoad::waitForMore(int n, Deadline deadline) const {
  const int target = completed_.load() + n;
  return pollUntil([&] { return completed_.load() >= target; }, deadline);
}

TrafficResult BackgroundLoad::stop() {
  stop_ = true;
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  std::lock_guard<std::mutex> lock(mu_);
  return result_;
}

}  // namespace fiberlb::testing
