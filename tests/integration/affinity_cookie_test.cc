// Cookie persistence through the real binary (SPEC §3 `session_persistence = "cookie"`, §4
// "Session persistence keeps a client on its backend while that backend stays eligible"):
// the cookie pins a client over new and keep-alive connections, holds while other backends
// stop or leave, moves with a new cookie when its backend is down, refusing, at weight 0 or
// behind an open circuit; each LB has its own cookie; garbage values are ignored. Backends
// are TestBackends (X-Backend names the one that answered); helpers in affinity_support.h.

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "tests/integration/affinity_support.h"
#include "tests/support/admin_json.h"
#include "tests/support/deadline.h"
#include "tests/support/fiberlb_config.h"
#include "tests/support/fiberlb_process.h"
#include "tests/support/http_client.h"
#include "tests/support/test_backend.h"

namespace fiberlb::testing {
namespace {

using nlohmann::json;

// ---- Persistence cookies ----------------------------------------------------------------

struct Cookie {
  std::string name;
  std::string value;
  std::string pair() const { return name + "=" + value; }
  std::string header() const { return "Cookie: " + pair() + "\r\n"; }
};

// The Set-Cookie values of `r` whose cookie name starts with "fiberlb_".
std::vector<std::string> persistenceSetCookies(const Response& r) {
  std::vector<std::string> out;
  for (const Header& h : r.headers) {
    if (iequals(h.name, "Set-Cookie") && h.value.starts_with("fiberlb_")) out.push_back(h.value);
  }
  return out;
}

// The cookie that `r` sets when it carries exactly one persistence Set-Cookie of the form
// "fiberlb_<8 hex>=<16 hex>; Path=/; HttpOnly; SameSite=Lax"; nullopt otherwise.
std::optional<Cookie> newCookie(const Response& r) {
  static const std::regex kForm(
      R"(^(fiberlb_[0-9a-f]{8})=([0-9a-f]{16}); Path=/; HttpOnly; SameSite=Lax$)");
  const std::vector<std::string> set = persistenceSetCookies(r);
  std::smatch m;
  if (set.size() != 1 || !std::regex_match(set[0], m, kForm)) return std::nullopt;
  return Cookie{m[1].str(), m[2].str()};
}

// ---- Configuration and helpers ----------------------------------------------------------

const std::string kCookiePersistence = "session_persistence = \"cookie\"\n";

// Sends requests without a cookie on new connections until every backend in `names` has
// answered once; the persistence cookie each one handed out, by backend. Fails the test when
// a response lacks a well-formed cookie or one backend gets two different values.
std::map<std::string, Cookie> learnCookies(uint16_t port, const std::set<std::string>& names) {
  std::map<std::string, Cookie> out;
  for (int i = 0; i < 10 * static_cast<int>(names.size()) && out.size() < names.size(); ++i) {
    Response r = fetchFrom("127.0.0.1", port, getRequest("/learn"));
    const std::string backend = servedBy(r);
    std::optional<Cookie> cookie = newCookie(r);
    EXPECT_TRUE(cookie.has_value()) << describe(r);
    if (!cookie) continue;
    auto [it, inserted] = out.emplace(backend, *cookie);
    EXPECT_EQ(it->second.pair(), cookie->pair()) << "two cookies for backend " << backend;
  }
  EXPECT_EQ(out.size(), names.size()) << "not every backend answered a balanced request";
  return out;
}

// ---- Admin API --------------------------------------------------------------------------

// The health of backend `name` of LB `lb` in GET /api/geo/nodes.
std::string health(uint16_t admin, const std::string& lb, const std::string& name) {
  const json nodes = adminJson(admin, "/api/geo/nodes");
  if (!nodes.is_array()) return "<no nodes>";
  for (const json& n : nodes) {
    if (n.value("node_id", "") == name && n.value("loadbalancer", "") == lb)
      return n.value("health", "<none>");
  }
  return "<no node>";
}

// Sends batches of `probe` requests (new connections from 127.0.0.1) until one batch is
// answered 200 by backends none of which is `excluded`: the workers use the snapshot the
// reload or health change produced. Batches of 8 reach both workers all but surely.
bool waitUntilAvoided(uint16_t port, const std::string& excluded, const std::string& raw) {
  return pollUntil(
      [&] {
        for (int i = 0; i < 8; ++i) {
          const std::string b = servedBy(fetchFrom("127.0.0.1", port, raw));
          if (b == excluded || b.starts_with("<")) return false;
        }
        return true;
      },
      deadlineIn(5000), milliseconds(20));
}

TEST(Persistence, CookiePinsAClientToTheBackendThatServedIt) {
  TestBackend a("a"), b("b"), c("c");
  std::map<std::string, TestBackend*> backends{{"a", &a}, {"b", &b}, {"c", &c}};
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(affinityLb({{"a", a.port()}, {"b", b.port()}, {"c", c.port()}}, "roundrobin",
                                  kCookiePersistence)));
  const uint16_t port = lb.port();

