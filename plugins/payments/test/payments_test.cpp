#include "payments.hpp"

#include <plexus/sdk/testing.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

using payments::CircuitBreaker;
using payments::GatewayResponse;
using plexus::Json;
using plexus::Status;
using plexus::Value;
using plexus::testing::FakeHost;
using plexus::testing::message;
using plexus::testing::SqlAnswer;
using plexus::testing::Statement;

namespace {

constexpr const char* kOrder = "0198c0de-0000-7000-8000-000000000001";
constexpr int64_t kNow = 1767225600000;  // 2026-01-01T00:00:00Z

// In-memory payments_payments, answering exactly the plugin's statements.
struct Model {
  // Columns in kSelectPayment order.
  std::map<std::string, std::vector<Value>> rows;
  SqlAnswer operator()(const Statement& st) {
    using namespace payments::sql;
    const auto& p = st.params;
    SqlAnswer a;
    if (st.sql == kSelectPayment) {
      auto it = rows.find(p.at(0).asText());
      if (it != rows.end()) a.rows.push_back(it->second);
    } else if (st.sql == kInsertPayment) {
      // (order, payment, txn, status, cents, currency, method, error, reason, processed, key,
      // customer)
      std::vector<Value> r = {p[0], p[1], p[2], p[3],  p[4],    p[5],    p[6],
                              p[7], p[8], p[9], p[10], Value(), Value(), p[11]};
      a.affected = rows.emplace(p[0].asText(), r).second;
    } else if (st.sql == kMarkRefunded) {
      auto it = rows.find(p.at(3).asText());
      if (it != rows.end() && it->second[3].asText() == "Captured") {
        it->second[3] = Value("Refunded");
        it->second[11] = p[0];
        it->second[12] = p[1];
        a.affected = 1;
      }
    } else {
      ADD_FAILURE() << "unexpected SQL: " << st.sql;
    }
    return a;
  }
  std::string status(const std::string& order) { return rows.at(order)[3].asText(); }
};

Json pay(const std::string& method, Json amount = 89.97) {
  return Json{{"orderId", kOrder},
              {"customerId", "cust-1"},
              {"amount", amount},
              {"currency", "USD"},
              {"paymentMethod", method}};
}

struct Payments : ::testing::Test {
  explicit Payments(std::string config = "{}") : host(std::move(config)) {
    host.onSql([this](const Statement& st) { return model(st); });
    proc = host.create<payments::ProcessPayment>();
    refund = host.create<payments::RefundPayment>();
  }
  plexus::testing::HandleOutcome process(const Json& body, uint32_t attempt = 1,
                                         std::string id = "00000000-0000-7000-8000-00000000aaaa") {
    auto m = message("ProcessPayment", body, body.value("orderId", ""));
    m.attempt = attempt;
    m.id = std::move(id);
    return host.handle(*proc, m);
  }
  double calls(const std::string& outcome) {
    return host.metric("payments_gateway_calls_total", {outcome});
  }
  FakeHost host;
  Model model;
  std::unique_ptr<plexus::testing::Instance<payments::ProcessPayment>> proc;
  std::unique_ptr<plexus::testing::Instance<payments::RefundPayment>> refund;
};

struct SmallBreaker : Payments {
  SmallBreaker()
      : Payments(R"({"breaker_failure_threshold": 2, "breaker_open_ms": 10000,
                     "max_gateway_attempts": 3})") {}
};

}  // namespace

// ---- money and small helpers ----

TEST(Money, ParsesAtMostTwoDecimalsIntoCents) {
  EXPECT_EQ(payments::parseCents(Json(89.97)), 8997);
  EXPECT_EQ(payments::parseCents(Json(19.99)), 1999);
  EXPECT_EQ(payments::parseCents(Json(0.1)), 10);
  EXPECT_EQ(payments::parseCents(Json(5)), 500);
  EXPECT_EQ(payments::parseCents(Json(0)), 0);
  EXPECT_EQ(payments::parseCents(Json(1e6)), 100000000);
  EXPECT_FALSE(payments::parseCents(Json(1.234)));
  EXPECT_FALSE(payments::parseCents(Json(-1)));
  EXPECT_FALSE(payments::parseCents(Json(-0.5)));
  EXPECT_FALSE(payments::parseCents(Json("5.00")));
  EXPECT_FALSE(payments::parseCents(Json(true)));
  EXPECT_FALSE(payments::parseCents(Json(nullptr)));
  EXPECT_FALSE(payments::parseCents(Json(1e300)));
  // The worked example: 2 x 19.99 + 1 x 49.99 = 89.97.
  EXPECT_EQ(2 * *payments::parseCents(Json(19.99)) + *payments::parseCents(Json(49.99)), 8997);
}

