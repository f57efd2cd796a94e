#pragma once

namespace fiberlb {
inline constexpr const char* kVersion = "0.1.0";
}
