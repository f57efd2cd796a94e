#pragma once
// A connection's read buffer, borrowed from the worker's BufferPool only while it holds
// bytes that still matter (a head in progress, pipelined requests). Head spans are offsets
// from data, so the buffer must not move while a head is being parsed.

#include <uv.h>

#include <cstddef>
#include <cstring>

#include "src/net/buffer_pool.h"

namespace fiberlb::net {

// Worker-local.
struct ReadBuffer {
  char* data = nullptr;
  size_t used = 0;       // bytes received into data
  size_t parse_pos = 0;  // bytes already handed to the parser
  // A head is being parsed: llhttp has consumed its bytes, but the head's spans still
  // point into them, so the buffer must neither be released nor compacted.
  bool pinned = false;

  size_t unparsed() const { return used - parse_pos; }
  bool full() const { return used == BufferPool::kBufferSize; }

  // libuv alloc_cb body: offer the free tail of the buffer.
  void offer(BufferPool& pool, uv_buf_t* buf) {
    if (data == nullptr) data = pool.acquire();
    buf->base = data + used;
    buf->len = BufferPool::kBufferSize - used;
  }
  // Returns the buffer to the pool when nothing in it is needed any more.
  void releaseIfEmpty(BufferPool& pool) {
    if (data != nullptr && parse_pos == used && !pinned) {
      pool.release(data);
      data = nullptr;
      used = parse_pos = 0;
    }
  }
  void release(BufferPool& pool) {
    pool.release(data);
    data = nullptr;
    used = parse_pos = 0;
    pinned = false;
  }
  // Moves unparsed bytes to the front; only between messages (no head spans alive).
  void compact() {
    if (parse_pos == 0 || pinned) return;
    size_t rest = unparsed();
    if (rest > 0) memmove(data, data + parse_pos, rest);
    used = rest;
    parse_pos = 0;
  }
};

}  // namespace fiberlb::net
