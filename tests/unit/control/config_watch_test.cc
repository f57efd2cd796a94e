// ConfigWatch on a real loop and real files: renames and in-place writes are noticed, a
// burst of writes is one change, and content already loaded is no change.

#include "src/control/config_watch.h"

#include <gtest/gtest.h>
#include <uv.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

namespace fiberlb::control {
namespace {

// A private directory, removed with its contents.
class ScratchDir {
 public:
  ScratchDir() {
    std::string tmpl = std::filesystem::temp_directory_path() / "fiberlb-watch-XXXXXX";
    path_ = mkdtemp(tmpl.data()) != nullptr ? tmpl : std::string();
  }
  ~ScratchDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

class ConfigWatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    uv_loop_init(&loop_);
    path_ = dir_.path() + "/fiberlb.toml";
    write(path_, "a = 1\n");
    watch_ = std::make_unique<ConfigWatch>(&loop_, path_, [this] {
      ++changes_;
      watch_->noteLoaded(watch_->inputsHash());  // as a reload does
    });
    watch_->noteLoaded(watch_->inputsHash());
    std::string error;
    ASSERT_TRUE(watch_->start(&error)) << error;
  }
  void TearDown() override {
    watch_->close();
    uv_run(&loop_, UV_RUN_DEFAULT);  // lets the handles close
    EXPECT_EQ(uv_loop_close(&loop_), 0);
  }

  static void write(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
  }
  void replaceByRename(const std::string& text) {
    const std::string tmp = dir_.path() + "/.fiberlb.toml.tmp";
    write(tmp, text);
    ASSERT_EQ(std::rename(tmp.c_str(), path_.c_str()), 0);
  }
  // Runs the loop for `ms` (long enough for the quiet time to pass).
  void runFor(uint64_t ms) {
    uv_timer_t stop;
    uv_timer_init(&loop_, &stop);
    stop.data = &loop_;
    uv_timer_start(
        &stop, [](uv_timer_t* t) { uv_stop(static_cast<uv_loop_t*>(t->data)); }, ms, 0);
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_close(reinterpret_cast<uv_handle_t*>(&stop), nullptr);
    uv_run(&loop_, UV_RUN_NOWAIT);
  }
  // Runs until `changes_` reaches `want` or 3 s pass.
  void runUntilChanges(int want) {
    for (int i = 0; i < 30 && changes_ < want; ++i)
      runFor(100);
  }

  ScratchDir dir_;
  uv_loop_t loop_{};
  std::string path_;
  std::unique_ptr<ConfigWatch> watch_;
  int changes_ = 0;
};

TEST_F(ConfigWatchTest, ReplacementByRenameIsOneChange) {
  replaceByRename("a = 2\n");
  runUntilChanges(1);
  runFor(ConfigWatch::kQuietMs * 3);
  EXPECT_EQ(changes_, 1);
}

TEST_F(ConfigWatchTest, InPlaceRewriteIsNoticed) {
  write(path_, "a = 3\n");
  runUntilChanges(1);
  EXPECT_EQ(changes_, 1);
}

TEST_F(ConfigWatchTest, ABurstOfWritesIsOneChange) {
  for (int i = 0; i < 5; ++i)
    write(path_, "a = " + std::to_string(10 + i) + "\n");
  runUntilChanges(1);
  runFor(ConfigWatch::kQuietMs * 3);
  EXPECT_EQ(changes_, 1);
}

TEST_F(ConfigWatchTest, SameContentIsNoChange) {
  write(path_, "a = 1\n");  // rewritten, identical
  replaceByRename("a = 1\n");
  runFor(ConfigWatch::kQuietMs * 4);
  EXPECT_EQ(changes_, 0);
}

TEST_F(ConfigWatchTest, ContentAReloadAlreadyLoadedIsNoChange) {
  write(path_, "a = 4\n");
  watch_->noteLoaded(watch_->inputsHash());  // SIGHUP got there first
  runFor(ConfigWatch::kQuietMs * 4);
  EXPECT_EQ(changes_, 0);
}

// `>` truncates first: an empty file is a write in progress, never a change.
TEST_F(ConfigWatchTest, AnEmptyFileIsAWriteInProgress) {
  write(path_, "");
  runFor(ConfigWatch::kQuietMs * 4);
  EXPECT_EQ(changes_, 0);
  write(path_, " \n\t\n");
  runFor(ConfigWatch::kQuietMs * 4);
  EXPECT_EQ(changes_, 0);
  write(path_, "a = 6\n");
  runUntilChanges(1);
  EXPECT_EQ(changes_, 1);
}

TEST_F(ConfigWatchTest, OtherFilesInTheDirectoryAreIgnored) {
  write(dir_.path() + "/state.json", "{}");
  runFor(ConfigWatch::kQuietMs * 4);
  EXPECT_EQ(changes_, 0);
}

TEST_F(ConfigWatchTest, ClosedWatchReportsNothing) {
  watch_->close();
  write(path_, "a = 5\n");
  runFor(ConfigWatch::kQuietMs * 3);
  EXPECT_EQ(changes_, 0);
}

// A renewed certificate (a file the config names) reloads too; the stat poll notices it.
TEST_F(ConfigWatchTest, AChangeOfANamedFileIsAChange) {
  const std::string cert = dir_.path() + "/site.crt";
  write(cert, "old certificate");
  watch_->watchAlso({cert});
  watch_->noteLoaded(watch_->inputsHash());
  runFor(ConfigWatch::kQuietMs * 2);
  EXPECT_EQ(changes_, 0);
  const std::string tmp = cert + ".new";
  write(tmp, "renewed certificate");
  ASSERT_EQ(std::rename(tmp.c_str(), cert.c_str()), 0);
  runUntilChanges(1);
  EXPECT_EQ(changes_, 1);
}

TEST_F(ConfigWatchTest, TheHashCoversNamedFilesAndTheirAbsence) {
  const std::string key = dir_.path() + "/site.key";
  const auto config_only = watch_->inputsHash();
  watch_->watchAlso({key});  // missing for now
  const auto missing = watch_->inputsHash();
  write(key, "key");
  const auto present = watch_->inputsHash();
  ASSERT_TRUE(config_only && missing && present);
  EXPECT_NE(*config_only, *missing);
  EXPECT_NE(*missing, *present);
  bool empty = true;
  EXPECT_TRUE(watch_->inputsHash(&empty).has_value());
  EXPECT_FALSE(empty);
}

TEST(ConfigWatchHash, UnreadableFileHasNoHash) {
  EXPECT_FALSE(ConfigWatch::hashFile("/nonexistent/fiberlb.toml").has_value());
}

}  // namespace
}  // namespace fiberlb::control
