#pragma once
// The dashboard served at GET / (SPEC §8): one self-contained HTML page — inline CSS and
// vanilla JS, no CDN, no fonts or images from the network, since the machines it runs on
// often have no internet access. It polls the admin API and renders regions and backends.

#include <string_view>

namespace fiberlb::admin {

// The whole page; static storage, never changes at run time.
std::string_view dashboardHtml();

}  // namespace fiberlb::admin
