// Hot reload by editing the file (issue 7, SPEC §3 "Reload", §8): fiberlb watches its config
// file, so renaming a new file over it (editors, config managers) or rewriting it in place
// (bind mounts) reloads without a signal. GET /api/config/reload reports the last reload and
// fiberlb_config_reloads_total{result} counts them. A reload must fail no request, keep
// what it knows about backends that stay, let in-flight requests to removed backends and
// to an old listener finish; a drain through the API does the same for one backend.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/admin_json.h"
#include "tests/support/fiberlb_process.h"
#include "tests/support/http_client.h"
#include "tests/support/process.h"
#include "tests/support/test_backend.h"
#include "tests/support/traffic.h"

namespace fiberlb::testing {
namespace {

using nlohmann::json;

constexpr const char* kWrk = "/usr/bin/wrk";
constexpr const char* kReloads = "fiberlb_config_reloads_total";
// How long the "in-flight" requests take: every check made while one is in flight (the
// edit, requests elsewhere, polls of an old port) must fit in it, also on a loaded machine.
constexpr milliseconds kSlowRequest{3000};

// Replaces the config the way editors and config managers do: the new content goes to a
// temporary file in the same directory, which is then renamed over the config path. No
// signal: the watch must notice.
void renameOver(const FiberlbProcess& lb, const std::string& toml) {
  const std::string tmp = lb.configPath() + ".edit";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << toml;
    ASSERT_TRUE(out.flush()) << "cannot write " << tmp;
  }
  ASSERT_EQ(::rename(tmp.c_str(), lb.configPath().c_str()), 0) << "rename: " << errno;
}

// Rewrites the config in place (O_TRUNC then two writes on the same inode), as a file on a
// bind mount changes.
void rewriteInPlace(const std::string& path, const std::string& toml) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC);
  ASSERT_GE(fd, 0) << "open " << path << ": " << errno;
  const size_t half = toml.size() / 2;
  EXPECT_EQ(::write(fd, toml.data(), half), static_cast<ssize_t>(half));
  EXPECT_EQ(::write(fd, toml.data() + half, toml.size() - half),
            static_cast<ssize_t>(toml.size() - half));
  ::close(fd);
}

