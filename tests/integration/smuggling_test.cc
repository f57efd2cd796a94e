// Request smuggling defences (SPEC §5, RFC 9112 §6.3): each ambiguous or malformed request
// is answered 400 with a JSON body and the connection is closed, so nothing after it on the
// connection can be interpreted as another request.

#include <gtest/gtest.h>

#include "tests/support/fiberlb_process.h"
#include "tests/support/http_client.h"
#include "tests/support/test_backend.h"

namespace fiberlb::testing {
namespace {

struct SmugglingCase {
  const char* name;
  std::string request;
  // Whether the head alone is invalid (then nothing may reach the backend). A bad chunk is
  // only seen after a valid head may already have been forwarded.
  bool head_invalid = true;
};

// Names the case in test output instead of dumping its bytes.
void PrintTo(const SmugglingCase& c, std::ostream* os) {
  *os << c.name;
}

// A request that would be smuggled if the proxy and the backend disagreed on framing.
const std::string kTail = "GET /smuggled HTTP/1.1\r\nHost: t\r\n\r\n";

std::vector<SmugglingCase> cases() {
  return {
      {"ContentLengthAndTransferEncoding",
       "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n"
       "0\r\n\r\n" +
           kTail},
      {"TransferEncodingAndContentLength",
       "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"
       "0\r\n\r\n" +
           kTail},
      {"DuplicateDifferingContentLength",
       "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 41\r\n\r\nhello" +
           kTail},
      {"ContentLengthListDiffering",
       "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5, 41\r\n\r\nhello" + kTail},
      {"TransferEncodingGzipOnly",
       "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n" + kTail},
      {"TransferEncodingChunkedNotLast",
       "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n" + kTail},
      {"TransferEncodingUnknownCoding",
       "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n" + kTail},
      {"ObsFoldContinuationLine",
       "GET / HTTP/1.1\r\nHost: t\r\nX-Folded: first\r\n second\r\n\r\n" + kTail},
      {"ObsFoldWithTab",
       "GET / HTTP/1.1\r\nHost: t\r\nX-Folded: first\r\n\tsecond\r\n\r\n" + kTail},
      {"BareCarriageReturnInValue", "GET / HTTP/1.1\r\nHost: t\r\nX-Evil: a\rb\r\n\r\n" + kTail},
      {"WhitespaceBeforeColon",
       "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding : chunked\r\nContent-Length: 4\r\n\r\n"
       "0\r\n\r\n" +
           kTail},
      {"WhitespaceBeforeColonPlain", "GET / HTTP/1.1\r\nHost: t\r\nX-Spaced : v\r\n\r\n" + kTail},
      {"MalformedRequestLine", "GARBAGE\r\n\r\n" + kTail},
      {"InvalidChunkSizeCharacters",
       "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n" +
           kTail,
       false},
      {"NegativeChunkSize",
       "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n" +
           kTail,
       false},
      {"OverflowingChunkSize",
       "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
       "10000000000000005\r\nhello\r\n0\r\n\r\n" +
           kTail,
       false},
  };
}

class Smuggling : public ::testing::TestWithParam<SmugglingCase> {
 protected:
  static void SetUpTestSuite() {
    backend_ = new TestBackend("b1");
    lb_ = new FiberlbProcess();
    ASSERT_TRUE(lb_->start(singleLb({{"b1", backend_->port()}})));
  }
  static void TearDownTestSuite() {
    delete lb_;
    delete backend_;
  }
  static TestBackend* backend_;
  static FiberlbProcess* lb_;
};

TestBackend* Smuggling::backend_ = nullptr;
FiberlbProcess* Smuggling::lb_ = nullptr;

TEST_P(Smuggling, RejectedWith400AndConnectionClosed) {
  ASSERT_NE(lb_->port(), 0);
  const SmugglingCase& c = GetParam();
  backend_->resetCounters();
  HttpClient client;
  ASSERT_TRUE(client.connect(lb_->port(), deadlineIn(5000)));
  ASSERT_TRUE(client.send(c.request, deadlineIn(5000)));
  Response r = client.readResponse(deadlineIn(10000));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("\"error\":\"bad_request\""), std::string::npos) << r.body;
  EXPECT_NE(r.header("Content-Type").value_or("").find("json"), std::string::npos);
  EXPECT_TRUE(client.waitClosed(deadlineIn(5000))) << "connection left open after the 400";
  // Nothing after the bad request was answered as a request of its own.
  EXPECT_EQ(client.pending().find("HTTP/1."), std::string::npos) << client.pending();
  for (const auto& target : backend_->targets()) {
    EXPECT_NE(target, "/smuggled");
  }
  if (c.head_invalid) {
    EXPECT_EQ(backend_->requestCount(), 0) << "the bad request was forwarded";
  }
  if (HasFailure()) lb_->process().dump();
}

INSTANTIATE_TEST_SUITE_P(Cases, Smuggling, ::testing::ValuesIn(cases()),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace fiberlb::testing
