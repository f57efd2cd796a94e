#include "src/control/state_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <limits>
#include <optional>
#include <stdexcept>
#include <utility>

#include <nlohmann/json.hpp>

#include "src/net/address.h"

namespace fiberlb::control {

namespace {

// ordered_json: the file keeps the key order we write, so diffs of it stay readable.
using Json = nlohmann::ordered_json;

constexpr int kVersion = 1;
constexpr int kMaxWeight = 1000;
// Far above any real state (the history is capped at a few hundred events); a bigger file
// is not ours, and reading it whole could exhaust memory.
constexpr off_t kMaxFileBytes = off_t{64} << 20;

// ---------------------------------------------------------------------------------------
// Writing

std::string endpointOf(const config::Backend& b) {
  const bool v6 = b.address.find(':') != std::string::npos;
  return (v6 ? "[" + b.address + "]" : b.address) + ":" + std::to_string(b.port);
}

Json eventJson(const lb::FailoverEvent& e) {
  return Json{{"event_id", e.event_id},   {"from_region", e.from_region},
              {"to_region", e.to_region}, {"timestamp", lb::rfc3339Utc(e.timestamp_unix_ms)},
              {"reason", e.reason},       {"triggered_by", e.triggered_by},
              {"success", e.success}};
}

Json regionJson(const config::Region& r) {
  return Json{{"region_id", r.id},
              {"display_name", r.display_name},
              {"provider", r.provider},
              {"location", Json{{"lat", r.latitude}, {"lon", r.longitude}}},
              {"priority", r.priority}};
}

Json nodeJson(const lb::AddedNode& n) {
  return Json{{"loadbalancer", n.lb},
              {"node_id", n.backend.name},
              {"endpoint", endpointOf(n.backend)},
              {"region_id", n.backend.region},
              {"weight", n.backend.weight},
              {"node_type", n.backend.node_type}};
}

Json nodeRefJson(const lb::NodeRef& n) {
  return Json{{"loadbalancer", n.lb}, {"node_id", n.name}};
}

Json patchJson(const lb::BackendPatch& p) {
  Json j{{"loadbalancer", p.lb}, {"backend", p.backend}};
  if (p.weight) j["weight"] = *p.weight;
  if (p.state) j["state"] = config::toString(*p.state);
  return j;
}

template <typename T, typename ToJson>
Json arrayJson(const std::vector<T>& items, ToJson toJsonOne) {
  Json out = Json::array();
  for (const T& item : items)
    out.push_back(toJsonOne(item));
  return out;
}

// ---------------------------------------------------------------------------------------
// Reading. A malformed field throws FieldError, caught once in fromJson: every check then
// stays a single line instead of a propagated bool.

struct FieldError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw FieldError(path + ": " + what);
}

// "90", not std::to_string's "90.000000".
std::string shortNumber(double d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", d);
  return buf;
}

// One JSON object and where it sits in the file, read key by key. A null value counts as
// absent, so that optional fields written as null by some other tool are accepted.
class Fields {
 public:
  Fields(const Json& j, std::string path) : json_(j), path_(std::move(path)) {
    if (!j.is_object()) fail(path_, "must be an object");
  }

  std::string path(const char* key) const { return path_.empty() ? key : path_ + "." + key; }

  const Json* find(const char* key) const {
    auto it = json_.find(key);
    return it == json_.end() || it->is_null() ? nullptr : &*it;
  }

  const Json& require(const char* key) const {
    const Json* v = find(key);
    if (v == nullptr) fail(path(key), "missing");
    return *v;
  }

  std::string string(const char* key, bool required) const {
    const Json* v = required ? &require(key) : find(key);
    if (v == nullptr) return "";
    if (!v->is_string()) fail(path(key), "must be a string");
    return v->get<std::string>();
  }

  std::string id(const char* key) const {
    std::string s = string(key, true);
    if (s.empty()) fail(path(key), "must not be empty");
    return s;
  }

  std::optional<int64_t> integer(const char* key, int64_t low, int64_t high) const {
    const Json* v = find(key);
    if (v == nullptr) return std::nullopt;
    if (!v->is_number_integer()) fail(path(key), "must be an integer");
    // Unsigned values above INT64_MAX would wrap in get<int64_t>().
    const bool too_big =
        v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(high);
    const int64_t n = too_big ? high : v->get<int64_t>();
    if (too_big || n < low || n > high) {
      fail(path(key), "must be between " + std::to_string(low) + " and " + std::to_string(high));
    }
    return n;
  }

