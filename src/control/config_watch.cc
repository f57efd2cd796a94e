#include "src/control/config_watch.h"

#include <xxhash.h>

#include <utility>

#include "config/config_files.h"
#include "src/util/log.h"

namespace fiberlb::control {

namespace {

// "dir/name" -> {"dir", "name"}; a bare name lives in ".".
std::pair<std::string, std::string> splitPath(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return {".", path};
  return {slash == 0 ? "/" : path.substr(0, slash), path.substr(slash + 1)};
}

}  // namespace

ConfigWatch::ConfigWatch(uv_loop_t* loop, std::string path, std::function<void()> changed)
    : loop_(loop), path_(std::move(path)), changed_(std::move(changed)) {
  std::tie(directory_, basename_) = splitPath(path_);
}

ConfigWatch::~ConfigWatch() {
  close();
}

bool ConfigWatch::start(std::string* error) {
  started_ = true;
  for (uv_handle_t* h :
       {reinterpret_cast<uv_handle_t*>(&directory_event_), reinterpret_cast<uv_handle_t*>(&poll_),
        reinterpret_cast<uv_handle_t*>(&quiet_)})
    h->data = this;
  uv_timer_init(loop_, &quiet_);
  uv_fs_poll_init(loop_, &poll_);
  uv_fs_poll_start(&poll_, &ConfigWatch::onPoll, path_.c_str(), kPollIntervalMs);
  watchAlso(std::exchange(named_files_, {}));  // the polls of files named before start()
  uv_fs_event_init(loop_, &directory_event_);
  const int rc =
      uv_fs_event_start(&directory_event_, &ConfigWatch::onDirectoryEvent, directory_.c_str(), 0);
  if (rc != 0) {
    *error = "cannot watch " + directory_ + ": " + uv_strerror(rc) +
             " (changes are still noticed by polling, within a second)";
    return false;
  }
  return true;
}

void ConfigWatch::watchAlso(std::vector<std::string> files) {
  if (files == named_files_) return;
  closeNamedFilePolls();
  named_files_ = std::move(files);
  if (!started_ || closed_) return;
  for (const std::string& file : named_files_) {
    auto* poll = new uv_fs_poll_t;
    uv_fs_poll_init(loop_, poll);
    poll->data = this;
    uv_fs_poll_start(poll, &ConfigWatch::onPoll, file.c_str(), kPollIntervalMs);
    named_file_polls_.push_back(poll);
  }
}

void ConfigWatch::closeNamedFilePolls() {
  for (uv_fs_poll_t* poll : named_file_polls_)
    uv_close(reinterpret_cast<uv_handle_t*>(poll),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_fs_poll_t*>(h); });
  named_file_polls_.clear();
}

std::optional<uint64_t> ConfigWatch::inputsHash(bool* config_empty) const {
  std::string text, error;
  if (!config::readConfigFile(path_, &text, &error)) return std::nullopt;
  if (config_empty != nullptr) *config_empty = isBlank(text);
  return inputsHashWith(text);
}

uint64_t ConfigWatch::inputsHashWith(std::string_view config_text) const {
  std::vector<uint64_t> hashes{XXH3_64bits(config_text.data(), config_text.size())};
  // A named file that cannot be read hashes as a marker: its coming back is a change too.
  constexpr uint64_t kUnreadable = 0x6d697373696e6721ULL;
  for (const std::string& file : named_files_)
    hashes.push_back(hashFile(file).value_or(kUnreadable));
  return XXH3_64bits(hashes.data(), hashes.size() * sizeof(uint64_t));
}

void ConfigWatch::close() {
  if (!started_ || closed_) return;
  closed_ = true;
  closeNamedFilePolls();
  for (uv_handle_t* h :
       {reinterpret_cast<uv_handle_t*>(&directory_event_), reinterpret_cast<uv_handle_t*>(&poll_),
        reinterpret_cast<uv_handle_t*>(&quiet_)})
    if (!uv_is_closing(h)) uv_close(h, nullptr);
}

std::optional<uint64_t> ConfigWatch::hashFile(const std::string& path, bool* empty) {
  std::string bytes, error;
  if (!config::readConfigFile(path, &bytes, &error)) return std::nullopt;
  if (empty != nullptr) *empty = isBlank(bytes);
  return XXH3_64bits(bytes.data(), bytes.size());
}

bool ConfigWatch::isBlank(std::string_view text) {
  return text.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

void ConfigWatch::onDirectoryEvent(uv_fs_event_t* handle, const char* filename, int, int status) {
  auto* self = static_cast<ConfigWatch*>(handle->data);
  if (status != 0) {
    FLB_LOG(Warn, "config watch on %s: %s (polling continues)", self->directory_.c_str(),
            uv_strerror(status));
    return;
  }
  // Other files of the directory (the state file may live there) are not ours; a missing
  // name (overflowed queue) may be.
  if (filename == nullptr || self->basename_ == filename) self->poke(kQuietMs);
}

void ConfigWatch::onPoll(uv_fs_poll_t* handle, int, const uv_stat_t*, const uv_stat_t*) {
  // Called when the stat changed (or started/stopped failing): a look costs one read.
  auto* self = static_cast<ConfigWatch*>(handle->data);
  // A certificate and its key are replaced one after the other, and each file has its own
  // poll: wait one more poll round so both are read together, not a new certificate with
  // the old key.
  const bool named_file = handle != &self->poll_;
  self->poke(named_file ? kPollIntervalMs + kQuietMs : kQuietMs);
}

void ConfigWatch::poke(uint64_t quiet_ms) {
  if (closed_) return;
  // A longer wait already set (a certificate waiting for its key) is not cut short.
  if (uv_is_active(reinterpret_cast<uv_handle_t*>(&quiet_)) &&
      uv_timer_get_due_in(&quiet_) > quiet_ms)
    return;
  uv_timer_start(&quiet_, &ConfigWatch::onQuiet, quiet_ms, 0);
}

void ConfigWatch::onQuiet(uv_timer_t* handle) {
  auto* self = static_cast<ConfigWatch*>(handle->data);
  // Missing, unreadable or empty: a replacement or a rewrite (`>` truncates first) in
  // progress; the event that completes it follows. An empty config would stop every
  // listener, which nobody means by saving a file.
  bool empty = false;
  const std::optional<uint64_t> hash = self->inputsHash(&empty);
  if (!hash || empty || hash == self->loaded_hash_) return;
  FLB_LOG(Info, "config file %s (or a file it names) changed: reloading", self->path_.c_str());
  self->changed_();
}

}  // namespace fiberlb::control