  // A client without the cookie is balanced and learns which backend served it.
  Response first = fetchFrom("127.0.0.1", port, getRequest("/"));
  const std::string sticky = servedBy(first);
  ASSERT_TRUE(backends.count(sticky)) << describe(first);
  ASSERT_EQ(first.headerCount("Set-Cookie"), 1u) << describe(first);
  std::optional<Cookie> cookie = newCookie(first);
  ASSERT_TRUE(cookie) << "not a persistence cookie: " << describe(first);

  // Balanced clients reach every backend; one cookie name, one distinct value per backend.
  std::map<std::string, Cookie> cookies = learnCookies(port, {"a", "b", "c"});
  ASSERT_EQ(cookies.size(), 3u);
  std::set<std::string> values;
  for (const auto& [backend, k] : cookies) {
    EXPECT_EQ(k.name, cookie->name);
    values.insert(k.value);
  }
  EXPECT_EQ(values.size(), 3u) << "backends share a cookie value";
  EXPECT_EQ(cookies[sticky].value, cookie->value);

  // 10 new connections presenting the cookie: all on `sticky`, no further Set-Cookie.
  for (int i = 0; i < 10; ++i) {
    Response r = fetchFrom("127.0.0.1", port, getRequest("/new-conn", cookie->header()));
    EXPECT_EQ(servedBy(r), sticky) << "request " << i;
    EXPECT_EQ(r.headerCount("Set-Cookie"), 0u) << describe(r);
  }
  // 10 on one keep-alive connection.
  Conn keep;
  for (int i = 0; i < 10; ++i) {
    Response r = keep.exchange(port, getRequest("/keep-alive", cookie->header()), deadlineIn(5000));
    EXPECT_EQ(servedBy(r), sticky) << "request " << i;
    EXPECT_EQ(r.headerCount("Set-Cookie"), 0u) << describe(r);
  }
  EXPECT_EQ(keep.connects(), 1);

  // The cookie among others, in a second Cookie header, or quoted (RFC 6265 cookie-value).
  for (const std::string& header : {"Cookie: theme=dark; " + cookie->pair() + "; lang=en\r\n",
                                    "Cookie: theme=dark;" + cookie->pair() + "\r\n",
                                    "Cookie: theme=dark\r\nCookie: " + cookie->pair() + "\r\n",
                                    "Cookie: " + cookie->name + "=\"" + cookie->value + "\"\r\n"}) {
    Response r = fetchFrom("127.0.0.1", port, getRequest("/", header));
    EXPECT_EQ(servedBy(r), sticky) << header;
    EXPECT_EQ(r.headerCount("Set-Cookie"), 0u) << header << describe(r);
  }
  // Each backend's cookie sends its client there.
  for (const auto& [backend, k] : cookies) {
    for (int i = 0; i < 3; ++i) {
      Response r = fetchFrom("127.0.0.1", port, getRequest("/", k.header()));
      EXPECT_EQ(servedBy(r), backend);
      EXPECT_EQ(r.headerCount("Set-Cookie"), 0u) << describe(r);
    }
  }