  double number(const char* key, double low, double high) const {
    const Json& v = require(key);
    if (!v.is_number()) fail(path(key), "must be a number");
    const double d = v.get<double>();
    if (!(d >= low && d <= high)) {
      fail(path(key), "must be between " + shortNumber(low) + " and " + shortNumber(high));
    }
    return d;
  }

  bool boolean(const char* key, bool fallback) const {
    const Json* v = find(key);
    if (v == nullptr) return fallback;
    if (!v->is_boolean()) fail(path(key), "must be true or false");
    return v->get<bool>();
  }

 private:
  const Json& json_;
  std::string path_;
};

lb::FailoverEvent readEvent(const Fields& f) {
  lb::FailoverEvent e;
  e.event_id = f.id("event_id");
  e.from_region = f.string("from_region", true);
  e.to_region = f.id("to_region");
  if (!lb::parseRfc3339(f.string("timestamp", true), &e.timestamp_unix_ms)) {
    fail(f.path("timestamp"), "not an RFC 3339 time");
  }
  e.reason = f.string("reason", false);
  e.triggered_by = f.string("triggered_by", false);
  e.success = f.boolean("success", true);
  return e;
}

config::Region readRegion(const Fields& f) {
  config::Region r;
  r.id = f.id("region_id");
  r.display_name = f.string("display_name", false);
  r.provider = f.string("provider", false);
  if (f.find("location") != nullptr) {
    Fields location(f.require("location"), f.path("location"));
    r.latitude = location.number("lat", -90, 90);
    r.longitude = location.number("lon", -180, 180);
  }
  r.priority = static_cast<int>(
      f.integer("priority", 0, std::numeric_limits<int>::max()).value_or(r.priority));
  return r;
}

lb::AddedNode readNode(const Fields& f) {
  lb::AddedNode n;
  n.lb = f.id("loadbalancer");
  n.backend.name = f.id("node_id");
  if (!net::splitHostPort(f.string("endpoint", true), &n.backend.address, &n.backend.port) ||
      n.backend.address.empty() || n.backend.port == 0) {
    fail(f.path("endpoint"), "must be \"host:port\" (\"[v6]:port\" for IPv6), port 1-65535");
  }
  n.backend.region = f.string("region_id", false);
  n.backend.weight = static_cast<int>(f.integer("weight", 0, kMaxWeight).value_or(100));
  n.backend.node_type = f.string("node_type", false);
  return n;
}

lb::NodeRef readNodeRef(const Fields& f) {
  return lb::NodeRef{f.id("loadbalancer"), f.id("node_id")};
}

lb::BackendPatch readPatch(const Fields& f) {
  lb::BackendPatch p;
  p.lb = f.id("loadbalancer");
  p.backend = f.id("backend");
  if (std::optional<int64_t> weight = f.integer("weight", 0, kMaxWeight)) {
    p.weight = static_cast<int>(*weight);
  }
  if (f.find("state") != nullptr) {
    config::AdminState state;
    if (!config::parseAdminState(f.string("state", true), &state)) {
      fail(f.path("state"), "must be \"enabled\", \"drain\" or \"disabled\"");
    }
    p.state = state;
  }
  return p;
}

// Each element of the array `key` (absent = empty) read by `readOne(Fields)`.
template <typename T, typename ReadOne>
std::vector<T> readArray(const Fields& top, const char* key, ReadOne readOne) {
  std::vector<T> out;
  const Json* array = top.find(key);
  if (array == nullptr) return out;
  if (!array->is_array()) fail(top.path(key), "must be an array");
  for (size_t i = 0; i < array->size(); ++i) {
    out.push_back(readOne(Fields((*array)[i], top.path(key) + "[" + std::to_string(i) + "]")));
  }
  return out;
}

std::vector<std::string> readIds(const Fields& top, const char* key) {
  std::vector<std::string> out;
  const Json* array = top.find(key);
  if (array == nullptr) return out;
  if (!array->is_array()) fail(top.path(key), "must be an array");
  for (size_t i = 0; i < array->size(); ++i) {
    const Json& v = (*array)[i];
    const std::string path = top.path(key) + "[" + std::to_string(i) + "]";
    if (!v.is_string() || v.get<std::string>().empty()) fail(path, "must be a non-empty string");
    out.push_back(v.get<std::string>());
  }
  return out;
}

void checkVersion(const Fields& top) {
  const std::optional<int64_t> version = top.integer("version", std::numeric_limits<int64_t>::min(),
                                                     std::numeric_limits<int64_t>::max());
  if (!version) fail("version", "missing");
  if (*version != kVersion) {
    fail("version", "unsupported version " + std::to_string(*version) +
                        " (this fiberlb reads version " + std::to_string(kVersion) + ")");
  }
}

PersistedState readState(const Json& root) {
  if (!root.is_object()) throw FieldError("the top level must be a JSON object");
  const Fields top(root, "");
  checkVersion(top);
  PersistedState s;
  s.active_region = top.string("active_region", false);
  s.history = readArray<lb::FailoverEvent>(top, "failover_history", readEvent);
  s.overlay.regions_added = readArray<config::Region>(top, "regions_added", readRegion);
  s.overlay.regions_removed = readIds(top, "regions_removed");
  s.overlay.nodes_added = readArray<lb::AddedNode>(top, "nodes_added", readNode);
  s.overlay.nodes_removed = readArray<lb::NodeRef>(top, "nodes_removed", readNodeRef);
  s.overlay.patches = readArray<lb::BackendPatch>(top, "backend_overrides", readPatch);
  return s;
}

// Parser messages quote the bytes they stopped at, which may be anything in a corrupt
// file; the log gets them with control and non-ASCII bytes masked.
std::string printable(std::string text) {
  for (char& c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f) c = '?';
  }
  return text;
}

