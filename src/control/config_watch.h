#pragma once
// Watches the config file so that editing it is enough (SPEC §3 "Reload": a change of the
// file on disk reloads). Two sources feed one debounce:
//  - an inotify watch (uv_fs_event) on the file's directory: editors and config managers
//    replace the file by rename, which a watch on the file itself would lose with its inode;
//    in-place writes through the directory show up there too;
//  - a stat poll (uv_fs_poll, 1 s) of the path: it sees what inotify cannot, a bind-mounted
//    file rewritten from outside the mount, a symlink swapped (Kubernetes ConfigMaps), NFS.
// Either one (re)starts a short quiet timer; when it fires the file is read and hashed, and
// only content different from the last content loaded (by any trigger) calls `changed`.
// So a burst of writes is one reload, and touching the file, or a reload by SIGHUP/API
// followed by the watch noticing the same edit, is none. A file that is empty at that
// moment is a write in progress, never a reload.
// The files the config names (certificates, keys, CA files) are polled the same way and
// are part of the hash: a renewed certificate is served without a reload command.

#include <uv.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fiberlb::control {

class ConfigWatch {
 public:
  // Events closer together than this are one change. A writer that pauses longer mid-file
  // causes a reload of the partial file (usually refused as invalid TOML, but a file cut at
  // a table boundary may load), then one of the whole file: write a temporary file and
  // rename it over the config, as editors do, to avoid both.
  static constexpr uint64_t kQuietMs = 100;
  static constexpr unsigned kPollIntervalMs = 1000;

  // `changed` runs on `loop` when the file holds content not loaded before.
  ConfigWatch(uv_loop_t* loop, std::string path, std::function<void()> changed);
  ~ConfigWatch();
  ConfigWatch(const ConfigWatch&) = delete;
  ConfigWatch& operator=(const ConfigWatch&) = delete;

  // Starts both sources. False + `error` when the directory cannot be watched (the poll
  // still runs then, so changes are still noticed, within a second).
  bool start(std::string* error);
  // Also watch these files (replacing the previous list): what the running config names.
  void watchAlso(std::vector<std::string> files);
  // The hash of the config file and of every file watched with it; nullopt when the config
  // cannot be read. `config_empty` (optional): whether the config holds only whitespace.
  std::optional<uint64_t> inputsHash(bool* config_empty = nullptr) const;
  // The same with the config's bytes given (the bytes a reload parsed).
  uint64_t inputsHashWith(std::string_view config_text) const;
  // Looks at the files again after the quiet time (an edit landed while a reload ran).
  void recheck() { poke(kQuietMs); }
  // Records the inputs a reload just read (inputsHash()), whatever triggered it.
  void noteLoaded(std::optional<uint64_t> inputs_hash) { loaded_hash_ = inputs_hash; }
  // Stops watching and releases the handles (shutdown).
  void close();

  // XXH3 of the file's bytes; nullopt when it cannot be read. `empty` (optional): whether it
  // holds nothing but whitespace.
  static std::optional<uint64_t> hashFile(const std::string& path, bool* empty = nullptr);
  static bool isBlank(std::string_view text);

 private:
  static void onDirectoryEvent(uv_fs_event_t* handle, const char* filename, int events, int status);
  static void onPoll(uv_fs_poll_t* handle, int status, const uv_stat_t* prev,
                     const uv_stat_t* curr);
  static void onQuiet(uv_timer_t* handle);
  void poke(uint64_t quiet_ms);
  void closeNamedFilePolls();

  uv_loop_t* loop_;
  std::string path_;
  std::string directory_;
  std::string basename_;
  std::function<void()> changed_;
  std::optional<uint64_t> loaded_hash_;
  uv_fs_event_t directory_event_{};
  uv_fs_poll_t poll_{};
  uv_timer_t quiet_{};
  std::vector<std::string> named_files_;
  std::vector<uv_fs_poll_t*> named_file_polls_;  // one per named file, heap: closed async
  bool started_ = false;
  bool closed_ = false;
};

}  // namespace fiberlb::control
