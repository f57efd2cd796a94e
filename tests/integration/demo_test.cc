// The newcomer's first experience (SPEC §1): the demo config starts embedded backends in two
// regions, GET / on 127.0.0.1:8080 answers from one of them, and the dashboard is on :9901.

#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>
#include <set>

#include "tests/support/fiberlb_process.h"
#include "tests/support/http_client.h"

namespace fiberlb::testing {
namespace {

class Demo : public ::testing::Test {
 protected:
  void SetUp() override {
    // The demo's addresses are fixed: serialise demo tests that ctest runs in parallel.
    lock_fd_ = ::open("/tmp/fiberlb-integration-demo.lock", O_CREAT | O_RDWR | O_CLOEXEC, 0666);
    ASSERT_GE(lock_fd_, 0);
    ASSERT_EQ(::flock(lock_fd_, LOCK_EX), 0);
    const std::string demo = sourceDir() + "/examples/demo.toml";
    ASSERT_TRUE(std::filesystem::exists(demo)) << demo << " is missing";
    for (uint16_t port : {8080, 9901}) {
      HttpClient probe;
      if (probe.connect(port, deadlineIn(1000))) {
        GTEST_SKIP() << "something else already listens on 127.0.0.1:" << port;
      }
    }
    ASSERT_TRUE(lb_.startWithFile(demo, {}));
  }

  void TearDown() override {
    lb_.stop(SIGKILL, deadlineIn(5000));  // free the fixed ports before releasing the lock
    if (lock_fd_ >= 0) ::close(lock_fd_);
  }

  int lock_fd_ = -1;
  FiberlbProcess lb_;
};

TEST_F(Demo, ServesFromSeveralEmbeddedBackendsAndStopsCleanly) {
  std::set<std::string> backends;
  for (int i = 0; i < 8; ++i) {
    Response r = fetch(8080, getRequest("/"), deadlineIn(10000));
    ASSERT_TRUE(r.ok()) << r.error;
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_FALSE(r.body.empty());
    backends.insert(r.header("X-Backend").value_or(r.body));
  }
  // Round-robin over the active region's demo backends: more than one answers.
  EXPECT_GE(backends.size(), 2u) << "expected several demo backends to answer";
  EXPECT_EQ(lb_.stop(SIGTERM, deadlineIn(15000)), 0);
}

TEST_F(Demo, DashboardAnswersOnTheAdminAddress) {
  Response dashboard = fetch(9901, getRequest("/"), deadlineIn(10000));
  ASSERT_TRUE(dashboard.ok()) << dashboard.error;
  EXPECT_EQ(dashboard.status, 200);
  EXPECT_NE(dashboard.header("Content-Type").value_or("").find("text/html"), std::string::npos);
}

}  // namespace
}  // namespace fiberlb::testing
