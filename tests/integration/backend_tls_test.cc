// TLS from fiberlb to its backends (README "TLS to backends"; SPEC §3 `tls = true` plus the
// keys of the Deviations section: `tls_verify`, `tls_ca_file`, `tls_server_name`). The
// backends are HTTPS servers in Python (ssl + http.server, HTTP/1.1 keep-alive) that report
// the SNI they received; certificates come from the openssl command line: a test CA, a leaf
// it signs for IP 127.0.0.1 and DNS "backend.test", and a self-signed leaf for the same
// names.
//
// Checked: an HTTP LB over a TLS backend verified with tls_ca_file (relative to the config
// file), keep-alive and pooled upstream connections, SNI sent for a host name and not for
// an IP address, a certificate that does not verify (wrong name, self-signed) never served
// from and retried on another backend (alone: 503 and a warning naming the reason),
// tls_verify = false, `fiberlb check` naming a missing CA file, and a 5 MB response intact.

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/deadline.h"
#include "tests/support/fiberlb_config.h"
#include "tests/support/fiberlb_process.h"
#include "tests/support/http_client.h"
#include "tests/support/openssl.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace fiberlb::testing {
namespace {

constexpr const char* kPython = "/usr/bin/python3";

// ---------------------------------------------------------------------------------------
// Certificates (EC P-256), made once for the whole suite.

class Certificates {
 public:
  Certificates() {
    dir_.write("leaf.ext",
               "[leaf]\nbasicConstraints = critical,CA:FALSE\n"
               "keyUsage = critical,digitalSignature\nextendedKeyUsage = serverAuth\n"
               "subjectAltName = IP:127.0.0.1,DNS:backend.test\n");
    ok_ = openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                   "-days", "2", "-subj", "/CN=fiberlb backend test CA", "-addext",
                   "basicConstraints=critical,CA:TRUE", "-addext",
                   "keyUsage=critical,keyCertSign,cRLSign", "-keyout", file("ca.key"), "-out",
                   file("ca.crt")}) &&
          openssl({"req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                   "-subj", "/CN=backend.test", "-keyout", file("leaf.key"), "-out",
                   file("leaf.csr")}) &&
          openssl({"x509", "-req", "-in", file("leaf.csr"), "-CA", file("ca.crt"), "-CAkey",
                   file("ca.key"), "-set_serial", "4097", "-days", "2", "-extfile",
                   file("leaf.ext"), "-extensions", "leaf", "-out", file("leaf.crt")}) &&
          openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                   "-days", "2", "-subj", "/CN=backend.test", "-addext",
                   "subjectAltName=IP:127.0.0.1,DNS:backend.test", "-keyout",
                   file("self-signed.key"), "-out", file("self-signed.crt")});
  }

  bool ok() const { return ok_; }
  const std::string& errors() const { return errors_; }
  std::string file(const std::string& name) const { return dir_.file(name); }

 private:
  bool openssl(const std::vector<std::string>& args) { return runOpenssl(args, errors_); }

  TempDir dir_;
  bool ok_ = false;
  std::string errors_;
};

// ---------------------------------------------------------------------------------------
// The HTTPS backend. GET /big/<n> answers n random bytes with X-Crc32 (zlib's CRC-32, in
// decimal); any other path answers "<name> path=<path> sni=<sni>\n". Every response carries
// X-Backend, X-Sni ("-" when the client sent none) and X-Conn (the TLS connection's number).
// It prints "PORT <n>" once listening, then "HANDSHAKE conn=<i> sni=<sni>",
// "HANDSHAKE_FAILED conn=<i> <reason>", "REQUEST conn=<i> <path>" and (once the whole
// response was written) "SENT conn=<i> <path> bytes=<n>" lines.

const char* const kHttpsBackend = R"PY(
import argparse, os, socket, ssl, sys, threading, zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

p = argparse.ArgumentParser()
p.add_argument("--name", required=True)
p.add_argument("--cert", required=True)
p.add_argument("--key", required=True)
a = p.parse_args()

lock = threading.Lock()
def log(line):
    with lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(a.cert, a.key)
def on_sni(sock, name, context):
    sock.fiberlb_sni = name
    return None
