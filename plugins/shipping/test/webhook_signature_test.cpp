// The carrier webhook's HMAC-SHA256 signature: the primitives against published vectors, the
// pure check, and the route answering 401 before it parses the body.
#include "webhook_signature.hpp"
#include "shipping.hpp"

#include <plexus/sdk/testing.hpp>

#include <gtest/gtest.h>

#include <string>

namespace {

using plexus::Json;
using plexus::testing::FakeHost;
using plexus::testing::TestRequest;
using shipping::Refusal;

const std::string kSecret = "test-webhook-secret-0123456789abcdef";
constexpr int64_t kNowMs = 1767225600000;  // FakeHost's clock, 2026-01-01T00:00:00Z
const std::string kNowSeconds = "1767225600";

std::string sign(const std::string& secret, const std::string& ts, const std::string& body) {
  return "sha256=" + shipping::toHex(shipping::hmacSha256(secret, ts + "." + body));
}

shipping::WebhookKeys keys() { return shipping::webhookKeys(Json{{"webhook_secret", kSecret}}); }

}  // namespace

TEST(Sha256, MatchesFips180Vectors) {
  using shipping::sha256;
  using shipping::toHex;
  EXPECT_EQ(toHex(sha256("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(toHex(sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(toHex(sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(toHex(sha256(std::string(1000000, 'a'))),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, PadsEveryLengthAroundABlockBoundary) {
  const std::pair<size_t, const char*> cases[] = {
      {55, "d5e285683cd4efc02d021a5c62014694958901005d6f71e89e0989fac77e4072"},
      {56, "04c26261370ee7541549d16dee320c723e3fd14671e66a099afe0a377c16888e"},
      {63, "75220b47218278e656f2013bb8f0c455a25eaf01e86c64924e9d48d89776d6f2"},
      {64, "7ce100971f64e7001e8fe5a51973ecdfe1ced42befe7ee8d5fd6219506b5393c"},
      {65, "9537c5fdf120482f7d58d25e9ed583f52c02b4e304ea814db1633ad565aed7e9"},
      {119, "000b48d4edf0fa7bee3c6236ecd2785baa5db4eeb8bb54341b029e0d9fa5fb0c"},
      {120, "13f05a0b594787f5ecd315edc96141bd3243203d1b7d4f0836f37308b276ba98"}};
  for (const auto& [n, want] : cases) {
    EXPECT_EQ(shipping::toHex(shipping::sha256(std::string(n, 'x'))), want) << n << " bytes";
  }
}

TEST(HmacSha256, MatchesRfc4231Vectors) {
  using shipping::hmacSha256;
  using shipping::toHex;
  EXPECT_EQ(toHex(hmacSha256(std::string(20, '\x0b'), "Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  EXPECT_EQ(toHex(hmacSha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // A key longer than a block is hashed first (RFC 4231 test case 6).
  EXPECT_EQ(toHex(hmacSha256(std::string(131, '\xaa'),
                             "Test Using Larger Than Block-Size Key - Hash Key First")),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
  EXPECT_EQ(toHex(hmacSha256(std::string(64, 'k'), "exactly one block key")),
            "e73e6474ed2f863bbf5500617c3b577e141d3c1543e1563f3630b762d038f14c");
}

TEST(ConstantTimeEquals, ComparesLengthAndEveryByte) {
  EXPECT_TRUE(shipping::constantTimeEquals("abc", "abc"));
  EXPECT_FALSE(shipping::constantTimeEquals("abc", "abd"));
  EXPECT_FALSE(shipping::constantTimeEquals("xbc", "abc"));
  EXPECT_FALSE(shipping::constantTimeEquals("abc", "abcd"));
  EXPECT_TRUE(shipping::constantTimeEquals("", ""));
}

TEST(VerifyWebhook, AcceptsAFreshSignatureOfTheRawBody) {
  const std::string body = R"({"trackingNumber": "SBX1"})";
  EXPECT_EQ(
      shipping::verifyWebhook(keys(), kNowSeconds, sign(kSecret, kNowSeconds, body), body, kNowMs),
      Refusal::None);
}

TEST(VerifyWebhook, RefusesWhatIsNotSignedByTheSecret) {
  const std::string body = R"({"status": "Delivered"})";
  const std::string good = sign(kSecret, kNowSeconds, body);
  EXPECT_EQ(shipping::verifyWebhook(keys(), std::nullopt, good, body, kNowMs), Refusal::Missing);
  EXPECT_EQ(shipping::verifyWebhook(keys(), kNowSeconds, std::nullopt, body, kNowMs),
            Refusal::Missing);
  EXPECT_EQ(shipping::verifyWebhook(keys(), "soon", good, body, kNowMs), Refusal::Malformed);
  EXPECT_EQ(shipping::verifyWebhook(keys(), kNowSeconds, "md5=abc", body, kNowMs),
            Refusal::Malformed);
  EXPECT_EQ(shipping::verifyWebhook(keys(), kNowSeconds, good.substr(0, 70), body, kNowMs),
            Refusal::Malformed);
  // One changed byte of the body, another secret, another timestamp: all mismatches.
  EXPECT_EQ(shipping::verifyWebhook(keys(), kNowSeconds, good, body + " ", kNowMs),
            Refusal::Mismatch);
  EXPECT_EQ(shipping::verifyWebhook(keys(), kNowSeconds, sign(kSecret + "x", kNowSeconds, body),
                                    body, kNowMs),
            Refusal::Mismatch);
  EXPECT_EQ(shipping::verifyWebhook(keys(), "1767225601", good, body, kNowMs), Refusal::Mismatch);
  // Upper-case hex is not the documented form.
  std::string upper = good;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  upper.replace(0, 7, "sha256=");
  EXPECT_EQ(shipping::verifyWebhook(keys(), kNowSeconds, upper, body, kNowMs), Refusal::Malformed);
}

TEST(VerifyWebhook, ReplayWindowIsTheTolerance) {
  const std::string body = "{}";
  auto at = [&](int64_t secondsAgo) {
    const std::string ts = std::to_string(kNowMs / 1000 - secondsAgo);
    return shipping::verifyWebhook(keys(), ts, sign(kSecret, ts, body), body, kNowMs);
  };
  EXPECT_EQ(at(300), Refusal::None);
  EXPECT_EQ(at(-300), Refusal::None);  // a sender's clock slightly ahead
  EXPECT_EQ(at(301), Refusal::Stale);
  EXPECT_EQ(at(-301), Refusal::Stale);
  EXPECT_EQ(at(86400), Refusal::Stale);
}

TEST(VerifyWebhook, RotationAcceptsThePreviousSecretAndSeveralSignatures) {
  const std::string body = "{}";
  const std::string old = "the-previous-webhook-secret-0123456789";
  const auto k = shipping::webhookKeys(Json{{"webhook_secret", kSecret},
                                            {"webhook_previous_secret", old},
                                            {"webhook_tolerance_seconds", "60"}});
  EXPECT_EQ(k.toleranceSeconds, 60);
  EXPECT_EQ(shipping::verifyWebhook(k, kNowSeconds, sign(old, kNowSeconds, body), body, kNowMs),
            Refusal::None);
  const std::string both = sign("some-other-secret-nobody-configured-x", kNowSeconds, body) + ", " +
                           sign(kSecret, kNowSeconds, body);
  EXPECT_EQ(shipping::verifyWebhook(k, kNowSeconds, both, body, kNowMs), Refusal::None);
  EXPECT_EQ(
      shipping::verifyWebhook(keys(), kNowSeconds, sign(old, kNowSeconds, body), body, kNowMs),
      Refusal::Mismatch);
}

TEST(WebhookKeys, RefusesMissingShortOrBadSettings) {
  EXPECT_THROW(shipping::webhookKeys(Json::object()), std::invalid_argument);
  EXPECT_THROW(shipping::webhookKeys(Json{{"webhook_secret", "short"}}), std::invalid_argument);
  EXPECT_THROW(shipping::webhookKeys(Json{{"webhook_secret", 42}}), std::invalid_argument);
  EXPECT_THROW(
      shipping::webhookKeys(Json{{"webhook_secret", kSecret}, {"webhook_previous_secret", "x"}}),
      std::invalid_argument);
  EXPECT_THROW(
      shipping::webhookKeys(Json{{"webhook_secret", kSecret}, {"webhook_tolerance_seconds", 0}}),
      std::invalid_argument);
  EXPECT_THROW(shipping::webhookKeys(
                   Json{{"webhook_secret", kSecret}, {"webhook_tolerance_seconds", "forever"}}),
               std::invalid_argument);
}

// Through the route as the host drives it: 401 before the body is parsed, counted by reason.
TEST(TrackingWebhookSignature, UnsignedOrForgedRequestsGet401AndAreCounted) {
  FakeHost host(Json{{"webhook_secret", kSecret}}.dump());
  int statements = 0;
  host.onSql([&](const plexus::testing::Statement&) {
    ++statements;
    return plexus::testing::SqlAnswer{};
  });
  auto route = host.create<shipping::FedexTrackingWebhook>();
  TestRequest rq;
  rq.method = "POST";
  rq.path = "/api/webhooks/fedex/tracking";
  rq.body = "not even JSON";  // a 400 would show the body was parsed first
  auto out = host.request(*route, rq);
  EXPECT_EQ(out.httpStatus, 401);
  EXPECT_NE(out.json()["error"].get<std::string>().find("webhook signature missing"),
            std::string::npos)
      << out.body;
  rq.headers["X-Webhook-Timestamp"] = kNowSeconds;
  rq.headers["X-Webhook-Signature"] =
      sign("forged-secret-forged-secret-forged-secret", kNowSeconds, rq.body);
  EXPECT_EQ(host.request(*route, rq).httpStatus, 401);
  rq.headers["X-Webhook-Timestamp"] = "1767200000";
  rq.headers["X-Webhook-Signature"] = sign(kSecret, "1767200000", rq.body);
  EXPECT_EQ(host.request(*route, rq).httpStatus, 401);
  EXPECT_EQ(host.metric("shipping_webhook_refused_total", {"missing"}), 1.0);
  EXPECT_EQ(host.metric("shipping_webhook_refused_total", {"mismatch"}), 1.0);
  EXPECT_EQ(host.metric("shipping_webhook_refused_total", {"stale"}), 1.0);
  EXPECT_EQ(statements, 0);
  // Signed correctly, the same body reaches the parser (and is refused there with 400).
  rq.headers["X-Webhook-Timestamp"] = kNowSeconds;
  rq.headers["X-Webhook-Signature"] = sign(kSecret, kNowSeconds, rq.body);
  EXPECT_EQ(host.request(*route, rq).httpStatus, 400);
}

TEST(TrackingWebhookSignature, RouteWithoutASecretDoesNotStart) {
  FakeHost host("{}");
  EXPECT_ANY_THROW(host.create<shipping::FedexTrackingWebhook>());
}
