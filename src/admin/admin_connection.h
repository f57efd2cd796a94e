#pragma once
// One client connection of the admin server: reads requests (keep-alive and pipelined),
// parses them with llhttp into an owned Request, answers each through the server's router
// and writes the answers in order. Limits: head ≤ 64 KiB and 100 fields (431), target
// ≤ 8 KiB (414), body ≤ 1 MiB (413), whole request within 30 s (408), idle 60 s.
//
// Control loop only. Owns itself: created on accept, deleted in its close callback.

#include <llhttp.h>
#include <uv.h>

#include <cstdint>
#include <string>

#include "src/admin/http_types.h"

namespace fiberlb::admin {

class AdminServer;

class AdminConnection {
 public:
  explicit AdminConnection(AdminServer* server);
  AdminConnection(const AdminConnection&) = delete;
  AdminConnection& operator=(const AdminConnection&) = delete;

  // Accepts the pending connection on `listener` and starts reading. On failure the
  // connection is already closing (and will free itself): do not touch it again.
  bool start(uv_stream_t* listener);
  // Starts closing; the object is deleted in the close callback. Idempotent.
  void close();
  // Enforces the timeouts; the server calls it every second.
  void sweep(uint64_t now_ms);

 private:
  ~AdminConnection() = default;

  uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&tcp_); }
  void startReading();
  void stopReading();
  void consume(const char* data, size_t len);
  // Appends the serialised response to output_ (sent at the end of this read).
  void appendResponse(const Response& r, bool close, bool head_only, bool http10_keep_alive);
  void reject(int status);  // answers with an error, then closes
  void flush();
  // Called when output is done and a response said close: half-close and linger.
  void finish();
  bool commitHeader();

  static void onAlloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void onWrite(uv_write_t* req, int status);
  static void onShutdown(uv_shutdown_t* req, int status);
  static void onClosed(uv_handle_t* handle);
  static const llhttp_settings_t* settings();
  static int onMessageBegin(llhttp_t* p);
  static int onUrl(llhttp_t* p, const char* at, size_t len);
  static int onHeaderField(llhttp_t* p, const char* at, size_t len);
  static int onHeaderFieldComplete(llhttp_t* p);
  static int onHeaderValue(llhttp_t* p, const char* at, size_t len);
  static int onHeadersComplete(llhttp_t* p);
  static int onBody(llhttp_t* p, const char* at, size_t len);
  static int onMessageComplete(llhttp_t* p);

  AdminServer* server_;
  uv_tcp_t tcp_{};
  uv_shutdown_t shutdown_req_{};
  llhttp_t parser_{};
  Request request_;
  std::string field_, value_;
  bool field_done_ = false;  // field_ is complete; value_ is being received
  size_t head_bytes_ = 0;
  int reject_status_ = 0;  // set by a callback that refused the request (413/414/431)
  std::string output_;     // responses produced by the current read, sent in one write
  int writes_in_flight_ = 0;
  bool in_request_ = false;
  bool finish_after_write_ = false;  // stop reading requests; close once output is sent
  bool peer_closed_ = false;
  bool lingering_ = false;
  bool reading_ = false;
  bool closing_ = false;
  uint64_t last_activity_ms_ = 0;
  uint64_t request_start_ms_ = 0;
  uint64_t linger_start_ms_ = 0;
};

}  // namespace fiberlb::admin
