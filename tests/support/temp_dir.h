#pragma once
// A private directory under $TMPDIR (or /tmp), removed with everything in it on destruction;
// and reading a whole file back.

#include <string>
#include <string_view>

namespace fiberlb::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // Absolute path of `name` inside the directory.
  std::string file(std::string_view name) const;
  // Writes `content` to `name` atomically (temporary file + rename) and returns its path.
  std::string write(std::string_view name, std::string_view content) const;

 private:
  std::string path_;
};

// The whole content of the file at `path`; "" when it cannot be read.
std::string readFile(const std::string& path);

}  // namespace fiberlb::testing
