#include "src/control/state_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace fiberlb::control {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// 2026-11-24T16:31:29.123Z
constexpr int64_t kSomeTimeMs = 1795537889123;

lb::FailoverEvent event(std::string id, std::string from, std::string to, int64_t ms) {
  lb::FailoverEvent e;
  e.event_id = std::move(id);
  e.from_region = std::move(from);
  e.to_region = std::move(to);
  e.timestamp_unix_ms = ms;
  e.reason = "region offline";
  e.triggered_by = "auto";
  return e;
}

lb::AddedNode node(std::string lb, std::string name, std::string address, int port) {
  lb::AddedNode n;
  n.lb = std::move(lb);
  n.backend.name = std::move(name);
  n.backend.address = std::move(address);
  n.backend.port = port;
  n.backend.region = "eu-west-1";
  n.backend.weight = 250;
  n.backend.node_type = "edge";
  return n;
}

PersistedState fullState() {
  PersistedState s;
  s.active_region = "us-east-1";
  s.history = {
      event("7f9c2c1e-0000-4000-8000-000000000002", "ap-northeast-1", "us-east-1", kSomeTimeMs),
      event("7f9c2c1e-0000-4000-8000-000000000001", "", "ap-northeast-1", 1000)};
  s.history[1].success = false;
  s.history[1].triggered_by = "alice";
  config::Region eu;
  eu.id = "eu-west-1";
  eu.display_name = "Europe (Ireland)";
  eu.provider = "aws";
  eu.latitude = 53.33;
  eu.longitude = -6.25;
  eu.priority = 4;
  s.overlay.regions_added = {eu};
  s.overlay.regions_removed = {"ap-southeast-1"};
  s.overlay.nodes_added = {node("web", "e1", "10.0.0.5", 8080), node("api", "e2", "::1", 9090)};
  s.overlay.nodes_removed = {{"web", "t1"}};
  s.overlay.patches = {{"web", "v1", 0, std::nullopt},
                       {"web", "e1", std::nullopt, config::AdminState::Drain},
                       {"api", "a1", 10, config::AdminState::Disabled}};
  return s;
}

void expectSameState(const PersistedState& a, const PersistedState& b) {
  EXPECT_EQ(toJson(a), toJson(b));
  EXPECT_EQ(a.active_region, b.active_region);
  ASSERT_EQ(a.history.size(), b.history.size());
  EXPECT_EQ(a.history[0].timestamp_unix_ms, b.history[0].timestamp_unix_ms);
  EXPECT_EQ(a.history[1].success, b.history[1].success);
  ASSERT_EQ(a.overlay.nodes_added.size(), b.overlay.nodes_added.size());
  for (size_t i = 0; i < a.overlay.nodes_added.size(); ++i) {
    const config::Backend& x = a.overlay.nodes_added[i].backend;
    const config::Backend& y = b.overlay.nodes_added[i].backend;
    EXPECT_EQ(x.address, y.address);
    EXPECT_EQ(x.port, y.port);
    EXPECT_EQ(x.weight, y.weight);
  }
  ASSERT_EQ(a.overlay.patches.size(), b.overlay.patches.size());
  for (size_t i = 0; i < a.overlay.patches.size(); ++i) {
    EXPECT_EQ(a.overlay.patches[i].weight, b.overlay.patches[i].weight);
    EXPECT_EQ(a.overlay.patches[i].state, b.overlay.patches[i].state);
  }
  ASSERT_EQ(a.overlay.regions_added.size(), b.overlay.regions_added.size());
  EXPECT_DOUBLE_EQ(a.overlay.regions_added[0].latitude, b.overlay.regions_added[0].latitude);
  EXPECT_EQ(a.overlay.regions_removed, b.overlay.regions_removed);
}

// fromJson's error for `text`, "" if it parsed.
std::string parseError(const std::string& text) {
  PersistedState s;
  std::string error;
  return fromJson(text, &s, &error) ? "" : error;
}

