// TLS termination through the real binary (SPEC §3 [tls], §6, §7, §8): HTTPS and
// TLS-over-TCP listeners against real backends, with real clients (curl and Python's ssl
// module, both OpenSSL 3) and certificates made by the openssl command line: a root CA, an
// intermediate CA and leaves it signs, each leaf's cert_file holding leaf + intermediate so
// that a client trusting only the root verifies the chain fiberlb sends.
//
// Checked: the answer and X-Forwarded-Proto over HTTPS, keep-alive on one TLS connection,
// TLS 1.3 with ALPN http/1.1, no protocol below TLS 1.2 (and min_version = "1.3"), SNI,
// session resumption (also across two workers), plaintext and stalled handshakes on the TLS
// port, a 2 MB echo over TLS-over-TCP, the handshake counters in /metrics, and certificate
// files re-read by a reload (and a broken key refused, naming the file).

#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/deadline.h"
#include "tests/support/fiberlb_config.h"
#include "tests/support/fiberlb_process.h"
#include "tests/support/http_client.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_backend.h"

namespace fiberlb::testing {
namespace {

using nlohmann::json;

constexpr const char* kOpenssl = "/usr/bin/openssl";
constexpr const char* kCurl = "/usr/bin/curl";
constexpr const char* kPython = "/usr/bin/python3";

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// ---------------------------------------------------------------------------------------
// Certificates: root CA -> intermediate CA -> leaves, EC P-256, made with the openssl CLI.

const char* const kPkiConfig = R"([req]
distinguished_name = dn
[dn]
[root_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[intermediate_ca]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
)";

struct CertPair {
  std::string cert;  // PEM file: leaf followed by the intermediate
  std::string key;   // PEM file: the leaf's private key
};

class Pki {
 public:
  // Makes the root and the intermediate CA; ok() tells whether openssl succeeded.
  Pki() {
    dir_.write("pki.cnf", kPkiConfig);
    ok_ = openssl({"req", "-config", file("pki.cnf"), "-x509", "-extensions", "root_ca", "-newkey",
                   "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj",
                   "/CN=fiberlb test root CA", "-keyout", file("root.key"), "-out",
                   file("root.crt")}) &&
          openssl({"req", "-config", file("pki.cnf"), "-new", "-newkey", "ec", "-pkeyopt",
                   "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=fiberlb test intermediate CA",
                   "-keyout", file("intermediate.key"), "-out", file("intermediate.csr")}) &&
          openssl({"x509", "-req", "-in", file("intermediate.csr"), "-CA", file("root.crt"),
                   "-CAkey", file("root.key"), "-set_serial", std::to_string(serial_++), "-days",
                   "2", "-extfile", file("pki.cnf"), "-extensions", "intermediate_ca", "-out",
                   file("intermediate.crt")});
  }

  bool ok() const { return ok_; }
  const std::string& errors() const { return errors_; }
  std::string rootCa() const { return file("root.crt"); }

  // A leaf for `cn` (also its DNS subjectAltName, plus `extra_sans` like "IP:127.0.0.1")
  // signed by the intermediate; nullopt when openssl failed (see errors()).
  std::optional<CertPair> issue(const std::string& cn, const std::string& extra_sans = "") {
    std::string base = "leaf-" + cn + "-" + std::to_string(serial_);
    std::replace(base.begin(), base.end(), '*', '_');
    std::string san = "DNS:" + cn;
    if (!extra_sans.empty()) san += "," + extra_sans;
    dir_.write(base + ".ext",
               "[leaf]\nbasicConstraints = critical,CA:FALSE\n"
               "keyUsage = critical,digitalSignature\nextendedKeyUsage = serverAuth\n"
               "subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n"
               "subjectAltName = " +
                   san + "\n");
    if (!openssl({"req", "-config", file("pki.cnf"), "-new", "-newkey", "ec", "-pkeyopt",
                  "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=" + cn, "-keyout",
                  file(base + ".key"), "-out", file(base + ".csr")}) ||
        !openssl({"x509", "-req", "-in", file(base + ".csr"), "-CA", file("intermediate.crt"),
                  "-CAkey", file("intermediate.key"), "-set_serial", std::to_string(serial_++),
                  "-days", "2", "-extfile", file(base + ".ext"), "-extensions", "leaf", "-out",
                  file(base + ".leaf.crt")}))
      return std::nullopt;
    const std::string chain = dir_.write(
        base + ".crt", readFile(file(base + ".leaf.crt")) + readFile(file("intermediate.crt")));
    return CertPair{chain, file(base + ".key")};
  }

 private:
  std::string file(const std::string& name) const { return dir_.file(name); }
  bool openssl(const std::vector<std::string>& args) {
    RunResult r = runToCompletion(kOpenssl, {.args = args, .label = "openssl"}, deadlineIn(20000));
    if (r.exit_code == 0) return true;
    errors_ += "openssl";
    for (const auto& a : args)
      errors_ += " " + a;
    errors_ += " -> " + std::to_string(r.exit_code) + ":\n" + r.output + "\n";
    return false;
  }

