#pragma once
// Writes to a libuv stream without making the caller keep its bytes alive.
//
// Bytes are gathered into a small iovec batch, then sent with one uv_try_write (writev) —
// the common case on a healthy socket costs one syscall and no copy. Whatever the kernel
// does not take is copied into an owned queue and sent with uv_write; while that queue is
// non-empty the writer reports back-pressure so the caller stops reading the other side.
// This is what lets read buffers be recycled as soon as a read has been processed.
//
// With a TLS channel attached (setTls), the same calls carry plaintext: flush() encrypts the
// batch (small pieces coalesced into one record) and sends the ciphertext the same way.

#include <uv.h>

#include <cstddef>
#include <string>

namespace fiberlb::net {

namespace tls {
class TlsChannel;
}

// Worker-local.
class StreamWriter {
 public:
  // Called when the owned queue has fully drained (back-pressure released) or a write
  // failed (status < 0). Must not destroy the writer synchronously... it may close the
  // stream, which is safe: the writer is destroyed with its owner after uv_close.
  using DrainedFn = void (*)(void* owner, int status);

  // batch_ and scratch_ are written before they are read; no need to clear them per
  // connection.
  StreamWriter(void* owner, DrainedFn drained)  // NOLINT(cppcoreguidelines-pro-type-member-init)
      : owner_(owner), drained_(drained) {
    req_.data = this;
  }
  StreamWriter(const StreamWriter&) = delete;
  StreamWriter& operator=(const StreamWriter&) = delete;

  // Until attach(), everything is queued (e.g. an upstream that is still connecting).
  // attach() starts sending what was queued meanwhile.
  void attach(uv_stream_t* stream);
  void detach() { stream_ = nullptr; }
  // From now on everything added is encrypted with `channel` (which outlives the writer's
  // use of it), and flush() also sends what the channel produced by itself (handshake
  // records, session tickets, alerts). Bytes added before the handshake completed are held
  // (copied) until tlsReady().
  void setTls(tls::TlsChannel* channel) { tls_ = channel; }
  // The channel's handshake completed: encrypts and sends what was held meanwhile.
  bool tlsReady();

  // Adds bytes to the batch. They must stay valid until the next flush().
  void add(const char* data, size_t len);
  void add(const std::string& s) { add(s.data(), s.size()); }
  // Adds a few bytes the caller does not keep (chunk-size lines): they are copied into a
  // small scratch area that lives until the next flush().
  void addCopy(const char* data, size_t len);
  // Sends the batch: try_write first, queue the rest. False if the stream failed.
  bool flush();

  // Bytes accepted but not yet handed to the kernel (0 once the stream failed: they never
  // will be, and nobody should wait for them).
  size_t pending() const {
    return write_failed_ ? 0 : inflight_.size() + queued_.size() + batched_bytes_ + held_.size();
  }
  bool failed() const { return write_failed_; }
  // Half-close (FIN) once everything accepted so far has been written. With TLS, a
  // close_notify alert goes first.
  void shutdownWhenDrained();
  // TLS: queues close_notify after everything accepted so far (nothing may be added after
  // it); a plain stream needs nothing. For a connection about to close.
  bool closeNotify();
  // Bytes wait for the stream (a write in flight, a connect, a TLS handshake): the producer
  // should stop until the drained callback (or, for a handshake, the connect) says so.
  bool congested() const { return !inflight_.empty() || !held_.empty(); }
  // True once any byte has been handed to the kernel (retries need to know). With TLS: any
  // byte of what was added (handshake records do not count).
  bool wroteAny() const { return tls_ != nullptr ? encrypted_any_ : wrote_any_; }
  // Moves never-sent bytes out (for a retry on another connection). Only valid when
  // !wroteAny(). With TLS, the bytes held for the handshake.
  void takeUnsent(std::string* out);
  void reset();

 private:
  static constexpr int kMaxBatch = 32;
  static constexpr size_t kScratchSize = 512;
  void queue(const char* data, size_t len);
  void enqueue(const char* data, size_t len);  // queue(), encrypting first with TLS
  void startWrite();
  void fail();
  void maybeShutdown();
  static void onWrite(uv_write_t* req, int status);
  // TLS.
  bool encryptBatch();
  bool sendCiphertext();

  void* owner_;
  DrainedFn drained_;
  uv_stream_t* stream_ = nullptr;
  tls::TlsChannel* tls_ = nullptr;
  uv_write_t req_{};
  uv_buf_t batch_[kMaxBatch];
  int batch_count_ = 0;
  size_t batched_bytes_ = 0;
  char scratch_[kScratchSize];
  size_t scratch_used_ = 0;
  std::string inflight_;  // bytes owned by the uv_write in flight
  std::string queued_;    // bytes waiting for the in-flight write to finish
  std::string held_;      // TLS: plaintext added before the handshake completed
  uv_shutdown_t shutdown_req_{};
  bool shutdown_requested_ = false;
  bool shutdown_started_ = false;
  bool writing_ = false;  // a uv_write owns inflight_
  bool write_failed_ = false;
  bool wrote_any_ = false;
  bool encrypted_any_ = false;  // TLS: added bytes were encrypted (committed to this stream)
};

}  // namespace fiberlb::net