ctx.sni_callback = on_sni

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args):
        pass
    def do_GET(self):
        sni = getattr(self.connection, "fiberlb_sni", None) or "-"
        conn = getattr(self.connection, "fiberlb_conn", 0)
        log("REQUEST conn=%d %s" % (conn, self.path))
        crc = None
        if self.path.startswith("/big/"):
            body = os.urandom(int(self.path[5:]))
            crc = zlib.crc32(body)
        else:
            body = ("%s path=%s sni=%s\n" % (a.name, self.path, sni)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Backend", a.name)
        self.send_header("X-Sni", sni)
        self.send_header("X-Conn", str(conn))
        if crc is not None:
            self.send_header("X-Crc32", str(crc))
        self.end_headers()
        self.wfile.write(body)
        log("SENT conn=%d %s bytes=%d" % (conn, self.path, len(body)))

class Server(ThreadingHTTPServer):
    daemon_threads = True
    connections = 0
    def finish_request(self, request, client_address):
        with lock:
            Server.connections += 1
            n = Server.connections
        try:
            tls = ctx.wrap_socket(request, server_side=True)
        except OSError as e:
            log("HANDSHAKE_FAILED conn=%d %s" % (n, e))
            return
        tls.fiberlb_conn = n
        log("HANDSHAKE conn=%d sni=%s" % (n, getattr(tls, "fiberlb_sni", None) or "-"))
        try:
            self.RequestHandlerClass(tls, client_address, self)
        except OSError as e:
            log("ERROR conn=%d %s" % (n, e))
        finally:
            tls.close()
    def handle_error(self, request, client_address):
        pass

srv = Server(("127.0.0.1", 0), Handler)
log("PORT %d" % srv.server_address[1])
srv.serve_forever()
)PY";

class HttpsBackend {
 public:
  HttpsBackend(const std::string& name, const std::string& cert, const std::string& key) {
    process_ = std::make_unique<Process>(
        kPython, Process::Options{.args = {dir_.write("https_backend.py", kHttpsBackend), "--name",
                                           name, "--cert", cert, "--key", key},
                                  .label = "https-" + name});
    if (auto line = process_->waitForLine("PORT ", deadlineIn(10000)))
      port_ = static_cast<uint16_t>(std::stoi(line->substr(5)));
  }

  uint16_t port() const { return port_; }
  Process& process() { return *process_; }
  size_t requests() const { return process_->countLines("REQUEST "); }
  size_t handshakes() const { return process_->countLines("HANDSHAKE conn="); }

 private:
  TempDir dir_;
  std::unique_ptr<Process> process_;
  uint16_t port_ = 0;
};

// ---------------------------------------------------------------------------------------
// Configuration: FiberlbConfig has no per-backend TLS keys, so they are inserted into the
// rendered text right after the backend's `name` line.

struct TlsBackend {
  BackendConfig backend;
  std::string keys;  // raw TOML lines of the backend's table, e.g. "tls = true\n"
};

std::string render(const FiberlbConfig& config, const std::string& state_file,
                   const std::vector<TlsBackend>& backends) {
  std::string text = config.render(state_file);
  for (const TlsBackend& b : backends) {
    const std::string anchor =
        "[[standalone.loadbalancers.backends]]\nname = \"" + b.backend.name + "\"\n";
    const size_t at = text.find(anchor);
    if (at == std::string::npos) return "";
    text.insert(at + anchor.size(), b.keys);
  }
  return text;
}

FiberlbConfig httpLb(const std::vector<TlsBackend>& backends) {
  std::vector<BackendConfig> plain;
  for (const TlsBackend& b : backends)
    plain.push_back(b.backend);
  FiberlbConfig config = singleLb(plain);
  // A breaker that stays closed: each request must meet the failing backend on its own.
  config.loadbalancers[0].circuit_breaker = {{"failure_threshold", 100000}};
  return config;
}

class BackendTls : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { certs_ = new Certificates(); }
  static void TearDownTestSuite() {
    delete certs_;
    certs_ = nullptr;
  }

  void SetUp() override { ASSERT_TRUE(certs_->ok()) << certs_->errors(); }

  static const Certificates& certs() { return *certs_; }

  // A backend signed by the test CA / a self-signed one, on 127.0.0.1.
  static std::unique_ptr<HttpsBackend> goodBackend(const std::string& name) {
    return std::make_unique<HttpsBackend>(name, certs().file("leaf.crt"), certs().file("leaf.key"));
  }
  static std::unique_ptr<HttpsBackend> selfSignedBackend(const std::string& name) {
    return std::make_unique<HttpsBackend>(name, certs().file("self-signed.crt"),
                                          certs().file("self-signed.key"));
  }

  // "tls = true" and the CA as `tls_ca_file`, relative to the config file (conf/certs/ca.crt
  // next to conf/fiberlb.toml, while fiberlb's working directory is conf/'s parent).
  static std::string trustingTheCa(const std::string& more = "") {
    return "tls = true\ntls_ca_file = \"certs/ca.crt\"\n" + more;
  }

  // Writes the config into conf/ of fiberlb's directory, with the CA in conf/certs/, and
  // starts fiberlb on it.
  ::testing::AssertionResult start(const std::vector<TlsBackend>& backends) {
    const std::string conf = lb_.dir().file("conf");
    std::filesystem::create_directories(conf + "/certs");
    std::filesystem::copy_file(certs().file("ca.crt"), conf + "/certs/ca.crt",
                               std::filesystem::copy_options::overwrite_existing);
    const std::string text = render(httpLb(backends), lb_.dir().file("state.json"), backends);
    if (text.empty()) return ::testing::AssertionFailure() << "a backend is not in the config";
    return lb_.startWithFile(lb_.dir().write("conf/fiberlb.toml", text), {});
  }

  // A GET on a fresh connection to the LB.
  Response get(const std::string& path) {
    return fetch(lb_.port(), getRequest(path), deadlineIn(10000));
  }

  FiberlbProcess lb_;

 private:
  static Certificates* certs_;
};