  TempDir dir_;
  bool ok_ = false;
  std::string errors_;
  int64_t serial_ = 4096;
};

// ---------------------------------------------------------------------------------------
// fiberlb configuration with a TLS listener.

struct SniCert {
  std::string server_name;
  CertPair pair;
};

struct TlsListener {
  std::string cert_file;  // as written in the config (absolute, or relative to the config)
  std::string key_file;
  std::string min_version;  // "" = not written (default "1.2")
  std::vector<SniCert> sni;
  std::string protocol = "http";
  std::string method = "roundrobin";
  int workers = 1;
  std::map<std::string, int64_t> timeouts{{"client_header_ms", 5000}};
};

std::string quoted(const std::string& s) {
  return "\"" + s + "\"";
}

// One LB "web" with tls_termination = true over `backends` and the [tls] table of `tls`.
FiberlbConfig tlsConfig(const std::vector<BackendConfig>& backends, const TlsListener& tls) {
  FiberlbConfig config = singleLb(backends, tls.method);
  config.workers = tls.workers;
  LbConfig& lb = config.loadbalancers[0];
  lb.protocol = tls.protocol;
  lb.timeouts = tls.timeouts;
  lb.extra = "tls_termination = true\n";
  std::string table = "[standalone.loadbalancers.tls]\ncert_file = " + quoted(tls.cert_file) +
                      "\nkey_file = " + quoted(tls.key_file) + "\n";
  if (!tls.min_version.empty()) table += "min_version = " + quoted(tls.min_version) + "\n";
  for (const SniCert& s : tls.sni) {
    table += "[[standalone.loadbalancers.tls.sni]]\nserver_name = " + quoted(s.server_name) +
             "\ncert_file = " + quoted(s.pair.cert) + "\nkey_file = " + quoted(s.pair.key) + "\n";
  }
  config.extra = table;
  return config;
}

// ---------------------------------------------------------------------------------------
// Python clients (Python's ssl module). Every mode prints one "RESULT <json>" line.

const char* const kPythonClient = R"PY(
import argparse, codecs, json, os, socket, ssl, sys, time, warnings
warnings.filterwarnings("ignore")  # TLSVersion.TLSv1_1 is deprecated: we use it on purpose

VERSIONS = {"1.0": ssl.TLSVersion.TLSv1, "1.1": ssl.TLSVersion.TLSv1_1,
            "1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}

p = argparse.ArgumentParser()
p.add_argument("mode", choices=["get", "pipeline", "raw", "resume", "hold", "echo"])
p.add_argument("--port", type=int, required=True)
p.add_argument("--cafile", required=True)
p.add_argument("--sni", default="localhost")
p.add_argument("--no-check-hostname", action="store_true")
p.add_argument("--min")
p.add_argument("--max")
p.add_argument("--ciphers")
p.add_argument("--alpn")
p.add_argument("--requests", type=int, default=1)
p.add_argument("--connections", type=int, default=1)
p.add_argument("--path", default="/")
p.add_argument("--go-file")
p.add_argument("--raw", default="")  # with \\r\\n escapes
p.add_argument("--bytes", type=int, default=0)
p.add_argument("--window", type=int, default=128 * 1024)
p.add_argument("--timeout", type=float, default=10)
a = p.parse_args()

def context():
    ctx = ssl.create_default_context(cafile=a.cafile)
    ctx.check_hostname = not a.no_check_hostname
    if a.min: ctx.minimum_version = VERSIONS[a.min]
    if a.max: ctx.maximum_version = VERSIONS[a.max]
    if a.ciphers: ctx.set_ciphers(a.ciphers)
    if a.alpn: ctx.set_alpn_protocols(a.alpn.split(","))
    return ctx

def connect(ctx, session=None):
    raw = socket.create_connection(("127.0.0.1", a.port), timeout=a.timeout)
    return ctx.wrap_socket(raw, server_hostname=a.sni, session=session)

def describe(s):
    cert = s.getpeercert() or {}
    cn = ""
    for rdn in cert.get("subject", ()):
        for k, v in rdn:
            if k == "commonName": cn = v
    return {"version": s.version(), "alpn": s.selected_alpn_protocol(), "cipher": s.cipher()[0],
            "peer_cn": cn, "peer_dns": [v for k, v in cert.get("subjectAltName", ()) if k == "DNS"],
            "session_reused": s.session_reused}

def more(s):
    d = s.recv(65536)
    if not d: raise EOFError("connection closed in the middle of a response")
    return d

def read_response(s):
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        if not d: raise EOFError("connection closed before a response head (%d bytes)" % len(buf))
        buf += d
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    if "content-length" in headers:
        n = int(headers["content-length"])
        while len(rest) < n: rest += more(s)
        body = rest[:n]
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while True:
            while b"\r\n" not in rest: rest += more(s)
            line, _, rest = rest.partition(b"\r\n")
            size = int(line.split(b";")[0], 16)
            while len(rest) < size + 2: rest += more(s)
            body += rest[:size]
            rest = rest[size + 2:]
            if size == 0: break
    else:
        body = rest
        while True:
            d = s.recv(65536)
            if not d: break
            body += d
    return {"status": int(lines[0].split(" ")[1]), "headers": headers, "body": body.decode("latin-1")}

def request_bytes(i):
    return ("GET %s HTTP/1.1\r\nHost: %s\r\nX-Test-Seq: %d\r\n\r\n" % (a.path, a.sni, i)).encode()

def request(s, i):
    s.sendall(request_bytes(i))
    return read_response(s)

def after_response(s):
    """How the connection stands once a response was read: "close_notify", "eof" (closed
    without close_notify), "data" or "open" (nothing within 2 s)."""
    s.settimeout(2)
    try:
        return "data" if s.recv(1) else "close_notify"
    except ssl.SSLEOFError:
        return "eof"
    except socket.timeout:
        return "open"
    except ConnectionResetError:
        return "reset"

def emit(tag, obj):
    print(tag + " " + json.dumps(obj), flush=True)

def error(e):
    return "%s: %s" % (type(e).__name__, e)

out = {"ok": False}
try:
    ctx = context()
    if a.mode == "get":
        s = connect(ctx)
        out.update(describe(s))
        out["responses"] = []
        for i in range(a.requests):
            out["responses"].append(request(s, i))
        s.close()
    elif a.mode == "pipeline":
        # Every request in one write (one TLS record), then the responses in order.
        s = connect(ctx)
        out.update(describe(s))
        s.sendall(b"".join(request_bytes(i) for i in range(a.requests)))
        out["responses"] = [read_response(s) for i in range(a.requests)]
        s.close()
    elif a.mode == "raw":
        s = connect(ctx)
        out.update(describe(s))
        s.sendall(codecs.decode(a.raw, "unicode_escape").encode("latin-1"))
        out["responses"] = [read_response(s)]
        out["after"] = after_response(s)
        s.close()
    elif a.mode == "resume":
        # First a full handshake; its response is read before taking the session so that a
        # TLS 1.3 ticket (sent after the handshake) has arrived. Then each connection resumes
        # with the session of the previous one (RFC 8446 advises against reusing a ticket).
        s = connect(ctx)
        first = describe(s)
        first["status"] = request(s, 0)["status"]
        session = s.session
        s.close()
        out["first"] = first
        out["resumed"] = []
        for i in range(a.connections):
            s = connect(ctx, session=session)
            d = describe(s)
            d["status"] = request(s, i + 1)["status"]
            session = s.session
            s.close()
            out["resumed"].append(d)
    elif a.mode == "hold":
        s = connect(ctx)
        out.update(describe(s))
        out["responses"] = [request(s, 0)]
        emit("FIRST", out)
        deadline = time.monotonic() + 30
        while not os.path.exists(a.go_file):
            if time.monotonic() > deadline: raise TimeoutError("no go file")
            time.sleep(0.01)
        out["responses"].append(request(s, 1))
        s.close()
    elif a.mode == "echo":
        s = connect(ctx)
        out.update(describe(s))
        data = os.urandom(a.bytes)
        sent, got = 0, bytearray()
        # Keep at most `window` bytes in flight so that neither side can block the other.
        while len(got) < len(data):
            if sent < len(data) and sent - len(got) < a.window:
                k = min(16384, len(data) - sent)
                s.sendall(data[sent:sent + k])
                sent += k
            else:
                d = s.recv(65536)
                if not d: break
                got += d
        out["sent"] = sent
        out["received"] = len(got)
        out["equal"] = bytes(got) == data
        out["first_mismatch"] = next((i for i in range(min(len(got), len(data))) if got[i] != data[i]), -1) if not out["equal"] else -1
        try:
            s.unwrap()  # close_notify both ways
            out["close"] = "close_notify"
        except Exception as e:
            out["close"] = error(e)
        s.close()
    out["ok"] = True
except Exception as e:
    out["error"] = error(e)
emit("RESULT", out)
)PY";

// A TCP echo server: prints "PORT <n>", then for each connection echoes until EOF, half-closes
// and prints "EOF conn=<i> bytes=<n>".
const char* const kEchoServer = R"PY(
import socket, threading
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen(64)
print("PORT %d" % srv.getsockname()[1], flush=True)
def serve(c, n):
    total = 0
    try:
        while True:
            d = c.recv(65536)
            if not d: break
            c.sendall(d)
            total += len(d)
        c.shutdown(socket.SHUT_WR)
    except OSError as e:
        print("ERROR conn=%d %s" % (n, e), flush=True)
    finally:
        c.close()
    print("EOF conn=%d bytes=%d" % (n, total), flush=True)
n = 0
while True:
    c, _ = srv.accept()
    n += 1
    print("ACCEPT conn=%d" % n, flush=True)
    threading.Thread(target=serve, args=(c, n), daemon=True).start()
)PY";

// Parses the first "<tag> {...}" line of `output`; a discarded value when there is none.
json taggedJson(const std::string& output, const std::string& tag) {
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(tag + " ", 0) == 0)
      return json::parse(line.substr(tag.size() + 1), nullptr, /*allow_exceptions=*/false);
  }
  return json(json::value_t::discarded);
}

