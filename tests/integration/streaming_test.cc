// Large bodies stream through fiberlb intact in both directions, whatever their framing
// (SPEC §5): content-length, chunked, and responses delimited by the connection closing.

#include <gtest/gtest.h>

#include "tests/support/fiberlb_process.h"
#include "tests/support/http_client.h"
#include "tests/support/test_backend.h"

namespace fiberlb::testing {
namespace {

constexpr size_t kFiveMb = 5 * 1024 * 1024;

class StreamingResponse : public ::testing::TestWithParam<Framing> {};

TEST_P(StreamingResponse, FiveMegabytesArriveByteForByte) {
  TestBackend backend("big", Behaviour{.body_size = kFiveMb, .framing = GetParam()});
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(singleLb({{"big", backend.port()}})));

  HttpClient client;
  ASSERT_TRUE(client.connect(lb.port(), deadlineIn(5000)));
  for (int round = 0; round < 2; ++round) {  // twice, to see the connection stay usable
    ASSERT_TRUE(client.send(getRequest("/big"), deadlineIn(5000)));
    Response r = client.readResponse(deadlineIn(30000));
    ASSERT_TRUE(r.ok()) << r.error;
    EXPECT_EQ(r.status, 200);
    ASSERT_EQ(r.body.size(), kFiveMb);
    EXPECT_EQ(firstPatternMismatch(r.body, kFiveMb), -1);
    if (r.until_close || client.peerClosed()) {
      // Only acceptable when the backend's response was itself delimited by close.
      EXPECT_EQ(GetParam(), Framing::UntilClose);
      ASSERT_TRUE(client.connect(lb.port(), deadlineIn(5000)));
    }
  }
  EXPECT_EQ(backend.requestCount(), 2);
}

INSTANTIATE_TEST_SUITE_P(Framings, StreamingResponse,
                         ::testing::Values(Framing::ContentLength, Framing::Chunked,
                                           Framing::UntilClose),
                         [](const auto& info) { return ::testing::PrintToString(info.param); });

TEST(StreamingBackPressure, StalledClientStallsTheBackendInsteadOfFillingMemory) {
  // The client reads the head, then nothing, while the backend has 64 MiB to send. With
  // back-pressure, fiberlb stops reading from the backend once the socket buffers are full,
  // so the backend cannot finish and fiberlb's memory stays flat.
  constexpr size_t kHuge = 64 * 1024 * 1024;
  TestBackend backend("huge", Behaviour{.body_size = kHuge});
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(singleLb({{"huge", backend.port()}})));
  const int64_t rss_before = lb.process().rssKib();

  HttpClient client;
  ASSERT_TRUE(client.connect(lb.port(), deadlineIn(5000)));
  ASSERT_TRUE(client.send(getRequest("/huge"), deadlineIn(5000)));
  ASSERT_TRUE(client.waitReadable(deadlineIn(10000)));
  // Without back-pressure the whole body would pass in well under a second on loopback; wait
  // that long for the backend to finish, which must not happen.
  EXPECT_FALSE(pollUntil([&] { return backend.responsesSent() > 0; }, deadlineIn(1500)))
      << "the backend finished sending 64 MiB to a client that reads nothing";
  const int64_t growth_kib = lb.process().rssKib() - rss_before;
  EXPECT_LT(growth_kib, 32 * 1024)
      << "fiberlb buffered the body: RSS grew by " << growth_kib << " KiB";

  Response r = client.readResponse(deadlineIn(60000));
  ASSERT_TRUE(r.ok()) << r.error;
  ASSERT_EQ(r.body.size(), kHuge);
  EXPECT_EQ(firstPatternMismatch(r.body, kHuge), -1);
  EXPECT_TRUE(pollUntil([&] { return backend.responsesSent() == 1; }, deadlineIn(5000)));
}

// Sends `body` as chunks of irregular sizes.
std::string chunked(const std::string& body) {
  std::string out;
  size_t pos = 0;
  for (size_t i = 0; pos < body.size(); ++i) {
    const size_t n = std::min(body.size() - pos, size_t{1} + (i * 104729) % 65536);
    char size_line[32];
    std::snprintf(size_line, sizeof size_line, "%zX\r\n", n);
    out += size_line;
    out.append(body, pos, n);
    out += "\r\n";
    pos += n;
  }
  return out + "0\r\n\r\n";
}

TEST(StreamingUpload, ChunkedRequestOfSeveralMegabytesReachesTheBackendIntact) {
  TestBackend backend("sink");
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(singleLb({{"sink", backend.port()}})));

  const std::string body = patternBody(kFiveMb);
  HttpClient client;
  ASSERT_TRUE(client.connect(lb.port(), deadlineIn(5000)));
  ASSERT_TRUE(client.send(
      "POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(body),
      deadlineIn(30000)))
      << client.error();
  Response r = client.readResponse(deadlineIn(30000));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.status, 200);
  auto received = backend.lastRequest();
  ASSERT_TRUE(received);
  EXPECT_EQ(received->target, "/upload");
  EXPECT_EQ(received->body.size(), kFiveMb);
  EXPECT_EQ(firstPatternMismatch(received->body, kFiveMb), -1);
}

TEST(StreamingUpload, ContentLengthUploadIsEchoedBackIntact) {
  // Both directions carry megabytes at once: the upload to the backend and the echo back.
  constexpr size_t kSize = 3 * 1024 * 1024;
  TestBackend backend("echo", Behaviour{.echo = true});
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(singleLb({{"echo", backend.port()}})));

  const std::string body = patternBody(kSize);
  HttpClient client;
  ASSERT_TRUE(client.connect(lb.port(), deadlineIn(5000)));
  ASSERT_TRUE(client.send("PUT /echo HTTP/1.1\r\nHost: t\r\nContent-Length: " +
                              std::to_string(kSize) + "\r\n\r\n" + body,
                          deadlineIn(30000)))
      << client.error();
  Response r = client.readResponse(deadlineIn(30000));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.status, 200);
  const size_t head_end = r.body.find("\r\n\r\n");
  ASSERT_NE(head_end, std::string::npos);
  EXPECT_EQ(firstPatternMismatch(r.body.substr(head_end + 4), kSize), -1);
  EXPECT_EQ(backend.lastRequest()->header("Content-Length"), std::to_string(kSize));
}

}  // namespace
}  // namespace fiberlb::testing
