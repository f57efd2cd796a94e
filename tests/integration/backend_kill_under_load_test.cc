// A backend dying under load (SPEC §4: "a client never sees a 5xx caused by a backend that
// died before sending response bytes, as long as another eligible backend exists"): wrk
// drives keep-alive traffic through fiberlb while one of three backends is stopped, and wrk
// must report neither socket errors nor non-2xx/3xx responses.

#include <gtest/gtest.h>

#include <filesystem>
#include <regex>
#include <string>
#include <thread>

#include "tests/support/fiberlb_process.h"
#include "tests/support/process.h"
#include "tests/support/test_backend.h"

namespace fiberlb::testing {
namespace {

constexpr const char* kWrk = "/usr/bin/wrk";

// The number after `label` in wrk's report ("Non-2xx or 3xx responses: 12"); 0 when wrk
// printed no such line (it prints them only when non-zero), -1 when unparsable.
int64_t reported(const std::string& report, const std::string& label) {
  const size_t at = report.find(label);
  if (at == std::string::npos) return 0;
  std::smatch m;
  const std::string rest = report.substr(at + label.size());
  if (!std::regex_search(rest, m, std::regex(R"(^\s*(\d+))"))) return -1;
  return std::stoll(m[1]);
}

TEST(BackendKillUnderLoad, StoppingOneOfThreeBackendsUnderWrkGivesNoClientError) {
  if (!std::filesystem::exists(kWrk)) GTEST_SKIP() << "wrk is not installed";
  TestBackend a("a"), b("b"), victim("victim");
  FiberlbConfig config = singleLb({{"a", a.port()}, {"b", b.port()}, {"victim", victim.port()}});
  config.workers = 2;
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(config));

  const std::string url = "http://127.0.0.1:" + std::to_string(lb.port()) + "/";
  Process wrk(kWrk, {.args = {"-t1", "-c16", "-d3s", "--timeout", "2s", url}});
  const auto started = Clock::now();
  ASSERT_TRUE(pollUntil([&] { return victim.requestCount() >= 100; }, deadlineIn(5000)))
      << "the load never reached the third backend";
  // About a second into the three-second run: load before and after the stop.
  std::this_thread::sleep_until(started + milliseconds(1000));
  const int survivors_before = a.requestCount() + b.requestCount();
  victim.stop();

  ASSERT_EQ(wrk.waitExit(deadlineIn(20000)).value_or(-1), 0) << wrk.output();
  ASSERT_TRUE(wrk.waitOutputEnd(deadlineIn(5000)));
  const std::string report = wrk.output();
  std::smatch m;
  ASSERT_TRUE(std::regex_search(report, m, std::regex(R"((\d+) requests in)"))) << report;
  EXPECT_GT(std::stoll(m[1]), 1000) << report;
  EXPECT_EQ(reported(report, "Socket errors: connect"), 0) << report;
  EXPECT_EQ(report.find("Socket errors"), std::string::npos) << report;
  EXPECT_EQ(reported(report, "Non-2xx or 3xx responses:"), 0) << report;
  EXPECT_GT(a.requestCount() + b.requestCount() - survivors_before, 500)
      << "the survivors did not take the load after the stop";
}

}  // namespace
}  // namespace fiberlb::testing