Certificates* BackendTls::certs_ = nullptr;

// CRC-32 as zlib computes it (reflected, polynomial 0xEDB88320).
uint32_t crc32(const std::string& data) {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k)
        c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  uint32_t c = 0xFFFFFFFFu;
  for (const char ch : data)
    c = table[(c ^ static_cast<uint8_t>(ch)) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

constexpr const char* kVerifyFailed = "TLS handshake failed: certificate verify failed";

// ---------------------------------------------------------------------------------------

TEST_F(BackendTls, ServesFromAVerifiedBackendOverKeepAlive) {
  auto b1 = goodBackend("b1");
  ASSERT_NE(b1->port(), 0) << b1->process().output();
  ASSERT_TRUE(start({{{"b1", b1->port()}, trustingTheCa()}}));

  HttpClient client;
  ASSERT_TRUE(client.connect(lb_.port(), deadlineIn(5000)));
  std::optional<std::string> first_conn;
  for (int i = 0; i < 5; ++i) {
    const std::string path = "/ka/" + std::to_string(i);
    ASSERT_TRUE(client.send(getRequest(path), deadlineIn(5000))) << client.error();
    Response r = client.readResponse(deadlineIn(10000));
    ASSERT_TRUE(r.ok()) << "request " << i << ": " << r.error << "\n" << lb_.process().output();
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body, "b1 path=" + path + " sni=-\n");
    // The pooled upstream connection (and its TLS session) is reused: one worker, one
    // client at a time.
    if (!first_conn) first_conn = r.header("X-Conn");
    EXPECT_EQ(r.header("X-Conn"), first_conn) << "request " << i;
  }
  EXPECT_FALSE(client.peerClosed());
  EXPECT_EQ(b1->requests(), 5u);
  EXPECT_EQ(b1->handshakes(), 1u) << b1->process().output();
}

TEST_F(BackendTls, NoSniForAnIpAddress) {
  auto b1 = goodBackend("b1");
  ASSERT_NE(b1->port(), 0) << b1->process().output();
  ASSERT_TRUE(start({{{"b1", b1->port()}, trustingTheCa()}}));

  Response r = get("/ip");
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("X-Sni"), "-") << "an IP address must not be sent as SNI";
  EXPECT_TRUE(b1->process().waitForLine("HANDSHAKE conn=1 sni=-", deadlineIn(2000)))
      << b1->process().output();
}

TEST_F(BackendTls, SendsTheServerNameAsSni) {
  auto b1 = goodBackend("b1");
  ASSERT_NE(b1->port(), 0) << b1->process().output();
  ASSERT_TRUE(start({{{"b1", b1->port()}, trustingTheCa("tls_server_name = \"backend.test\"\n")}}));

  for (int i = 0; i < 3; ++i) {
    Response r = get("/sni");
    ASSERT_TRUE(r.ok()) << r.error;
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.header("X-Sni"), "backend.test");
    EXPECT_EQ(r.body, "b1 path=/sni sni=backend.test\n");
  }
}

