// SPEC §7: "testssl.sh against a TLS listener reports no vulnerability and no protocol below
// TLS 1.2." The real binary with an HTTPS listener (EC P-256 certificate from the openssl
// command line), scanned by testssl.sh (Debian package `testssl.sh`) for protocols (-p),
// cipher categories (-s), forward secrecy (-f) and every vulnerability check (-U); its flat
// JSON report is then judged finding by finding. Slow (about half a minute), hence its own
// executable and ctest label "tls-audit".

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "tests/support/deadline.h"
#include "tests/support/fiberlb_config.h"
#include "tests/support/fiberlb_process.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_backend.h"

namespace fiberlb::testing {
namespace {

using nlohmann::json;

constexpr const char* kTestssl = "/usr/bin/testssl";

// Severities testssl.sh gives to findings that are not a problem.
bool harmless(const std::string& severity) {
  return severity == "OK" || severity == "INFO";
}

TEST(TlsAudit, TestsslFindsNoVulnerabilityAndNothingBelowTls12) {
  if (access(kTestssl, X_OK) != 0)
    GTEST_SKIP() << kTestssl
                 << " is not installed (Debian package 'testssl.sh'; "
                    "scripts/install-deps.sh test installs it)";

  TestBackend backend("b1");
  FiberlbProcess lb;
  const TempDir& dir = lb.dir();
  std::filesystem::create_directories(dir.file("certs"));
  RunResult cert = runToCompletion(
      "/usr/bin/openssl",
      {.args = {"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
                "-keyout", dir.file("certs/server.key"), "-out", dir.file("certs/server.crt")},
       .label = "openssl"},
      deadlineIn(20000));
  ASSERT_EQ(cert.exit_code, 0) << cert.output;

  FiberlbConfig config = singleLb({{"b1", backend.port()}});
  config.loadbalancers[0].extra = "tls_termination = true\n";
  config.extra =
      "[standalone.loadbalancers.tls]\ncert_file = \"certs/server.crt\"\n"
      "key_file = \"certs/server.key\"\n";
  ASSERT_TRUE(lb.start(config));

  TempDir out;
  const std::string report = out.file("testssl.json");
  // --warnings batch: never wait for a keyboard; --nodns none: no lookups (the machine may
  // have no network); --color 0 keeps the log readable.
  RunResult scan = runToCompletion(
      kTestssl,
      {.args = {"--quiet", "--color", "0", "--warnings", "batch", "--nodns", "none",
                "--connect-timeout", "10", "--openssl-timeout", "10", "--jsonfile", report, "-p",
                "-s", "-f", "-U", "127.0.0.1:" + std::to_string(lb.port())},
       .label = "testssl"},
      deadlineIn(480000));
  ASSERT_NE(scan.exit_code, -1) << "testssl did not finish in time:\n" << scan.output;
  json findings = json::parse(readFile(report), nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(findings.is_array()) << "no JSON report; testssl exited " << scan.exit_code << ":\n"
                                   << scan.output;

  std::map<std::string, json> by_id;
  for (const json& f : findings)
    by_id[f.value("id", "")] = f;
  auto finding = [&](const std::string& id) { return by_id.count(id) ? by_id[id] : json(); };

  // Protocols: nothing below TLS 1.2, both TLS 1.2 and 1.3 offered.
  for (const std::string id : {"SSLv2", "SSLv3", "TLS1", "TLS1_1"}) {
    ASSERT_TRUE(by_id.count(id)) << "no " << id << " finding:\n" << scan.output;
    EXPECT_EQ(finding(id).value("finding", ""), "not offered") << finding(id).dump();
  }
  for (const std::string id : {"TLS1_2", "TLS1_3"}) {
    ASSERT_TRUE(by_id.count(id)) << "no " << id << " finding:\n" << scan.output;
    EXPECT_TRUE(finding(id).value("finding", "").starts_with("offered")) << finding(id).dump();
  }

  // Forward secrecy ("PFS" in testssl 3.0, "FS" from 3.1 on).
  const std::string fs = by_id.count("FS") ? "FS" : "PFS";
  ASSERT_TRUE(by_id.count(fs)) << "no forward secrecy finding:\n" << scan.output;
  EXPECT_EQ(finding(fs).value("severity", ""), "OK") << finding(fs).dump();

  // Every vulnerability check ran and found nothing.
  const std::vector<std::string> vulnerabilities = {"heartbleed",
                                                    "CCS",
                                                    "ticketbleed",
                                                    "ROBOT",
                                                    "secure_renego",
                                                    "secure_client_renego",
                                                    "CRIME_TLS",
                                                    "BREACH",
                                                    "POODLE_SSL",
                                                    "fallback_SCSV",
                                                    "SWEET32",
                                                    "FREAK",
                                                    "DROWN",
                                                    "LOGJAM",
                                                    "BEAST",
                                                    "LUCKY13",
                                                    "RC4"};
  for (const std::string& id : vulnerabilities) {
    ASSERT_TRUE(by_id.count(id)) << "testssl did not report " << id << ":\n" << scan.output;
    EXPECT_TRUE(harmless(finding(id).value("severity", ""))) << finding(id).dump();
  }

  // And no other finding is LOW or worse (weak cipher categories, curves, ...), nor did
  // testssl hit a problem that made it skip checks (WARN / FATAL).
  for (const json& f : findings) {
    const std::string severity = f.value("severity", "");
    EXPECT_TRUE(harmless(severity)) << f.dump();
  }
  EXPECT_TRUE(lb.process().running());
}

}  // namespace
}  // namespace fiberlb::testing
