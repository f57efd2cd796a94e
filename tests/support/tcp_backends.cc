#include "tests/support/tcp_backends.h"

#include "tests/support/deadline.h"

namespace fiberlb::testing {
namespace {

constexpr const char* kPython = "/usr/bin/python3";

const char* const kBackendScript = R"PY(
import socket, sys, threading
lock = threading.Lock()
def log(line):
    with lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
counter = [0]
def serve(c, name, mode, n):
    total = 0
    try:
        if mode == "bye":
            c.sendall(b"bye")
        else:
            if mode == "hello":
                c.sendall((name + "\n").encode())
            while True:
                d = c.recv(65536)
                if not d:
                    break
                c.sendall(d)
                total += len(d)
            c.shutdown(socket.SHUT_WR)
    except OSError as e:
        log("ERROR %s conn=%d %s" % (name, n, e))
    finally:
        c.close()
    log("EOF %s conn=%d bytes=%d" % (name, n, total))
def accept_loop(srv, name, mode):
    while True:
        c, _ = srv.accept()
        with lock:
            counter[0] += 1
            n = counter[0]
        log("ACCEPT %s conn=%d" % (name, n))
        threading.Thread(target=serve, args=(c, name, mode, n), daemon=True).start()
threads = []
for spec in sys.argv[1:]:
    name, mode = spec.split(":")
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(128)
    log("PORT %s %d" % (name, srv.getsockname()[1]))
    t = threading.Thread(target=accept_loop, args=(srv, name, mode), daemon=True)
    t.start()
    threads.append(t)
log("READY")
for t in threads:
    t.join()
)PY";

}  // namespace

TcpBackends::TcpBackends(const std::vector<std::string>& specs) {
  std::vector<std::string> args{dir_.write("tcp_backends.py", kBackendScript)};
  args.insert(args.end(), specs.begin(), specs.end());
  process_ = std::make_unique<Process>(kPython, Process::Options{.args = args, .label = "tcp"});
  if (!process_->waitForLine("READY", deadlineIn(10000))) return;
  for (const std::string& line : process_->lines()) {
    if (line.rfind("PORT ", 0) != 0) continue;
    const size_t space = line.find(' ', 5);
    ports_[line.substr(5, space - 5)] = static_cast<uint16_t>(std::stoi(line.substr(space + 1)));
  }
}

uint16_t TcpBackends::port(const std::string& name) const {
  auto it = ports_.find(name);
  return it == ports_.end() ? 0 : it->second;
}

}  // namespace fiberlb::testing
