#pragma once
// The spelling of every enumerated config value: one table per enum, used both to read the
// file and to print values back (toString), so that the two cannot drift apart.

#include <array>

#include "config/config.h"
#include "config/toml_reader.h"

namespace fiberlb::config {

inline constexpr std::array<Choice<Mode>, 2> kModes{{
    {"standalone", Mode::Standalone},
    {"integrated", Mode::Integrated},
}};

inline constexpr std::array<Choice<LogLevel>, 5> kLogLevels{{
    {"trace", LogLevel::Trace},
    {"debug", LogLevel::Debug},
    {"info", LogLevel::Info},
    {"warn", LogLevel::Warn},
    {"error", LogLevel::Error},
}};

inline constexpr std::array<Choice<LogFormat>, 2> kLogFormats{{
    {"text", LogFormat::Text},
    {"json", LogFormat::Json},
}};

inline constexpr std::array<Choice<Protocol>, 3> kProtocols{{
    {"http", Protocol::Http},
    {"tcp", Protocol::Tcp},
    {"udp", Protocol::Udp},
}};

inline constexpr std::array<Choice<Method>, 4> kMethods{{
    {"roundrobin", Method::RoundRobin},
    {"leastconn", Method::LeastConn},
    {"hash", Method::Hash},
    {"random", Method::Random},
}};

inline constexpr std::array<Choice<Persistence>, 3> kPersistences{{
    {"none", Persistence::None},
    {"cookie", Persistence::Cookie},
    {"source_ip", Persistence::SourceIp},
}};

inline constexpr std::array<Choice<HealthCheckType>, 3> kHealthCheckTypes{{
    {"http", HealthCheckType::Http},
    {"tcp", HealthCheckType::Tcp},
    {"none", HealthCheckType::None},
}};

inline constexpr std::array<Choice<Failback>, 2> kFailbacks{{
    {"manual", Failback::Manual},
    {"auto", Failback::Auto},
}};

inline constexpr std::array<Choice<AdminState>, 3> kAdminStates{{
    {"enabled", AdminState::Enabled},
    {"drain", AdminState::Drain},
    {"disabled", AdminState::Disabled},
}};

template <typename E, size_t N>
const char* nameOf(const std::array<Choice<E>, N>& choices, E value) {
  for (const Choice<E>& c : choices) {
    if (c.value == value) return c.name;
  }
  return "unknown";
}

// Looks a name up; false when it is not one of `choices`.
template <typename E, size_t N>
bool valueOf(const std::array<Choice<E>, N>& choices, std::string_view name, E& out) {
  for (const Choice<E>& c : choices) {
    if (name == c.name) {
      out = c.value;
      return true;
    }
  }
  return false;
}

}  // namespace fiberlb::config
