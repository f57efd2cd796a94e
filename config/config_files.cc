#include "config/config_files.h"

#include <algorithm>

namespace fiberlb::config {

std::vector<std::string> filesNamedBy(const Config& config) {
  std::vector<std::string> files;
  for (const LoadBalancer& lb : config.loadbalancers) {
    if (lb.tls_termination) {
      files.push_back(lb.tls.cert_file);
      files.push_back(lb.tls.key_file);
      for (const SniCert& sni : lb.tls.sni) {
        files.push_back(sni.cert_file);
        files.push_back(sni.key_file);
      }
    }
    for (const Backend& b : lb.backends)
      if (b.tls) files.push_back(b.tls_ca_file);
  }
  std::erase(files, std::string());
  std::sort(files.begin(), files.end());
  files.erase(std::unique(files.begin(), files.end()), files.end());
  return files;
}

}  // namespace fiberlb::config