  // A backend's own Set-Cookie passes through next to ours.
  for (auto& [name, backend] : backends)
    backend->setBehaviour(Behaviour{.extra_headers = "Set-Cookie: app=1; Path=/\r\n"});
  Response both = fetchFrom("127.0.0.1", port, getRequest("/"));
  EXPECT_EQ(both.headerCount("Set-Cookie"), 2u) << describe(both);
  EXPECT_TRUE(newCookie(both)) << describe(both);
  Response own = fetchFrom("127.0.0.1", port, getRequest("/", cookie->header()));
  EXPECT_EQ(servedBy(own), sticky);
  EXPECT_EQ(own.headerCount("Set-Cookie"), 1u) << describe(own);
  EXPECT_EQ(own.header("Set-Cookie").value_or(""), "app=1; Path=/") << describe(own);
}

TEST(Persistence, CookieHoldsWhileOtherBackendsStopOrAreRemoved) {
  TestBackend a("a"), b("b"), c("c"), d("d");
  FiberlbProcess lb;
  const FiberlbConfig config = affinityLb({{"a", a.port()}, {"b", b.port()}, {"c", c.port()}},
                                          "roundrobin", kCookiePersistence);
  ASSERT_TRUE(lb.start(config));
  const uint16_t port = lb.port();
  std::map<std::string, Cookie> cookies = learnCookies(port, {"a", "b", "c"});
  ASSERT_EQ(cookies.size(), 3u);
  const Cookie cookie = cookies["a"];
  auto expectAllOnA = [&](const std::string& phase) {
    for (int i = 0; i < 20; ++i) {
      Response r = fetchFrom("127.0.0.1", port, getRequest("/", cookie.header()));
      EXPECT_EQ(servedBy(r), "a") << phase << ", request " << i;
      EXPECT_EQ(r.headerCount("Set-Cookie"), 0u) << phase << ": " << describe(r);
    }
  };

  // b stops (connections refused; no health check notices): a's clients do not care.
  b.stop();
  expectAllOnA("b stopped");

  // A reload removes b and adds d: the cookie (a hash of LB and backend names) still holds.
  ASSERT_TRUE(lb.reload(affinityLb({{"a", a.port()}, {"c", c.port()}, {"d", d.port()}},
                                   "roundrobin", kCookiePersistence)));
  ASSERT_TRUE(pollUntil(
      [&] {
        fetchFrom("127.0.0.1", port, getRequest("/probe"));
        return d.requestCount() > 0;
      },
      deadlineIn(5000), milliseconds(10)))
      << "d never received traffic after the reload";
  expectAllOnA("b removed, d added");

  // And another reload leaves only a and d.
  ASSERT_TRUE(
      lb.reload(affinityLb({{"a", a.port()}, {"d", d.port()}}, "roundrobin", kCookiePersistence)));
  ASSERT_TRUE(waitUntilAvoided(port, "c", getRequest("/probe")));
  expectAllOnA("c removed");
}

TEST(Persistence, CookieMovesWhenItsBackendIsMarkedDownAndTheNewOneSticks) {
  TestBackend a("a"), b("b"), c("c");
  std::map<std::string, TestBackend*> backends{{"a", &a}, {"b", &b}, {"c", &c}};
  FiberlbConfig config = affinityLb({{"a", a.port()}, {"b", b.port()}, {"c", c.port()}},
                                    "roundrobin", kCookiePersistence);
  config.loadbalancers[0].healthcheck =
      "type = \"http\"\ninterval_sec = 0.1\ntimeout_sec = 1\npath = \"/hc\"\n"
      "healthy_threshold = 2\nunhealthy_threshold = 2\n";
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(config));
  const uint16_t port = lb.port();
  const uint16_t admin = adminPort(lb);
  ASSERT_NE(admin, 0);

  Response first = fetchFrom("127.0.0.1", port, getRequest("/"));
  const std::string sticky = servedBy(first);
  ASSERT_TRUE(backends.count(sticky)) << describe(first);
  std::optional<Cookie> old_cookie = newCookie(first);
  ASSERT_TRUE(old_cookie) << describe(first);
  std::map<std::string, Cookie> cookies = learnCookies(port, {"a", "b", "c"});
  ASSERT_EQ(cookies.size(), 3u);
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(servedBy(fetchFrom("127.0.0.1", port, getRequest("/", old_cookie->header()))),
              sticky);

  // The sticky backend dies; its health checks fail and take it out.
  backends[sticky]->stop();
  ASSERT_TRUE(
      pollUntil([&] { return health(admin, "web", sticky) == "unhealthy"; }, deadlineIn(5000)))
      << sticky << " never became unhealthy: " << health(admin, "web", sticky);

  // The old cookie's requests are balanced over the others and told their new backend.
  // (Until the worker has the new snapshot, the refused connect is retried elsewhere: the
  // same outcome.)
  Response moved = fetchFrom("127.0.0.1", port, getRequest("/", old_cookie->header()));
  const std::string next = servedBy(moved);
  ASSERT_TRUE(backends.count(next) && next != sticky) << describe(moved);
  std::optional<Cookie> new_cookie = newCookie(moved);
  ASSERT_TRUE(new_cookie) << "no new persistence cookie: " << describe(moved);
  EXPECT_EQ(new_cookie->name, old_cookie->name);
  EXPECT_NE(new_cookie->value, old_cookie->value);
  EXPECT_EQ(new_cookie->value, cookies[next].value) << "the new cookie does not name " << next;
  std::set<std::string> old_cookie_went;
  for (int i = 0; i < 6; ++i) {
    Response r = fetchFrom("127.0.0.1", port, getRequest("/", old_cookie->header()));
    const std::string backend = servedBy(r);
    old_cookie_went.insert(backend);
    EXPECT_NE(backend, sticky);
    std::optional<Cookie> k = newCookie(r);
    EXPECT_TRUE(k && k->value == cookies[backend].value) << describe(r);
  }
  EXPECT_EQ(old_cookie_went.size(), 2u) << "the old cookie's requests are not balanced: "
                                        << ::testing::PrintToString(old_cookie_went);