TEST_F(BackendTls, AWrongServerNameIsNeverServedFromAndRetried) {
  auto good = goodBackend("good");
  auto bad = goodBackend("bad");  // the right CA, but fiberlb expects another name
  ASSERT_NE(good->port(), 0) << good->process().output();
  ASSERT_NE(bad->port(), 0) << bad->process().output();
  ASSERT_TRUE(start({{{"bad", bad->port()}, trustingTheCa("tls_server_name = \"other.test\"\n")},
                     {{"good", good->port()}, trustingTheCa()}}));

  for (int i = 0; i < 10; ++i) {
    Response r = get("/retry/" + std::to_string(i));
    ASSERT_TRUE(r.ok()) << "request " << i << ": " << r.error;
    EXPECT_EQ(r.status, 200) << "request " << i << ": " << r.body;
    EXPECT_EQ(r.header("X-Backend"), "good") << "request " << i;
  }
  EXPECT_EQ(good->requests(), 10u);
  EXPECT_EQ(bad->requests(), 0u) << bad->process().output();
  // Round-robin did pick "bad": its handshakes failed and were retried.
  EXPECT_TRUE(
      lb_.process().waitForLine("backend=bad " + std::string(kVerifyFailed), deadlineIn(2000)))
      << lb_.process().output();
  EXPECT_EQ(lb_.process().countLines("backend=good TLS handshake failed"), 0u);
}

TEST_F(BackendTls, ASelfSignedBackendIsNeverServedFromAndRetried) {
  auto good = goodBackend("good");
  auto bad = selfSignedBackend("bad");
  ASSERT_NE(good->port(), 0) << good->process().output();
  ASSERT_NE(bad->port(), 0) << bad->process().output();
  // "bad" is verified against the system CA store (no tls_ca_file), which does not know it.
  ASSERT_TRUE(
      start({{{"bad", bad->port()}, "tls = true\n"}, {{"good", good->port()}, trustingTheCa()}}));

  for (int i = 0; i < 10; ++i) {
    Response r = get("/retry/" + std::to_string(i));
    ASSERT_TRUE(r.ok()) << "request " << i << ": " << r.error;
    EXPECT_EQ(r.status, 200) << "request " << i << ": " << r.body;
    EXPECT_EQ(r.header("X-Backend"), "good") << "request " << i;
  }
  EXPECT_EQ(bad->requests(), 0u) << bad->process().output();
  EXPECT_TRUE(
      lb_.process().waitForLine("backend=bad " + std::string(kVerifyFailed), deadlineIn(2000)))
      << lb_.process().output();
}

TEST_F(BackendTls, AloneAWrongServerNameAnswers503) {
  auto bad = goodBackend("bad");
  ASSERT_NE(bad->port(), 0) << bad->process().output();
  ASSERT_TRUE(start({{{"bad", bad->port()}, trustingTheCa("tls_server_name = \"other.test\"\n")}}));

  Response r = get("/alone");
  ASSERT_TRUE(r.ok()) << r.error;
  // README, Deviations: every connect failed -> 503 no_healthy_backend.
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_NE(r.body.find("no_healthy_backend"), std::string::npos) << r.body;
  EXPECT_EQ(bad->requests(), 0u);
  auto line = lb_.process().waitForLine(kVerifyFailed, deadlineIn(2000));
  ASSERT_TRUE(line) << lb_.process().output();
  EXPECT_NE(line->find("backend=bad"), std::string::npos) << *line;
  EXPECT_NE(line->find("hostname mismatch"), std::string::npos) << *line;
}

TEST_F(BackendTls, AloneASelfSignedBackendAnswers503) {
  auto bad = selfSignedBackend("bad");
  ASSERT_NE(bad->port(), 0) << bad->process().output();
  ASSERT_TRUE(start({{{"bad", bad->port()}, "tls = true\n"}}));

  Response r = get("/alone");
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_NE(r.body.find("no_healthy_backend"), std::string::npos) << r.body;
  EXPECT_EQ(bad->requests(), 0u);
  auto line = lb_.process().waitForLine(kVerifyFailed, deadlineIn(2000));
  ASSERT_TRUE(line) << lb_.process().output();
  EXPECT_NE(line->find("backend=bad"), std::string::npos) << *line;
  EXPECT_NE(line->find("self-signed"), std::string::npos) << *line;
}

TEST_F(BackendTls, TlsVerifyFalseAcceptsASelfSignedBackend) {
  auto b1 = selfSignedBackend("b1");
  ASSERT_NE(b1->port(), 0) << b1->process().output();
  // Even with a name the certificate does not carry: nothing is checked.
  ASSERT_TRUE(start({{{"b1", b1->port()},
                      "tls = true\ntls_verify = false\ntls_server_name = \"unverified.test\"\n"}}));

  Response r = get("/noverify");
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.status, 200) << r.body << "\n" << lb_.process().output();
  EXPECT_EQ(r.body, "b1 path=/noverify sni=unverified.test\n");
  EXPECT_EQ(lb_.process().countLines("TLS handshake failed"), 0u) << lb_.process().output();
}