// A valid file with `key` of the first `array` entry replaced by `value`.
std::string withField(const std::string& array, const std::string& key, nlohmann::json value) {
  nlohmann::json j = nlohmann::json::parse(toJson(fullState()));
  j[array][0][key] = std::move(value);
  return j.dump();
}

TEST(StateFileJsonTest, RoundTripsAFullState) {
  const PersistedState original = fullState();
  PersistedState parsed;
  std::string error;
  ASSERT_TRUE(fromJson(toJson(original), &parsed, &error)) << error;
  expectSameState(original, parsed);
}

TEST(StateFileJsonTest, WritesTheDocumentedShape) {
  const nlohmann::json j = nlohmann::json::parse(toJson(fullState()));
  EXPECT_EQ(j["version"], 1);
  EXPECT_EQ(j["active_region"], "us-east-1");
  EXPECT_EQ(j["failover_history"][0]["timestamp"], "2026-11-24T16:31:29.123Z");
  EXPECT_EQ(j["failover_history"][1]["triggered_by"], "alice");
  EXPECT_EQ(j["regions_added"][0]["location"]["lon"], -6.25);
  EXPECT_EQ(j["regions_removed"][0], "ap-southeast-1");
  EXPECT_EQ(j["nodes_added"][0]["endpoint"], "10.0.0.5:8080");
  EXPECT_EQ(j["nodes_added"][1]["endpoint"], "[::1]:9090");
  EXPECT_EQ(j["nodes_added"][1]["region_id"], "eu-west-1");
  EXPECT_EQ(j["nodes_removed"][0]["node_id"], "t1");
  EXPECT_EQ(j["backend_overrides"][0]["weight"], 0);
  EXPECT_FALSE(j["backend_overrides"][0].contains("state"));
  EXPECT_EQ(j["backend_overrides"][1]["state"], "drain");
  EXPECT_FALSE(j["backend_overrides"][1].contains("weight"));
}

TEST(StateFileJsonTest, KeyOrderIsStable) {
  const std::string text = toJson(fullState());
  EXPECT_LT(text.find("\"version\""), text.find("\"active_region\""));
  EXPECT_LT(text.find("\"active_region\""), text.find("\"failover_history\""));
  EXPECT_LT(text.find("\"nodes_removed\""), text.find("\"backend_overrides\""));
  EXPECT_EQ(text, toJson(fullState()));
}

TEST(StateFileJsonTest, InvalidUtf8InNamesDoesNotThrow) {
  PersistedState s;
  s.active_region = "bad\xff\xfe";
  PersistedState parsed;
  std::string error;
  EXPECT_TRUE(fromJson(toJson(s), &parsed, &error)) << error;
}

TEST(StateFileJsonTest, IgnoresUnknownKeysAndAcceptsMinimalFile) {
  PersistedState s;
  std::string error;
  ASSERT_TRUE(fromJson(R"({"version":1,"future":{"x":[1,2]},
      "nodes_removed":[{"loadbalancer":"web","node_id":"t1","why":"old"}]})",
                       &s, &error))
      << error;
  EXPECT_EQ(s.active_region, "");
  ASSERT_EQ(s.overlay.nodes_removed.size(), 1u);
  EXPECT_EQ(s.overlay.nodes_removed[0].name, "t1");
}

TEST(StateFileJsonTest, OptionalFieldsHaveDefaults) {
  PersistedState s;
  std::string error;
  ASSERT_TRUE(fromJson(R"({"version":1,
      "regions_added":[{"region_id":"r1"}],
      "nodes_added":[{"loadbalancer":"web","node_id":"n","endpoint":"h.example:80"}],
      "failover_history":[{"event_id":"e","from_region":"a","to_region":"b",
                           "timestamp":"2026-01-01T00:00:00Z"}]})",
                       &s, &error))
      << error;
  EXPECT_EQ(s.overlay.regions_added[0].priority, 100);
  EXPECT_EQ(s.overlay.nodes_added[0].backend.weight, 100);
  EXPECT_EQ(s.overlay.nodes_added[0].backend.address, "h.example");
  EXPECT_EQ(s.overlay.nodes_added[0].backend.region, "");
  EXPECT_TRUE(s.history[0].success);
}

