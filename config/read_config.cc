#include "config/read_config.h"

#include "config/enum_names.h"
#include "config/read_geo.h"
#include "config/read_loadbalancer.h"
#include "config/toml_reader.h"
#include "config/value_syntax.h"

namespace fiberlb::config {

namespace {

void readDataplane(TableReader& t, std::string& out) {
  std::string value;
  if (!t.readString("dataplane", value)) return;
  if (value == "userspace") {
    out = value;
  } else if (value == "iptables" || value == "ipvs" || value == "ebpf") {
    t.error("dataplane",
            "the iptables, ipvs and ebpf data planes are not supported by this "
            "build; use dataplane = \"userspace\"");
  } else {
    t.error("dataplane", "unknown data plane '" + value +
                             "'; the only data plane of this build is \"userspace\"");
  }
}

void readPhotonStandalone(TableReader t, Photon& out) {
  std::string backend;
  if (t.readString("config_backend", backend)) {
    if (backend == "file") {
      out.config_backend = backend;
    } else {
      t.error("config_backend", "unknown value '" + backend + "'; expected one of: 'file'");
    }
  }
  readDataplane(t, out.dataplane);
  t.finish();
}

void readLogging(TableReader t, Logging& out) {
  t.readChoice("level", out.level, kLogLevels);
  t.readChoice("format", out.format, kLogFormats);
  t.readString("access_log", out.access_log);
  t.finish();
}

void readPhoton(TableReader t, Photon& out) {
  t.readChoice("mode", out.mode, kModes);
  t.readNonEmptyString("component_id", out.component_id);
  t.readString("config_version", out.config_version);
  readLogging(t.table("logging"), out.logging);
  readPhotonStandalone(t.table("standalone"), out);
  TableReader integrated = t.table("integrated");
  integrated.readStringList("chainfire_endpoints", out.chainfire_endpoints);
  integrated.finish();
  if (out.mode == Mode::Integrated && out.chainfire_endpoints.empty()) {
    t.error("mode",
            "mode = \"integrated\" needs [photon.integrated] chainfire_endpoints, "
            "e.g. [\"http://127.0.0.1:2379\"]");
  }
  t.finish();
}

// A non-loopback admin listener must not accept changes from anyone who can reach it.
void checkAdminAddress(TableReader& t, const Server& server) {
  std::string why;
  const auto admin = parseHostPort(server.admin_api_addr, why);
  if (!admin) {
    t.error("admin_api_addr", "'" + server.admin_api_addr + "': " + why);
  } else if (!isLoopbackHost(admin->host) && server.admin_token.empty()) {
    t.error("admin_api_addr", "'" + server.admin_api_addr +
                                  "' is reachable from other machines, so admin_token " +
                                  "must be set (in the file or with PHOTON_ADMIN_TOKEN)");
  }
  if (!server.metrics_addr.empty() && !parseHostPort(server.metrics_addr, why)) {
    t.error("metrics_addr", "'" + server.metrics_addr + "': " + why);
  }
}

void readServer(TableReader t, Server& out) {
  t.readString("admin_api_addr", out.admin_api_addr);
  t.readString("metrics_addr", out.metrics_addr);
  t.readString("admin_token", out.admin_token);
  t.readInt("workers", out.workers, 0, kMaxWorkers);
  t.readNumber("shutdown_grace_sec", out.shutdown_grace_sec, kNonNegative);
  t.readInt64("max_connections", out.max_connections, 1, kNoMax);
  t.readString("state_file", out.state_file);
  checkAdminAddress(t, out);
  t.finish();
}

void readDemo(TableReader t, Demo& out) {
  t.readBool("enabled", out.enabled);
  t.finish();
}

}  // namespace

Config readConfig(const toml::table& doc, Diagnostics& diags) {
  Config config;
  TableReader root(&doc, "", SourcePos{1, 1}, diags);
  readPhoton(root.table("photon"), config.photon);
  TableReader standalone = root.table("standalone");
  readServer(standalone.table("server"), config.server);
  // [geo] first: backends name regions, and may add implicit ones to it.
  TableReader geo = root.table("geo");
  readGeo(geo, config.geo);
  readLoadBalancers(standalone, config.geo, config.loadbalancers);
  checkActiveRegion(config.geo, geo);
  readDemo(root.table("demo"), config.demo);
  geo.finish();
  standalone.finish();
  root.finish();
  return config;
}

}  // namespace fiberlb::config