// GET /metrics from the admin API: the value of the sample of `family` whose labels include
// every one of `labels`, summed; -1 when /metrics does not answer.
double metricValue(uint16_t admin, const std::string& family,
                   const std::map<std::string, std::string>& labels) {
  Response r = fetch(admin, getRequest("/metrics"), deadlineIn(5000));
  if (!r.ok() || r.status != 200) return -1;
  double sum = 0;
  std::istringstream in(r.body);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(family + "{", 0) != 0) continue;
    bool all = true;
    for (const auto& [k, v] : labels)
      all = all && line.find(k + "=\"" + v + "\"") != std::string::npos;
    if (all) sum += std::stod(line.substr(line.rfind(' ') + 1));
  }
  return sum;
}

// "METHOD path" on the admin API, on its own connection.
Response adminCall(uint16_t port, const std::string& method, const std::string& path) {
  return fetch(
      port,
      method + " " + path +
          " HTTP/1.1\r\nHost: admin.test\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
      deadlineIn(10000));
}

class TlsTermination : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(pki_.ok()) << pki_.errors();
    auto pair = pki_.issue("localhost", "IP:127.0.0.1");
    ASSERT_TRUE(pair) << pki_.errors();
    default_cert_ = *pair;
    client_ = work_.write("tls_client.py", kPythonClient);
  }

  // A TLS listener over `backends` with the default certificate (absolute paths).
  TlsListener listener() const { return TlsListener{default_cert_.cert, default_cert_.key}; }

  ::testing::AssertionResult startLb(const std::vector<BackendConfig>& backends,
                                     const TlsListener& tls) {
    return lb_.start(tlsConfig(backends, tls));
  }

  // Runs the Python client in `mode` against `port` (default: the LB's), with the test CA
  // and the extra arguments; returns its RESULT object (an empty one, and a test failure with
  // the client's output, when there is none).
  json python(const std::string& mode, std::vector<std::string> args, uint16_t port = 0) {
    std::vector<std::string> argv = {client_,    mode,
                                     "--port",   std::to_string(port != 0 ? port : lb_.port()),
                                     "--cafile", pki_.rootCa()};
    argv.insert(argv.end(), args.begin(), args.end());
    RunResult r = runToCompletion(kPython, {.args = argv, .label = "python"}, deadlineIn(30000));
    json j = taggedJson(r.output, "RESULT");
    last_python_output_ = r.output;
    if (j.is_object()) return j;
    ADD_FAILURE() << "python client printed no RESULT:\n" << r.output;
    return json::object();  // "ok" absent: callers see a failure, not an exception
  }

  // curl over HTTPS to https://localhost:<port><path>, trusting the test CA; returns
  // {exit code, output} where output is the body (and curl's error on stderr).
  RunResult curl(const std::string& path, std::vector<std::string> extra = {}, uint16_t port = 0) {
    const std::string p = std::to_string(port != 0 ? port : lb_.port());
    std::vector<std::string> argv = {"-sS",
                                     "--max-time",
                                     "10",
                                     "--cacert",
                                     pki_.rootCa(),
                                     "--resolve",
                                     "localhost:" + p + ":127.0.0.1"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back("https://localhost:" + p + path);
    return runToCompletion(kCurl, {.args = argv, .label = "curl"}, deadlineIn(20000));
  }

  // One HTTPS GET with curl that must answer 200 with `body`.
  void expectCurlOk(const std::string& body) {
    RunResult r = curl("/", {"-w", "\nstatus=%{http_code}"});
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(r.output, body + "\nstatus=200\n");  // output lines end in \n
  }

  // Starts fiberlb on conf/fiberlb.toml (under its directory) whose [tls] table names
  // certs/server.crt and certs/server.key, relative paths that only work resolved against the
  // config file's directory (fiberlb runs one level up); `pair` is installed there first.
  ::testing::AssertionResult startWithRelativeCerts(const std::vector<BackendConfig>& backends,
                                                    const CertPair& pair) {
    std::filesystem::create_directories(lb_.dir().file("conf/certs"));
    installCert(pair);
    const std::string path = lb_.dir().write(
        "conf/fiberlb.toml",
        lb_.renderConfig(tlsConfig(backends, {"certs/server.crt", "certs/server.key"})));
    return lb_.startWithFile(path, {});
  }

  // Replaces conf/certs/server.{crt,key}, each written to a temporary file then renamed.
  void installCert(const CertPair& pair) {
    lb_.dir().write("conf/certs/server.crt", readFile(pair.cert));
    lb_.dir().write("conf/certs/server.key", readFile(pair.key));
  }

  // The common name of the certificate a new connection gets (SNI x.test, the hostname not
  // checked, the chain verified), once a request on it was answered 200; else what failed.
  std::string servedCn() {
    json r = python("get", {"--sni", "x.test", "--no-check-hostname"});
    if (!r.value("ok", false)) return "error: " + r.value("error", "");
    const int status = r["responses"][0].value("status", 0);
    if (status != 200) return "status " + std::to_string(status);
    return r.value("peer_cn", "");
  }

  Pki pki_;
  CertPair default_cert_;
  TempDir work_;
  std::string client_;
  FiberlbProcess lb_;
  std::string last_python_output_;
};

