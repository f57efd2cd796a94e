// The command line contract (SPEC §2): `fiberlb check`, --version, and the exit codes for an
// invalid configuration (1) and a listener that cannot bind (2).

#include <gtest/gtest.h>

#include <algorithm>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/support/fiberlb_process.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_backend.h"

namespace fiberlb::testing {
namespace {

RunResult runFiberlb(const std::vector<std::string>& args) {
  return runToCompletion(fiberlbBinary(), {.args = args, .label = "fiberlb"}, deadlineIn(20000));
}

std::string validConfig(const TempDir& dir) {
  return singleLb({{"b1", 18081}, {"b2", 18082, 50}}).render(dir.file("state.json"));
}

TEST(Cli, CheckAcceptsAValidFile) {
  TempDir dir;
  const std::string path = dir.write("good.toml", validConfig(dir));
  RunResult r = runFiberlb({"check", path});
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

TEST(Cli, CheckRejectsAWrongTypeNamingFileLineAndColumn) {
  TempDir dir;
  std::string text = validConfig(dir);
  // Make the second backend's weight a string; find the line it is on.
  const size_t at = text.rfind("weight = 50");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, 11, "weight = \"heavy\"");
  const int line = 1 + static_cast<int>(std::count(text.begin(), text.begin() + at, '\n'));
  const std::string path = dir.write("bad.toml", text);

  RunResult r = runFiberlb({"check", path});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("bad.toml:" + std::to_string(line) + ":"), std::string::npos)
      << "expected bad.toml:" << line << ":<col> in:\n"
      << r.output;
  EXPECT_NE(r.output.find("weight"), std::string::npos) << r.output;
}

TEST(Cli, CheckRejectsASyntaxErrorWithItsPosition) {
  TempDir dir;
  const std::string path = dir.write("syntax.toml", "[standalone.server]\nworkers = 1\nname = \n");
  RunResult r = runFiberlb({"check", path});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("syntax.toml:3:"), std::string::npos) << r.output;
}

TEST(Cli, CheckRejectsAnImpossibleValue) {
  TempDir dir;
  std::string text = validConfig(dir);
  text.replace(text.find("method = \"roundrobin\""), 21, "method = \"fastest\"");
  const std::string path = dir.write("method.toml", text);
  RunResult r = runFiberlb({"check", path});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("method"), std::string::npos) << r.output;
}

TEST(Cli, VersionPrintsAndExitsZero) {
  RunResult r = runFiberlb({"--version"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("0.1.0"), std::string::npos) << r.output;
}

TEST(Cli, StartingWithAnInvalidConfigExitsOne) {
  TempDir dir;
  std::string text = validConfig(dir);
  text.replace(text.find("weight = 50"), 11, "weight = -3");
  const std::string path = dir.write("invalid.toml", text);
  RunResult r = runFiberlb({"--config", path});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("invalid.toml:"), std::string::npos) << r.output;
}

TEST(Cli, PortAlreadyTakenExitsTwoNamingTheAddress) {
  // Hold a listening socket without SO_REUSEPORT, so fiberlb cannot share it.
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 16), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const int taken = ntohs(addr.sin_port);

  TempDir dir;
  FiberlbConfig config = singleLb({{"b1", 18081}});
  config.loadbalancers[0].port = static_cast<uint16_t>(taken);
  const std::string path = dir.write("taken.toml", config.render(dir.file("state.json")));
  RunResult r = runFiberlb({"--config", path});
  ::close(fd);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("127.0.0.1:" + std::to_string(taken)), std::string::npos) << r.output;
}

}  // namespace
}  // namespace fiberlb::testing
