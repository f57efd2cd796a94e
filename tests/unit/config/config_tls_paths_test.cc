// Relative certificate paths (SPEC §3 [tls], "certs/api.crt") are relative to the config
// file's directory, whatever the working directory; absolute ones are kept as written.

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "config/config_files.h"
#include "tests/unit/config/config_test_util.h"

namespace fiberlb::config {
namespace {

namespace fs = std::filesystem;
using testing::dump;

constexpr const char* kTlsLb = R"([[standalone.loadbalancers]]
name = "api"
port = 8443
tls_termination = true
[[standalone.loadbalancers.backends]]
name = "b1"
port = 9000
[standalone.loadbalancers.tls]
cert_file = "certs/api.crt"
key_file = "/etc/ssl/private/api.key"
[[standalone.loadbalancers.tls.sni]]
server_name = "a.example"
cert_file = "../shared/a.crt"
key_file = "a.key"
)";

TEST(ConfigTlsPaths, RelativeToTheConfigFileDirectory) {
  const fs::path dir =
      fs::temp_directory_path() / ("fiberlb-tls-paths-" + std::to_string(getpid()));
  fs::create_directories(dir / "conf");
  const fs::path file = dir / "conf" / "fiberlb.toml";
  std::ofstream(file) << kTlsLb;

  LoadResult r = loadFile(file.string());
  fs::remove_all(dir);
  ASSERT_TRUE(r.ok()) << dump(r.errors);
  const Tls& tls = r.config.loadbalancers.at(0).tls;
  EXPECT_EQ(tls.cert_file, (dir / "conf" / "certs" / "api.crt").string());
  EXPECT_EQ(tls.key_file, "/etc/ssl/private/api.key");
  ASSERT_EQ(tls.sni.size(), 1u);
  EXPECT_EQ(tls.sni[0].cert_file, (dir / "shared" / "a.crt").string());
  EXPECT_EQ(tls.sni[0].key_file, (dir / "conf" / "a.key").string());
  // Positions for `fiberlb check`: the [tls] table and the [[tls.sni]] entry.
  EXPECT_EQ(tls.pos.line, 8);
  EXPECT_EQ(tls.sni[0].pos.line, 11);
}

TEST(ConfigTlsPaths, StringsStayRelativeToTheWorkingDirectory) {
  LoadResult r = testing::load(kTlsLb);
  ASSERT_TRUE(r.ok()) << dump(r.errors);
  EXPECT_EQ(r.config.loadbalancers.at(0).tls.cert_file, "certs/api.crt");
  EXPECT_EQ(r.config.loadbalancers.at(0).tls.sni.at(0).key_file, "a.key");
}

constexpr const char* kTlsBackend = R"([[standalone.loadbalancers]]
name = "web"
port = 8080
[[standalone.loadbalancers.backends]]
name = "b1"
port = 9443
tls = true
tls_ca_file = "ca/backends.pem"
tls_server_name = "b1.internal"
tls_verify = false
)";

TEST(ConfigTlsPaths, BackendTlsKeysAndACaFileRelativeToTheConfigFile) {
  const fs::path dir = fs::temp_directory_path() / ("fiberlb-tls-ca-" + std::to_string(getpid()));
  fs::create_directories(dir);
  const fs::path file = dir / "fiberlb.toml";
  std::ofstream(file) << kTlsBackend;
  LoadResult r = loadFile(file.string());
  fs::remove_all(dir);
  ASSERT_TRUE(r.ok()) << dump(r.errors);
  EXPECT_TRUE(r.warnings.empty()) << dump(r.warnings);
  const Backend& b = r.config.loadbalancers.at(0).backends.at(0);
  EXPECT_TRUE(b.tls);
  EXPECT_EQ(b.tls_ca_file, (dir / "ca" / "backends.pem").string());
  EXPECT_EQ(b.tls_server_name, "b1.internal");
  EXPECT_FALSE(b.tls_verify);
}

TEST(ConfigTlsPaths, BackendTlsDefaultsVerifyWithTheSystemStore) {
  LoadResult r = testing::load(
      "[[standalone.loadbalancers]]\nname = \"web\"\nport = 8080\n"
      "[[standalone.loadbalancers.backends]]\nname = \"b1\"\nport = 9443\ntls = true\n");
  ASSERT_TRUE(r.ok()) << dump(r.errors);
  const Backend& b = r.config.loadbalancers.at(0).backends.at(0);
  EXPECT_TRUE(b.tls_verify);
  EXPECT_EQ(b.tls_ca_file, "");
  EXPECT_EQ(b.tls_server_name, "");
}

// What the config watch polls besides the config: every certificate, key and CA file in
// use, once each; nothing for a [tls] table of an LB that does not terminate TLS.
TEST(ConfigTlsPaths, FilesNamedByListsCertificatesKeysAndCaFilesOnce) {
  const std::string toml = std::string(kTlsLb) + R"([[standalone.loadbalancers.backends]]
name = "b2"
port = 9001
tls = true
tls_ca_file = "ca.pem"
[[standalone.loadbalancers.backends]]
name = "b3"
port = 9002
tls = true
tls_ca_file = "ca.pem"
[[standalone.loadbalancers]]
name = "plain"
port = 8080
[[standalone.loadbalancers.backends]]
name = "p1"
port = 9100
[standalone.loadbalancers.tls]
cert_file = "unused.crt"
key_file = "unused.key"
)";
  LoadResult r = testing::load(toml);
  ASSERT_TRUE(r.ok()) << dump(r.errors);
  EXPECT_EQ(filesNamedBy(r.config),
            (std::vector<std::string>{"../shared/a.crt", "/etc/ssl/private/api.key", "a.key",
                                      "ca.pem", "certs/api.crt"}));
}

}  // namespace
}  // namespace fiberlb::config