TEST(Money, CentsTravelAsNumbersWithTwoDecimalsAtMost) {
  EXPECT_EQ(plexus::money::toJson(8997).dump(), "89.97");
  EXPECT_EQ(plexus::money::toJson(10).dump(), "0.1");
  EXPECT_EQ(plexus::money::toJson(500).dump(), "5");
  EXPECT_EQ(plexus::money::toJson(0).dump(), "0");
  for (int64_t c : {1, 7, 99, 101, 1999, 4999, 123456789}) {
    EXPECT_EQ(payments::parseCents(plexus::money::toJson(c)), c) << c;
  }
}

TEST(Helpers, CurrencyIdsTimeAndIdempotencyKey) {
  EXPECT_TRUE(payments::validCurrency("USD"));
  EXPECT_FALSE(payments::validCurrency("usd"));
  EXPECT_FALSE(payments::validCurrency("US"));
  EXPECT_TRUE(payments::validId("cust-1"));
  EXPECT_FALSE(payments::validId("cust 1"));
  EXPECT_EQ(plexus::rfc3339::format(kNow + 1), "2026-01-01T00:00:00.001Z");
  EXPECT_EQ(payments::idempotencyKey("abc"), "order-abc-payment");
}

TEST(Helpers, ParsePaymentDefaultsAndRejects) {
  auto p = payments::parsePayment(Json{{"orderId", kOrder}, {"customerId", "c"}, {"amount", 10}});
  EXPECT_EQ(p.currency, "USD");
  EXPECT_EQ(p.method, "card");
  EXPECT_EQ(p.amountCents, 1000);
  const std::vector<Json> bad = {
      Json::array(),
      Json{{"customerId", "c"}, {"amount", 1}},
      Json{{"orderId", kOrder}, {"amount", 1}},
      Json{{"orderId", kOrder}, {"customerId", "c c"}, {"amount", 1}},
      Json{{"orderId", kOrder}, {"customerId", "c"}},
      Json{{"orderId", kOrder}, {"customerId", "c"}, {"amount", "1"}},
      Json{{"orderId", kOrder}, {"customerId", "c"}, {"amount", 1.001}},
      Json{{"orderId", kOrder}, {"customerId", "c"}, {"amount", -1}},
      Json{{"orderId", kOrder}, {"customerId", "c"}, {"amount", 1}, {"currency", "usd"}},
      Json{{"orderId", kOrder}, {"customerId", "c"}, {"amount", 1}, {"currency", 840}},
      Json{{"orderId", kOrder}, {"customerId", "c"}, {"amount", 1}, {"paymentMethod", 7}},
  };
  for (const Json& b : bad) EXPECT_THROW(payments::parsePayment(b), plexus::BadRequest) << b.dump();
}

// ---- sandbox gateway ----

TEST(Gateway, IsDeterministicPerMethodAndKey) {
  payments::SandboxGateway g;
  using K = GatewayResponse::Kind;
  payments::Charge c{"order-1-payment", 100, "USD", "card", 1};
  auto a = g.charge(c);
  EXPECT_EQ(a.kind, K::Captured);
  EXPECT_EQ(a.transactionId, g.charge(c).transactionId);
  EXPECT_EQ(a.transactionId.rfind("txn_sandbox_", 0), 0u);
  c.idempotencyKey = "order-2-payment";
  EXPECT_NE(g.charge(c).transactionId, a.transactionId);
  c.method = "pm_card_declined";
  EXPECT_EQ(g.charge(c).kind, K::Declined);
  EXPECT_EQ(g.charge(c).errorCode, "card_declined");
  c.method = "pm_card_pending";
  EXPECT_EQ(g.charge(c).kind, K::Pending);
  c.method = "pm_card_network_error";
  for (uint32_t n : {1u, 2u, 3u, 10u}) {
    c.attempt = n;
    EXPECT_EQ(g.charge(c).kind, K::Transient);
  }
  c.method = "pm_card_network_error_once";
  c.attempt = 1;
  EXPECT_EQ(g.charge(c).kind, K::Transient);
  c.attempt = 2;
  EXPECT_EQ(g.charge(c).kind, K::Transient);
  c.attempt = 3;
  EXPECT_EQ(g.charge(c).kind, K::Captured);
}

