#include "src/net/stream_writer.h"

#include <cstring>

namespace fiberlb::net {

void StreamWriter::add(const char* data, size_t len) {
  if (len == 0 || write_failed_) return;
  if (!inflight_.empty() || stream_ == nullptr) {
    queue(data, len);  // order: nothing may overtake bytes already queued
    return;
  }
  if (batch_count_ == kMaxBatch && !flush()) return;
  if (!inflight_.empty()) {  // that flush left a remainder: keep order
    queue(data, len);
    return;
  }
  batch_[batch_count_++] = uv_buf_init(const_cast<char*>(data), static_cast<unsigned>(len));
  batched_bytes_ += len;
}

void StreamWriter::addCopy(const char* data, size_t len) {
  if (!inflight_.empty() || stream_ == nullptr || len > kScratchSize) {
    add(data, len);  // queued (copied) anyway
    return;
  }
  if (scratch_used_ + len > kScratchSize || batch_count_ == kMaxBatch) flush();
  if (!inflight_.empty()) {
    queue(data, len);
    return;
  }
  char* copy = scratch_ + scratch_used_;
  memcpy(copy, data, len);
  scratch_used_ += len;
  add(copy, len);
}

bool StreamWriter::flush() {
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
  maybeShutdown();
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
  writing_ = false;
  write_failed_ = false;
  wrote_any_ = false;
  shutdown_requested_ = shutdown_started_ = false;
}

}  // namespace fiberlb::net
