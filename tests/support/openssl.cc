#include "tests/support/openssl.h"

#include "tests/support/deadline.h"
#include "tests/support/process.h"

namespace fiberlb::testing {

bool runOpenssl(const std::vector<std::string>& args, std::string& errors) {
  RunResult r =
      runToCompletion("/usr/bin/openssl", {.args = args, .label = "openssl"}, deadlineIn(20000));
  if (r.exit_code == 0) return true;
  errors += "openssl";
  for (const auto& a : args)
    errors += " " + a;
  errors += " -> " + std::to_string(r.exit_code) + ":\n" + r.output + "\n";
  return false;
}

}  // namespace fiberlb::testing
