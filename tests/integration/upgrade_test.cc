// Upgrade (WebSocket) through fiberlb (SPEC §5): the Upgrade and Connection headers reach
// the backend, the 101 reaches the client, and afterwards bytes are relayed both ways.

#include <gtest/gtest.h>

#include "tests/support/fiberlb_process.h"
#include "tests/support/http_client.h"
#include "tests/support/test_backend.h"

namespace fiberlb::testing {
namespace {

TEST(Upgrade, WebSocketHandshakeThenBytesFlowBothWays) {
  TestBackend backend("ws", Behaviour{.mode = BackendMode::UpgradeEcho});
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(singleLb({{"ws", backend.port()}})));

  HttpClient client;
  ASSERT_TRUE(client.connect(lb.port(), deadlineIn(5000)));
  ASSERT_TRUE(client.send(getRequest("/chat",
                                     "Connection: Upgrade\r\nUpgrade: websocket\r\n"
                                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                     "Sec-WebSocket-Version: 13\r\n"),
                          deadlineIn(5000)));
  Response r = client.readResponse(deadlineIn(5000));
  ASSERT_TRUE(r.ok()) << r.error;
  ASSERT_EQ(r.status, 101);
  EXPECT_EQ(r.header("Upgrade"), "websocket");

  auto received = backend.lastRequest();
  ASSERT_TRUE(received);
  EXPECT_EQ(received->header("Upgrade"), "websocket");
  ASSERT_TRUE(received->header("Connection"));
  EXPECT_TRUE(iequals(*received->header("Connection"), "upgrade")) << received->head;
  EXPECT_EQ(received->header("Sec-WebSocket-Key"), "dGhlIHNhbXBsZSBub25jZQ==");

  // Several exchanges, one of them large, arrive back unchanged and in order.
  for (const std::string& message :
       {std::string("ping-1"), patternBody(300000), std::string("\r\n\r\nGET / HTTP/1.1")}) {
    ASSERT_TRUE(client.send(message, deadlineIn(5000)));
    auto echoed = client.readBytes(message.size(), deadlineIn(10000));
    ASSERT_TRUE(echoed) << "tunnel broke: " << client.error();
    EXPECT_EQ(*echoed == message, true) << "echo of " << message.size() << " bytes differs";
  }
  // Closing our side ends the tunnel on the backend side too.
  client.shutdownWrite();
  EXPECT_TRUE(client.waitClosed(deadlineIn(5000)));
  EXPECT_EQ(backend.requestCount(), 1);
}

}  // namespace
}  // namespace fiberlb::testing
