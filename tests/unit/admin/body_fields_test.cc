#include "src/admin/body_fields.h"

#include <gtest/gtest.h>

namespace fiberlb::admin {
namespace {

Request post(std::string body) {
  Request r;
  r.method = "POST";
  r.body = std::move(body);
  return r;
}

TEST(BodyFields, ReadsTypedFieldsAndNestedPaths) {
  BodyFields f(post(R"({"s":"x","i":5,"n":1.5,"o":{"lat":-3},"nil":null})"));
  EXPECT_EQ(f.string("s", true), "x");
  EXPECT_EQ(f.integer("i", true, 0, 10), 5);
  EXPECT_EQ(f.number("n", true, 0, 2), 1.5);
  EXPECT_EQ(f.number("i", true, 0, 10), 5.0);  // an integer is a number
  EXPECT_EQ(f.number("o.lat", true, -90, 90), -3.0);
  EXPECT_TRUE(f.has("o"));
  EXPECT_FALSE(f.has("nil"));
  EXPECT_FALSE(f.has("o.lon"));
  EXPECT_EQ(f.string("absent", false), std::nullopt);
  EXPECT_TRUE(f.ok()) << f.problem();
}

TEST(BodyFields, KeepsTheFirstProblem) {
  BodyFields f(post(R"({"i":"5","s":3})"));
  EXPECT_EQ(f.integer("i", true, 0, 10), std::nullopt);
  EXPECT_EQ(f.string("s", true), std::nullopt);
  EXPECT_FALSE(f.ok());
  EXPECT_EQ(f.problem(), "field 'i' must be an integer from 0 to 10, got a string");
  Response r = f.error();
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("\"error\":\"invalid_request\""), std::string::npos);
}

TEST(BodyFields, ExplainsEachKindOfProblem) {
  auto problem = [](const std::string& body, auto read) {
    BodyFields f(post(body));
    read(f);
    return f.problem();
  };
  EXPECT_EQ(problem("", [](BodyFields&) {}).rfind("the request body is not valid JSON", 0), 0u);
  EXPECT_EQ(problem("5", [](BodyFields&) {}),
            "the request body must be a JSON object, got an integer");
  EXPECT_EQ(problem("{}", [](BodyFields& f) { f.string("id", true); }), "field 'id' is required");
  EXPECT_EQ(problem(R"({"id":""})", [](BodyFields& f) { f.string("id", true); }),
            "field 'id' must not be empty");
  EXPECT_EQ(problem(R"({"w":2000})", [](BodyFields& f) { f.integer("w", false, 0, 1000); }),
            "field 'w' must be an integer from 0 to 1000, got 2000");
  EXPECT_EQ(problem(R"({"w":18446744073709551615})",
                    [](BodyFields& f) { f.integer("w", false, 0, 1000); }),
            "field 'w' must be an integer from 0 to 1000, got 18446744073709551615");
  EXPECT_EQ(problem(R"({"o":1})", [](BodyFields& f) { f.number("o.lat", false, -90, 90); }),
            "field 'o' must be an object, got an integer");
  EXPECT_EQ(problem(R"({"id":"a b"})", [](BodyFields& f) { f.identifier("id", true); }),
            "field 'id' must be 1 to 128 letters, digits, '.', '_', ':' or '-', got \"a b\"");
  EXPECT_EQ(problem(R"({"id":"eu-west_1.a:b"})", [](BodyFields& f) { f.identifier("id", true); }),
            "");
}

}  // namespace
}  // namespace fiberlb::admin