ino_t inodeOf(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

json lastReload(uint16_t admin) {
  json status = adminJson(admin, "/api/config/reload");
  return status.is_object() && status.contains("last_reload") ? status["last_reload"] : json();
}

bool lists(const json& reload, const std::string& kind, const std::string& entry) {
  if (!reload.is_object() || !reload.contains("changes")) return false;
  const json& list = reload["changes"][kind];
  return list.is_array() && std::find(list.begin(), list.end(), entry) != list.end();
}

// Waits until GET /api/config/reload reports a successful reload by `trigger` whose changes
// list `entry` under `kind` ("added", "removed", "modified").
::testing::AssertionResult waitReported(uint16_t admin, const std::string& kind,
                                        const std::string& entry,
                                        const std::string& trigger = "file") {
  json last;
  if (pollUntil(
          [&] {
            last = lastReload(admin);
            return last.is_object() && last.value("result", "") == "success" &&
                   last.value("trigger", "") == trigger && lists(last, kind, entry);
          },
          deadlineIn(5000), milliseconds(10))) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << "GET /api/config/reload never showed a successful '" << trigger << "' reload with "
         << kind << " " << entry << "; last: " << last.dump();
}

// Renames `config` over the file and waits for the reload to report `entry` under `kind`.
::testing::AssertionResult editFile(const FiberlbProcess& lb, uint16_t admin,
                                    const FiberlbConfig& config, const std::string& kind,
                                    const std::string& entry) {
  renameOver(lb, lb.renderConfig(config));
  if (::testing::Test::HasFatalFailure()) return ::testing::AssertionFailure() << "rename failed";
  return waitReported(admin, kind, entry);
}

double reloadsCounted(uint16_t admin, const std::string& result) {
  return metricTotal(admin, kReloads, {{"result", result}});
}

int received(const TestBackend& b, const std::string& target) {
  const auto targets = b.targets();
  return static_cast<int>(std::count(targets.begin(), targets.end(), target));
}
int dataRequests(const TestBackend& b) {
  return received(b, "/traffic");
}
int checksOf(const TestBackend& b) {
  return received(b, "/hc");
}

// wrk -t1 -c8 against `port` until stop() (SIGINT, after which wrk prints its report); does
// nothing when wrk is not installed (the BackgroundLoad that runs beside it still checks
// every answer then).
class WrkLoad {
 public:
  explicit WrkLoad(uint16_t port) {
    if (!std::filesystem::exists(kWrk)) return;
    const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/";
    wrk_ = std::make_unique<Process>(
        kWrk, Process::Options{.args = {"-t1", "-c8", "-d120s", "--timeout", "5s", url}});
  }
  bool running() const { return wrk_ != nullptr; }
  // wrk's report; "" without wrk.
  std::string stop() {
    if (!wrk_) return "";
    wrk_->signal(SIGINT);
    EXPECT_EQ(wrk_->waitExit(deadlineIn(10000)).value_or(-1), 0) << wrk_->output();
    EXPECT_TRUE(wrk_->waitOutputEnd(deadlineIn(5000)));
    return wrk_->output();
  }

 private:
  std::unique_ptr<Process> wrk_;
};

// A GET on its own connection that is being served by `slow` (which delays its answers):
// requests are sent until one lands there rather than on `other` (round-robin).
std::unique_ptr<HttpClient> inFlightAt(uint16_t port, const TestBackend& slow,
                                       const TestBackend* other = nullptr) {
  for (int attempt = 0; attempt < 6; ++attempt) {
    auto client = std::make_unique<HttpClient>();
    const int other_before = other != nullptr ? other->requestCount() : 0;
    if (!client->connect(port, deadlineIn(5000)) ||
        !client->send(getRequest("/slow"), deadlineIn(5000)))
      return nullptr;
    pollUntil(
        [&] {
          return slow.activeRequests() == 1 ||
                 (other != nullptr && other->requestCount() > other_before);
        },
        deadlineIn(5000));
    if (slow.activeRequests() == 1) return client;
    client->readResponse(deadlineIn(5000));  // answered by `other`: try again
  }
  return nullptr;
}

// Starts fiberlb and learns its admin port.
::testing::AssertionResult startWithAdmin(FiberlbProcess& lb, const FiberlbConfig& config,
                                          uint16_t& admin) {
  if (auto started = lb.start(config); !started) return started;
  admin = adminPort(lb);
  if (admin == 0) return ::testing::AssertionFailure() << "no admin port logged";
  return ::testing::AssertionSuccess();
}

// Every test starts fiberlb on these members, named like the locals they stand for; those
// that edit the config under traffic run `load` too.
class HotReload : public ::testing::Test {
 protected:
  // Starts fiberlb on `config` and learns its admin port, then starts `clients` background
  // clients and waits for their first `answers` answers.
  ::testing::AssertionResult startUnderLoad(const FiberlbConfig& config, int clients, int answers) {
    if (auto started = startWithAdmin(lb, config, admin); !started) return started;
    load.start(lb.port(), clients);
    if (!load.waitForMore(answers, deadlineIn(10000)))
      return ::testing::AssertionFailure()
             << "the background load got no " << answers << " answers";
    return ::testing::AssertionSuccess();
  }

  FiberlbProcess lb;
  uint16_t admin = 0;
  BackgroundLoad load;
};

TEST_F(HotReload, ApiReportsNoReloadBeforeTheFirstAndWatchesTheConfigPath) {
  TestBackend a("a");
  ASSERT_TRUE(startWithAdmin(lb, singleLb({{"a", a.port()}}), admin));
  json status = adminJson(admin, "/api/config/reload");
  ASSERT_TRUE(status.is_object()) << "GET /api/config/reload is not a JSON object";
  EXPECT_TRUE(status.contains("last_reload") && status["last_reload"].is_null()) << status.dump();
  EXPECT_EQ(status.value("watching", false), true) << status.dump();
  EXPECT_EQ(std::filesystem::path(status.value("config_path", "")).filename(), "fiberlb.toml")
      << status.dump();
  EXPECT_EQ(reloadsCounted(admin, "success"), 0);
  EXPECT_EQ(reloadsCounted(admin, "failure"), 0);
}

TEST_F(HotReload, TwentyRenamedEditsUnderWrkLoadFailNoRequest) {
  TestBackend a("a"), b("b"), extra("extra");
  FiberlbConfig base = singleLb({{"a", a.port()}, {"b", b.port()}});
  base.workers = 2;
  ASSERT_TRUE(startWithAdmin(lb, base, admin));

  WrkLoad wrk(lb.port());
  load.start(lb.port(), 1);  // checks every answer; a new connection every 10th
  ASSERT_TRUE(load.waitForMore(20, deadlineIn(10000)));
  const auto started = Clock::now();
  // Even steps add a backend under a new name, odd steps remove it again: each reload's
  // change is unique, so the API shows when that very reload has been applied.
  for (int i = 0; i < 20; ++i) {
    const std::string name = "x" + std::to_string(i / 2);
    FiberlbConfig next = base;
    if (i % 2 == 0) next.loadbalancers[0].backends.push_back({name, extra.port()});
    ASSERT_TRUE(editFile(lb, admin, next, i % 2 == 0 ? "added" : "removed", "web/" + name))
        << "reload " << i;
    ASSERT_TRUE(load.waitForMore(3, deadlineIn(5000))) << "the load stalled after reload " << i;
  }
  const auto elapsed = Clock::now() - started;
  TrafficResult r = load.stop();
  const std::string report = wrk.stop();

  EXPECT_EQ(r.failures, 0) << ::testing::PrintToString(r.errors);
  EXPECT_EQ(reloadsCounted(admin, "success"), 20);
  EXPECT_EQ(reloadsCounted(admin, "failure"), 0);
  EXPECT_GT(extra.requestCount(), 0) << "the added backend never got traffic";
  EXPECT_GT(a.requestCount(), 0);
  EXPECT_GT(b.requestCount(), 0);
  if (wrk.running()) {
    std::smatch m;
    ASSERT_TRUE(std::regex_search(report, m, std::regex(R"((\d+) requests in)"))) << report;
    EXPECT_GT(std::stoll(m[1]), 100) << report;
    std::cout << "[ info     ] wrk -t1 -c8: " << m[1] << " requests across the edits\n";
    EXPECT_EQ(report.find("Socket errors"), std::string::npos) << report;
    EXPECT_EQ(report.find("Non-2xx or 3xx responses"), std::string::npos) << report;
  }
  EXPECT_TRUE(lb.process().running());
  std::cout << "[ info     ] 20 renamed edits applied in "
            << std::chrono::duration_cast<milliseconds>(elapsed).count() << " ms\n";
}

// The issue's promise: an added backend gets traffic within 1 s of the rename. The typical
// figure is ~110 ms; on a machine saturated by other tests one attempt can be preempted past
// the second, so the promise is checked on the best of three edits (each adds a backend).
TEST_F(HotReload, BackendAddedByRenameGetsTrafficWithinOneSecond) {
  TestBackend a("a"), b1("b1"), b2("b2"), b3("b3");
  ASSERT_TRUE(startUnderLoad(singleLb({{"a", a.port()}}), 2, 20));

  std::vector<BackendConfig> backends = {{"a", a.port()}};
  int64_t best_ms = -1;
  for (TestBackend* added : {&b1, &b2, &b3}) {
    backends.push_back({added->name(), added->port()});
    const auto renamed = Clock::now();
    renameOver(lb, lb.renderConfig(singleLb(backends)));
    ASSERT_TRUE(
        pollUntil([&] { return added->requestCount() > 0; }, deadlineIn(10000), milliseconds(1)))
        << added->name() << " never got traffic after the rename";
    const int64_t ms = std::chrono::duration_cast<milliseconds>(Clock::now() - renamed).count();
    std::cout << "[ info     ] rename -> first request at " << added->name() << ": " << ms
              << " ms\n";
    best_ms = best_ms < 0 ? ms : std::min(best_ms, ms);
    EXPECT_TRUE(waitReported(admin, "added", "web/" + added->name()));
    if (best_ms < 1000) break;
  }
  EXPECT_LT(best_ms, 1000) << "no added backend got traffic within 1 s of its rename";
  ASSERT_TRUE(load.waitForMore(20, deadlineIn(10000)));
  TrafficResult r = load.stop();
  EXPECT_EQ(r.failures, 0) << ::testing::PrintToString(r.errors);
}

TEST_F(HotReload, InvalidEditKeepsServingIsReportedAndCountedThenAValidEditApplies) {
  TestBackend a("a"), b("b");
  ASSERT_TRUE(startUnderLoad(singleLb({{"a", a.port()}}), 1, 10));

  // Broken TOML on line 2, then well-formed TOML with an impossible value on a known line
  // (an unknown key is only a warning, SPEC §3, so it would not fail).
  std::string bad_value = lb.renderConfig(singleLb({{"b", b.port()}}));
  const size_t at = bad_value.find("weight = 100");
  bad_value.replace(at, 12, "weight = 5000");
  const int bad_line =
      1 + static_cast<int>(std::count(bad_value.begin(), bad_value.begin() + at, '\n'));
  const struct {
    std::string toml;
    int line;
  } edits[] = {{"[standalone.server]\nworkers = = 1\n", 2}, {bad_value, bad_line}};
  int failures = 0;
  std::string previous_at;
  for (const auto& edit : edits) {
    renameOver(lb, edit.toml);
    ++failures;
    json last;
    // The counter first: once it shows this failure, the report is at least as new. Both
    // reports say "failure", so the time tells this one from the previous one.
    ASSERT_TRUE(pollUntil(
        [&] {
          if (reloadsCounted(admin, "failure") != failures) return false;
          last = lastReload(admin);
          return last.is_object() && last.value("result", "") == "failure" &&
                 last.value("at", "") != previous_at;
        },
        deadlineIn(5000), milliseconds(10)))
        << "failure " << failures << " not counted and reported; last: " << last.dump();
    previous_at = last.value("at", "");
    EXPECT_EQ(last.value("trigger", ""), "file") << last.dump();
    const std::string error = last.value("error", "");
    EXPECT_TRUE(std::regex_search(
        error, std::regex("fiberlb\\.toml:" + std::to_string(edit.line) + ":[0-9]+")))
        << "expected fiberlb.toml:" << edit.line << ":<col> in: " << error;
    ASSERT_TRUE(load.waitForMore(10, deadlineIn(5000)));
  }
  EXPECT_EQ(reloadsCounted(admin, "success"), 0);
  EXPECT_TRUE(lb.process().running());
  EXPECT_EQ(b.requestCount(), 0) << "part of an invalid config was applied";

  ASSERT_TRUE(editFile(lb, admin, singleLb({{"b", b.port()}}), "added", "web/b"));
  EXPECT_TRUE(lists(lastReload(admin), "removed", "web/a"));
  EXPECT_EQ(lastReload(admin).value("error", "?"), "");
  EXPECT_EQ(reloadsCounted(admin, "success"), 1);
  EXPECT_EQ(reloadsCounted(admin, "failure"), 2);
  ASSERT_TRUE(pollUntil([&] { return b.requestCount() > 0; }, deadlineIn(5000)));
  TrafficResult r = load.stop();
  EXPECT_EQ(r.failures, 0) << ::testing::PrintToString(r.errors);
}

TEST_F(HotReload, InPlaceRewriteOfTheSameInodeIsNoticed) {
  TestBackend a("a"), b("b");
  ASSERT_TRUE(startUnderLoad(singleLb({{"a", a.port()}}), 1, 10));

  const ino_t inode = inodeOf(lb.configPath());
  rewriteInPlace(lb.configPath(), lb.renderConfig(singleLb({{"a", a.port()}, {"b", b.port()}})));
  ASSERT_EQ(inodeOf(lb.configPath()), inode) << "the rewrite replaced the file";
  ASSERT_TRUE(waitReported(admin, "added", "web/b"));
  ASSERT_TRUE(pollUntil([&] { return b.requestCount() > 0; }, deadlineIn(5000)));
  // The truncated, half-written file was never loaded: no failure, exactly one reload.
  EXPECT_EQ(reloadsCounted(admin, "failure"), 0);
  EXPECT_EQ(reloadsCounted(admin, "success"), 1);
  ASSERT_TRUE(load.waitForMore(10, deadlineIn(5000)));
  TrafficResult r = load.stop();
  EXPECT_EQ(r.failures, 0) << ::testing::PrintToString(r.errors);
}

// Field `field` of backend `backend` in GET /api/geo/nodes.
std::string nodeField(uint16_t admin, const std::string& backend, const std::string& field) {
  json nodes = adminJson(admin, "/api/geo/nodes");
  if (!nodes.is_array()) return "<no nodes>";
  for (const json& n : nodes) {
    if (n.value("node_id", "") == backend) return n.value(field, "<none>");
  }
  return "<no node>";
}

// `sick` is out of rotation (its `field` in /api/geo/nodes is `verdict`). Under load, an edit
// adds `c`; sick must keep its verdict and get no request, until c has traffic, then until
// `window_over` (when a reload that forgot the verdict would have found it again) and for
// `more` requests after that.
void expectStaysOutAcrossAnEdit(FiberlbProcess& lb, uint16_t admin, const FiberlbConfig& config,
                                const TestBackend& sick, const TestBackend& c,
                                const std::string& field, const std::string& verdict,
                                const std::function<bool()>& window_over, int more) {
  BackgroundLoad load(lb.port(), 2);
  ASSERT_TRUE(load.waitForMore(20, deadlineIn(10000)));
  const int before = dataRequests(sick);
  FiberlbConfig next = config;
  next.loadbalancers[0].backends.push_back({"c", c.port()});
  ASSERT_TRUE(editFile(lb, admin, next, "added", "web/c"));
  EXPECT_EQ(nodeField(admin, "sick", field), verdict) << "the reload forgot sick's " << field;
  ASSERT_TRUE(pollUntil([&] { return dataRequests(c) > 0; }, deadlineIn(5000)));
  ASSERT_TRUE(pollUntil(window_over, deadlineIn(5000)));
  ASSERT_TRUE(load.waitForMore(more, deadlineIn(10000)));
  TrafficResult r = load.stop();
  EXPECT_EQ(dataRequests(sick), before) << "requests reached sick after the reload";
  EXPECT_EQ(nodeField(admin, "sick", field), verdict);
  EXPECT_EQ(r.failures, 0) << ::testing::PrintToString(r.errors);
  EXPECT_GT(r.by_backend["c"], 0);
}

// `>` truncates before it writes: a file left empty past the quiet time is a write in
// progress, never a config without load balancers. SIGHUP on it is refused and reported.
TEST_F(HotReload, AFileLeftEmptyIsNeverLoadedAndSighupOnItIsRefused) {
  TestBackend a("a"), b("b");
  ASSERT_TRUE(startUnderLoad(singleLb({{"a", a.port()}}), 1, 10));

  rewriteInPlace(lb.configPath(), "");
  // Several quiet times and a stat poll later, still serving and nothing reloaded.
  ASSERT_TRUE(load.waitForMore(10, deadlineIn(5000)));
  std::this_thread::sleep_for(milliseconds(1300));
  ASSERT_TRUE(load.waitForMore(10, deadlineIn(5000)));
  EXPECT_TRUE(lastReload(admin).is_null()) << lastReload(admin).dump();

  lb.process().signal(SIGHUP);
  json last;
  ASSERT_TRUE(pollUntil(
      [&] {
        last = lastReload(admin);
        return last.is_object() && last.value("trigger", "") == "signal";
      },
      deadlineIn(5000)));
  EXPECT_EQ(last.value("result", ""), "failure");
  EXPECT_NE(last.value("error", "").find("is empty"), std::string::npos) << last.dump();

  rewriteInPlace(lb.configPath(), lb.renderConfig(singleLb({{"a", a.port()}, {"b", b.port()}})));
  ASSERT_TRUE(waitReported(admin, "added", "web/b"));
  TrafficResult r = load.stop();
  EXPECT_EQ(r.failures, 0) << ::testing::PrintToString(r.errors);
}

TEST_F(HotReload, UnhealthyBackendStaysOutAfterAnEditThatChangesSomethingElse) {
  TestBackend a("a"), c("c");
  TestBackend sick("sick", Behaviour{.status = 500});  // fails every check (and request)
  FiberlbConfig config = singleLb({{"a", a.port()}, {"sick", sick.port()}});
  config.loadbalancers[0].healthcheck =
      "type = \"http\"\ninterval_sec = 0.2\ntimeout_sec = 1\npath = \"/hc\"\n"
      "healthy_threshold = 1\nunhealthy_threshold = 3\n";
  ASSERT_TRUE(startWithAdmin(lb, config, admin));
  ASSERT_TRUE(pollUntil([&] { return nodeField(admin, "sick", "health") == "unhealthy"; },
                        deadlineIn(10000)));
  ASSERT_TRUE(
      pollUntil([&] { return nodeField(admin, "a", "health") == "healthy"; }, deadlineIn(10000)));
  EXPECT_EQ(dataRequests(sick), 0);
  // With active checks an Unknown backend is not eligible either, so the verdict in the API
  // is what shows a forgetful reload here; the routing check catches one that starts a
  // backend as healthy. Three failed checks after the reload: a reload that had forgotten
  // the verdict would have found it again by then.
  const int checks = checksOf(sick);
  expectStaysOutAcrossAnEdit(
      lb, admin, config, sick, c, "health", "unhealthy",
      [&] { return checksOf(sick) >= checks + 3; }, 20);
}

TEST_F(HotReload, BackendWithAnOpenCircuitStaysOutAfterAnEdit) {
  // No active checks: only the circuit knows that sick is bad (Unknown health is eligible).
  TestBackend a("a"), c("c");
  TestBackend sick("sick", Behaviour{.status = 500});
  FiberlbConfig config = singleLb({{"a", a.port()}, {"sick", sick.port()}});
  config.loadbalancers[0].circuit_breaker = {{"failure_threshold", 2},
                                             {"recovery_timeout_sec", 60}};
  config.loadbalancers[0].retries_on =
      std::vector<std::string>{"connect-failure", "refused", "reset-before-response", "5xx"};
  ASSERT_TRUE(startWithAdmin(lb, config, admin));
  ASSERT_TRUE(pollUntil(
      [&] {
        sendRequests(lb.port(), 2, deadlineIn(5000));
        return nodeField(admin, "sick", "circuit") == "open";
      },
      deadlineIn(10000)));
  // A forgotten (closed) circuit would let the very next picks of sick through: 200 more
  // round-robin requests make that certain.
  expectStaysOutAcrossAnEdit(
      lb, admin, config, sick, c, "circuit", "open", [] { return true; }, 200);
}

TEST_F(HotReload, SlowRequestToABackendRemovedByTheEditCompletes) {
  TestBackend a("a", Behaviour{.delay = kSlowRequest, .body_size = 100000});
  TestBackend b("b");
  ASSERT_TRUE(startWithAdmin(lb, singleLb({{"a", a.port()}}), admin));
  auto client = inFlightAt(lb.port(), a);
  ASSERT_NE(client, nullptr);

  ASSERT_TRUE(editFile(lb, admin, singleLb({{"b", b.port()}}), "removed", "web/a"));
  TrafficResult during = sendRequests(lb.port(), 5, deadlineIn(5000));
  EXPECT_EQ(during.by_backend["b"], 5) << ::testing::PrintToString(during.errors);
  EXPECT_EQ(a.activeRequests(), 1) << "the request ended before the reload: scenario missed";

  Response r = client->readResponse(deadlineIn(10000));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("X-Backend"), "a");
  EXPECT_EQ(firstPatternMismatch(r.body, 100000), -1);
  EXPECT_EQ(a.requestCount(), 1) << "the removed backend got new requests";
}