  // The new cookie sticks, over new connections and keep-alive alike.
  Conn keep;
  for (int i = 0; i < 20; ++i) {
    Response r = i % 2 == 0
                     ? fetchFrom("127.0.0.1", port, getRequest("/", new_cookie->header()))
                     : keep.exchange(port, getRequest("/", new_cookie->header()), deadlineIn(5000));
    EXPECT_EQ(servedBy(r), next) << "request " << i;
    EXPECT_EQ(r.headerCount("Set-Cookie"), 0u) << describe(r);
  }
}

// No health check: the stopped sticky backend is still "eligible" when the request arrives,
// so the refused connect is retried on another backend, and the response names that one.
TEST(Persistence, CookieOfARefusingBackendIsRetriedElsewhereWithANewCookie) {
  TestBackend a("a"), b("b"), c("c");
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(affinityLb({{"a", a.port()}, {"b", b.port()}, {"c", c.port()}}, "roundrobin",
                                  kCookiePersistence)));
  const uint16_t port = lb.port();
  std::map<std::string, Cookie> cookies = learnCookies(port, {"a", "b", "c"});
  ASSERT_EQ(cookies.size(), 3u);

  a.stop();
  for (int i = 0; i < 8; ++i) {
    Response r = fetchFrom("127.0.0.1", port, getRequest("/", cookies["a"].header()));
    const std::string backend = servedBy(r);
    EXPECT_TRUE(backend == "b" || backend == "c") << describe(r);
    std::optional<Cookie> k = newCookie(r);
    EXPECT_TRUE(k && k->value == cookies[backend].value) << describe(r);
  }
}

TEST(Persistence, CookieIsSetAsideWhileItsBackendHasWeightZeroOrAnOpenCircuit) {
  TestBackend a("a"), b("b"), c("c");
  FiberlbConfig config = affinityLb({{"a", a.port()}, {"b", b.port()}, {"c", c.port()}},
                                    "roundrobin", kCookiePersistence);
  config.loadbalancers[0].circuit_breaker = {{"failure_threshold", 2},
                                             {"recovery_timeout_sec", 60}};
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(config));
  const uint16_t port = lb.port();
  std::map<std::string, Cookie> cookies = learnCookies(port, {"a", "b", "c"});
  ASSERT_EQ(cookies.size(), 3u);
  const Cookie cookie = cookies["a"];
  auto expectRebalanced = [&](const std::string& phase) {
    std::set<std::string> went;
    for (int i = 0; i < 10; ++i) {
      Response r = fetchFrom("127.0.0.1", port, getRequest("/", cookie.header()));
      const std::string backend = servedBy(r);
      went.insert(backend);
      EXPECT_TRUE(backend == "b" || backend == "c") << phase << ": " << describe(r);
      std::optional<Cookie> k = newCookie(r);
      EXPECT_TRUE(k && k->value == cookies[backend].value) << phase << ": " << describe(r);
    }
    EXPECT_EQ(went, (std::set<std::string>{"b", "c"})) << phase;
  };

  // weight = 0: a takes no new traffic, cookie or not.
  FiberlbConfig zero = config;
  zero.loadbalancers[0].backends[0].weight = 0;
  ASSERT_TRUE(lb.reload(zero));
  ASSERT_TRUE(waitUntilAvoided(port, "a", getRequest("/", cookie.header())));
  expectRebalanced("a at weight 0");

  // Eligible again: the old cookie leads to a again (its id is stable).
  ASSERT_TRUE(lb.reload(config));
  ASSERT_TRUE(pollUntil(
      [&] {
        return servedBy(fetchFrom("127.0.0.1", port, getRequest("/", cookie.header()))) == "a";
      },
      deadlineIn(5000), milliseconds(20)));
  for (int i = 0; i < 10; ++i) {
    Response r = fetchFrom("127.0.0.1", port, getRequest("/", cookie.header()));
    EXPECT_EQ(servedBy(r), "a");
    EXPECT_EQ(r.headerCount("Set-Cookie"), 0u) << describe(r);
  }

  // a answers 503: after failure_threshold of them its circuit opens, and the cookie's
  // requests go elsewhere (retries.on has no "5xx", so the 503s reach the client).
  a.setBehaviour(Behaviour{.status = 503});
  int failures = 0;
  ASSERT_TRUE(pollUntil(
      [&] {
        Response r = fetchFrom("127.0.0.1", port, getRequest("/", cookie.header()));
        if (r.ok() && r.status == 503) ++failures;
        return servedBy(r) == "b" || servedBy(r) == "c";
      },
      deadlineIn(5000), milliseconds(0)))
      << "the cookie's requests never left a";
  EXPECT_EQ(failures, 2) << "503s seen before the circuit opened (failure_threshold = 2)";
  expectRebalanced("a's circuit open");
}

