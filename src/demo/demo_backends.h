#pragma once
// Embedded demo backends ([demo] enabled = true or --demo): a small HTTP server on every
// loopback backend address of the config, on its own thread and loop, so that `make run`
// shows fiberlb balancing real traffic with nothing else running.

#include <uv.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "config/config.h"

namespace fiberlb::demo {

class DemoBackends {
 public:
  DemoBackends();
  ~DemoBackends();
  DemoBackends(const DemoBackends&) = delete;
  DemoBackends& operator=(const DemoBackends&) = delete;

  // Binds every loopback backend address of `cfg` and starts serving. False + message
  // (naming the address) if one cannot be bound.
  bool start(const config::Config& cfg, std::string* error);
  void stop();

  struct Server;  // one listening demo backend

 private:
  static void onStop(uv_async_t* handle);

  uv_loop_t loop_{};
  uv_async_t stop_async_{};
  std::thread thread_;
  std::vector<std::unique_ptr<Server>> servers_;
};

}  // namespace fiberlb::demo
