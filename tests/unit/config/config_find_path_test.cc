// findConfigPath (SPEC §2 lookup order) and loadFile. These tests change the working
// directory and PHOTON_CONFIG, and put both back afterwards.

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "tests/unit/config/config_test_util.h"

namespace fiberlb::config {
namespace {

namespace fs = std::filesystem;
using testing::dump;

// A fresh temporary directory that is the working directory for the test's lifetime, with
// PHOTON_CONFIG unset; everything is restored on destruction.
class ScratchDir : public ::testing::Test {
 protected:
  void SetUp() override {
    old_cwd_ = fs::current_path();
    if (const char* v = std::getenv("PHOTON_CONFIG")) old_env_ = v;
    ::unsetenv("PHOTON_CONFIG");
    dir_ = fs::temp_directory_path() /
           ("fiberlb-config-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    fs::current_path(dir_);
  }
  void TearDown() override {
    fs::current_path(old_cwd_);
    fs::remove_all(dir_);
    if (old_env_)
      ::setenv("PHOTON_CONFIG", old_env_->c_str(), 1);
    else
      ::unsetenv("PHOTON_CONFIG");
  }
  static void write(const fs::path& path, const std::string& text) { std::ofstream(path) << text; }

  fs::path dir_;

 private:
  fs::path old_cwd_;
  std::optional<std::string> old_env_;
};

using ConfigFindPath = ScratchDir;
using ConfigLoadFile = ScratchDir;

std::string systemDefault() {
  return fs::is_regular_file("/etc/fiberlb/config.toml") ? "/etc/fiberlb/config.toml" : "";
}

TEST_F(ConfigFindPath, NothingFound) {
  EXPECT_EQ(findConfigPath(""), systemDefault());
}

TEST_F(ConfigFindPath, WorkingDirectoryFileBeatsSystemDefault) {
  write("fiberlb.toml", "");
  EXPECT_EQ(findConfigPath(""), "./fiberlb.toml");
}

TEST_F(ConfigFindPath, DirectoryNamedLikeTheFileIsNotAConfig) {
  fs::create_directory("fiberlb.toml");
  EXPECT_EQ(findConfigPath(""), systemDefault());
}

TEST_F(ConfigFindPath, EnvironmentBeatsWorkingDirectory) {
  write("fiberlb.toml", "");
  write("other.toml", "");
  ::setenv("PHOTON_CONFIG", "other.toml", 1);
  EXPECT_EQ(findConfigPath(""), "other.toml");
  ::setenv("PHOTON_CONFIG", "", 1);  // empty counts as unset
  EXPECT_EQ(findConfigPath(""), "./fiberlb.toml");
}

TEST_F(ConfigFindPath, CommandLineBeatsEverything) {
  write("fiberlb.toml", "");
  ::setenv("PHOTON_CONFIG", "other.toml", 1);
  EXPECT_EQ(findConfigPath("cli.toml"), "cli.toml");
}

TEST_F(ConfigFindPath, ExplicitPathsAreReturnedEvenWhenMissing) {
  EXPECT_EQ(findConfigPath("missing.toml"), "missing.toml");
  ::setenv("PHOTON_CONFIG", "/nonexistent/x.toml", 1);
  EXPECT_EQ(findConfigPath(""), "/nonexistent/x.toml");
}

TEST_F(ConfigLoadFile, ReadsTheFileAndNamesItInDiagnostics) {
  write("lb.toml", "[geo]\nfailback = \"soon\"\n");
  const LoadResult bad = loadFile("lb.toml");
  ASSERT_EQ(bad.errors.size(), 1u) << dump(bad.errors);
  EXPECT_EQ(bad.errors[0].str().rfind("lb.toml:2:12: geo.failback: unknown value 'soon'", 0), 0u)
      << bad.errors[0].str();

  write("good.toml", "[standalone.server]\nworkers = 3\n");
  Overrides o;
  o.env = {{"PHOTON_COMPONENT_ID", "x"}};
  const LoadResult good = loadFile((dir_ / "good.toml").string(), o);
  ASSERT_TRUE(good.ok()) << dump(good.errors);
  EXPECT_EQ(good.config.source_path, (dir_ / "good.toml").string());
  EXPECT_EQ(good.config.server.workers, 3);
  EXPECT_EQ(good.config.photon.component_id, "x");
}

TEST_F(ConfigLoadFile, MissingFileAndDirectoryAreErrors) {
  const LoadResult missing = loadFile("nope.toml");
  ASSERT_EQ(missing.errors.size(), 1u);
  EXPECT_EQ(missing.errors[0].str(),
            "nope.toml: cannot read the config file: No such file or directory");
  fs::create_directory("dir.toml");
  const LoadResult dir = loadFile("dir.toml");
  ASSERT_EQ(dir.errors.size(), 1u);
  EXPECT_NE(dir.errors[0].message.find("it is a directory"), std::string::npos);
}

}  // namespace
}  // namespace fiberlb::config
