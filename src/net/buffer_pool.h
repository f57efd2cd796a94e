#pragma once
// Fixed-size read buffers recycled per worker. A connection holds a buffer only while it
// has unprocessed bytes (a partial head, pipelined requests); an idle keep-alive connection
// holds none, which keeps memory per idle connection small.

#include <cstddef>
#include <memory>
#include <vector>

namespace fiberlb::net {

// Worker-local: not thread-safe.
class BufferPool {
 public:
  static constexpr size_t kBufferSize = size_t{64} * 1024;

  explicit BufferPool(size_t max_free = 256) : max_free_(max_free) {}
  ~BufferPool() {
    for (char* b : free_)
      delete[] b;
  }
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  char* acquire() {
    if (free_.empty()) return new char[kBufferSize];
    char* b = free_.back();
    free_.pop_back();
    return b;
  }
  void release(char* b) {
    if (b == nullptr) return;
    if (free_.size() >= max_free_) {
      delete[] b;
      return;
    }
    free_.push_back(b);
  }

 private:
  size_t max_free_;
  std::vector<char*> free_;
};

}  // namespace fiberlb::net
