#pragma once
// Shared by the TLS termination tests (tls_*_test.cc; SPEC §3 [tls], §6, §7, §8): HTTPS and
// TLS-over-TCP listeners against real backends, with real clients (curl and Python's ssl
// module, both OpenSSL 3) and certificates made by the openssl command line: a root CA, an
// intermediate CA and leaves it signs, each leaf's cert_file holding leaf + intermediate so
// that a client trusting only the root verifies the chain fiberlb sends. The fixture
// TlsTermination issues the default certificate (localhost, IP 127.0.0.1) and runs the
// clients.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/deadline.h"
#include "tests/support/fiberlb_config.h"
#include "tests/support/fiberlb_process.h"
#include "tests/support/openssl.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace fiberlb::testing {

inline constexpr const char* kCurl = "/usr/bin/curl";
inline constexpr const char* kPython = "/usr/bin/python3";

// ---------------------------------------------------------------------------------------
// Certificates: root CA -> intermediate CA -> leaves, EC P-256, made with the openssl CLI.

inline constexpr const char* kPkiConfig = R"([req]
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
  bool openssl(const std::vector<std::string>& args) { return runOpenssl(args, errors_); }

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

inline std::string quoted(const std::string& s) {
  return "\"" + s + "\"";
}

// One LB "web" with tls_termination = true over `backends` and the [tls] table of `tls`.
inline FiberlbConfig tlsConfig(const std::vector<BackendConfig>& backends, const TlsListener& tls) {
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

inline constexpr const char* kPythonClient = R"PY(
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

// Parses the first "<tag> {...}" line of `output`; a discarded value when there is none.
inline nlohmann::json taggedJson(const std::string& output, const std::string& tag) {
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(tag + " ", 0) == 0)
      return nlohmann::json::parse(line.substr(tag.size() + 1), nullptr,
                                   /*allow_exceptions=*/false);
  }
  return nlohmann::json(nlohmann::json::value_t::discarded);
}

// Every TLS termination test: the PKI with the default certificate, the Python client
// written out, and fiberlb (lb_) started by the test.
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
  nlohmann::json python(const std::string& mode, std::vector<std::string> args, uint16_t port = 0) {
    std::vector<std::string> argv = {client_,    mode,
                                     "--port",   std::to_string(port != 0 ? port : lb_.port()),
                                     "--cafile", pki_.rootCa()};
    argv.insert(argv.end(), args.begin(), args.end());
    RunResult r = runToCompletion(kPython, {.args = argv, .label = "python"}, deadlineIn(30000));
    nlohmann::json j = taggedJson(r.output, "RESULT");
    last_python_output_ = r.output;
    if (j.is_object()) return j;
    ADD_FAILURE() << "python client printed no RESULT:\n" << r.output;
    return nlohmann::json::object();  // "ok" absent: callers see a failure, not an exception
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
    nlohmann::json r = python("get", {"--sni", "x.test", "--no-check-hostname"});
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

}  // namespace fiberlb::testing