TEST_F(BackendTls, CheckNamesAMissingCaFile) {
  TempDir dir;
  FiberlbConfig config = singleLb({{"b1", 18443}});
  const std::string text =
      render(config, dir.file("state.json"),
             {{{"b1", 18443}, "tls = true\ntls_ca_file = \"certs/missing-ca.crt\"\n"}});
  ASSERT_FALSE(text.empty());
  const std::string path = dir.write("backend-tls.toml", text);
  // The backend is reported at its table: the line of its [[...backends]] header.
  const auto at = static_cast<std::ptrdiff_t>(text.find("[[standalone.loadbalancers.backends]]"));
  const int table_line = 1 + static_cast<int>(std::count(text.begin(), text.begin() + at, '\n'));

  RunResult r = runToCompletion(fiberlbBinary(), {.args = {"check", path}}, deadlineIn(20000));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("error: " + path + ":" + std::to_string(table_line) +
                          ":1: lb web backend b1: " + dir.file("certs/missing-ca.crt") +
                          ": cannot load CA certificates: No such file or directory"),
            std::string::npos)
      << r.output;
}

TEST_F(BackendTls, CheckAcceptsAnExistingCaFile) {
  TempDir dir;
  std::filesystem::create_directories(dir.file("certs"));
  std::filesystem::copy_file(certs().file("ca.crt"), dir.file("certs/ca.crt"));
  FiberlbConfig config = singleLb({{"b1", 18443}});
  const std::string path =
      dir.write("backend-tls.toml",
                render(config, dir.file("state.json"), {{{"b1", 18443}, trustingTheCa()}}));
  RunResult r = runToCompletion(fiberlbBinary(), {.args = {"check", path}}, deadlineIn(20000));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("configuration is valid"), std::string::npos) << r.output;
}

TEST_F(BackendTls, AFiveMegabyteResponseArrivesIntact) {
  auto b1 = goodBackend("b1");
  ASSERT_NE(b1->port(), 0) << b1->process().output();
  ASSERT_TRUE(start({{{"b1", b1->port()}, trustingTheCa()}}));

  constexpr size_t kBytes = 5 * 1000 * 1000;
  HttpClient client;
  ASSERT_TRUE(client.connect(lb_.port(), deadlineIn(5000)));
  // Twice on one connection: the second reuses the pooled TLS connection after a large body.
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(client.send(getRequest("/big/" + std::to_string(kBytes)), deadlineIn(5000)));
    Response r = client.readResponse(deadlineIn(30000));
    ASSERT_TRUE(r.ok()) << "response " << i << ": " << r.error;
    ASSERT_EQ(r.status, 200);
    ASSERT_EQ(r.body.size(), kBytes) << "response " << i;
    ASSERT_TRUE(r.header("X-Crc32")) << "response " << i;
    EXPECT_EQ(std::to_string(crc32(r.body)), *r.header("X-Crc32")) << "response " << i;
  }
}

TEST_F(BackendTls, AClientThatDoesNotReadHoldsBackTheTlsBackend) {
  // 64 MiB to a client that reads nothing for a while: back-pressure through the TLS
  // connection stops the backend, so it cannot finish and fiberlb's memory stays flat.
  constexpr size_t kHuge = 64 * 1024 * 1024;
  auto b1 = goodBackend("b1");
  ASSERT_NE(b1->port(), 0) << b1->process().output();
  ASSERT_TRUE(start({{{"b1", b1->port()}, trustingTheCa()}}));
  const int64_t rss_before = lb_.process().rssKib();

  HttpClient client;
  ASSERT_TRUE(client.connect(lb_.port(), deadlineIn(5000)));
  ASSERT_TRUE(client.send(getRequest("/big/" + std::to_string(kHuge)), deadlineIn(5000)));
  ASSERT_TRUE(client.waitReadable(deadlineIn(10000)));
  // Without back-pressure the whole body would pass in about a second on loopback.
  EXPECT_FALSE(b1->process().waitForLine("SENT conn=", deadlineIn(1500)))
      << "the backend finished sending 64 MiB to a client that reads nothing";
  const int64_t growth_kib = lb_.process().rssKib() - rss_before;
  EXPECT_LT(growth_kib, 32 * 1024)
      << "fiberlb buffered the body: RSS grew by " << growth_kib << " KiB";

  Response r = client.readResponse(deadlineIn(60000));
  ASSERT_TRUE(r.ok()) << r.error;
  ASSERT_EQ(r.body.size(), kHuge);
  ASSERT_TRUE(r.header("X-Crc32"));
  EXPECT_EQ(std::to_string(crc32(r.body)), *r.header("X-Crc32"));
  EXPECT_TRUE(b1->process().waitForLine("SENT conn=", deadlineIn(5000)));
}

}  // namespace
}  // namespace fiberlb::testing