// "[json.exception.parse_error.101] parse error at ..." -> "parse error at ...".
std::string parseErrorText(const nlohmann::json::exception& e) {
  std::string what = e.what();
  const size_t end = what.find("] ");
  if (!what.empty() && what[0] == '[' && end != std::string::npos) what.erase(0, end + 2);
  return "invalid JSON: " + printable(what);
}

// ---------------------------------------------------------------------------------------
// Files

std::string sysError(const std::string& path, const std::string& step, int err) {
  return "cannot write state file " + path + ": " + step + ": " + std::strerror(err);
}

bool writeAll(int fd, const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

// Writes and syncs `tmp`. On failure sets `error` and leaves `tmp` for the caller to unlink.
bool writeTemp(const std::string& path, const std::string& tmp, const std::string& text,
               std::string* error) {
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    *error = sysError(path, "creating " + tmp, errno);
    return false;
  }
  bool ok = writeAll(fd, text);
  if (!ok) *error = sysError(path, "writing " + tmp, errno);
  if (ok && ::fsync(fd) != 0) {
    ok = false;
    *error = sysError(path, "syncing " + tmp, errno);
  }
  if (::close(fd) != 0 && ok) {
    ok = false;
    *error = sysError(path, "closing " + tmp, errno);
  }
  return ok;
}

// Without this the rename itself may be lost on power failure.
bool syncDirectory(const std::string& path, const std::string& dir, std::string* error) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int err = fd < 0 ? errno : 0;
  if (fd >= 0 && ::fsync(fd) != 0) err = errno;
  if (fd >= 0) ::close(fd);
  // EINVAL: the file system cannot sync directories; nothing more can be done there.
  if (err == 0 || err == EINVAL) return true;
  *error = sysError(path, "replaced it but syncing directory " + dir + " failed", err);
  return false;
}

bool writeAtomically(const std::string& path, const std::string& text, std::string* error) {
  if (path.empty()) {
    *error = "cannot write the state file: its path is empty";
    return false;
  }
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  std::error_code ec;
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  if (ec) {
    *error = "cannot write state file " + path + ": creating directory " + parent.string() + ": " +
             ec.message();
    return false;
  }
  // Same directory, so the rename cannot cross file systems; the pid keeps two instances
  // pointed at one file from writing into each other's temp file.
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  if (!writeTemp(path, tmp, text, error)) {
    ::unlink(tmp.c_str());
    return false;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    *error = sysError(path, "renaming " + tmp + " over it", errno);
    ::unlink(tmp.c_str());
    return false;
  }
  return syncDirectory(path, parent.empty() ? "." : parent.string(), error);
}

enum class ReadResult { Ok, Missing, Failed, TooBig };

