// TLS over TCP through the real binary (SPEC §3 [tls] on a `protocol = "tcp"` LB, §6): a
// 2 MB echo arrives unchanged, the client's close_notify reaches the backend as a close and
// comes back as fiberlb's own. The backend is a Python echo server; the fixture in
// tls_fixture.h.

#include <gtest/gtest.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/integration/tls_fixture.h"
#include "tests/support/deadline.h"
#include "tests/support/fiberlb_process.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_backend.h"

namespace fiberlb::testing {
namespace {

using nlohmann::json;

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

}  // namespace
}  // namespace fiberlb::testing
