#pragma once
// The openssl command line, which the TLS tests make their certificates with.

#include <string>
#include <vector>

namespace fiberlb::testing {

// Runs /usr/bin/openssl with `args` (20 s at most). True when it exited 0; otherwise the
// command line, its exit code and its output are appended to `errors`.
bool runOpenssl(const std::vector<std::string>& args, std::string& errors);

}  // namespace fiberlb::testing
