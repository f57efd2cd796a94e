// Checks the test harness itself (TestBackend, HttpClient, Process) without fiberlb, so that
// a failure in the fiberlb tests can be trusted to be fiberlb's.

#include <gtest/gtest.h>

#include "tests/support/http_client.h"
#include "tests/support/process.h"
#include "tests/support/test_backend.h"

namespace fiberlb::testing {
namespace {

TEST(SupportSelfTest, BackendAnswersWithItsNameAndKeepsAlive) {
  TestBackend backend("alpha");
  HttpClient client;
  ASSERT_TRUE(client.connect(backend.port(), deadlineIn(5000))) << client.error();
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(client.send(getRequest("/x"), deadlineIn(5000)));
    Response r = client.readResponse(deadlineIn(5000));
    ASSERT_TRUE(r.ok()) << r.error;
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "alpha\n");
    EXPECT_EQ(r.header("x-backend"), "alpha");
  }
  EXPECT_EQ(backend.requestCount(), 3);
  EXPECT_EQ(backend.connectionCount(), 1);
}

TEST(SupportSelfTest, BodiesInEveryFraming) {
  TestBackend backend("b");
  for (Framing f : {Framing::ContentLength, Framing::Chunked, Framing::UntilClose}) {
    Behaviour b;
    b.body_size = 300000;
    b.framing = f;
    backend.setBehaviour(b);
    Response r = fetch(backend.port(), getRequest("/big"), deadlineIn(5000));
    ASSERT_TRUE(r.ok()) << r.error;
    EXPECT_EQ(r.chunked, f == Framing::Chunked);
    EXPECT_EQ(r.until_close, f == Framing::UntilClose);
    EXPECT_EQ(firstPatternMismatch(r.body, 300000), -1);
  }
}

TEST(SupportSelfTest, EchoRecordsChunkedUploadAndPipelines) {
  TestBackend backend("echo", Behaviour{.echo = true});
  HttpClient client;
  ASSERT_TRUE(client.connect(backend.port(), deadlineIn(5000)));
  const std::string upload =
      "POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n";
  auto responses = client.pipeline({upload, getRequest("/second")}, deadlineIn(5000));
  ASSERT_EQ(responses.size(), 2u);
  ASSERT_TRUE(responses[0].ok()) << responses[0].error;
  EXPECT_NE(responses[0].body.find("POST /up HTTP/1.1"), std::string::npos);
  EXPECT_TRUE(responses[0].body.ends_with("\r\n\r\nhello world"));
  ASSERT_TRUE(responses[1].ok()) << responses[1].error;
  EXPECT_NE(responses[1].body.find("GET /second"), std::string::npos);
  EXPECT_EQ(backend.targets(), (std::vector<std::string>{"/up", "/second"}));
  EXPECT_EQ(backend.lastRequest()->header("host"), "test.local");
}

TEST(SupportSelfTest, ResetRefuseHangAndClose) {
  TestBackend reset("r", Behaviour{.mode = BackendMode::ResetOnAccept});
  Response r = fetch(reset.port(), getRequest("/"), deadlineIn(5000));
  EXPECT_FALSE(r.ok());

  HttpClient refused;
  EXPECT_FALSE(refused.connect(refusingPort(), deadlineIn(5000)));
  EXPECT_NE(refused.error().find("refused"), std::string::npos) << refused.error();

  TestBackend hang("h", Behaviour{.mode = BackendMode::Hang});
  HttpClient client;
  ASSERT_TRUE(client.connect(hang.port(), deadlineIn(5000)));
  ASSERT_TRUE(client.send(getRequest("/"), deadlineIn(5000)));
  const auto start = Clock::now();
  EXPECT_FALSE(client.readResponse(deadlineIn(200)).ok());
  EXPECT_GE(Clock::now() - start, milliseconds(150));
  hang.stop();  // closes the hanging connection
  EXPECT_TRUE(client.waitClosed(deadlineIn(5000)));
}

TEST(SupportSelfTest, ProcessCapturesOutputAndExitCode) {
  Process p("/bin/sh", {.args = {"-c", "echo one; echo two >&2; exit 3"}});
  EXPECT_EQ(p.waitExit(deadlineIn(5000)), 3);
  EXPECT_TRUE(p.waitOutputEnd(deadlineIn(5000)));
  EXPECT_TRUE(p.waitForLine("two", deadlineIn(1000)));
  EXPECT_EQ(p.lines(), (std::vector<std::string>{"one", "two"}));
  EXPECT_FALSE(p.waitForLine("three", deadlineIn(1000))) << "the output has ended";
}

TEST(SupportSelfTest, ProcessSignalAndKillInDestructor) {
  auto p = std::make_unique<Process>(
      "/bin/sh", Process::Options{.args = {"-c", "echo started; exec sleep 30"}});
  ASSERT_TRUE(p->waitForLine("started", deadlineIn(5000)));
  const pid_t pid = p->pid();
  p->signal(SIGTERM);
  EXPECT_EQ(p->waitExit(deadlineIn(5000)), 128 + SIGTERM);
  p = std::make_unique<Process>("/bin/sh", Process::Options{.args = {"-c", "exec sleep 30"}});
  p.reset();  // must not block for 30 s
  EXPECT_NE(pid, 0);
}

}  // namespace
}  // namespace fiberlb::testing
