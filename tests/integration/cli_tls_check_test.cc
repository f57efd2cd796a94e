// `fiberlb check` loads the certificates of every TLS listener (SPEC §7: a bad cert/key pair
// is a config error naming the file). Certificates come from the openssl command line.

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>

#include "tests/support/fiberlb_config.h"
#include "tests/support/fiberlb_process.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace fiberlb::testing {
namespace {

RunResult run(const std::string& binary, const std::vector<std::string>& args) {
  return runToCompletion(binary, {.args = args}, deadlineIn(20000));
}

// certs/api.crt and certs/api.key (EC P-256, self-signed) under `dir`.
void makeCertificate(const TempDir& dir) {
  std::filesystem::create_directories(dir.file("certs"));
  RunResult r = run("/usr/bin/openssl",
                    {"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                     "-nodes", "-days", "1", "-subj", "/CN=api.test", "-keyout",
                     dir.file("certs/api.key"), "-out", dir.file("certs/api.crt")});
  ASSERT_EQ(r.exit_code, 0) << r.output;
}

// An HTTPS load balancer "api" whose [tls] table names certs/api.crt and `key_file`,
// relative to the config file's directory.
std::string tlsConfig(const TempDir& dir, const std::string& key_file) {
  FiberlbConfig config = singleLb({{"b1", 18081}});
  config.loadbalancers[0].name = "api";
  config.loadbalancers[0].extra = "tls_termination = true\n";
  config.extra = "[standalone.loadbalancers.tls]\ncert_file = \"certs/api.crt\"\nkey_file = \"" +
                 key_file + "\"\n";
  return config.render(dir.file("state.json"));
}

TEST(CliTlsCheck, AMissingKeyFileFailsNamingIt) {
  TempDir dir;
  ASSERT_NO_FATAL_FAILURE(makeCertificate(dir));
  const std::string text = tlsConfig(dir, "certs/missing.key");
  const std::string path = dir.write("tls.toml", text);
  const auto at = static_cast<std::ptrdiff_t>(text.find("[standalone.loadbalancers.tls]"));
  const int table_line = 1 + static_cast<int>(std::count(text.begin(), text.begin() + at, '\n'));

  RunResult r = run(fiberlbBinary(), {"check", path});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("error: " + path + ":" + std::to_string(table_line) +
                          ":1: lb api: " + dir.file("certs/missing.key") +
                          ": cannot read the private key: No such file or directory"),
            std::string::npos)
      << r.output;
}

TEST(CliTlsCheck, AMatchingCertificateAndKeyPass) {
  TempDir dir;
  ASSERT_NO_FATAL_FAILURE(makeCertificate(dir));
  const std::string path = dir.write("tls.toml", tlsConfig(dir, "certs/api.key"));
  RunResult r = run(fiberlbBinary(), {"check", path});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("configuration is valid"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace fiberlb::testing