TEST(StateFileJsonTest, ErrorsNameTheField) {
  EXPECT_EQ(parseError(withField("failover_history", "timestamp", "yesterday")),
            "failover_history[0].timestamp: not an RFC 3339 time");
  EXPECT_EQ(parseError(withField("nodes_added", "weight", "heavy")),
            "nodes_added[0].weight: must be an integer");
  EXPECT_EQ(parseError(withField("nodes_added", "weight", 1001)),
            "nodes_added[0].weight: must be between 0 and 1000");
  EXPECT_THAT(parseError(withField("nodes_added", "endpoint", "no-port")),
              StartsWith("nodes_added[0].endpoint: "));
  EXPECT_THAT(parseError(withField("nodes_added", "endpoint", "h:0")),
              StartsWith("nodes_added[0].endpoint: "));
  EXPECT_EQ(parseError(withField("nodes_removed", "node_id", nullptr)),
            "nodes_removed[0].node_id: missing");
  EXPECT_EQ(parseError(withField("backend_overrides", "state", "off")),
            "backend_overrides[0].state: must be \"enabled\", \"drain\" or \"disabled\"");
  EXPECT_EQ(parseError(withField("regions_added", "location", {{"lat", 91}, {"lon", 0}})),
            "regions_added[0].location.lat: must be between -90 and 90");
  EXPECT_EQ(parseError(withField("failover_history", "success", "yes")),
            "failover_history[0].success: must be true or false");
  EXPECT_EQ(parseError(R"({"version":1,"regions_removed":["a",3]})"),
            "regions_removed[1]: must be a non-empty string");
  EXPECT_EQ(parseError(R"({"version":1,"nodes_added":{}})"), "nodes_added: must be an array");
  EXPECT_EQ(parseError(R"({"version":1,"nodes_added":[7]})"), "nodes_added[0]: must be an object");
  EXPECT_EQ(parseError(R"({"version":1,"active_region":5})"), "active_region: must be a string");
}

TEST(StateFileJsonTest, RejectsMissingOrFutureVersion) {
  EXPECT_EQ(parseError("{}"), "version: missing");
  EXPECT_EQ(parseError(R"({"version":"1"})"), "version: must be an integer");
  EXPECT_THAT(parseError(R"({"version":2})"), HasSubstr("unsupported version 2"));
  EXPECT_THAT(parseError("[1]"), HasSubstr("top level must be a JSON object"));
  EXPECT_THAT(parseError(R"({"version":1)"), StartsWith("invalid JSON: "));
}

TEST(StateFileJsonTest, FailedParseLeavesOutputAlone) {
  PersistedState s;
  s.active_region = "keep";
  std::string error;
  EXPECT_FALSE(fromJson(R"({"version":1,"active_region":"x","nodes_added":[1]})", &s, &error));
  EXPECT_EQ(s.active_region, "keep");
}

TEST(StateFileJsonTest, NeverThrowsOnHostileInput) {
  std::vector<std::string> inputs = {
      "",
      "null",
      "\"x\"",
      "{\"version\":18446744073709551615}",
      "{\"version\":-9223372036854775808}",
      "{\"version\":1e999}",
      std::string(100000, '[') + std::string(100000, ']'),
      R"({"version":1,"nodes_added":[{"loadbalancer":"w","node_id":"n","endpoint":"[::1:80"}]})",
      R"({"version":1,"backend_overrides":[{"loadbalancer":"w","backend":"b","weight":1.5}]})",
      std::string("{\"version\":1,\"active_region\":\"\xff\"}"),
      std::string("\0\0\0", 3)};
  const std::string valid = toJson(fullState());
  std::mt19937 rng(42);
  for (int i = 0; i < 2000; ++i) {
    std::string mutated = valid;
    for (int k = 0; k < 1 + i % 8; ++k)
      mutated[rng() % mutated.size()] = static_cast<char>(rng() % 256);
    inputs.push_back(mutated);
    inputs.push_back(valid.substr(0, rng() % valid.size()));
  }
  for (const std::string& text : inputs) {
    PersistedState s;
    std::string error;
    EXPECT_NO_THROW(fromJson(text, &s, &error));
  }
}

// ---------------------------------------------------------------------------------------

class StateFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/fiberlb_state_test_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::permissions(dir_, fs::perms::owner_all, ec);
    fs::remove_all(dir_, ec);
  }

  std::string path(const std::string& name) const { return dir_ + "/" + name; }

  static void writeFile(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::binary) << text;
  }
  static std::string readFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  std::vector<std::string> filesIn(const std::string& dir) const {
    std::vector<std::string> out;
    for (const fs::directory_entry& e : fs::directory_iterator(dir))
      out.push_back(e.path().filename().string());
    return out;
  }

  std::string dir_;
};