TEST_F(HotReload, ListenerPortChangeMovesTrafficWithoutFailingTheInFlightRequest) {
  TestBackend a("a", Behaviour{.delay = kSlowRequest});
  FiberlbConfig config = singleLb({{"a", a.port()}});
  const uint16_t old_port = refusingPort();
  config.loadbalancers[0].port = old_port;
  ASSERT_TRUE(startWithAdmin(lb, config, admin));
  ASSERT_EQ(lb.port(), old_port);
  auto client = inFlightAt(old_port, a);
  ASSERT_NE(client, nullptr);
  a.setBehaviour({});  // later requests are answered at once

  FiberlbConfig moved = config;
  const uint16_t new_port = refusingPort();
  ASSERT_NE(new_port, old_port);
  moved.loadbalancers[0].port = new_port;
  ASSERT_TRUE(editFile(lb, admin, moved, "modified", "web"));
  EXPECT_TRUE(lb.process().waitForLine(
      "listening lb=web addr=127.0.0.1:" + std::to_string(new_port), deadlineIn(1000)));
  TrafficResult on_new = sendRequests(new_port, 5, deadlineIn(5000), /*keep_alive=*/false);
  EXPECT_EQ(on_new.by_backend["a"], 5) << ::testing::PrintToString(on_new.errors);
  EXPECT_TRUE(pollUntil(
      [&] {
        HttpClient probe;
        return !probe.connect(old_port, deadlineIn(1000));
      },
      deadlineIn(5000)))
      << "the old port " << old_port << " still accepts connections";
  // The five quick requests also went to a, which counts one down only after its response
  // is sent: wait for those to settle; the slow one is then the only one left.
  EXPECT_TRUE(pollUntil([&] { return a.activeRequests() == 1; }, deadlineIn(1000)))
      << "the slow request ended before the checks (active " << a.activeRequests() << ")";

  Response r = client->readResponse(deadlineIn(10000));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("X-Backend"), "a");
}

