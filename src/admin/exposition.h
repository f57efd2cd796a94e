#pragma once
// A writer for the Prometheus text exposition format 0.0.4: families written whole (HELP,
// TYPE, then their samples — the format forbids interleaving them), label values escaped,
// numbers in the shortest form that reads back exactly.

#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace fiberlb::admin {

using Label = std::pair<std::string_view, std::string_view>;
using Labels = std::vector<Label>;

// `value` with backslash, double quote and line feed escaped, as label values need.
std::string escapeLabelValue(std::string_view value);
// The shortest decimal form of `v` that parses back to it; "+Inf", "-Inf", "NaN" as needed.
std::string formatSampleValue(double v);

class Exposition {
 public:
  // Starts a family: its HELP and TYPE lines. Call once per family, then its samples.
  void family(std::string_view name, std::string_view type, std::string_view help);

  template <typename T>
  void sample(std::string_view name, const Labels& labels, T value) {
    if constexpr (std::is_floating_point_v<T>) {
      line(name, labels, formatSampleValue(static_cast<double>(value)));
    } else {
      line(name, labels, std::to_string(value));
    }
  }

  std::string take() { return std::move(out_); }

 private:
  void line(std::string_view name, const Labels& labels, const std::string& value);

  std::string out_;
};

}  // namespace fiberlb::admin