// ---- circuit breaker (injected clock) ----

TEST(Breaker, OpensAfterThresholdFailsFastThenHalfOpens) {
  int64_t now = 1000;
  CircuitBreaker b(3, 500, [&] { return now; });
  for (int i = 0; i < 2; ++i) {
    EXPECT_TRUE(b.allow());
    b.onTransientFailure();
  }
  EXPECT_EQ(b.state(), CircuitBreaker::State::Closed);
  EXPECT_TRUE(b.allow());
  b.onTransientFailure();
  EXPECT_EQ(b.state(), CircuitBreaker::State::Open);
  EXPECT_FALSE(b.allow());
  now += 499;
  EXPECT_FALSE(b.allow());
  now += 1;
  EXPECT_TRUE(b.allow());  // the probe
  EXPECT_EQ(b.state(), CircuitBreaker::State::HalfOpen);
  EXPECT_FALSE(b.allow());  // one probe at a time
  b.onSuccess();
  EXPECT_EQ(b.state(), CircuitBreaker::State::Closed);
  EXPECT_TRUE(b.allow());
}

TEST(Breaker, AFailedProbeReopensForAnotherPeriod) {
  int64_t now = 0;
  CircuitBreaker b(1, 100, [&] { return now; });
  b.onTransientFailure();
  EXPECT_FALSE(b.allow());
  now = 100;
  EXPECT_TRUE(b.allow());
  b.onTransientFailure();
  EXPECT_EQ(b.state(), CircuitBreaker::State::Open);
  now = 150;
  EXPECT_FALSE(b.allow());
  now = 200;
  EXPECT_TRUE(b.allow());
}

TEST(Breaker, SuccessResetsTheConsecutiveCount) {
  int64_t now = 0;
  CircuitBreaker b(3, 100, [&] { return now; });
  b.onTransientFailure();
  b.onTransientFailure();
  b.onSuccess();
  b.onTransientFailure();
  b.onTransientFailure();
  EXPECT_EQ(b.state(), CircuitBreaker::State::Closed);
  b.onTransientFailure();
  EXPECT_EQ(b.state(), CircuitBreaker::State::Open);
}

TEST(Breaker, CountsExactlyUnderConcurrency) {
  constexpr int kThreads = 8, kEach = 2000;
  std::atomic<int64_t> now{0};
  CircuitBreaker b(kThreads * kEach, 100, [&] { return now.load(); });
  auto hammer = [&](int n) {
    std::vector<std::thread> ts;
    for (int t = 0; t < kThreads; ++t) {
      ts.emplace_back([&] {
        for (int i = 0; i < n; ++i) {
          b.allow();
          b.onTransientFailure();
        }
      });
    }
    for (auto& t : ts) t.join();
  };
  hammer(kEach - 1);
  EXPECT_EQ(b.state(), CircuitBreaker::State::Closed);
  for (int i = 0; i < kThreads - 1; ++i) b.onTransientFailure();
  EXPECT_EQ(b.state(), CircuitBreaker::State::Closed);
  b.onTransientFailure();
  EXPECT_EQ(b.state(), CircuitBreaker::State::Open);
}

// ---- ProcessPayment ----

