// A real third-party client through fiberlb: curl (installed with the test dependencies)
// must get the same bytes as the raw test client.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/support/fiberlb_process.h"
#include "tests/support/process.h"
#include "tests/support/test_backend.h"

namespace fiberlb::testing {
namespace {

constexpr const char* kCurl = "/usr/bin/curl";

TEST(Curl, DownloadsAndUploadsThroughFiberlb) {
  if (!std::filesystem::exists(kCurl)) GTEST_SKIP() << "curl is not installed";
  constexpr size_t kSize = 1 << 20;
  TestBackend backend("b1", Behaviour{.body_size = kSize, .framing = Framing::Chunked});
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(singleLb({{"b1", backend.port()}})));
  const std::string url = "http://127.0.0.1:" + std::to_string(lb.port()) + "/file";
  const std::string out = lb.dir().file("download.bin");

  RunResult get = runToCompletion(
      kCurl,
      {.args = {"-sS", "--noproxy", "*", "--max-time", "20", "-o", out, "-w", "%{http_code}", url}},
      deadlineIn(30000));
  ASSERT_EQ(get.exit_code, 0) << get.output;
  EXPECT_NE(get.output.find("200"), std::string::npos) << get.output;
  std::ifstream in(out, std::ios::binary);
  std::stringstream body;
  body << in.rdbuf();
  EXPECT_EQ(firstPatternMismatch(body.str(), kSize), -1);

  const std::string upload = lb.dir().write("upload.bin", patternBody(kSize));
  RunResult post =
      runToCompletion(kCurl,
                      {.args = {"-sS", "--noproxy", "*", "--max-time", "20", "-o", "/dev/null",
                                "-w", "%{http_code}", "--data-binary", "@" + upload, "-H",
                                "Content-Type: application/octet-stream", url}},
                      deadlineIn(30000));
  ASSERT_EQ(post.exit_code, 0) << post.output;
  EXPECT_NE(post.output.find("200"), std::string::npos) << post.output;
  auto received = backend.lastRequest();
  ASSERT_TRUE(received);
  EXPECT_EQ(received->method, "POST");
  EXPECT_EQ(firstPatternMismatch(received->body, kSize), -1);
}

}  // namespace
}  // namespace fiberlb::testing