TEST_F(StateFileTest, SaveThenLoadRoundTrips) {
  const std::string file = path("state.json");
  std::string error;
  ASSERT_TRUE(saveStateFile(file, fullState(), &error)) << error;
  EXPECT_EQ(filesIn(dir_), std::vector<std::string>{"state.json"});  // no temp file left
  const LoadOutcome out = loadStateFile(file);
  ASSERT_EQ(out.status, LoadStatus::Loaded) << out.message;
  EXPECT_EQ(out.message, "");
  expectSameState(fullState(), out.state);
}

TEST_F(StateFileTest, SaveReplacesThePreviousContent) {
  const std::string file = path("state.json");
  std::string error;
  ASSERT_TRUE(saveStateFile(file, fullState(), &error)) << error;
  PersistedState second;
  second.active_region = "eu-west-1";
  ASSERT_TRUE(saveStateFile(file, second, &error)) << error;
  const LoadOutcome out = loadStateFile(file);
  ASSERT_EQ(out.status, LoadStatus::Loaded) << out.message;
  EXPECT_EQ(out.state.active_region, "eu-west-1");
  EXPECT_TRUE(out.state.history.empty());
}

TEST_F(StateFileTest, MissingFileIsAFirstStart) {
  const LoadOutcome out = loadStateFile(path("nope/state.json"));
  EXPECT_EQ(out.status, LoadStatus::Missing);
  EXPECT_EQ(out.message, "");
  EXPECT_TRUE(out.state.overlay.empty());
}

TEST_F(StateFileTest, CorruptJsonIsSetAside) {
  const std::string file = path("state.json");
  writeFile(file, "{\"version\":1,");
  const LoadOutcome out = loadStateFile(file);
  EXPECT_EQ(out.status, LoadStatus::SetAside);
  EXPECT_FALSE(fs::exists(file));
  const std::vector<std::string> files = filesIn(dir_);
  ASSERT_EQ(files.size(), 1u);
  EXPECT_THAT(files[0], StartsWith("state.json.corrupt-"));
  EXPECT_EQ(files[0].size(), std::string("state.json.corrupt-20261124T163000Z").size());
  EXPECT_EQ(readFile(path(files[0])), "{\"version\":1,");
  EXPECT_THAT(out.message, StartsWith("state file " + file + " is corrupt (invalid JSON: "));
  EXPECT_THAT(out.message,
              HasSubstr("moved it to " + path(files[0]) + " and started with an empty state"));
  EXPECT_TRUE(out.state.overlay.empty());
}

TEST_F(StateFileTest, EmptyFileIsSetAside) {
  const std::string file = path("state.json");
  writeFile(file, "");
  const LoadOutcome out = loadStateFile(file);
  EXPECT_EQ(out.status, LoadStatus::SetAside);
  EXPECT_THAT(out.message, HasSubstr("(the file is empty)"));
  EXPECT_FALSE(fs::exists(file));
}

TEST_F(StateFileTest, WrongFieldTypeIsSetAsideNamingTheField) {
  const std::string file = path("state.json");
  writeFile(file, withField("nodes_added", "weight", "heavy"));
  const LoadOutcome out = loadStateFile(file);
  EXPECT_EQ(out.status, LoadStatus::SetAside);
  EXPECT_THAT(out.message, HasSubstr("(nodes_added[0].weight: must be an integer)"));
  EXPECT_TRUE(out.state.overlay.empty());
}

