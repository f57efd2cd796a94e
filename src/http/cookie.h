#pragma once
// Reading one cookie out of a request's Cookie header(s) (RFC 6265 §5.4: "a=b; c=d").

#include <string_view>

#include "src/http/message_head.h"

namespace fiberlb::http {

// The value of cookie `name` in `head`'s Cookie headers (all of them: HTTP/1.1 clients may
// send several), or an empty view when absent. The view points into the head's buffer.
std::string_view findCookie(const MessageHead& head, std::string_view name);

// The same within one Cookie header value.
std::string_view cookieIn(std::string_view header_value, std::string_view name);

}  // namespace fiberlb::http
