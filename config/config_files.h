#pragma once
// The files a config names besides itself.

#include <string>
#include <vector>

#include "config/config.h"

namespace fiberlb::config {

// Every file a config reads besides itself (certificates, keys, CA files of the LBs and
// backends that use TLS), sorted, without repeats: what a reload re-reads, so what the
// config watch must watch too.
std::vector<std::string> filesNamedBy(const Config& config);

// Reads a config file whole; false + `error` (strerror) when it cannot be read.
bool readConfigFile(const std::string& path, std::string* text, std::string* error);

// loadFile() of bytes already read from `path` (relative TLS paths resolve against its
// directory): a reload checks and hashes exactly the bytes it parses.
LoadResult loadFileText(const std::string& path, const std::string& text,
                        const Overrides& overrides = {});

}  // namespace fiberlb::config
