// StreamWriter with a TLS channel (setTls): what is added is encrypted at flush time, small
// pieces share a record, bytes added before the handshake are held until tlsReady(), and a
// burst larger than the socket buffer arrives whole. A real socketpair carries the ciphertext;
// the far end is a TlsChannel fed by the test.

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <cerrno>
#include <memory>
#include <string>

#include "src/net/stream_writer.h"
#include "src/net/tls/client_context.h"
#include "src/net/tls/tls_channel.h"
#include "src/net/tls/tls_context.h"
#include "tests/unit/net/tls_test_certs.h"

namespace fiberlb::net {
namespace {

constexpr char kHost[] = "writer.test";

// One TLS connection between a client-mode TlsChannel whose ciphertext goes out through a
// StreamWriter on a socketpair, and a server TlsChannel the test feeds from the other end.
class WriterTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cert_ = tls::testing::makeSelfSigned(dir_.path(), kHost);
    config::Tls tls;
    tls.cert_file = cert_.cert_path;
    tls.key_file = cert_.key_path;
    std::string error;
    server_ctx_ = tls::ServerContext::create(tls, nullptr, &error);
    ASSERT_NE(server_ctx_, nullptr) << error;
    client_ctx_ = tls::ClientContext::create(cert_.cert_path, true, &error);
    ASSERT_NE(client_ctx_, nullptr) << error;
    server_ = std::make_unique<tls::TlsChannel>(server_ctx_->defaultContext());
    client_ =
        std::make_unique<tls::TlsChannel>(client_ctx_->get(), tls::TlsChannel::Peer{kHost, kHost});

    int fds[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
    far_fd_ = fds[1];
    uv_loop_init(&loop_);
    uv_pipe_init(&loop_, &pipe_, 0);
    ASSERT_EQ(uv_pipe_open(&pipe_, fds[0]), 0);
    writer_.setTls(client_.get());
    writer_.attach(reinterpret_cast<uv_stream_t*>(&pipe_));
  }

  void TearDown() override {
    uv_close(reinterpret_cast<uv_handle_t*>(&pipe_), nullptr);
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);
    close(far_fd_);
  }

  // Moves ciphertext from the socketpair into the server, and the server's answers (handshake
  // records) back into the client. Returns what the server decrypted.
  std::string pump() {
    std::string plain;
    char buf[65536];
    for (;;) {
      uv_run(&loop_, UV_RUN_NOWAIT);
      const ssize_t n = read(far_fd_, buf, sizeof buf);
      if (n > 0) {
        wire_.append(buf, static_cast<size_t>(n));
        server_->feed(buf, static_cast<size_t>(n));
      }
      size_t got = 0;
      while (server_->read(buf, sizeof buf, &got) == tls::TlsChannel::Status::Ok)
        plain.append(buf, got);
      std::string back;
      server_->takeOutput(&back);
      if (!back.empty()) {
        client_->feed(back.data(), back.size());
        client_->read(buf, sizeof buf, &got);  // advances the client's handshake
        writer_.flush();                       // its next flight
      }
      if (n <= 0 && back.empty() && writer_.pending() == 0) return plain;
    }
  }

  // The number of application-data records (content type 23) in `wire`.
  static int appDataRecords(const std::string& wire) {
    int records = 0;
    for (size_t i = 0; i + 5 <= wire.size();) {
      const auto len = static_cast<size_t>((static_cast<unsigned char>(wire[i + 3]) << 8) |
                                           static_cast<unsigned char>(wire[i + 4]));
      if (wire[i] == 23) ++records;
      i += 5 + len;
    }
    return records;
  }

  void handshake() {
    char buf[256];
    size_t got = 0;
    client_->read(buf, sizeof buf, &got);  // ClientHello
    ASSERT_TRUE(writer_.flush());
    pump();
    ASSERT_TRUE(client_->handshakeDone()) << client_->error();
    ASSERT_TRUE(writer_.tlsReady());
  }

