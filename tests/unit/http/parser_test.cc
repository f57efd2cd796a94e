// The request parser's acceptance rules: what reaches a backend and what is refused.

#include "src/http/parser.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace fiberlb::http {
namespace {

// Records what the parser reports.
struct RecordingSink : MessageSink {
  int heads = 0;
  int completes = 0;
  std::string body;
  std::vector<std::string> header_names;
  bool onHeadersComplete(MessageHead& head) override {
    ++heads;
    header_names.clear();
    for (int i = 0; i < head.header_count; ++i)
      header_names.emplace_back(head.name(i));
    return true;
  }
  void onBody(const char* data, size_t len) override { body.append(data, len); }
  void onMessageComplete() override { ++completes; }
};

ParseStatus parseAll(const std::string& text, RecordingSink* sink) {
  Parser parser(HTTP_REQUEST, sink);
  return parser.execute(text.data(), text.data(), text.size());
}

TEST(ParserTest, SimpleGetCompletesAndPauses) {
  RecordingSink sink;
  std::string req = "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n";
  Parser parser(HTTP_REQUEST, &sink);
  EXPECT_EQ(parser.execute(req.data(), req.data(), req.size()), ParseStatus::Paused);
  EXPECT_EQ(sink.completes, 1);
  EXPECT_EQ(parser.consumed(), req.size() / 2);  // stops before the pipelined request
  EXPECT_EQ(parser.head().view(parser.head().url), "/a");
}

TEST(ParserTest, HeadSplitAcrossReadsKeepsSpans) {
  RecordingSink sink;
  std::string req = "GET /split HTTP/1.1\r\nHost: example\r\nX-Long-Header: value\r\n\r\n";
  Parser parser(HTTP_REQUEST, &sink);
  for (size_t cut = 0; cut < req.size(); ++cut) {
    // Feed byte by byte from one buffer: spans must stitch across calls.
    ParseStatus s = parser.execute(req.data(), req.data() + cut, 1);
    if (cut + 1 < req.size()) {
      ASSERT_EQ(s, ParseStatus::Ok) << "at " << cut;
    } else {
      ASSERT_EQ(s, ParseStatus::Paused);
    }
  }
  EXPECT_EQ(parser.head().view(parser.head().url), "/split");
  ASSERT_EQ(parser.head().header_count, 2);
  EXPECT_EQ(parser.head().name(1), "X-Long-Header");
  EXPECT_EQ(parser.head().value(1), "value");
}

TEST(ParserTest, ChunkedBodyIsDecoded) {
  RecordingSink sink;
  std::string req =
      "POST /u HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
  EXPECT_EQ(parseAll(req, &sink), ParseStatus::Paused);
  EXPECT_EQ(sink.body, "hello world");
}

struct Rejected {
  const char* name;
  const char* request;
};

class SmugglingTest : public ::testing::TestWithParam<Rejected> {};

TEST_P(SmugglingTest, IsRejected) {
  RecordingSink sink;
  EXPECT_EQ(parseAll(GetParam().request, &sink), ParseStatus::BadMessage) << GetParam().name;
  EXPECT_EQ(sink.heads, 0) << "a rejected head must never reach a backend";
}

INSTANTIATE_TEST_SUITE_P(
    Rfc9112, SmugglingTest,
    ::testing::Values(
        Rejected{"te_and_cl",
                 "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: "
                 "chunked\r\n\r\n0\r\n\r\n"},
        Rejected{"duplicate_differing_cl",
                 "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"},
        Rejected{"te_not_final_chunked",
                 "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"},
        Rejected{"te_unknown", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: foo\r\n\r\n"},
        Rejected{"obs_fold", "GET / HTTP/1.1\r\nHost: x\r\nX-A: one\r\n two\r\n\r\n"},
        Rejected{"bare_cr", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n"},
        Rejected{"space_before_colon", "GET / HTTP/1.1\r\nHost: x\r\nX-A : a\r\n\r\n"},
        Rejected{"bare_lf_line_end", "GET / HTTP/1.1\nHost: x\n\n"},
        Rejected{"invalid_cl", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(ParserTest, InvalidChunkSizeIsRejectedInBody) {
  RecordingSink sink;
  std::string req =
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n";
  EXPECT_EQ(parseAll(req, &sink), ParseStatus::BadMessage);
  EXPECT_EQ(sink.completes, 0);
}

TEST(ParserTest, TooManyHeadersIsHeadTooLarge) {
  RecordingSink sink;
  std::string req = "GET / HTTP/1.1\r\n";
  for (int i = 0; i <= kMaxHeaders; ++i)
    req += "X-H" + std::to_string(i) + ": v\r\n";
  req += "\r\n";
  EXPECT_EQ(parseAll(req, &sink), ParseStatus::HeadTooLarge);
}

TEST(ParserTest, ResponseToHeadHasNoBody) {
  RecordingSink sink;
  Parser parser(HTTP_RESPONSE, &sink);
  parser.setSkipBody(true);
  std::string resp = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n";
  EXPECT_EQ(parser.execute(resp.data(), resp.data(), resp.size()), ParseStatus::Paused);
  EXPECT_EQ(sink.completes, 1);
}

TEST(ParserTest, ReadUntilCloseResponseCompletesOnFinish) {
  RecordingSink sink;
  Parser parser(HTTP_RESPONSE, &sink);
  std::string resp = "HTTP/1.1 200 OK\r\n\r\nsome bytes";
  EXPECT_EQ(parser.execute(resp.data(), resp.data(), resp.size()), ParseStatus::Ok);
  EXPECT_FALSE(parser.keepAlive());
  EXPECT_TRUE(parser.finish());
  EXPECT_EQ(sink.body, "some bytes");
}

}  // namespace
}  // namespace fiberlb::http