TEST_F(Payments, CapturesAndEmitsPaymentProcessed) {
  auto out = process(pay("pm_card_visa"));
  ASSERT_EQ(out.status, Status::Ok) << out.detail;
  ASSERT_EQ(host.emitted().size(), 1u);
  const auto& e = host.emitted()[0];
  EXPECT_EQ(e.type, "PaymentProcessed");
  EXPECT_EQ(e.stream, kOrder);
  EXPECT_EQ(e.payload["orderId"], kOrder);
  EXPECT_EQ(e.payload["amount"].dump(), "89.97");
  EXPECT_EQ(e.payload["currency"], "USD");
  EXPECT_EQ(e.payload["paymentMethod"], "pm_card_visa");
  EXPECT_EQ(e.payload["status"], "Captured");
  EXPECT_EQ(e.payload["processedAt"], "2026-01-01T00:00:00.000Z");
  EXPECT_TRUE(e.payload["paymentId"].is_string());
  EXPECT_EQ(e.payload["transactionId"].get<std::string>().rfind("txn_sandbox_", 0), 0u);
  EXPECT_EQ(model.status(kOrder), "Captured");
  EXPECT_EQ(model.rows[kOrder][4].asInt(), 8997);
  EXPECT_EQ(model.rows[kOrder][10].asText(), std::string("order-") + kOrder + "-payment");
  EXPECT_EQ(calls("captured"), 1.0);
  EXPECT_EQ(host.metric("payments_processed_total", {"captured"}), 1.0);
}

TEST_F(Payments, DefaultsCurrencyAndMethod) {
  ASSERT_EQ(process(Json{{"orderId", kOrder}, {"customerId", "c"}, {"amount", 12}}).status,
            Status::Ok);
  EXPECT_EQ(host.emitted()[0].payload["currency"], "USD");
  EXPECT_EQ(host.emitted()[0].payload["paymentMethod"], "card");
  EXPECT_EQ(host.emitted()[0].payload["amount"], 12);
}

TEST_F(Payments, RedeliveryReEmitsTheStoredOutcomeWithoutCallingTheGateway) {
  ASSERT_EQ(process(pay("card")).status, Status::Ok);
  host.advanceMs(60000);
  ASSERT_EQ(process(pay("card"), 2).status, Status::Ok);
  ASSERT_EQ(process(pay("pm_card_declined"), 1, "another-command-id").status, Status::Ok);
  ASSERT_EQ(host.emitted().size(), 3u);
  EXPECT_EQ(host.emitted()[1].type, "PaymentProcessed");
  EXPECT_EQ(host.emitted()[1].payload, host.emitted()[0].payload);
  EXPECT_EQ(host.emitted()[2].payload, host.emitted()[0].payload);
  EXPECT_EQ(calls("captured"), 1.0);
  EXPECT_EQ(calls("declined"), 0.0);
  EXPECT_EQ(host.metric("payments_processed_total", {"replayed"}), 2.0);
}

TEST_F(Payments, DeclinedCardFailsAtOnceAndStaysFailed) {
  auto out = process(pay("pm_card_declined"));
  ASSERT_EQ(out.status, Status::Ok) << out.detail;
  ASSERT_EQ(host.emitted().size(), 1u);
  const auto e = host.emitted()[0];  // a copy: emitted() grows below
  EXPECT_EQ(e.type, "PaymentFailed");
  EXPECT_EQ(e.stream, kOrder);
  EXPECT_EQ(e.payload["errorCode"], "card_declined");
  EXPECT_EQ(e.payload["failedAt"], "2026-01-01T00:00:00.000Z");
  EXPECT_TRUE(e.payload["paymentId"].is_string());
  EXPECT_TRUE(e.payload["reason"].is_string());
  EXPECT_EQ(model.status(kOrder), "Failed");
  // A repeat, even with a good card, re-emits the failure.
  ASSERT_EQ(process(pay("pm_card_visa"), 1, "other-id").status, Status::Ok);
  ASSERT_EQ(host.emitted().size(), 2u);
  EXPECT_EQ(host.emitted()[1].type, "PaymentFailed");
  EXPECT_EQ(host.emitted()[1].payload, e.payload);
  EXPECT_EQ(calls("declined"), 1.0);
  EXPECT_EQ(calls("captured"), 0.0);
}

TEST_F(Payments, NetworkErrorRetriesUntilTheBudgetThenFails) {
  EXPECT_EQ(process(pay("pm_card_network_error"), 1).status, Status::Retry);
  EXPECT_EQ(process(pay("pm_card_network_error"), 2).status, Status::Retry);
  EXPECT_TRUE(host.emitted().empty());
  EXPECT_TRUE(model.rows.empty());
  auto out = process(pay("pm_card_network_error"), 3);
  ASSERT_EQ(out.status, Status::Ok) << out.detail;
  ASSERT_EQ(host.emitted().size(), 1u);
  EXPECT_EQ(host.emitted()[0].type, "PaymentFailed");
  EXPECT_EQ(host.emitted()[0].payload["errorCode"], "network_error");
  EXPECT_EQ(model.status(kOrder), "Failed");
  EXPECT_EQ(calls("transient"), 3.0);
}