  tls::testing::TempCertDir dir_;
  tls::testing::TestCert cert_;
  std::shared_ptr<tls::ServerContext> server_ctx_;
  std::shared_ptr<tls::ClientContext> client_ctx_;
  std::unique_ptr<tls::TlsChannel> server_;
  std::unique_ptr<tls::TlsChannel> client_;
  uv_loop_t loop_{};
  uv_pipe_t pipe_{};
  int far_fd_ = -1;
  int drained_ = 0;
  StreamWriter writer_{this, [](void* self, int status) {
                         if (status == 0) ++static_cast<WriterTlsTest*>(self)->drained_;
                       }};
  std::string wire_;  // every ciphertext byte the far end received
};

TEST_F(WriterTlsTest, BytesAddedBeforeTheHandshakeAreHeldThenSentEncrypted) {
  const std::string request = "GET / HTTP/1.1\r\nHost: writer.test\r\n\r\n";
  writer_.add(request);
  EXPECT_TRUE(writer_.congested());  // the producer must wait for the handshake
  EXPECT_EQ(writer_.pending(), request.size());
  EXPECT_FALSE(writer_.wroteAny());

  char buf[256];
  size_t got = 0;
  client_->read(buf, sizeof buf, &got);
  ASSERT_TRUE(writer_.flush());  // the ClientHello only
  EXPECT_EQ(writer_.pending(), request.size());
  // The first flush after the handshake completed (inside pump) sends the held request, in
  // a record after the client's Finished.
  EXPECT_EQ(pump(), request);
  ASSERT_TRUE(client_->handshakeDone()) << client_->error();
  // TLS 1.3 disguises the encrypted Finished as application data too: Finished + request.
  EXPECT_EQ(appDataRecords(wire_), 2);
  EXPECT_TRUE(writer_.wroteAny());
  EXPECT_FALSE(writer_.congested());
  ASSERT_TRUE(writer_.tlsReady());  // nothing left to send
  EXPECT_EQ(pump(), "");
}

TEST_F(WriterTlsTest, HeldBytesCanBeTakenBackForAnotherConnection) {
  const std::string request = "request on a connection whose handshake will fail";
  writer_.add(request);
  std::string unsent;
  writer_.takeUnsent(&unsent);
  EXPECT_EQ(unsent, request);
  EXPECT_EQ(writer_.pending(), 0U);
}

TEST_F(WriterTlsTest, SmallPiecesOfOneFlushShareOneRecord) {
  ASSERT_NO_FATAL_FAILURE(handshake());
  wire_.clear();
  const std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n";
  writer_.add(head);
  writer_.addCopy("hello", 5);
  writer_.add("\r\n", 2);
  ASSERT_TRUE(writer_.flush());
  EXPECT_EQ(pump(), head + "hello\r\n");
  EXPECT_EQ(appDataRecords(wire_), 1);
}

TEST_F(WriterTlsTest, ABurstLargerThanTheSocketBufferArrivesWholeAndInOrder) {
  ASSERT_NO_FATAL_FAILURE(handshake());
  std::string big(3 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i)
    big[i] = static_cast<char>('a' + (i * 7) % 26);
  writer_.add(big.data(), big.size() / 2);
  ASSERT_TRUE(writer_.flush());
  EXPECT_TRUE(writer_.congested());  // the kernel took only part of it
  writer_.add(big.data() + big.size() / 2, big.size() - big.size() / 2);  // queued, encrypted
  ASSERT_TRUE(writer_.flush());
  const std::string plain = pump();
  ASSERT_EQ(plain.size(), big.size());
  EXPECT_TRUE(plain == big);
  EXPECT_GE(drained_, 1);  // the queue drained and said so
}

TEST_F(WriterTlsTest, CloseNotifyFollowsTheData) {
  ASSERT_NO_FATAL_FAILURE(handshake());
  writer_.add("last bytes", 10);
  ASSERT_TRUE(writer_.closeNotify());
  EXPECT_EQ(pump(), "last bytes");
  char buf[16];
  size_t got = 0;
  EXPECT_EQ(server_->read(buf, sizeof buf, &got), tls::TlsChannel::Status::Closed);
}

}  // namespace
}  // namespace fiberlb::net