TEST_F(StateFileTest, TwoCorruptFilesInOneSecondBothSurvive) {
  const std::string file = path("state.json");
  writeFile(file, "x");
  EXPECT_EQ(loadStateFile(file).status, LoadStatus::SetAside);
  writeFile(file, "y");
  EXPECT_EQ(loadStateFile(file).status, LoadStatus::SetAside);
  EXPECT_EQ(filesIn(dir_).size(), 2u);
}

TEST_F(StateFileTest, DirectoryAtThePathFails) {
  const std::string file = path("state.json");
  fs::create_directory(file);
  const LoadOutcome out = loadStateFile(file);
  EXPECT_EQ(out.status, LoadStatus::Failed);
  EXPECT_THAT(out.message, HasSubstr(file));
  EXPECT_THAT(out.message, HasSubstr("directory"));
  EXPECT_TRUE(fs::is_directory(file));  // left alone

  std::string error;
  EXPECT_FALSE(saveStateFile(file, fullState(), &error));
  EXPECT_THAT(error, HasSubstr(file));
  EXPECT_EQ(filesIn(dir_), std::vector<std::string>{"state.json"});  // temp file removed
}

TEST_F(StateFileTest, UnreadableFileFails) {
  if (::geteuid() == 0) GTEST_SKIP() << "root ignores file permissions";
  const std::string file = path("state.json");
  writeFile(file, "{}");
  ::chmod(file.c_str(), 0);
  const LoadOutcome out = loadStateFile(file);
  EXPECT_EQ(out.status, LoadStatus::Failed);
  EXPECT_THAT(out.message, HasSubstr("Permission denied"));
  EXPECT_TRUE(fs::exists(file));
}

TEST_F(StateFileTest, SaveCreatesMissingDirectories) {
  const std::string file = path("a/b/c/state.json");
  std::string error;
  ASSERT_TRUE(saveStateFile(file, fullState(), &error)) << error;
  EXPECT_EQ(loadStateFile(file).status, LoadStatus::Loaded);
}

TEST_F(StateFileTest, SaveToRelativePathInCurrentDirectory) {
  const fs::path old_cwd = fs::current_path();
  fs::current_path(dir_);
  std::string error;
  const bool ok = saveStateFile("state.json", fullState(), &error);
  const LoadStatus status = loadStateFile("state.json").status;
  fs::current_path(old_cwd);
  EXPECT_TRUE(ok) << error;
  EXPECT_EQ(status, LoadStatus::Loaded);
}

TEST_F(StateFileTest, SaveFailureLeavesTheOldFileIntact) {
  if (::geteuid() == 0) GTEST_SKIP() << "root ignores directory permissions";
  const std::string file = path("state.json");
  std::string error;
  ASSERT_TRUE(saveStateFile(file, fullState(), &error)) << error;
  const std::string before = readFile(file);
  ::chmod(dir_.c_str(), 0500);
  PersistedState other;
  other.active_region = "elsewhere";
  EXPECT_FALSE(saveStateFile(file, other, &error));
  ::chmod(dir_.c_str(), 0700);
  EXPECT_THAT(error, HasSubstr(file));
  EXPECT_THAT(error, HasSubstr("Permission denied"));
  EXPECT_EQ(readFile(file), before);
  EXPECT_EQ(filesIn(dir_), std::vector<std::string>{"state.json"});
}

TEST_F(StateFileTest, SaveUnderAFileFails) {
  const std::string blocker = path("blocker");
  writeFile(blocker, "not a directory");
  std::string error;
  EXPECT_FALSE(saveStateFile(blocker + "/state.json", fullState(), &error));
  EXPECT_THAT(error, HasSubstr(blocker + "/state.json"));
  EXPECT_EQ(readFile(blocker), "not a directory");
}

}  // namespace
}  // namespace fiberlb::control
