#include "src/admin/exposition.h"

#include <charconv>
#include <cmath>

namespace fiberlb::admin {

std::string escapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

std::string formatSampleValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general);
  return ec == std::errc() ? std::string(buf, end) : std::to_string(v);
}

void Exposition::family(std::string_view name, std::string_view type, std::string_view help) {
  out_.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out_.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

void Exposition::line(std::string_view name, const Labels& labels, const std::string& value) {
  out_.append(name);
  if (!labels.empty()) {
    out_.push_back('{');
    for (size_t i = 0; i < labels.size(); ++i) {
      if (i > 0) out_.push_back(',');
      out_.append(labels[i].first).append("=\"");
      out_.append(escapeLabelValue(labels[i].second)).push_back('"');
    }
    out_.push_back('}');
  }
  out_.append(" ").append(value).append("\n");
}

}  // namespace fiberlb::admin