TEST(PaymentsConfig, MaxGatewayAttemptsComesFromConfig) {
  FakeHost host(R"({"max_gateway_attempts": 5})");
  Model model;
  host.onSql([&](const Statement& st) { return model(st); });
  auto proc = host.create<payments::ProcessPayment>();
  for (uint32_t a = 1; a <= 4; ++a) {
    auto m = message("ProcessPayment", pay("pm_card_network_error"), kOrder);
    m.attempt = a;
    EXPECT_EQ(host.handle(*proc, m).status, Status::Retry) << a;
  }
  auto m = message("ProcessPayment", pay("pm_card_network_error"), kOrder);
  m.attempt = 5;
  EXPECT_EQ(host.handle(*proc, m).status, Status::Ok);
  EXPECT_EQ(host.emitted().at(0).type, "PaymentFailed");
}

TEST(PaymentsConfig, BadConfigRefusesToStart) {
  FakeHost host(R"({"max_gateway_attempts": 0})");
  EXPECT_THROW(host.create<payments::ProcessPayment>(), std::runtime_error);
  FakeHost host2(R"({"breaker_open_ms": "long"})");
  EXPECT_THROW(host2.create<payments::ProcessPayment>(), std::runtime_error);
}

TEST_F(Payments, NetworkErrorOnceIsCapturedOnTheThirdAttempt) {
  EXPECT_EQ(process(pay("pm_card_network_error_once"), 1).status, Status::Retry);
  EXPECT_EQ(process(pay("pm_card_network_error_once"), 2).status, Status::Retry);
  ASSERT_EQ(process(pay("pm_card_network_error_once"), 3).status, Status::Ok);
  ASSERT_EQ(host.emitted().size(), 1u);
  EXPECT_EQ(host.emitted()[0].type, "PaymentProcessed");
  EXPECT_EQ(model.status(kOrder), "Captured");
}

TEST_F(Payments, PendingEmitsNothingAndStoresNothing) {
  auto out = process(pay("pm_card_pending"));
  ASSERT_EQ(out.status, Status::Ok);
  EXPECT_TRUE(host.emitted().empty());
  EXPECT_TRUE(host.sent().empty());
  EXPECT_TRUE(model.rows.empty());
  EXPECT_EQ(calls("pending"), 1.0);
}

TEST_F(Payments, RejectsInvalidCommandsWithoutCallingTheGateway) {
  EXPECT_EQ(process(pay("card", 1.234)).status, Status::Reject);
  EXPECT_EQ(process(pay("card", -5)).status, Status::Reject);
  EXPECT_EQ(process(pay("card", "5")).status, Status::Reject);
  EXPECT_EQ(process(Json{{"orderId", kOrder}, {"amount", 5}}).status, Status::Reject);
  EXPECT_TRUE(host.emitted().empty());
  EXPECT_EQ(calls("captured"), 0.0);
}

TEST_F(SmallBreaker, OpenBreakerFailsFastWithRetryThenRecovers) {
  // Two transient failures (another order) open the breaker.
  Json other = pay("pm_card_network_error");
  other["orderId"] = "other-order";
  EXPECT_EQ(process(other, 1).status, Status::Retry);
  EXPECT_EQ(process(other, 2).status, Status::Retry);
  EXPECT_EQ(proc->component().breaker().state(), CircuitBreaker::State::Open);
  // A healthy payment now fails fast: retry, gateway not called.
  EXPECT_EQ(process(pay("pm_card_visa"), 1).status, Status::Retry);
  EXPECT_EQ(calls("short_circuited"), 1.0);
  EXPECT_EQ(calls("captured"), 0.0);
  // After breaker_open_ms the probe goes through and closes the breaker.
  host.advanceMs(10000);
  ASSERT_EQ(process(pay("pm_card_visa"), 2).status, Status::Ok);
  EXPECT_EQ(host.emitted().at(0).type, "PaymentProcessed");
  EXPECT_EQ(proc->component().breaker().state(), CircuitBreaker::State::Closed);
}