// ---------------------------------------------------------------------------------------

TEST_F(TlsTermination, CurlGetsTheBackendsAnswerAndTheBackendSeesForwardedProtoHttps) {
  TestBackend b1("b1");
  ASSERT_TRUE(startLb({{"b1", b1.port()}}, listener()));

  RunResult r = curl("/hello?x=1", {"-w", "\nstatus=%{http_code}"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "b1\n\nstatus=200\n");
  auto received = b1.lastRequest();
  ASSERT_TRUE(received);
  EXPECT_EQ(received->target, "/hello?x=1");
  EXPECT_EQ(received->header("X-Forwarded-Proto"), "https") << received->head;
  EXPECT_EQ(received->headerCount("X-Forwarded-Proto"), 1u) << received->head;
  EXPECT_EQ(received->header("X-Forwarded-For"), "127.0.0.1") << received->head;
  EXPECT_EQ(received->header("Host"), "localhost:" + std::to_string(lb_.port()));

  // A client's own X-Forwarded-Proto must not survive: the listener knows it is TLS.
  r = curl("/", {"-H", "X-Forwarded-Proto: http"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  received = b1.lastRequest();
  ASSERT_TRUE(received);
  EXPECT_EQ(received->header("X-Forwarded-Proto"), "https") << received->head;
  EXPECT_EQ(received->headerCount("X-Forwarded-Proto"), 1u) << received->head;
}

TEST_F(TlsTermination, PythonVerifiesTheChainAndKeepsTheConnectionForTwoRequests) {
  TestBackend b1("b1", Behaviour{.echo = true});
  ASSERT_TRUE(startLb({{"b1", b1.port()}}, listener()));

  // The client trusts only the root: verification needs the intermediate from cert_file.
  json r = python("get", {"--requests", "2", "--path", "/keep"});
  ASSERT_TRUE(r.value("ok", false)) << last_python_output_;
  EXPECT_EQ(r.value("peer_cn", ""), "localhost");
  ASSERT_EQ(r["responses"].size(), 2u) << r.dump();
  for (const json& resp : r["responses"]) {
    EXPECT_EQ(resp.value("status", 0), 200) << resp.dump();
    const std::string body = resp.value("body", "");
    EXPECT_NE(body.find("GET /keep HTTP/1.1"), std::string::npos) << body;
    EXPECT_NE(body.find("X-Forwarded-Proto: https"), std::string::npos) << body;
  }
  EXPECT_NE(r["responses"][0].value("body", "").find("X-Test-Seq: 0"), std::string::npos);
  EXPECT_NE(r["responses"][1].value("body", "").find("X-Test-Seq: 1"), std::string::npos);
  EXPECT_EQ(b1.requestCount(), 2);
}

TEST_F(TlsTermination, LargeBodiesStreamBothWaysOverTls) {
  TestBackend b1("b1", Behaviour{.body_size = 3 * 1024 * 1024});
  ASSERT_TRUE(startLb({{"b1", b1.port()}}, listener()));

  const std::string download = work_.file("download.bin");
  RunResult r = curl("/big", {"-o", download});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string got = readFile(download);
  EXPECT_EQ(got.size(), 3u * 1024 * 1024);
  EXPECT_EQ(firstPatternMismatch(got, 3 * 1024 * 1024), -1);

  // Upload: the echoing backend answers with the head it received followed by the body.
  b1.setBehaviour(Behaviour{.echo = true});
  const std::string body = patternBody(2 * 1024 * 1024 + 17);
  const std::string upload = work_.write("upload.bin", body);
  const std::string echoed = work_.file("echoed.bin");
  r = curl("/up", {"--data-binary", "@" + upload, "-H", "Content-Type: application/octet-stream",
                   "-H", "Expect:", "-o", echoed});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string answer = readFile(echoed);
  ASSERT_GE(answer.size(), body.size());
  EXPECT_TRUE(answer.ends_with(body)) << "the uploaded body did not arrive unchanged";
  EXPECT_TRUE(answer.starts_with("POST /up HTTP/1.1\r\n")) << answer.substr(0, 200);
  auto received = b1.lastRequest();
  ASSERT_TRUE(received);
  EXPECT_EQ(received->body.size(), body.size());
}

TEST_F(TlsTermination, PipelinedRequestsInOneRecordAreAnsweredInOrder) {
  TestBackend b1("b1", Behaviour{.echo = true});
  ASSERT_TRUE(startLb({{"b1", b1.port()}}, listener()));
  json r = python("pipeline", {"--requests", "5", "--path", "/p"});
  ASSERT_TRUE(r.value("ok", false)) << last_python_output_;
  ASSERT_EQ(r["responses"].size(), 5u);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(r["responses"][i].value("status", 0), 200);
    EXPECT_NE(r["responses"][i].value("body", "").find("X-Test-Seq: " + std::to_string(i)),
              std::string::npos)
        << "response " << i << " out of order: " << r["responses"][i].value("body", "");
  }
}

// The answers fiberlb writes itself (then closing the connection) must go out through TLS
// before the close: a bad request (400), a request head that never completes (408) and no
// backend to serve (503).
TEST_F(TlsTermination, FiberlbsOwnErrorsReachTheTlsClientBeforeTheClose) {
  TestBackend b1("b1");
  TlsListener tls = listener();
  tls.timeouts = {{"client_header_ms", 1000}};
  ASSERT_TRUE(startLb({{"b1", b1.port()}}, tls));

  json bad = python("raw", {"--raw",
                            "POST / HTTP/1.1\\r\\nHost: x\\r\\nContent-Length: 3\\r\\n"
                            "Transfer-Encoding: chunked\\r\\n\\r\\n0\\r\\n\\r\\n"});
  ASSERT_TRUE(bad.value("ok", false)) << last_python_output_;
  EXPECT_EQ(bad["responses"][0].value("status", 0), 400);
  // RFC 8446 §6.1: close_notify before closing the write side.
  EXPECT_EQ(bad.value("after", ""), "close_notify");

  json slow = python("raw", {"--raw", "GET / HTTP/1.1\\r\\nHost: x\\r\\n"});
  ASSERT_TRUE(slow.value("ok", false)) << last_python_output_;
  EXPECT_EQ(slow["responses"][0].value("status", 0), 408);
  EXPECT_EQ(slow.value("after", ""), "close_notify");
  EXPECT_EQ(b1.requestCount(), 0);

  b1.stop();
  json none = python("get", {});
  ASSERT_TRUE(none.value("ok", false)) << last_python_output_;
  EXPECT_EQ(none["responses"][0].value("status", 0), 503) << none.dump();
  EXPECT_NE(none["responses"][0].value("body", "").find("no_healthy_backend"), std::string::npos)
      << none.dump();
}

TEST_F(TlsTermination, Tls13IsNegotiatedWithAlpnHttp11AndTls12UsesEcdheAead) {
  TestBackend b1("b1");
  ASSERT_TRUE(startLb({{"b1", b1.port()}}, listener()));

  json r = python("get", {"--alpn", "h2,http/1.1"});
  ASSERT_TRUE(r.value("ok", false)) << last_python_output_;
  EXPECT_EQ(r.value("version", ""), "TLSv1.3");
  EXPECT_EQ(r.value("alpn", ""), "http/1.1");
  EXPECT_EQ(r["responses"][0].value("status", 0), 200);

  // TLS 1.2 also works, with an ECDHE key exchange and an AEAD cipher (Mozilla intermediate).
  json r12 = python("get", {"--max", "1.2", "--alpn", "http/1.1"});
  ASSERT_TRUE(r12.value("ok", false)) << last_python_output_;
  EXPECT_EQ(r12.value("version", ""), "TLSv1.2");
  const std::string cipher = r12.value("cipher", "");
  EXPECT_TRUE(cipher.starts_with("ECDHE-")) << cipher;
  EXPECT_TRUE(cipher.find("GCM") != std::string::npos ||
              cipher.find("CHACHA20") != std::string::npos)
      << cipher;
  EXPECT_EQ(r12["responses"][0].value("status", 0), 200);

  // A client without ALPN is served too.
  json none = python("get", {});
  ASSERT_TRUE(none.value("ok", false)) << last_python_output_;
  EXPECT_TRUE(none["alpn"].is_null()) << none.dump();
}

TEST_F(TlsTermination, AClientOfferingOnlyH2IsRefusedWithNoApplicationProtocol) {
  TestBackend b1("b1");
  ASSERT_TRUE(startLb({{"b1", b1.port()}}, listener()));
  json r = python("get", {"--alpn", "h2"});
  EXPECT_FALSE(r.value("ok", true)) << r.dump();
  EXPECT_NE(r.value("error", "").find("no application protocol"), std::string::npos) << r.dump();
  EXPECT_EQ(b1.requestCount(), 0);
}

TEST_F(TlsTermination, Tls11IsRefusedByTheServerAndServingContinues) {
  TestBackend b1("b1");
  ASSERT_TRUE(startLb({{"b1", b1.port()}}, listener()));

  // SECLEVEL=0 lets OpenSSL 3 clients offer TLS 1.1 at all, so the refusal (a
  // protocol_version alert) comes from the server, not from the client's own policy.
  RunResult c = curl("/", {"--tlsv1.1", "--tls-max", "1.1", "--ciphers", "DEFAULT@SECLEVEL=0"});
  EXPECT_NE(c.exit_code, 0) << c.output;
  EXPECT_NE(c.output.find("alert protocol version"), std::string::npos) << c.output;

  json r = python("get", {"--min", "1.1", "--max", "1.1", "--ciphers", "DEFAULT:@SECLEVEL=0"});
  EXPECT_FALSE(r.value("ok", true)) << r.dump();
  EXPECT_NE(r.value("error", "").find("ALERT_PROTOCOL_VERSION"), std::string::npos) << r.dump();
  json r10 = python("get", {"--min", "1.0", "--max", "1.0", "--ciphers", "DEFAULT:@SECLEVEL=0"});
  EXPECT_FALSE(r10.value("ok", true)) << r10.dump();
  EXPECT_EQ(b1.requestCount(), 0);

  expectCurlOk("b1\n");
  EXPECT_TRUE(lb_.process().running());
}

TEST_F(TlsTermination, MinVersion13RefusesATls12OnlyClient) {
  TestBackend b1("b1");
  TlsListener tls = listener();
  tls.min_version = "1.3";
  ASSERT_TRUE(startLb({{"b1", b1.port()}}, tls));

  json r12 = python("get", {"--max", "1.2"});
  EXPECT_FALSE(r12.value("ok", true)) << r12.dump();
  EXPECT_NE(r12.value("error", "").find("ALERT_PROTOCOL_VERSION"), std::string::npos) << r12.dump();
  RunResult c = curl("/", {"--tls-max", "1.2"});
  EXPECT_NE(c.exit_code, 0) << c.output;
  EXPECT_EQ(b1.requestCount(), 0);

  json r13 = python("get", {});
  ASSERT_TRUE(r13.value("ok", false)) << last_python_output_;
  EXPECT_EQ(r13.value("version", ""), "TLSv1.3");
  EXPECT_EQ(r13["responses"][0].value("status", 0), 200);
}

TEST_F(TlsTermination, SniSelectsTheCertificateAndAnUnknownNameGetsTheDefault) {
  TestBackend b1("b1");
  auto a = pki_.issue("a.test");
  auto b = pki_.issue("b.test");
  auto wild = pki_.issue("*.wild.test");
  ASSERT_TRUE(a && b && wild) << pki_.errors();
  TlsListener tls = listener();
  tls.sni = {{"a.test", *a}, {"b.test", *b}, {"*.wild.test", *wild}};
  ASSERT_TRUE(startLb({{"b1", b1.port()}}, tls));

  for (const std::string name : {"a.test", "b.test"}) {
    json r = python("get", {"--sni", name});  // hostname checked against the certificate
    ASSERT_TRUE(r.value("ok", false)) << name << ": " << last_python_output_;
    EXPECT_EQ(r.value("peer_cn", ""), name);
    EXPECT_EQ(r["peer_dns"], json::array({name})) << r.dump();
    EXPECT_EQ(r["responses"][0].value("status", 0), 200);
  }
  // Host names compare without regard to case (RFC 6066 §3).
  json upper = python("get", {"--sni", "A.Test"});
  ASSERT_TRUE(upper.value("ok", false)) << last_python_output_;
  EXPECT_EQ(upper.value("peer_cn", ""), "a.test");
  // A wildcard entry covers one label.
  json wildcard = python("get", {"--sni", "x.wild.test"});
  ASSERT_TRUE(wildcard.value("ok", false)) << last_python_output_;
  EXPECT_EQ(wildcard.value("peer_cn", ""), "*.wild.test");

  for (const std::string name : {"unknown.test", "a.test.evil", "x.y.wild.test"}) {
    json unknown = python("get", {"--sni", name, "--no-check-hostname"});
    ASSERT_TRUE(unknown.value("ok", false)) << name << ": " << last_python_output_;
    EXPECT_EQ(unknown.value("peer_cn", ""), "localhost") << name;
    EXPECT_EQ(unknown["responses"][0].value("status", 0), 200);
  }

  // curl sends SNI from the URL's host name too.
  RunResult c = runToCompletion(
      kCurl,
      {.args = {"-sS", "--max-time", "10", "--cacert", pki_.rootCa(), "--resolve",
                "a.test:" + std::to_string(lb_.port()) + ":127.0.0.1", "-w", "%{http_code}", "-o",
                "/dev/null", "https://a.test:" + std::to_string(lb_.port()) + "/"},
       .label = "curl"},
      deadlineIn(20000));
  EXPECT_EQ(c.exit_code, 0) << c.output;
  EXPECT_EQ(c.output, "200\n");
}

TEST_F(TlsTermination, Tls13SessionsResume) {
  TestBackend b1("b1");
  ASSERT_TRUE(startLb({{"b1", b1.port()}}, listener()));
  json r = python("resume", {"--connections", "3"});
  ASSERT_TRUE(r.value("ok", false)) << last_python_output_;
  EXPECT_EQ(r["first"].value("version", ""), "TLSv1.3");
  EXPECT_FALSE(r["first"].value("session_reused", true));
  ASSERT_EQ(r["resumed"].size(), 3u);
  for (const json& c : r["resumed"]) {
    EXPECT_TRUE(c.value("session_reused", false)) << r.dump();
    EXPECT_EQ(c.value("status", 0), 200) << r.dump();
  }
}

TEST_F(TlsTermination, Tls12SessionsResume) {
  TestBackend b1("b1");
  ASSERT_TRUE(startLb({{"b1", b1.port()}}, listener()));
  json r = python("resume", {"--connections", "3", "--max", "1.2"});
  ASSERT_TRUE(r.value("ok", false)) << last_python_output_;
  EXPECT_EQ(r["first"].value("version", ""), "TLSv1.2");
  EXPECT_FALSE(r["first"].value("session_reused", true));
  for (const json& c : r["resumed"]) {
    EXPECT_TRUE(c.value("session_reused", false)) << r.dump();
    EXPECT_EQ(c.value("status", 0), 200) << r.dump();
  }
}

// Tickets are encrypted with keys shared by all workers: with two workers, whichever one the
// kernel hands a connection to (SO_REUSEPORT spreads them by source port), it resumes.
TEST_F(TlsTermination, WithTwoWorkersEveryResumptionSucceeds) {
  TestBackend b1("b1");
  TlsListener tls = listener();
  tls.workers = 2;
  ASSERT_TRUE(startLb({{"b1", b1.port()}}, tls));
  for (const std::string max : {"1.3", "1.2"}) {
    json r = python("resume", {"--connections", "12", "--max", max});
    ASSERT_TRUE(r.value("ok", false)) << last_python_output_;
    ASSERT_EQ(r["resumed"].size(), 12u);
    int resumed = 0;
    for (const json& c : r["resumed"])
      resumed += c.value("session_reused", false) ? 1 : 0;
    EXPECT_EQ(resumed, 12) << "TLS " << max << ": " << r.dump();
  }
}

TEST_F(TlsTermination, PlaintextHttpOnTheTlsPortIsClosedAndHttpsStillWorks) {
  TestBackend b1("b1");
  ASSERT_TRUE(startLb({{"b1", b1.port()}}, listener()));

  HttpClient plain;
  ASSERT_TRUE(plain.connect(lb_.port(), deadlineIn(5000)));
  ASSERT_TRUE(plain.send(getRequest("/"), deadlineIn(5000)));
  EXPECT_TRUE(plain.waitClosed(deadlineIn(5000))) << "fiberlb kept a plaintext connection open";
  EXPECT_EQ(std::string(plain.pending()).find("HTTP/1."), std::string::npos)
      << "answered plaintext: " << plain.pending();
  EXPECT_EQ(b1.requestCount(), 0);

  expectCurlOk("b1\n");
  EXPECT_EQ(b1.requestCount(), 1);
}

TEST_F(TlsTermination, AStalledHandshakeBlocksNobodyAndIsClosedAfterClientHeaderMs) {
  TestBackend b1("b1");
  TlsListener tls = listener();
  tls.timeouts = {{"client_header_ms", 1000}};
  ASSERT_TRUE(startLb({{"b1", b1.port()}}, tls));  // one worker: a blocked loop would show

  HttpClient silent, partial;
  ASSERT_TRUE(silent.connect(lb_.port(), deadlineIn(5000)));
  ASSERT_TRUE(partial.connect(lb_.port(), deadlineIn(5000)));
  // A TLS record header announcing a 512-byte ClientHello, then only its first bytes.
  const std::string hello_start("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\x11\x22", 13);
  ASSERT_TRUE(partial.send(hello_start, deadlineIn(5000)));

  const Deadline started = Clock::now();
  expectCurlOk("b1\n");
  json r = python("get", {"--requests", "2"});
  EXPECT_TRUE(r.value("ok", false)) << last_python_output_;
  // Both still open meanwhile (unless this machine was so slow that their time is up).
  if (Clock::now() - started < milliseconds(800)) {
    EXPECT_FALSE(silent.waitClosed(Clock::now())) << "closed before client_header_ms";
    EXPECT_FALSE(partial.waitClosed(Clock::now())) << "closed before client_header_ms";
  }

  EXPECT_TRUE(silent.waitClosed(deadlineIn(4000))) << "a silent connection stayed open";
  EXPECT_TRUE(partial.waitClosed(deadlineIn(4000))) << "a half handshake stayed open";
  EXPECT_GE(Clock::now() - started, milliseconds(500)) << "closed long before client_header_ms";
  EXPECT_EQ(std::string(partial.pending()).find("HTTP/1."), std::string::npos)
      << "plaintext answer on a TLS connection: " << partial.pending();
  expectCurlOk("b1\n");
}

TEST_F(TlsTermination, TlsOverTcpEchoesTwoMegabytesUnchanged) {
  TempDir echo_dir;
  Process echo(kPython,
               {.args = {echo_dir.write("echo_server.py", kEchoServer)}, .label = "echo-server"});
  auto port_line = echo.waitForLine("PORT ", deadlineIn(10000));
  ASSERT_TRUE(port_line) << echo.output();
  const auto echo_port = static_cast<uint16_t>(std::stoi(port_line->substr(5)));

  TlsListener tls = listener();
  tls.protocol = "tcp";
  tls.method = "leastconn";
  tls.timeouts = {};
  ASSERT_TRUE(startLb({{"e1", echo_port}}, tls));

  constexpr int kBytes = 2 * 1024 * 1024;
  // ALPN means nothing to an opaque tunnel: offering h2 only must not be refused.
  json r = python("echo", {"--bytes", std::to_string(kBytes), "--alpn", "h2"});
  ASSERT_TRUE(r.value("ok", false)) << last_python_output_;
  EXPECT_EQ(r.value("version", ""), "TLSv1.3");
  EXPECT_EQ(r.value("received", -1), kBytes);
  EXPECT_TRUE(r.value("equal", false)) << "first difference at " << r.value("first_mismatch", -2);
  // The client's close reached the backend, which had received every byte.
  EXPECT_TRUE(echo.waitForLine("EOF conn=1 bytes=" + std::to_string(kBytes), deadlineIn(5000)))
      << echo.output();
  EXPECT_EQ(echo.countLines("ACCEPT "), 1u);
  EXPECT_EQ(echo.countLines("ERROR "), 0u) << echo.output();
  // The client's close_notify ended the backend connection, whose close came back to the
  // client as fiberlb's own close_notify (Python's unwrap() waits for it).
  EXPECT_EQ(r.value("close", ""), "close_notify");
}

TEST_F(TlsTermination, HandshakeMetricsCountSuccessAndFailure) {
  TestBackend b1("b1");
  ASSERT_TRUE(startLb({{"b1", b1.port()}}, listener()));
  const uint16_t admin = adminPort(lb_);
  ASSERT_NE(admin, 0);

  expectCurlOk("b1\n");
  json failed = python("get", {"--min", "1.1", "--max", "1.1", "--ciphers", "DEFAULT:@SECLEVEL=0"});
  EXPECT_FALSE(failed.value("ok", true));

  const std::string family = "fiberlb_tls_handshakes_total";
  double success = 0, failure = 0;
  EXPECT_TRUE(pollUntil(
      [&] {
        success = metricValue(admin, family, {{"lb", "web"}, {"result", "success"}});
        failure = metricValue(admin, family, {{"lb", "web"}, {"result", "failure"}});
        return success >= 1 && failure >= 1;
      },
      deadlineIn(5000), milliseconds(50)))
      << "success=" << success << " failure=" << failure << "\n"
      << fetch(admin, getRequest("/metrics"), deadlineIn(5000)).body;
  EXPECT_EQ(success, 1);
  EXPECT_EQ(failure, 1);

  // A plaintext client counts as a failure too, and no connection (handshaken, refused or
  // abandoned mid-handshake) stays counted as open.
  {
    HttpClient plain, stalled;
    ASSERT_TRUE(plain.connect(lb_.port(), deadlineIn(5000)));
    ASSERT_TRUE(stalled.connect(lb_.port(), deadlineIn(5000)));
    ASSERT_TRUE(plain.send(getRequest("/"), deadlineIn(5000)));
    EXPECT_TRUE(plain.waitClosed(deadlineIn(5000)));
  }
  double open = -1;
  EXPECT_TRUE(pollUntil(
      [&] {
        open = metricValue(admin, "fiberlb_downstream_connections", {{"lb", "web"}});
        failure = metricValue(admin, family, {{"lb", "web"}, {"result", "failure"}});
        return open == 0 && failure >= 2;
      },
      deadlineIn(5000), milliseconds(50)))
      << "fiberlb_downstream_connections=" << open << " failures=" << failure;
  EXPECT_EQ(metricValue(admin, family, {{"lb", "web"}, {"result", "success"}}), 1);
}

// A reload (POST /api/config/reload, or SIGHUP) re-reads the certificate files even when the
// config text is unchanged: new connections get the new certificate, established ones keep
// theirs and keep serving.
TEST_F(TlsTermination, ReloadServesTheNewCertificateToNewConnectionsAndKeepsOldOnes) {
  TestBackend b1("b1");
  auto old_pair = pki_.issue("old.test");
  auto new_pair = pki_.issue("new.test");
  auto newer_pair = pki_.issue("newer.test");
  ASSERT_TRUE(old_pair && new_pair && newer_pair) << pki_.errors();
  ASSERT_TRUE(startWithRelativeCerts({{"b1", b1.port()}}, *old_pair));
  const uint16_t admin = adminPort(lb_);
  ASSERT_NE(admin, 0);

  EXPECT_EQ(servedCn(), "old.test");

  const std::string go_file = work_.file("go");
  Process held(kPython, {.args = {client_, "hold", "--port", std::to_string(lb_.port()), "--cafile",
                                  pki_.rootCa(), "--sni", "old.test", "--go-file", go_file},
                         .label = "python-held"});
  auto first_line = held.waitForLine("FIRST ", deadlineIn(10000));
  ASSERT_TRUE(first_line) << held.output();
  json first = taggedJson(held.output(), "FIRST");
  EXPECT_EQ(first.value("peer_cn", ""), "old.test");

  installCert(*new_pair);
  Response reload = adminCall(admin, "POST", "/api/config/reload");
  EXPECT_EQ(reload.status, 200) << reload.body;
  std::string seen;
  EXPECT_TRUE(pollUntil(
      [&] {
        seen = servedCn();
        return seen == "new.test";
      },
      deadlineIn(5000), milliseconds(50)))
      << "new connections still get " << seen;

  // The connection made before the reload still answers.
  work_.write("go", "");
  ASSERT_TRUE(held.waitExit(deadlineIn(10000)));
  held.waitOutputEnd(deadlineIn(5000));
  json held_result = taggedJson(held.output(), "RESULT");
  ASSERT_TRUE(held_result.value("ok", false)) << held.output();
  ASSERT_EQ(held_result["responses"].size(), 2u);
  EXPECT_EQ(held_result["responses"][1].value("status", 0), 200);
  EXPECT_EQ(held_result["responses"][1].value("body", ""), "b1\n");

  // SIGHUP re-reads them too.
  installCert(*newer_pair);
  const size_t reloads = lb_.process().countLines("config reloaded");
  lb_.process().signal(SIGHUP);
  EXPECT_TRUE(lb_.process().waitForCount("config reloaded", reloads + 1, deadlineIn(10000)));
  EXPECT_TRUE(pollUntil(
      [&] {
        seen = servedCn();
        return seen == "newer.test";
      },
      deadlineIn(5000), milliseconds(50)))
      << "after SIGHUP new connections still get " << seen;
}

// The config watch polls the files the config names: replacing the certificate and key
// (each by rename, as certbot or cert-manager do) is enough; no SIGHUP, no API call, and
// the pair is read together (no "key does not match" from reading one without the other).
TEST_F(TlsTermination, ARenewedCertificateIsServedWithoutAReloadCommand) {
  TestBackend b1("b1");
  auto old_pair = pki_.issue("old.test");
  auto renewed = pki_.issue("renewed.test");
  ASSERT_TRUE(old_pair && renewed) << pki_.errors();
  ASSERT_TRUE(startWithRelativeCerts({{"b1", b1.port()}}, *old_pair));
  EXPECT_EQ(servedCn(), "old.test");

  installCert(*renewed);
  std::string seen;
  EXPECT_TRUE(pollUntil(
      [&] {
        seen = servedCn();
        return seen == "renewed.test";
      },
      deadlineIn(10000), milliseconds(100)))
      << "new connections still get " << seen << "\n"
      << lb_.process().output();
  EXPECT_EQ(lb_.process().countLines("config reload failed"), 0u) << lb_.process().output();
}

TEST_F(TlsTermination, ReloadWithABrokenKeyIsRefusedNamingTheKeyAndTheOldCertificateServes) {
  TestBackend b1("b1");
  auto old_pair = pki_.issue("old.test");
  auto other = pki_.issue("other.test");
  ASSERT_TRUE(old_pair && other) << pki_.errors();
  ASSERT_TRUE(startWithRelativeCerts({{"b1", b1.port()}}, *old_pair));
  const uint16_t admin = adminPort(lb_);
  ASSERT_NE(admin, 0);
  ASSERT_EQ(servedCn(), "old.test");

  // Garbage instead of a key.
  lb_.dir().write("conf/certs/server.key", "this is not a private key\n");
  Response r = adminCall(admin, "POST", "/api/config/reload");
  EXPECT_EQ(r.status, 400) << r.body;
  json body = json::parse(r.body, nullptr, false);
  EXPECT_EQ(body.value("error", ""), "invalid_config") << r.body;
  EXPECT_NE(body.value("message", "").find("server.key"), std::string::npos) << r.body;
  EXPECT_EQ(servedCn(), "old.test");

  // A key that does not match the certificate is refused the same way.
  lb_.dir().write("conf/certs/server.key", readFile(other->key));
  r = adminCall(admin, "POST", "/api/config/reload");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("server.key"), std::string::npos) << r.body;
  EXPECT_EQ(servedCn(), "old.test");
  EXPECT_TRUE(lb_.process().running());
}

}  // namespace
}  // namespace fiberlb::testing
