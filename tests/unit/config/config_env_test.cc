// SPEC §2 precedence: command line > environment > file > defaults, and what happens when
// an environment variable is wrong.

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "tests/unit/config/config_test_util.h"

namespace fiberlb::config {
namespace {

using testing::dump;
using testing::findKey;
using testing::load;

Overrides env(std::vector<std::pair<std::string, std::string>> vars) {
  Overrides o;
  o.env = std::move(vars);
  return o;
}

constexpr const char* kFile = R"toml(
[photon]
mode = "standalone"
component_id = "from-file"
[photon.logging]
level = "warn"
[standalone.server]
workers = 1
admin_api_addr = "0.0.0.0:9901"
admin_token = "file-token"
[[standalone.loadbalancers]]
name = "a"
port = 80
)toml";

TEST(ConfigEnv, FileThenEnvironmentThenCommandLine) {
  const auto vars = std::vector<std::pair<std::string, std::string>>{
      {"PHOTON__STANDALONE__SERVER__WORKERS", "2"}, {"PHOTON_LOG_LEVEL", "debug"}};
  EXPECT_EQ(load(kFile).config.server.workers, 1);
  EXPECT_EQ(load(kFile).config.photon.logging.level, LogLevel::Warn);
  const LoadResult from_env = load(kFile, env(vars));
  ASSERT_TRUE(from_env.ok()) << dump(from_env.errors);
  EXPECT_EQ(from_env.config.server.workers, 2);
  EXPECT_EQ(from_env.config.photon.logging.level, LogLevel::Debug);
  Overrides cli = env(vars);
  cli.workers = 3;
  cli.log_level = "error";
  const LoadResult from_cli = load(kFile, cli);
  ASSERT_TRUE(from_cli.ok()) << dump(from_cli.errors);
  EXPECT_EQ(from_cli.config.server.workers, 3);
  EXPECT_EQ(from_cli.config.photon.logging.level, LogLevel::Error);
}

TEST(ConfigEnv, EnvironmentOverDefaults) {
  const LoadResult r = load("", env({{"PHOTON__STANDALONE__SERVER__WORKERS", "2"}}));
  ASSERT_TRUE(r.ok()) << dump(r.errors);
  EXPECT_EQ(r.config.server.workers, 2);
}

TEST(ConfigEnv, NamedVariables) {
  const LoadResult r = load(
      kFile,
      env({{"PHOTON_MODE", "integrated"},
           {"PHOTON_COMPONENT_ID", "42"},
           {"PHOTON_ADMIN_TOKEN", "env-token"},
           {"PHOTON__PHOTON__INTEGRATED__CHAINFIRE_ENDPOINTS", "[\"http://127.0.0.1:2379\"]"}}));
  ASSERT_TRUE(r.ok()) << dump(r.errors);
  EXPECT_TRUE(r.warnings.empty()) << dump(r.warnings);
  EXPECT_EQ(r.config.photon.mode, Mode::Integrated);
  EXPECT_EQ(r.config.photon.component_id, "42");  // text, although 42 parses as TOML
  EXPECT_EQ(r.config.server.admin_token, "env-token");
  EXPECT_EQ(r.config.photon.chainfire_endpoints, std::vector<std::string>{"http://127.0.0.1:2379"});
}

TEST(ConfigEnv, NamedVariableWinsOverGenericOne) {
  const LoadResult r =
      load("", env({{"PHOTON_LOG_LEVEL", "trace"}, {"PHOTON__PHOTON__LOGGING__LEVEL", "error"}}));
  EXPECT_EQ(r.config.photon.logging.level, LogLevel::Trace);
}

TEST(ConfigEnv, AdminTokenFromEnvironmentAllowsAPublicAdminAddress) {
  const std::string file = "[standalone.server]\nadmin_api_addr = \"0.0.0.0:9901\"\n";
  EXPECT_FALSE(load(file).ok());
  EXPECT_TRUE(load(file, env({{"PHOTON_ADMIN_TOKEN", "t"}})).ok());
}

TEST(ConfigEnv, GenericValuesAreTypedAsToml) {
  const LoadResult r = load(kFile, env({{"PHOTON__GEO__FAILOVER_THRESHOLD", "0.25"},
                                        {"PHOTON__GEO__AUTO_FAILOVER", "false"},
                                        {"PHOTON__GEO__FAILBACK", "auto"},
                                        {"PHOTON__STANDALONE__LOADBALANCERS__0__PORT", "9090"},
                                        {"PHOTON__DEMO__ENABLED", "true"},
                                        {"PHOTON__PHOTON__LOGGING__ACCESS_LOG", "/tmp/a b.log"}}));
  ASSERT_TRUE(r.ok()) << dump(r.errors);
  EXPECT_TRUE(r.warnings.empty()) << dump(r.warnings);
  EXPECT_DOUBLE_EQ(r.config.geo.failover_threshold, 0.25);
  EXPECT_FALSE(r.config.geo.auto_failover);
  EXPECT_EQ(r.config.geo.failback, Failback::Auto);
  EXPECT_EQ(r.config.loadbalancers.at(0).port, 9090);
  EXPECT_TRUE(r.config.demo.enabled);
  EXPECT_EQ(r.config.photon.logging.access_log, "/tmp/a b.log");
}

TEST(ConfigEnv, BadValueNamesTheVariable) {
  const LoadResult r = load(kFile, env({{"PHOTON__STANDALONE__SERVER__WORKERS", "many"}}));
  ASSERT_EQ(r.errors.size(), 1u) << dump(r.errors);
  const Diagnostic& e = r.errors[0];
  EXPECT_EQ(e.file, "environment");
  EXPECT_EQ(e.key, "PHOTON__STANDALONE__SERVER__WORKERS");
  EXPECT_EQ(e.pos.line, 0);
  EXPECT_EQ(e.str(),
            "environment: PHOTON__STANDALONE__SERVER__WORKERS: expected an integer, got string "
            "(sets standalone.server.workers)");
}

TEST(ConfigEnv, BadNamedValueNamesTheVariable) {
  const LoadResult r = load(kFile, env({{"PHOTON_LOG_LEVEL", "loud"}}));
  const Diagnostic* e = findKey(r.errors, "PHOTON_LOG_LEVEL");
  ASSERT_NE(e, nullptr) << dump(r.errors);
  EXPECT_EQ(e->file, "environment");
  EXPECT_NE(e->message.find("expected one of: 'trace'"), std::string::npos);
}

TEST(ConfigEnv, UnknownKeysAreWarnings) {
  const LoadResult r = load(kFile, env({{"PHOTON__STANDALONE__SERVER__WROKERS", "2"},
                                        {"PHOTON__NOPE__X", "1"},
                                        {"PHOTON_LOGLEVEL", "debug"},
                                        {"PHOTON_CONFIG", "/etc/x.toml"}}));
  ASSERT_TRUE(r.ok()) << dump(r.errors);
  EXPECT_EQ(r.warnings.size(), 3u) << dump(r.warnings);
  const Diagnostic* typo = findKey(r.warnings, "PHOTON__STANDALONE__SERVER__WROKERS");
  ASSERT_NE(typo, nullptr) << dump(r.warnings);
  EXPECT_EQ(typo->file, "environment");
  EXPECT_NE(typo->message.find("did you mean 'workers'?"), std::string::npos);
  const Diagnostic* table = findKey(r.warnings, "PHOTON__NOPE__X");
  ASSERT_NE(table, nullptr) << dump(r.warnings);
  EXPECT_NE(table->message.find("unknown key 'nope'"), std::string::npos);
  const Diagnostic* named = findKey(r.warnings, "PHOTON_LOGLEVEL");
  ASSERT_NE(named, nullptr) << dump(r.warnings);
  EXPECT_NE(named->message.find("unknown variable"), std::string::npos);
}

TEST(ConfigEnv, VariablesThatNameNoPlaceAreWarnings) {
  const LoadResult r = load(kFile, env({{"PHOTON__PHOTON____MODE", "x"},
                                        {"PHOTON__PHOTON__MODE__X", "1"},
                                        {"PHOTON__STANDALONE__LOADBALANCERS__5__PORT", "1"}}));
  ASSERT_TRUE(r.ok()) << dump(r.errors);
  ASSERT_EQ(r.warnings.size(), 3u) << dump(r.warnings);
  EXPECT_NE(findKey(r.warnings, "PHOTON__PHOTON____MODE")->message.find("exactly two underscores"),
            std::string::npos);
  EXPECT_NE(findKey(r.warnings, "PHOTON__PHOTON__MODE__X")->message.find("is not a table"),
            std::string::npos);
  EXPECT_NE(findKey(r.warnings, "PHOTON__STANDALONE__LOADBALANCERS__5__PORT")
                ->message.find("has no element 5"),
            std::string::npos);
  EXPECT_EQ(r.config.photon.mode, Mode::Standalone);
}

TEST(ConfigCommandLine, DemoFlagEnablesDemo) {
  Overrides o;
  o.demo = true;
  EXPECT_TRUE(load("[demo]\nenabled = false\n", o).config.demo.enabled);
  EXPECT_TRUE(load("[demo]\nenabled = true\n").config.demo.enabled);
  EXPECT_FALSE(load("").config.demo.enabled);
}

TEST(ConfigCommandLine, BadFlagsAreErrorsNamingTheFlag) {
  Overrides o;
  o.log_level = "chatty";
  o.workers = 5000;
  const LoadResult r = load("", o);
  ASSERT_EQ(r.errors.size(), 2u) << dump(r.errors);
  const Diagnostic* level = findKey(r.errors, "--log-level");
  ASSERT_NE(level, nullptr) << dump(r.errors);
  EXPECT_EQ(level->str(),
            "command line: --log-level: unknown log level 'chatty'; expected one of: 'trace', "
            "'debug', 'info', 'warn', 'error'");
  const Diagnostic* workers = findKey(r.errors, "--workers");
  ASSERT_NE(workers, nullptr) << dump(r.errors);
  EXPECT_EQ(workers->file, "command line");
}

TEST(ConfigEnv, PhotonEnvironmentKeepsOnlyPhotonVariables) {
  ::setenv("PHOTON__UNIT_TEST_PROBE", "a=b", 1);
  ::setenv("UNIT_TEST_PROBE_PHOTON", "x", 1);
  const auto vars = photonEnvironment();
  ::unsetenv("PHOTON__UNIT_TEST_PROBE");
  ::unsetenv("UNIT_TEST_PROBE_PHOTON");
  bool found = false;
  for (const auto& [name, value] : vars) {
    EXPECT_EQ(name.rfind("PHOTON_", 0), 0u) << name;
    if (name == "PHOTON__UNIT_TEST_PROBE") found = value == "a=b";
  }
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace fiberlb::config
