// SNI on fiberlb's HTTPS listener (SPEC §3 [[tls.sni]]): the server name selects the
// certificate (without regard to case, a wildcard covering one label), an unknown name gets
// the default one; Python and curl alike. The fixture in tls_fixture.h.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "tests/integration/tls_fixture.h"
#include "tests/support/deadline.h"
#include "tests/support/fiberlb_process.h"
#include "tests/support/process.h"
#include "tests/support/test_backend.h"

namespace fiberlb::testing {
namespace {

using nlohmann::json;

TEST_F(TlsTermination, SniSelectsTheCertificateAndAnUnknownNameGetsTheDefault) {
  TestBackend b1("b1");
  auto a = pki_.issue("a.test");
  auto b = pki_.issue("b.test");
  auto wild = pki_.issue("*.wild.test");
  ASSERT_TRUE(a && b && wild) << pki_.errors();
  TlsListener tls = listener();
  tls.sni = {{"a.test", *a}, {"b.test", *b}, {"*.wild.test", *wild}};
  ASSERT_TRUE(startLb({{"b1", b1.port()}}, tls));

  for (const std::string name : {"a.test", "b.test"}) {
    json r = python("get", {"--sni", name});  // hostname checked against the certificate
    ASSERT_TRUE(r.value("ok", false)) << name << ": " << last_python_output_;
    EXPECT_EQ(r.value("peer_cn", ""), name);
    EXPECT_EQ(r["peer_dns"], json::array({name})) << r.dump();
    EXPECT_EQ(r["responses"][0].value("status", 0), 200);
  }
  // Host names compare without regard to case (RFC 6066 §3).
  json upper = python("get", {"--sni", "A.Test"});
  ASSERT_TRUE(upper.value("ok", false)) << last_python_output_;
  EXPECT_EQ(upper.value("peer_cn", ""), "a.test");
  // A wildcard entry covers one label.
  json wildcard = python("get", {"--sni", "x.wild.test"});
  ASSERT_TRUE(wildcard.value("ok", false)) << last_python_output_;
  EXPECT_EQ(wildcard.value("peer_cn", ""), "*.wild.test");

  for (const std::string name : {"unknown.test", "a.test.evil", "x.y.wild.test"}) {
    json unknown = python("get", {"--sni", name, "--no-check-hostname"});
    ASSERT_TRUE(unknown.value("ok", false)) << name << ": " << last_python_output_;
    EXPECT_EQ(unknown.value("peer_cn", ""), "localhost") << name;
    EXPECT_EQ(unknown["responses"][0].value("status", 0), 200);
  }

  // curl sends SNI from the URL's host name too.
  RunResult c = runToCompletion(
      kCurl,
      {.args = {"-sS", "--max-time", "10", "--cacert", pki_.rootCa(), "--resolve",
                "a.test:" + std::to_string(lb_.port()) + ":127.0.0.1", "-w", "%{http_code}", "-o",
                "/dev/null", "https://a.test:" + std::to_string(lb_.port()) + "/"},
       .label = "curl"},
      deadlineIn(20000));
  EXPECT_EQ(c.exit_code, 0) << c.output;
  EXPECT_EQ(c.output, "200\n");
}

}  // namespace
}  // namespace fiberlb::testing
