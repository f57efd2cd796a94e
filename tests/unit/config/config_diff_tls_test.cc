// A reload reports TLS changes: an SNI certificate added or swapped modifies its load
// balancer, and a backend's TLS settings modify the backend.

#include <gtest/gtest.h>

#include "config/config_diff.h"

namespace fiberlb::config {
namespace {

Config withTlsLb() {
  Config c;
  LoadBalancer lb;
  lb.name = "api";
  lb.port = 8443;
  lb.tls_termination = true;
  lb.tls.cert_file = "/certs/api.crt";
  lb.tls.key_file = "/certs/api.key";
  Backend b;
  b.name = "b1";
  b.port = 9000;
  b.tls = true;
  lb.backends.push_back(b);
  c.loadbalancers.push_back(lb);
  return c;
}

TEST(ConfigDiffTls, AnAddedSniCertificateModifiesTheLoadBalancer) {
  const Config before = withTlsLb();
  Config after = before;
  after.loadbalancers[0].tls.sni.push_back({"a.test", "/certs/a.crt", "/certs/a.key", {}});
  const ConfigChanges changes = diff(before, after);
  EXPECT_EQ(changes.modified, std::vector<std::string>{"api"});
}

TEST(ConfigDiffTls, ASwappedSniKeyModifiesTheLoadBalancer) {
  Config before = withTlsLb();
  before.loadbalancers[0].tls.sni.push_back({"a.test", "/certs/a.crt", "/certs/a.key", {}});
  Config after = before;
  after.loadbalancers[0].tls.sni[0].key_file = "/certs/a2.key";
  EXPECT_EQ(diff(before, after).modified, std::vector<std::string>{"api"});
}

TEST(ConfigDiffTls, BackendTlsSettingsModifyTheBackend) {
  const Config before = withTlsLb();
  Config after = before;
  after.loadbalancers[0].backends[0].tls_ca_file = "/certs/ca.pem";
  EXPECT_EQ(diff(before, after).modified, std::vector<std::string>{"api/b1"});
  after = before;
  after.loadbalancers[0].backends[0].tls_server_name = "backend.test";
  EXPECT_EQ(diff(before, after).modified, std::vector<std::string>{"api/b1"});
  after = before;
  after.loadbalancers[0].backends[0].tls_verify = false;
  EXPECT_EQ(diff(before, after).modified, std::vector<std::string>{"api/b1"});
}

TEST(ConfigDiffTls, AnUnchangedTlsConfigIsNoChange) {
  EXPECT_TRUE(diff(withTlsLb(), withTlsLb()).empty());
}

}  // namespace
}  // namespace fiberlb::config