TEST_F(HotReload, DrainThroughTheApiLetsTheInFlightRequestFinishAndTakesNoNewOnes) {
  TestBackend a("a", Behaviour{.delay = kSlowRequest});
  TestBackend b("b");
  ASSERT_TRUE(startWithAdmin(lb, singleLb({{"a", a.port()}, {"b", b.port()}}), admin));
  auto client = inFlightAt(lb.port(), a, &b);
  ASSERT_NE(client, nullptr) << "no request reached a";
  ASSERT_EQ(a.requestCount(), 1);

  Response patched =
      adminRequest(admin, "PATCH", "/api/loadbalancers/web/backends/a", R"({"state":"drain"})");
  ASSERT_TRUE(patched.ok()) << patched.error;
  ASSERT_EQ(patched.status, 200) << patched.body;
  TrafficResult during = sendRequests(lb.port(), 10, deadlineIn(5000), /*keep_alive=*/false);
  EXPECT_EQ(during.by_backend["b"], 10) << ::testing::PrintToString(during.errors);
  EXPECT_EQ(a.activeRequests(), 1) << "the slow request ended before the checks";

  Response r = client->readResponse(deadlineIn(10000));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("X-Backend"), "a");
  // Once it finished, still nothing new for a.
  TrafficResult after = sendRequests(lb.port(), 10, deadlineIn(5000));
  EXPECT_EQ(after.by_backend["b"], 10) << ::testing::PrintToString(after.errors);
  EXPECT_EQ(a.requestCount(), 1) << "the drained backend got new requests";
}

}  // namespace
}  // namespace fiberlb::testing