ReadResult readWhole(const std::string& path, std::string* text, std::string* error) {
  // O_NONBLOCK: a FIFO at the path must not hang start-up; no effect on regular files.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ENOENT) return ReadResult::Missing;
    *error = std::strerror(errno);
    return ReadResult::Failed;
  }
  struct stat st {};
  ReadResult result = ReadResult::Ok;
  if (::fstat(fd, &st) != 0) {
    *error = std::strerror(errno);
    result = ReadResult::Failed;
  } else if (S_ISDIR(st.st_mode)) {
    *error = "it is a directory";
    result = ReadResult::Failed;
  } else if (!S_ISREG(st.st_mode)) {
    *error = "it is not a regular file";
    result = ReadResult::Failed;
  } else if (st.st_size > kMaxFileBytes) {
    result = ReadResult::TooBig;
  }
  char buf[65536];
  while (result == ReadResult::Ok) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      *error = std::strerror(errno);
      result = ReadResult::Failed;
    }
    if (n <= 0) break;
    text->append(buf, static_cast<size_t>(n));
    if (text->size() > static_cast<size_t>(kMaxFileBytes)) result = ReadResult::TooBig;
  }
  ::close(fd);
  return result;
}

std::string utcStamp() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

// `<path>.corrupt-<UTC time>`, with a counter if two files go bad within one second.
std::string corruptName(const std::string& path) {
  const std::string base = path + ".corrupt-" + utcStamp();
  std::string name = base;
  std::error_code ec;
  for (int i = 1; i < 1000 && std::filesystem::symlink_status(name, ec).type() !=
                                  std::filesystem::file_type::not_found;
       ++i) {
    name = base + "." + std::to_string(i);
  }
  return name;
}

LoadOutcome setAside(const std::string& path, const std::string& reason) {
  LoadOutcome out;
  const std::string aside = corruptName(path);
  if (::rename(path.c_str(), aside.c_str()) != 0) {
    out.status = LoadStatus::Failed;
    out.message = "state file " + path + " is corrupt (" + reason + ") and could not be moved to " +
                  aside + " (" + std::strerror(errno) +
                  "); started with an empty state and left the file as it is";
    return out;
  }
  out.status = LoadStatus::SetAside;
  out.message = "state file " + path + " is corrupt (" + reason + "); moved it to " + aside +
                " and started with an empty state";
  return out;
}

LoadOutcome load(const std::string& path) {
  LoadOutcome out;
  std::string text;
  std::string error;
  switch (readWhole(path, &text, &error)) {
    case ReadResult::Missing:
      return out;
    case ReadResult::Failed:
      out.status = LoadStatus::Failed;
      out.message =
          "cannot read state file " + path + " (" + error + "); started with an empty state";
      return out;
    case ReadResult::TooBig:
      return setAside(path, "larger than " + std::to_string(kMaxFileBytes >> 20) + " MiB");
    case ReadResult::Ok:
      break;
  }
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) {
    return setAside(path, "the file is empty");
  }
  if (!fromJson(text, &out.state, &error)) return setAside(path, error);
  out.status = LoadStatus::Loaded;
  return out;
}

}  // namespace

std::string toJson(const PersistedState& state) {
  Json root{{"version", kVersion},
            {"active_region", state.active_region},
            {"failover_history", arrayJson(state.history, eventJson)},
            {"regions_added", arrayJson(state.overlay.regions_added, regionJson)},
            {"regions_removed", state.overlay.regions_removed},
            {"nodes_added", arrayJson(state.overlay.nodes_added, nodeJson)},
            {"nodes_removed", arrayJson(state.overlay.nodes_removed, nodeRefJson)},
            {"backend_overrides", arrayJson(state.overlay.patches, patchJson)}};
  // replace: names typed into the admin API may hold invalid UTF-8, which must not make the
  // save throw.
  return root.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

bool fromJson(const std::string& text, PersistedState* out, std::string* error) {
  std::string message;
  try {
    PersistedState parsed = readState(Json::parse(text));
    *out = std::move(parsed);
    return true;
  } catch (const nlohmann::json::parse_error& e) {
    message = parseErrorText(e);
  } catch (const FieldError& e) {
    message = e.what();
  } catch (const std::exception& e) {
    // Only allocation failures or a type error a check above missed can get here.
    message = std::string("unreadable content: ") + printable(e.what());
  }
  if (error != nullptr) *error = std::move(message);
  return false;
}

LoadOutcome loadStateFile(const std::string& path) {
  try {
    return load(path);
  } catch (const std::exception& e) {
    LoadOutcome out;
    out.status = LoadStatus::Failed;
    out.message =
        "cannot read state file " + path + " (" + e.what() + "); started with an empty state";
    return out;
  }
}

bool saveStateFile(const std::string& path, const PersistedState& state, std::string* error) {
  std::string local;
  std::string* err = error != nullptr ? error : &local;
  try {
    return writeAtomically(path, toJson(state), err);
  } catch (const std::exception& e) {
    *err = "cannot write state file " + path + ": " + e.what();
    return false;
  }
}

}  // namespace fiberlb::control
