// `fiberlb check PATH --against RUNNING_PATH` (issue 7): PATH is validated as by plain
// `check`; when valid, stdout lists what a reload from RUNNING_PATH would change (the lists
// of SPEC §3 "Reload") and notes the settings a reload leaves for the next restart.

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "tests/support/fiberlb_config.h"
#include "tests/support/fiberlb_process.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace fiberlb::testing {
namespace {

class CliCheckAgainst : public ::testing::Test {
 protected:
  // LB "web" over b1 and b2, as the running proxy has it.
  static FiberlbConfig running() { return singleLb({{"b1", 18081}, {"b2", 18082}}); }

  std::string write(const std::string& name, const FiberlbConfig& config) const {
    return dir_.write(name, config.render(dir_.file("state.json")));
  }

  static RunResult check(const std::string& path, const std::string& against) {
    return runToCompletion(fiberlbBinary(),
                           {.args = {"check", path, "--against", against}, .label = "fiberlb"},
                           deadlineIn(20000));
  }

  // Writes `config` as `name` with b2's weight made a string; `*line` is that line's number.
  std::string writeWithBadWeight(const std::string& name, FiberlbConfig config, int* line) const {
    config.loadbalancers[0].backends[1].weight = 77;
    std::string text = config.render(dir_.file("state.json"));
    const size_t at = text.find("weight = 77");
    text.replace(at, 11, "weight = \"heavy\"");
    *line = 1 + static_cast<int>(std::count(text.begin(), text.begin() + at, '\n'));
    return dir_.write(name, text);
  }

  TempDir dir_;
};

bool contains(const RunResult& r, const std::string& needle) {
  return r.output.find(needle) != std::string::npos;
}

TEST_F(CliCheckAgainst, ListsAddedRemovedAndModifiedBackends) {
  const std::string running_path = write("running.toml", running());
  FiberlbConfig next = singleLb({{"b1", 18081, 50}, {"b3", 18083}});
  const std::string path = write("next.toml", next);

  RunResult r = check(path, running_path);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r, "a reload from " + running_path + " would change:")) << r.output;
  EXPECT_TRUE(contains(r, "  added:    web/b3\n")) << r.output;
  EXPECT_TRUE(contains(r, "  removed:  web/b2\n")) << r.output;
  EXPECT_TRUE(contains(r, "  modified: web/b1\n")) << r.output;
  EXPECT_FALSE(contains(r, "note:")) << r.output;
}

TEST_F(CliCheckAgainst, ListsANewLoadBalancerWithItsBackendsAndNoneForEmptyLists) {
  const std::string running_path = write("running.toml", running());
  FiberlbConfig next = running();
  LbConfig api;
  api.name = "api";
  api.backends = {{"a1", 18091}, {"a2", 18092}};
  next.loadbalancers.push_back(api);
  const std::string path = write("next.toml", next);

  RunResult r = check(path, running_path);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r, "  added:    api, api/a1, api/a2\n")) << r.output;
  EXPECT_TRUE(contains(r, "  removed:  (none)\n")) << r.output;
  EXPECT_TRUE(contains(r, "  modified: (none)\n")) << r.output;
}

TEST_F(CliCheckAgainst, IdenticalFilesPrintNoChanges) {
  const std::string running_path = write("running.toml", running());
  const std::string path = write("next.toml", running());

  RunResult r = check(path, running_path);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r, "a reload from " + running_path + ": no changes\n")) << r.output;
  EXPECT_FALSE(contains(r, "would change")) << r.output;
  EXPECT_FALSE(contains(r, "note:")) << r.output;
}

TEST_F(CliCheckAgainst, NotesWhatOnlyARestartApplies) {
  const std::string running_path = write("running.toml", running());
  FiberlbConfig next = running();
  next.workers = 3;
  next.admin_api_addr = "127.0.0.1:19901";
  const std::string path = write("next.toml", next);

  RunResult r = check(path, running_path);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r, "a reload from " + running_path + ": no changes\n")) << r.output;
  EXPECT_TRUE(contains(r, "note: workers 1 -> 3 takes effect only at the next restart"))
      << r.output;
  EXPECT_TRUE(contains(r,
                       "note: admin_api_addr 127.0.0.1:0 -> 127.0.0.1:19901 takes effect "
                       "only at the next restart"))
      << r.output;
}

TEST_F(CliCheckAgainst, AnInvalidPathExitsOneWithFileLineAndColumn) {
  const std::string running_path = write("running.toml", running());
  int line = 0;
  const std::string path = writeWithBadWeight("bad.toml", running(), &line);

  RunResult r = check(path, running_path);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(contains(r, "bad.toml:" + std::to_string(line) + ":")) << r.output;
  EXPECT_TRUE(contains(r, path + ": configuration is invalid")) << r.output;
  EXPECT_FALSE(contains(r, "a reload from")) << r.output;
}

TEST_F(CliCheckAgainst, AnInvalidRunningPathExitsOneNamingIt) {
  int line = 0;
  const std::string running_path = writeWithBadWeight("running.toml", running(), &line);
  const std::string path = write("next.toml", running());

  RunResult r = check(path, running_path);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(contains(r, "running.toml:" + std::to_string(line) + ":")) << r.output;
  EXPECT_TRUE(contains(r, running_path + ": the running configuration (--against) is invalid"))
      << r.output;
  EXPECT_FALSE(contains(r, "a reload from")) << r.output;
}

TEST_F(CliCheckAgainst, AMissingRunningPathExitsOneNamingIt) {
  const std::string running_path = dir_.file("missing.toml");
  const std::string path = write("next.toml", running());

  RunResult r = check(path, running_path);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(contains(r, running_path + ": cannot read the config file")) << r.output;
  EXPECT_TRUE(contains(r, running_path + ": the running configuration (--against) is invalid"))
      << r.output;
}

}  // namespace
}  // namespace fiberlb::testing
