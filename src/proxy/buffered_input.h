#pragma once
// Something that reads through a TLS channel and may stop decrypting for lack of room
// (back-pressure) while plaintext is still waiting inside the channel. The socket will not
// announce those bytes again, so when reading restarts the worker calls it back
// (Worker::resumeLater) on its next loop iteration, outside any of its callbacks.

namespace fiberlb::proxy {

class BufferedInput {
 public:
  virtual void resumeBufferedInput() = 0;
  bool resume_pending = false;  // queued in Worker::resumeLater

 protected:
  BufferedInput() = default;
  ~BufferedInput() = default;
  BufferedInput(const BufferedInput&) = default;
  BufferedInput& operator=(const BufferedInput&) = default;
};

}  // namespace fiberlb::proxy