TEST(Persistence, EachLoadBalancerHasItsOwnCookie) {
  TestBackend a("a"), b("b");
  FiberlbConfig config =
      affinityLb({{"a", a.port()}, {"b", b.port()}}, "roundrobin", kCookiePersistence);
  LbConfig api = config.loadbalancers[0];
  api.name = "api";
  config.loadbalancers.push_back(api);
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(config));
  const uint16_t web_port = lb.port("web"), api_port = lb.port("api");
  ASSERT_NE(api_port, 0);

  std::map<std::string, Cookie> web = learnCookies(web_port, {"a", "b"});
  std::map<std::string, Cookie> api_cookies = learnCookies(api_port, {"a", "b"});
  ASSERT_EQ(web.size(), 2u);
  ASSERT_EQ(api_cookies.size(), 2u);
  EXPECT_NE(web["a"].name, api_cookies["a"].name) << "two LBs share the cookie name";

  // web's cookie means nothing to api: balanced there, with api's own cookie.
  std::set<std::string> went;
  for (int i = 0; i < 4; ++i) {
    Response r = fetchFrom("127.0.0.1", api_port, getRequest("/", web["a"].header()));
    went.insert(servedBy(r));
    std::optional<Cookie> k = newCookie(r);
    EXPECT_TRUE(k && k->name == api_cookies["a"].name) << describe(r);
  }
  EXPECT_EQ(went, (std::set<std::string>{"a", "b"}));

  // A browser holding both (cookies ignore ports): each LB follows its own.
  const std::string both = "Cookie: " + web["a"].pair() + "; " + api_cookies["b"].pair() + "\r\n";
  for (int i = 0; i < 6; ++i) {
    Response w = fetchFrom("127.0.0.1", web_port, getRequest("/", both));
    EXPECT_EQ(servedBy(w), "a");
    EXPECT_EQ(w.headerCount("Set-Cookie"), 0u) << describe(w);
    Response p = fetchFrom("127.0.0.1", api_port, getRequest("/", both));
    EXPECT_EQ(servedBy(p), "b");
    EXPECT_EQ(p.headerCount("Set-Cookie"), 0u) << describe(p);
  }
}

TEST(Persistence, GarbageCookieValueIsIgnored) {
  TestBackend a("a"), b("b"), c("c");
  FiberlbProcess lb;
  // One worker: round-robin is exact, so "balanced" is checkable.
  ASSERT_TRUE(lb.start(affinityLb({{"a", a.port()}, {"b", b.port()}, {"c", c.port()}}, "roundrobin",
                                  kCookiePersistence, /*workers=*/1)));
  const uint16_t port = lb.port();
  std::map<std::string, Cookie> cookies = learnCookies(port, {"a", "b", "c"});
  ASSERT_EQ(cookies.size(), 3u);
  const std::string name = cookies["a"].name;
  const std::string valid = cookies["a"].value;

  const std::vector<std::string> garbage{
      name + "=garbage",
      name + "=",
      name + "=0000000000000000",    // well-formed, nobody's
      name + "=ffffffffffffffff",    // well-formed, nobody's
      name + "=" + valid + "0",      // too long
      name + "=" + valid.substr(1),  // too short
      name + "=" + valid.substr(0, 15) + "g",
      name + "=-" + valid.substr(1),
      "fiberlb_00000000=" + valid,  // a's id under a name that is not this LB's
  };
  std::map<std::string, int> count;
  for (const std::string& pair : garbage) {
    Response r = fetchFrom("127.0.0.1", port, getRequest("/", "Cookie: " + pair + "\r\n"));
    const std::string backend = servedBy(r);
    ++count[backend];
    std::optional<Cookie> k = newCookie(r);
    ASSERT_TRUE(k) << pair << ": no new cookie: " << describe(r);
    EXPECT_EQ(k->name, name) << pair;
    EXPECT_EQ(k->value, cookies[backend].value)
        << pair << ": the new cookie is not " << backend << "'s";
  }
  // Balanced by exact round-robin: 9 requests, 3 each.
  EXPECT_EQ(count, (std::map<std::string, int>{{"a", 3}, {"b", 3}, {"c", 3}}));
}

}  // namespace
}  // namespace fiberlb::testing
