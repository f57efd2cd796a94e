#include "src/net/stream_writer.h"

#include <cstring>

#include "src/net/tls/tls_channel.h"

namespace fiberlb::net {
namespace {

// TLS: a batch of small pieces (a response head and a short body) is copied into one buffer
// and encrypted as one record instead of one record per piece: fewer AEAD calls and fewer
// bytes on the wire. 16 KiB is the largest TLS record.
constexpr size_t kCoalesceBytes = size_t{16} * 1024;

}  // namespace

void StreamWriter::add(const char* data, size_t len) {
  if (len == 0 || write_failed_) return;
  if (tls_ != nullptr && !tls_->handshakeDone()) {
    held_.append(data, len);
    return;
  }
  // Order: nothing may overtake bytes already queued. (While bytes are queued the batch is
  // empty: every flush empties it into the kernel or the queue.)
  if (!inflight_.empty() || stream_ == nullptr) {
    enqueue(data, len);
    return;
  }
  if (batch_count_ == kMaxBatch && !flush()) return;
  if (!inflight_.empty()) {  // that flush left a remainder: keep order
    enqueue(data, len);
    return;
  }
  batch_[batch_count_++] = uv_buf_init(const_cast<char*>(data), static_cast<unsigned>(len));
  batched_bytes_ += len;
}

void StreamWriter::addCopy(const char* data, size_t len) {
  if (!inflight_.empty() || stream_ == nullptr || len > kScratchSize ||
      (tls_ != nullptr && !tls_->handshakeDone())) {
    add(data, len);  // queued (copied) anyway
    return;
  }
  if (scratch_used_ + len > kScratchSize || batch_count_ == kMaxBatch) flush();
  if (!inflight_.empty()) {
    enqueue(data, len);
    return;
  }
  char* copy = scratch_ + scratch_used_;
  memcpy(copy, data, len);
  scratch_used_ += len;
  add(copy, len);
}

bool StreamWriter::flush() {
  if (tls_ != nullptr) {
    if (!held_.empty() && tls_->handshakeDone()) return tlsReady();
    const bool ok = encryptBatch() && sendCiphertext();
    scratch_used_ = 0;  // after encryptBatch: the batch may point into scratch_
    return ok;
  }
  scratch_used_ = 0;  // whatever the kernel does not take is copied into the queue below
  if (write_failed_) return false;
  if (batch_count_ == 0) return true;
  int count = batch_count_;
  batch_count_ = 0;
  batched_bytes_ = 0;
  int written = uv_try_write(stream_, batch_, static_cast<unsigned>(count));
  if (written < 0 && written != UV_EAGAIN) {
    fail();
    return false;
  }
  size_t skip = written > 0 ? static_cast<size_t>(written) : 0;
  if (skip > 0) wrote_any_ = true;
  for (int i = 0; i < count; ++i) {
    size_t len = batch_[i].len;
    if (skip >= len) {
      skip -= len;
      continue;
    }
    queue(batch_[i].base + skip, len - skip);
    skip = 0;
  }
  maybeShutdown();
  return true;
}

// The peer is gone: nothing queued will ever be written. Owners learn it from flush()'s
// result or the drained callback; pending() drops to 0 so nobody waits for it.
void StreamWriter::fail() {
  write_failed_ = true;
  batch_count_ = 0;
  batched_bytes_ = 0;
  queued_.clear();
  if (!writing_) inflight_.clear();  // a uv_write in flight still owns it
}

void StreamWriter::shutdownWhenDrained() {
  shutdown_requested_ = true;
  if (tls_ != nullptr) {
    closeNotify();  // its send ends in maybeShutdown()
    return;
  }
  maybeShutdown();
}

bool StreamWriter::closeNotify() {
  if (tls_ == nullptr) return !write_failed_;
  bool ok = encryptBatch();
  if (ok) {
    tls_->shutdown();
    ok = sendCiphertext();
  }
  scratch_used_ = 0;
  return ok;
}

void StreamWriter::enqueue(const char* data, size_t len) {
  if (tls_ == nullptr) {
    queue(data, len);
    return;
  }
  encrypted_any_ = true;
  if (!tls_->write(data, len)) {
    fail();
    return;
  }
  sendCiphertext();
}

bool StreamWriter::tlsReady() {
  if (held_.empty()) return flush();
  std::string plain;
  plain.swap(held_);
  if (!flush()) return false;  // whatever the handshake left to send goes first
  enqueue(plain.data(), plain.size());
  return !write_failed_;
}

bool StreamWriter::encryptBatch() {
  if (write_failed_) return false;
  if (batch_count_ == 0) return true;
  encrypted_any_ = true;
  bool ok = true;
  if (batch_count_ > 1 && batched_bytes_ <= kCoalesceBytes) {
    thread_local char plain[kCoalesceBytes];
    size_t n = 0;
    for (int i = 0; i < batch_count_; ++i) {
      memcpy(plain + n, batch_[i].base, batch_[i].len);
      n += batch_[i].len;
    }
    ok = tls_->write(plain, n);
  } else {
    for (int i = 0; i < batch_count_ && ok; ++i)
      ok = tls_->write(batch_[i].base, batch_[i].len);
  }
  batch_count_ = 0;
  batched_bytes_ = 0;
  if (!ok) fail();
  return ok;
}

// Hands everything the TLS channel has for the socket to the kernel (one try_write of one
// buffer), queueing what it does not take, behind bytes already queued.
bool StreamWriter::sendCiphertext() {
  if (write_failed_) return false;
  if (!tls_->hasOutput()) {
    maybeShutdown();
    return true;
  }
  if (!inflight_.empty() || stream_ == nullptr) {
    if (inflight_.empty()) {
      tls_->takeOutput(&inflight_);
      startWrite();
    } else {
      tls_->takeOutput(&queued_);
    }
    return !write_failed_;
  }
  // Worker-thread scratch: the ciphertext usually goes straight to the kernel and needs no
  // home of its own.
  thread_local std::string cipher;
  cipher.clear();
  tls_->takeOutput(&cipher);
  uv_buf_t buf = uv_buf_init(cipher.data(), static_cast<unsigned>(cipher.size()));
  const int written = uv_try_write(stream_, &buf, 1);
  if (written < 0 && written != UV_EAGAIN) {
    fail();
    return false;
  }
  const size_t sent = written > 0 ? static_cast<size_t>(written) : 0;
  if (sent > 0) wrote_any_ = true;
  if (sent < cipher.size()) queue(cipher.data() + sent, cipher.size() - sent);
  if (cipher.capacity() > (size_t{1} << 20)) std::string().swap(cipher);  // a burst passed
  maybeShutdown();
  return !write_failed_;
}

void StreamWriter::maybeShutdown() {
  if (!shutdown_requested_ || shutdown_started_ || stream_ == nullptr || write_failed_ ||
      !inflight_.empty() || batch_count_ != 0)
    return;
  shutdown_started_ = true;
  uv_shutdown(&shutdown_req_, stream_, [](uv_shutdown_t*, int) {});
}

void StreamWriter::queue(const char* data, size_t len) {
  if (write_failed_) return;
  if (inflight_.empty()) {
    inflight_.append(data, len);
    startWrite();
  } else {
    queued_.append(data, len);
  }
}

void StreamWriter::attach(uv_stream_t* stream) {
  stream_ = stream;
  if (!inflight_.empty()) startWrite();
}

void StreamWriter::startWrite() {
  if (stream_ == nullptr || write_failed_ || writing_) return;  // attach() starts it later
  writing_ = true;
  uv_buf_t buf = uv_buf_init(inflight_.data(), static_cast<unsigned>(inflight_.size()));
  int rc = uv_write(&req_, stream_, &buf, 1, &StreamWriter::onWrite);
  if (rc < 0) {
    writing_ = false;
    fail();
    drained_(owner_, rc);
  }
}

void StreamWriter::onWrite(uv_write_t* req, int status) {
  auto* self = static_cast<StreamWriter*>(req->data);
  self->writing_ = false;
  if (status < 0) {
    self->fail();
    self->drained_(self->owner_, status);
    return;
  }
  self->wrote_any_ = true;
  self->inflight_.clear();
  if (!self->queued_.empty()) {
    self->inflight_.swap(self->queued_);
    self->startWrite();
    return;
  }
  self->maybeShutdown();
  self->drained_(self->owner_, 0);
}

void StreamWriter::takeUnsent(std::string* out) {
  if (tls_ != nullptr) {  // the rest is ciphertext of a connection that is going away
    out->swap(held_);
    held_.clear();
    reset();
    return;
  }
  out->clear();
  for (int i = 0; i < batch_count_; ++i)
    out->append(batch_[i].base, batch_[i].len);
  out->append(inflight_);
  out->append(queued_);
  reset();
}

void StreamWriter::reset() {
  batch_count_ = 0;
  scratch_used_ = 0;
  batched_bytes_ = 0;
  inflight_.clear();
  queued_.clear();
  held_.clear();
  writing_ = false;
  write_failed_ = false;
  wrote_any_ = false;
  encrypted_any_ = false;
  shutdown_requested_ = shutdown_started_ = false;
}

}  // namespace fiberlb::net