TEST_F(SmallBreaker, OpenBreakerOnTheLastAttemptFailsThePayment) {
  Json other = pay("pm_card_network_error");
  other["orderId"] = "other-order";
  process(other, 1);
  process(other, 2);
  auto out = process(pay("pm_card_visa"), 3);
  ASSERT_EQ(out.status, Status::Ok);
  ASSERT_EQ(host.emitted().size(), 1u);
  EXPECT_EQ(host.emitted()[0].type, "PaymentFailed");
  EXPECT_EQ(host.emitted()[0].payload["errorCode"], "gateway_unavailable");
}

// ---- RefundPayment ----

TEST_F(Payments, RefundsACapturedPaymentOnceAndReplaysTheRefund) {
  ASSERT_EQ(process(pay("card")).status, Status::Ok);
  const Json processed = host.emitted()[0].payload;
  host.clearOutgoing();
  host.advanceMs(2000);
  auto m =
      message("RefundPayment", Json{{"orderId", kOrder}, {"reason", "Shipment failed"}}, kOrder);
  auto out = host.handle(*refund, m);
  ASSERT_EQ(out.status, Status::Ok) << out.detail;
  ASSERT_EQ(host.emitted().size(), 1u);
  const Json e = host.emitted()[0].payload;
  EXPECT_EQ(host.emitted()[0].type, "PaymentRefunded");
  EXPECT_EQ(host.emitted()[0].stream, kOrder);
  EXPECT_EQ(e["orderId"], kOrder);
  EXPECT_EQ(e["paymentId"], processed["paymentId"]);
  EXPECT_EQ(e["amount"].dump(), "89.97");
  EXPECT_EQ(e["refundedAt"], "2026-01-01T00:00:02.000Z");
  EXPECT_TRUE(e["refundId"].is_string());
  EXPECT_EQ(model.status(kOrder), "Refunded");
  // Again: the same refund, no second one.
  host.advanceMs(2000);
  host.handle(*refund, m);
  ASSERT_EQ(host.emitted().size(), 2u);
  EXPECT_EQ(host.emitted()[1].payload, e);
  EXPECT_EQ(host.metric("payments_refunds_total", {"refunded"}), 1.0);
  EXPECT_EQ(host.metric("payments_refunds_total", {"replayed"}), 1.0);
  // ProcessPayment after the refund does not restart the flow.
  host.clearOutgoing();
  ASSERT_EQ(process(pay("card"), 1, "late").status, Status::Ok);
  EXPECT_TRUE(host.emitted().empty());
}

TEST_F(Payments, RefundWithNothingCapturedStillAnswers) {
  auto out = host.handle(
      *refund, message("RefundPayment", Json{{"orderId", kOrder}, {"reason", "x"}}, kOrder));
  ASSERT_EQ(out.status, Status::Ok);
  ASSERT_EQ(host.emitted().size(), 1u);
  const Json e = host.emitted()[0].payload;
  EXPECT_EQ(host.emitted()[0].type, "PaymentRefunded");
  EXPECT_EQ(e["amount"], 0);
  EXPECT_FALSE(e.contains("paymentId"));
  EXPECT_TRUE(e["refundId"].is_string());
  EXPECT_TRUE(model.rows.empty());
  EXPECT_EQ(host.metric("payments_refunds_total", {"nothing_captured"}), 1.0);
}

TEST_F(Payments, RefundOfAFailedPaymentRefundsNothing) {
  process(pay("pm_card_declined"));
  host.clearOutgoing();
  host.handle(*refund, message("RefundPayment", Json{{"orderId", kOrder}}, kOrder));
  ASSERT_EQ(host.emitted().size(), 1u);
  EXPECT_EQ(host.emitted()[0].payload["amount"], 0);
  EXPECT_EQ(model.status(kOrder), "Failed");
}

TEST_F(Payments, RefundRejectsABadOrderId) {
  EXPECT_EQ(host.handle(*refund, message("RefundPayment", Json{{"reason", "x"}}, kOrder)).status,
            Status::Reject);
  EXPECT_TRUE(host.emitted().empty());
}
