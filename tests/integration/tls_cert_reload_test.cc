// Certificate files re-read by fiberlb (SPEC §3 [tls], §8 "Reload"): a reload (API or
// SIGHUP) serves the new certificate to new connections and keeps established ones, a
// renewed pair is picked up by the config watch alone, and a broken key is refused naming the
// file while the old certificate serves on. The fixture in tls_fixture.h.

#include <gtest/gtest.h>
#include <signal.h>

#include <nlohmann/json.hpp>
#include <string>

#include "tests/integration/tls_fixture.h"
#include "tests/support/deadline.h"
#include "tests/support/fiberlb_process.h"
#include "tests/support/http_client.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_backend.h"

namespace fiberlb::testing {
namespace {

using nlohmann::json;

// "METHOD path" on the admin API, on its own connection.
Response adminCall(uint16_t port, const std::string& method, const std::string& path) {
  return fetch(
      port,
      method + " " + path +
          " HTTP/1.1\r\nHost: admin.test\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
      deadlineIn(10000));
}

// A reload (POST /api/config/reload, or SIGHUP) re-reads the certificate files even when the
// config text is unchanged: new connections get the new certificate, established ones keep
// theirs and keep serving.
TEST_F(TlsTermination, ReloadServesTheNewCertificateToNewConnectionsAndKeepsOldOnes) {
  TestBackend b1("b1");
  auto old_pair = pki_.issue("old.test");
  auto new_pair = pki_.issue("new.test");
  auto newer_pair = pki_.issue("newer.test");
  ASSERT_TRUE(old_pair && new_pair && newer_pair) << pki_.errors();
  ASSERT_TRUE(startWithRelativeCerts({{"b1", b1.port()}}, *old_pair));
  const uint16_t admin = adminPort(lb_);
  ASSERT_NE(admin, 0);

  EXPECT_EQ(servedCn(), "old.test");

  const std::string go_file = work_.file("go");
  Process held(kPython, {.args = {client_, "hold", "--port", std::to_string(lb_.port()), "--cafile",
                                  pki_.rootCa(), "--sni", "old.test", "--go-file", go_file},
                         .label = "python-held"});
  auto first_line = held.waitForLine("FIRST ", deadlineIn(10000));
  ASSERT_TRUE(first_line) << held.output();
  json first = taggedJson(held.output(), "FIRST");
  EXPECT_EQ(first.value("peer_cn", ""), "old.test");

  installCert(*new_pair);
  Response reload = adminCall(admin, "POST", "/api/config/reload");
  EXPECT_EQ(reload.status, 200) << reload.body;
  std::string seen;
  EXPECT_TRUE(pollUntil(
      [&] {
        seen = servedCn();
        return seen == "new.test";
      },
      deadlineIn(5000), milliseconds(50)))
      << "new connections still get " << seen;

  // The connection made before the reload still answers.
  work_.write("go", "");
  ASSERT_TRUE(held.waitExit(deadlineIn(10000)));
  held.waitOutputEnd(deadlineIn(5000));
  json held_result = taggedJson(held.output(), "RESULT");
  ASSERT_TRUE(held_result.value("ok", false)) << held.output();
  ASSERT_EQ(held_result["responses"].size(), 2u);
  EXPECT_EQ(held_result["responses"][1].value("status", 0), 200);
  EXPECT_EQ(held_result["responses"][1].value("body", ""), "b1\n");

  // SIGHUP re-reads them too.
  installCert(*newer_pair);
  const size_t reloads = lb_.process().countLines("config reloaded");
  lb_.process().signal(SIGHUP);
  EXPECT_TRUE(lb_.process().waitForCount("config reloaded", reloads + 1, deadlineIn(10000)));
  EXPECT_TRUE(pollUntil(
      [&] {
        seen = servedCn();
        return seen == "newer.test";
      },
      deadlineIn(5000), milliseconds(50)))
      << "after SIGHUP new connections still get " << seen;
}

// The config watch polls the files the config names: replacing the certificate and key
// (each by rename, as certbot or cert-manager do) is enough; no SIGHUP, no API call, and
// the pair is read together (no "key does not match" from reading one without the other).
TEST_F(TlsTermination, ARenewedCertificateIsServedWithoutAReloadCommand) {
  TestBackend b1("b1");
  auto old_pair = pki_.issue("old.test");
  auto renewed = pki_.issue("renewed.test");
  ASSERT_TRUE(old_pair && renewed) << pki_.errors();
  ASSERT_TRUE(startWithRelativeCerts({{"b1", b1.port()}}, *old_pair));
  EXPECT_EQ(servedCn(), "old.test");

  installCert(*renewed);
  std::string seen;
  EXPECT_TRUE(pollUntil(
      [&] {
        seen = servedCn();
        return seen == "renewed.test";
      },
      deadlineIn(10000), milliseconds(100)))
      << "new connections still get " << seen << "\n"
      << lb_.process().output();
  EXPECT_EQ(lb_.process().countLines("config reload failed"), 0u) << lb_.process().output();
}

TEST_F(TlsTermination, ReloadWithABrokenKeyIsRefusedNamingTheKeyAndTheOldCertificateServes) {
  TestBackend b1("b1");
  auto old_pair = pki_.issue("old.test");
  auto other = pki_.issue("other.test");
  ASSERT_TRUE(old_pair && other) << pki_.errors();
  ASSERT_TRUE(startWithRelativeCerts({{"b1", b1.port()}}, *old_pair));
  const uint16_t admin = adminPort(lb_);
  ASSERT_NE(admin, 0);
  ASSERT_EQ(servedCn(), "old.test");

  // Garbage instead of a key.
  lb_.dir().write("conf/certs/server.key", "this is not a private key\n");
  Response r = adminCall(admin, "POST", "/api/config/reload");
  EXPECT_EQ(r.status, 400) << r.body;
  json body = json::parse(r.body, nullptr, false);
  EXPECT_EQ(body.value("error", ""), "invalid_config") << r.body;
  EXPECT_NE(body.value("message", "").find("server.key"), std::string::npos) << r.body;
  EXPECT_EQ(servedCn(), "old.test");

  // A key that does not match the certificate is refused the same way.
  lb_.dir().write("conf/certs/server.key", readFile(other->key));
  r = adminCall(admin, "POST", "/api/config/reload");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("server.key"), std::string::npos) << r.body;
  EXPECT_EQ(servedCn(), "old.test");
  EXPECT_TRUE(lb_.process().running());
}

}  // namespace
}  // namespace fiberlb::testing
