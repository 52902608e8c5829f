#include "notifications.hpp"

#include <plexus/sdk/testing.hpp>

#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketStream.h>
#include <Poco/Net/StreamSocket.h>

#include <gtest/gtest.h>

#include <map>
#include <thread>
#include <tuple>

using plexus::Json;
using plexus::Row;
using plexus::Status;
using plexus::testing::FakeHost;
using plexus::testing::message;
using plexus::testing::SqlAnswer;
using plexus::testing::Statement;

namespace {

const std::string kOrder = "0198a000-0000-7000-8000-00000000000a";

// An in-memory model of the notifications tables, answering the plugin's statements.
struct Db {
  struct Contact {
    std::string customerId, email, phone;
  };
  struct Send {
    std::string id, orderId, type, channel, recipient, subject, body, status, provider, error;
    int64_t attempts = 0;
    std::optional<int64_t> sentAt;
  };
  std::map<std::string, Contact> contacts;
  std::map<std::tuple<std::string, std::string, std::string>, Send> sends;
  std::map<std::string, std::string> attempts;  // attempt id -> outcome
  int unknown = 0;
  bool failSql = false;
  std::string failOn;  // statements containing this fail with RETRY (a commit that never happens)

  static bool has(const Statement& s, const char* t) { return s.sql.find(t) != std::string::npos; }
  // A duplicate key is a constraint error unless the statement says ON CONFLICT ... DO NOTHING.
  static SqlAnswer duplicate(const Statement& s, const char* conflict) {
    if (has(s, conflict)) return SqlAnswer{};
    return SqlAnswer{Status::Reject, {}, 0, "UNIQUE constraint failed"};
  }

  Send* byId(const std::string& id) {
    for (auto& [k, s] : sends) {
      if (s.id == id) return &s;
    }
    return nullptr;
  }

  SqlAnswer answer(const Statement& s) {
    if (failSql || (!failOn.empty() && has(s, failOn.c_str())))
      return SqlAnswer{Status::Retry, {}, 0, "database is restarting"};
    SqlAnswer a;
    const auto& p = s.params;
    if (has(s, "INSERT INTO notifications_contacts")) {
      if (contacts.count(p.at(0).asText()) != 0) {
        return duplicate(s, "ON CONFLICT (order_id) DO NOTHING");
      }
      {
        contacts[p.at(0).asText()] = {p.at(1).asText(), p.at(2).asText(), p.at(3).asText()};
        a.affected = 1;
      }
    } else if (has(s, "SELECT email, phone FROM notifications_contacts")) {
      auto it = contacts.find(p.at(0).asText());
      if (it != contacts.end()) {
        a.rows.push_back(Row{it->second.email, it->second.phone.empty()
                                                   ? plexus::Value()
                                                   : plexus::Value(it->second.phone)});
      }
    } else if (has(s, "INSERT INTO notifications_sends")) {
      auto key = std::make_tuple(p.at(1).asText(), p.at(2).asText(), p.at(3).asText());
      if (sends.count(key) != 0)
        return duplicate(s, "ON CONFLICT (order_id, type, channel) DO NOTHING");
      {
        Send x;
        x.id = p.at(0).asText();
        x.orderId = p.at(1).asText();
        x.type = p.at(2).asText();
        x.channel = p.at(3).asText();
        x.recipient = p.at(4).asText();
        x.subject = p.at(5).asText();
        x.body = p.at(6).asText();
        x.status = "Pending";
        sends[key] = x;
        a.affected = 1;
      }
    } else if (has(s, "INSERT INTO notifications_attempts")) {
      if (attempts.count(p.at(0).asText()) != 0)
        return duplicate(s, "ON CONFLICT (attempt_id) DO NOTHING");
      attempts.emplace(p.at(0).asText(), p.at(4).asText());
      a.affected = 1;
    } else if (has(s, "FROM notifications_sends WHERE notification_id")) {
      if (Send* x = byId(p.at(0).asText())) {
        a.rows.push_back(Row{x->orderId, x->type, x->channel, x->recipient, x->subject, x->body,
                             x->status, x->attempts});
      }
    } else if (has(s, "UPDATE notifications_sends SET attempts = attempts + 1")) {
      Send* x = byId(p.at(3).asText());
      if (x != nullptr && x->status == "Pending" && has(s, "AND status = 'Pending'")) {
        x->attempts += 1;
        x->provider = p.at(0).asText();
        x->error = p.at(1).isNull() ? "" : p.at(1).asText();
        a.affected = 1;
      }
    } else if (has(s, "UPDATE notifications_sends SET status")) {
      Send* x = byId(p.at(5).asText());
      if (x != nullptr && (x->status == "Pending" || !has(s, "AND status = 'Pending'"))) {
        x->status = p.at(0).asText();
        x->attempts += 1;
        x->provider = p.at(1).asText();
        x->error = p.at(2).isNull() ? "" : p.at(2).asText();
        if (!p.at(3).isNull()) x->sentAt = p.at(3).asInt();
        a.affected = 1;
      }
    } else {
      ++unknown;
    }
    return a;
  }
};

struct FakeEmail final : notifications::EmailSender {
  struct Mail {
    std::string to, subject, body, messageId;
  };
  std::vector<Mail> mails;
  bool fail = false;
  int transientFailures = 0;  // the next N sends fail with a temporary error
  bool throws = false;
  notifications::SendOutcome send(const std::string& to, const std::string& subject,
                                  const std::string& body, const std::string& messageId) override {
    if (throws) throw std::runtime_error("mail server exploded");
    mails.push_back({to, subject, body, messageId});
    if (fail) return {false, "fake-smtp", {}, "550 mailbox unavailable", false};
    if (transientFailures > 0) {
      --transientFailures;
      return {false, "fake-smtp", {}, "421 try again later", true};
    }
    return {true, "fake-smtp", messageId, {}, false};
  }
};

struct FakeSms final : notifications::SmsSender {
  std::vector<std::pair<std::string, std::string>> messages;
  std::vector<std::string> references;
  notifications::SendOutcome send(const std::string& to, const std::string& text,
                                  const std::string& reference) override {
    messages.emplace_back(to, text);
    references.push_back(reference);
    return {true, "fake-sms", reference, {}, false};
  }
};

Json orderCreated(const std::string& orderId = kOrder) {
  return Json{
      {"orderId", orderId},
      {"customerId", "cust-1"},
      {"items",
       Json::array(
           {Json{{"productId", "p1"}, {"quantity", 2}, {"unitPrice", 19.99}, {"lineTotal", 39.98}},
            Json{{"productId", "p2"},
                 {"quantity", 1},
                 {"unitPrice", 49.99},
                 {"lineTotal", 49.99}}})},
      {"totalAmount", 89.97},
      {"currency", "USD"},
      {"paymentMethod", "card"},
      {"customerEmail", "ada@example.org"},
      {"customerPhone", "+1 555 0100"},
      {"createdAt", "2026-01-01T00:00:00.000Z"}};
}

Json paymentProcessed(const std::string& orderId = kOrder) {
  return Json{{"orderId", orderId},      {"paymentId", "pay-1"},
              {"transactionId", "tx-1"}, {"amount", 89.97},
              {"currency", "USD"},       {"paymentMethod", "card"},
              {"status", "Captured"},    {"processedAt", "2026-01-01T00:00:01.000Z"}};
}

Json shipmentCreated(const std::string& orderId = kOrder) {
  return Json{{"orderId", orderId},
              {"shipmentId", "ship-1"},
              {"carrier", "FedEx-Sandbox"},
              {"trackingNumber", "SBX00000000000000000042"},
              {"labelUrl", "https://sandbox.fedex.example/labels/x.pdf"},
              {"shippingCost", 9.99},
              {"estimatedDelivery", "2026-01-04T00:00:00.000Z"},
              {"createdAt", "2026-01-01T00:00:02.000Z"}};
}

Json orderCancelled(const std::string& orderId = kOrder) {
  return Json{{"orderId", orderId},
              {"reason", "Insufficient inventory"},
              {"cancelledAt", "2026-01-01T00:00:03.000Z"}};
}

struct Fixture {
  explicit Fixture(const std::string& config = "{}", bool fakes = true) : host(config) {
    host.onSql([this](const Statement& s) { return db.answer(s); });
    reactor = host.create<notifications::NotificationReactor>();
    deliverer = host.create<notifications::DeliverNotification>();
    recorder = host.create<notifications::RecordNotification>();
    if (fakes) deliverer->component().setSenders(email, sms);
  }
  // Handles an event; by default also delivers the DeliverNotification commands it sent, as the
  // outbox would.
  plexus::testing::HandleOutcome event(const std::string& type, const Json& payload,
                                       uint32_t attempt = 1, const std::string& id = "evt-1",
                                       bool deliver = true) {
    const bool named =
        payload.is_object() && payload.contains("orderId") && payload["orderId"].is_string();
    auto m = message(type, payload, named ? payload["orderId"].get<std::string>() : "s");
    m.attempt = attempt;
    m.id = id;
    const size_t before = host.sent().size();
    auto out = host.handle(*reactor, m);
    if (deliver) deliverFrom(before);
    return out;
  }
  // One delivery of a DeliverNotification command. The in-memory tables roll back with the
  // call, as the host's transaction would.
  plexus::testing::HandleOutcome deliverOne(const plexus::testing::Outgoing& cmd,
                                            uint32_t attempt = 1) {
    const Db saved = db;
    auto m = message(cmd.type, cmd.payload, cmd.stream);
    m.id = "cmd-" + std::to_string(++deliveries);
    m.attempt = attempt;
    auto out = host.handle(*deliverer, m);
    if (out.status != Status::Ok) {
      const std::string failOn = db.failOn;
      db = saved;
      db.failOn = failOn;
    }
    return out;
  }
  void deliverFrom(size_t from) {
    for (size_t i = from; i < host.sent().size(); ++i) {
      const auto cmd = host.sent()[i];
      ASSERT_EQ(cmd.type, "DeliverNotification");
      auto out = deliverOne(cmd);
      EXPECT_EQ(out.status, Status::Ok) << out.detail;
    }
  }
  FakeHost host;
  Db db;
  int deliveries = 0;
  std::shared_ptr<FakeEmail> email = std::make_shared<FakeEmail>();
  std::shared_ptr<FakeSms> sms = std::make_shared<FakeSms>();
  std::unique_ptr<plexus::testing::Instance<notifications::NotificationReactor>> reactor;
  std::unique_ptr<plexus::testing::Instance<notifications::DeliverNotification>> deliverer;
  std::unique_ptr<plexus::testing::Instance<notifications::RecordNotification>> recorder;
};

}  // namespace

// ---- helpers ----

TEST(Helpers, NotificationPerEventType) {
  auto c = notifications::notificationFor("OrderCreated", orderCreated());
  ASSERT_TRUE(c);
  EXPECT_EQ(c->type, "OrderConfirmation");
  EXPECT_EQ(c->channel, "email");
  EXPECT_NE(c->body.find("89.97 USD"), std::string::npos);
  EXPECT_NE(c->subject.find(kOrder), std::string::npos);
  auto p = notifications::notificationFor("PaymentProcessed", paymentProcessed());
  ASSERT_TRUE(p);
  EXPECT_EQ(p->type, "PaymentReceipt");
  EXPECT_EQ(p->channel, "email");
  EXPECT_NE(p->body.find("tx-1"), std::string::npos);
  auto s = notifications::notificationFor("ShipmentCreated", shipmentCreated());
  ASSERT_TRUE(s);
  EXPECT_EQ(s->type, "ShipmentNotification");
  EXPECT_EQ(s->channel, "sms");
  EXPECT_NE(s->body.find("SBX00000000000000000042"), std::string::npos);
  auto x = notifications::notificationFor("OrderCancelled", orderCancelled());
  ASSERT_TRUE(x);
  EXPECT_EQ(x->type, "OrderCancellation");
  EXPECT_NE(x->body.find("Insufficient inventory"), std::string::npos);
  EXPECT_FALSE(notifications::notificationFor("ShipmentDelivered", shipmentCreated()));
}

TEST(Helpers, SandboxSmsAcceptsPhoneNumbersOnly) {
  notifications::SandboxSmsSender sms;
  EXPECT_TRUE(sms.send("+1 (555) 010-0100", "hi", "n-1").ok);
  EXPECT_EQ(sms.send("+1 555 0100", "hi", "n-1").provider, "sandbox-sms");
  EXPECT_EQ(sms.send("+1 555 0100", "hi", "n-1").reference, "n-1");
  EXPECT_FALSE(sms.send("call me", "hi", "n-1").ok);
  EXPECT_FALSE(sms.send("", "hi", "n-1").ok);
  EXPECT_EQ(notifications::messageIdFor("n-1"), "<n-1@plexus.notifications>");
}

// ---- the reactor ----

TEST(Reactor, OrderCreatedAsksForDeliveryInItsTransactionAndSendsNothingItself) {
  Fixture f;
  auto out = f.event("OrderCreated", orderCreated(), 1, "evt-1", /*deliver=*/false);
  ASSERT_EQ(out.status, Status::Ok) << out.detail;
  EXPECT_EQ(f.db.contacts[kOrder].email, "ada@example.org");
  EXPECT_EQ(f.db.contacts[kOrder].phone, "+1 555 0100");
  EXPECT_TRUE(f.email->mails.empty());  // the send belongs to DeliverNotification
  EXPECT_TRUE(f.host.posted().empty());
  ASSERT_EQ(f.db.sends.size(), 1u);
  const auto& send = f.db.sends.begin()->second;
  EXPECT_EQ(send.status, "Pending");
  ASSERT_EQ(f.host.sent().size(), 1u);
  const auto& cmd = f.host.sent()[0];
  EXPECT_EQ(cmd.type, "DeliverNotification");
  EXPECT_EQ(cmd.stream, kOrder);
  EXPECT_EQ(cmd.payload["notificationId"], send.id);
  EXPECT_EQ(cmd.payload["orderId"], kOrder);
}

TEST(Reactor, NoDeliveryIsAskedForWhenTheTransactionFails) {
  Fixture f;
  f.db.failSql = true;
  EXPECT_EQ(f.event("OrderCreated", orderCreated()).status, Status::Retry);
  EXPECT_TRUE(f.host.sent().empty());
  EXPECT_TRUE(f.email->mails.empty());
}

TEST(Reactor, RedeliveredEventsAskForOneDelivery) {
  Fixture f;
  ASSERT_EQ(f.event("OrderCreated", orderCreated(), 1, "evt-1").status, Status::Ok);
  ASSERT_EQ(f.event("OrderCreated", orderCreated(), 1, "evt-2").status, Status::Ok);
  ASSERT_EQ(f.event("OrderCreated", orderCreated(), 3, "evt-1").status, Status::Ok);
  EXPECT_EQ(f.host.sent().size(), 1u);
  EXPECT_EQ(f.email->mails.size(), 1u);
  EXPECT_EQ(f.db.sends.size(), 1u);
}

TEST(Reactor, AnEventBeforeItsOrderCreatedWaitsABoundedNumberOfTimes) {
  Fixture f;
  for (uint32_t attempt = 1; attempt <= 4; ++attempt) {
    EXPECT_EQ(f.event("PaymentProcessed", paymentProcessed(), attempt).status, Status::Retry)
        << attempt;
  }
  auto out = f.event("PaymentProcessed", paymentProcessed(), 5);
  EXPECT_EQ(out.status, Status::Ok);
  EXPECT_TRUE(f.email->mails.empty());
  EXPECT_TRUE(f.db.sends.empty());
  ASSERT_FALSE(f.host.logs().empty());
  EXPECT_NE(f.host.logs().back().find("no contact for order"), std::string::npos);
}

TEST(Reactor, AnEventRetriedUntilItsOrderCreatedArrivesIsThenSent) {
  Fixture f;
  EXPECT_EQ(f.event("ShipmentCreated", shipmentCreated(), 1).status, Status::Retry);
  ASSERT_EQ(f.event("OrderCreated", orderCreated()).status, Status::Ok);
  ASSERT_EQ(f.event("ShipmentCreated", shipmentCreated(), 2).status, Status::Ok);
  EXPECT_EQ(f.sms->messages.size(), 1u);
}

TEST(Reactor, TheContactWaitBoundComesFromConfig) {
  Fixture f(R"({"contact_wait_attempts": 2})");
  EXPECT_EQ(f.event("OrderCancelled", orderCancelled(), 1).status, Status::Retry);
  EXPECT_EQ(f.event("OrderCancelled", orderCancelled(), 2).status, Status::Ok);
  EXPECT_TRUE(f.email->mails.empty());
}

TEST(Reactor, DefaultsTheEmailAndSkipsSmsWithoutAPhone) {
  Fixture f;
  Json created = orderCreated();
  created.erase("customerEmail");
  created.erase("customerPhone");
  ASSERT_EQ(f.event("OrderCreated", created).status, Status::Ok);
  ASSERT_EQ(f.email->mails.size(), 1u);
  EXPECT_EQ(f.email->mails[0].to, "cust-1@example.com");
  ASSERT_EQ(f.event("ShipmentCreated", shipmentCreated()).status, Status::Ok);
  EXPECT_TRUE(f.sms->messages.empty());
  EXPECT_EQ(f.db.sends.size(), 1u);
}

TEST(Reactor, RejectsAnEventWithoutAnOrderId) {
  Fixture f;
  EXPECT_EQ(f.event("OrderCreated", Json{{"customerId", "c"}}).status, Status::Reject);
  EXPECT_EQ(f.event("PaymentProcessed", Json::array()).status, Status::Reject);
  EXPECT_TRUE(f.email->mails.empty());
}

TEST(Reactor, RefusesBadConfig) {
  for (const char* cfg : {R"({"contact_wait_attempts": 0})", R"({"contact_wait_attempts": "x"})"}) {
    FakeHost host(cfg);
    EXPECT_THROW(host.create<notifications::NotificationReactor>(), std::runtime_error) << cfg;
  }
}

// ---- DeliverNotification ----

TEST(Deliver, SendsWithAStableMessageIdAndRecordsTheOutcomeInItsTransaction) {
  Fixture f;
  ASSERT_EQ(f.event("OrderCreated", orderCreated()).status, Status::Ok);
  const auto& send = f.db.sends.begin()->second;
  ASSERT_EQ(f.email->mails.size(), 1u);
  EXPECT_EQ(f.email->mails[0].to, "ada@example.org");
  EXPECT_NE(f.email->mails[0].subject.find(kOrder), std::string::npos);
  EXPECT_EQ(f.email->mails[0].messageId, "<" + send.id + "@plexus.notifications>");
  EXPECT_EQ(send.status, "Sent");
  EXPECT_EQ(send.attempts, 1);
  EXPECT_EQ(send.provider, "fake-smtp");
  EXPECT_EQ(f.db.attempts.size(), 1u);
  EXPECT_TRUE(f.host.posted().empty());  // no follow-up command: recorded in the same call
  ASSERT_EQ(f.host.emitted().size(), 1u);
  const auto& e = f.host.emitted()[0];
  EXPECT_EQ(e.type, "NotificationSent");
  EXPECT_EQ(e.stream, kOrder);
  EXPECT_EQ(e.payload["notificationId"], send.id);
  EXPECT_EQ(e.payload["orderId"], kOrder);
  EXPECT_EQ(e.payload["notificationType"], "OrderConfirmation");
  EXPECT_EQ(e.payload["channel"], "email");
  EXPECT_EQ(e.payload["sentAt"], "2026-01-01T00:00:00.000Z");
  EXPECT_EQ(f.host.metric("notifications_sent_total", {"email", "OrderConfirmation"}), 1.0);
  EXPECT_EQ(f.db.unknown, 0);
}

TEST(Deliver, ACrashAfterTheSendBeforeTheCommitResendsWithTheSameMessageId) {
  Fixture f;
  ASSERT_EQ(f.event("OrderCreated", orderCreated(), 1, "evt-1", /*deliver=*/false).status,
            Status::Ok);
  ASSERT_EQ(f.host.sent().size(), 1u);
  const auto cmd = f.host.sent()[0];
  // The send happens, then recording it fails: the call rolls back and the command stays queued.
  f.db.failOn = "INSERT INTO notifications_attempts";
  EXPECT_EQ(f.deliverOne(cmd, 1).status, Status::Retry);
  ASSERT_EQ(f.email->mails.size(), 1u);
  EXPECT_EQ(f.db.sends.begin()->second.status, "Pending");
  EXPECT_TRUE(f.host.emitted().empty());
  // Redelivered: sent again with the same Message-ID (at-least-once, deduplicable), recorded once.
  f.db.failOn.clear();
  ASSERT_EQ(f.deliverOne(cmd, 2).status, Status::Ok);
  ASSERT_EQ(f.email->mails.size(), 2u);
  EXPECT_EQ(f.email->mails[1].messageId, f.email->mails[0].messageId);
  const auto& send = f.db.sends.begin()->second;
  EXPECT_EQ(f.email->mails[1].messageId, notifications::messageIdFor(send.id));
  EXPECT_EQ(send.status, "Sent");
  EXPECT_EQ(send.attempts, 1);
  EXPECT_EQ(f.host.emitted().size(), 1u);
  EXPECT_EQ(f.host.metric("notifications_sent_total", {"email", "OrderConfirmation"}), 1.0);
}

TEST(Deliver, ARowNoLongerPendingIsNotSentAgain) {
  Fixture f;
  ASSERT_EQ(f.event("OrderCreated", orderCreated()).status, Status::Ok);
  ASSERT_EQ(f.email->mails.size(), 1u);
  const auto cmd = f.host.sent()[0];
  ASSERT_EQ(f.deliverOne(cmd, 2).status, Status::Ok);  // a redelivery after the commit
  ASSERT_EQ(f.deliverOne(cmd, 1).status, Status::Ok);  // a duplicate of the command
  EXPECT_EQ(f.email->mails.size(), 1u);
  EXPECT_EQ(f.host.emitted().size(), 1u);
  EXPECT_EQ(f.db.sends.begin()->second.attempts, 1);
  EXPECT_EQ(f.db.attempts.size(), 1u);
  EXPECT_NE(f.host.logs().back().find("already Sent"), std::string::npos);
}

TEST(Deliver, EachEventTypeSendsItsNotificationOnItsChannel) {
  Fixture f;
  ASSERT_EQ(f.event("OrderCreated", orderCreated()).status, Status::Ok);
  ASSERT_EQ(f.event("PaymentProcessed", paymentProcessed()).status, Status::Ok);
  ASSERT_EQ(f.event("ShipmentCreated", shipmentCreated()).status, Status::Ok);
  ASSERT_EQ(f.event("OrderCancelled", orderCancelled()).status, Status::Ok);
  ASSERT_EQ(f.email->mails.size(), 3u);
  EXPECT_EQ(f.email->mails[1].to, "ada@example.org");
  EXPECT_NE(f.email->mails[1].subject.find("Payment receipt"), std::string::npos);
  EXPECT_NE(f.email->mails[2].body.find("Insufficient inventory"), std::string::npos);
  EXPECT_NE(f.email->mails[0].messageId, f.email->mails[1].messageId);
  ASSERT_EQ(f.sms->messages.size(), 1u);
  EXPECT_EQ(f.sms->messages[0].first, "+1 555 0100");
  EXPECT_NE(f.sms->messages[0].second.find("SBX00000000000000000042"), std::string::npos);
  EXPECT_EQ(f.sms->references[0], f.host.sent()[2].payload["notificationId"]);
  ASSERT_EQ(f.host.emitted().size(), 4u);
  EXPECT_EQ(f.host.emitted()[2].payload["notificationType"], "ShipmentNotification");
  EXPECT_EQ(f.host.emitted()[2].payload["channel"], "sms");
  EXPECT_EQ(f.host.metric("notifications_sent_total", {"sms", "ShipmentNotification"}), 1.0);
  EXPECT_EQ(f.host.metric("notifications_sent_total", {"email", "PaymentReceipt"}), 1.0);
  EXPECT_EQ(f.host.metric("notifications_sent_total", {"email", "OrderCancellation"}), 1.0);
}

TEST(Deliver, APermanentFailureIsRecordedAsFailedAtOnce) {
  Fixture f;
  f.email->fail = true;
  ASSERT_EQ(f.event("OrderCreated", orderCreated()).status, Status::Ok);
  const auto& send = f.db.sends.begin()->second;
  EXPECT_EQ(send.status, "Failed");
  EXPECT_EQ(send.attempts, 1);
  EXPECT_EQ(send.error, "550 mailbox unavailable");
  EXPECT_FALSE(send.sentAt.has_value());
  EXPECT_EQ(f.db.attempts.begin()->second, "Failed");
  EXPECT_TRUE(f.host.emitted().empty());
  EXPECT_TRUE(f.host.scheduled().empty());
  EXPECT_EQ(f.host.metric("notifications_failed_total", {"email", "OrderConfirmation"}), 1.0);
  EXPECT_EQ(f.host.metric("notifications_sent_total", {"email", "OrderConfirmation"}), 0.0);
  // A redelivered OrderCreated does not try again: at most one send per (order, type, channel).
  ASSERT_EQ(f.event("OrderCreated", orderCreated(), 1, "evt-9").status, Status::Ok);
  EXPECT_EQ(f.email->mails.size(), 1u);
}

TEST(Deliver, ATransientFailureIsRecordedAndRetriedWithBackoffThenSent) {
  Fixture f(R"({"send_retry_initial_ms": 500})");
  f.email->transientFailures = 2;
  ASSERT_EQ(f.event("OrderCreated", orderCreated()).status, Status::Ok);
  const auto& send = f.db.sends.begin()->second;
  EXPECT_EQ(send.status, "Pending");
  EXPECT_EQ(send.attempts, 1);
  EXPECT_EQ(f.db.attempts.size(), 1u);  // the failed attempt stays recorded
  ASSERT_EQ(f.host.scheduled().size(), 1u);
  const auto first = f.host.scheduled()[0];
  EXPECT_EQ(first.type, "DeliverNotification");
  EXPECT_EQ(first.stream, kOrder);
  EXPECT_EQ(first.payload["notificationId"], send.id);
  const int64_t now = f.host.scheduled()[0].deliverAtMs - 500;
  ASSERT_EQ(f.deliverOne(first).status, Status::Ok);
  ASSERT_EQ(f.host.scheduled().size(), 2u);
  EXPECT_EQ(f.host.scheduled()[1].deliverAtMs - now, 1000);  // doubled
  ASSERT_EQ(f.deliverOne(f.host.scheduled()[1]).status, Status::Ok);
  EXPECT_EQ(send.status, "Sent");
  EXPECT_EQ(send.attempts, 3);
  EXPECT_EQ(f.db.attempts.size(), 3u);
  ASSERT_EQ(f.email->mails.size(), 3u);
  EXPECT_EQ(f.email->mails[2].messageId, f.email->mails[0].messageId);
  EXPECT_EQ(f.host.emitted().size(), 1u);
  EXPECT_EQ(f.host.scheduled().size(), 2u);
}

TEST(Deliver, TransientFailuresStopAtTheConfiguredMaximumAsFailed) {
  Fixture f(R"({"send_max_attempts": 2})");
  f.email->transientFailures = 100;
  ASSERT_EQ(f.event("OrderCreated", orderCreated()).status, Status::Ok);
  ASSERT_EQ(f.host.scheduled().size(), 1u);
  ASSERT_EQ(f.deliverOne(f.host.scheduled()[0]).status, Status::Ok);
  const auto& send = f.db.sends.begin()->second;
  EXPECT_EQ(send.status, "Failed");
  EXPECT_EQ(send.attempts, 2);
  EXPECT_EQ(f.host.scheduled().size(), 1u);  // no third attempt
  EXPECT_EQ(f.host.metric("notifications_failed_total", {"email", "OrderConfirmation"}), 1.0);
  EXPECT_TRUE(f.host.emitted().empty());
}

TEST(Deliver, AThrowingSenderIsATransientFailure) {
  Fixture f;
  f.email->throws = true;
  ASSERT_EQ(f.event("OrderCreated", orderCreated()).status, Status::Ok);
  const auto& send = f.db.sends.begin()->second;
  EXPECT_EQ(send.status, "Pending");
  EXPECT_NE(send.error.find("exploded"), std::string::npos);
  EXPECT_EQ(f.host.scheduled().size(), 1u);
}

TEST(Deliver, WithoutSmtpEmailIsRecordedOnlyWithProviderNone) {
  Fixture f("{}", /*fakes=*/false);
  ASSERT_EQ(f.event("OrderCreated", orderCreated()).status, Status::Ok);
  EXPECT_EQ(f.db.sends.begin()->second.status, "Sent");
  EXPECT_EQ(f.db.sends.begin()->second.provider, "none");
  EXPECT_EQ(f.host.emitted().size(), 1u);
}

TEST(Deliver, RejectsBadCommandsAndUnknownNotifications) {
  Fixture f;
  EXPECT_EQ(f.deliverOne({"DeliverNotification", kOrder, Json{{"orderId", kOrder}}}).status,
            Status::Reject);
  EXPECT_EQ(f.deliverOne({"DeliverNotification", kOrder, Json::array()}).status, Status::Reject);
  EXPECT_EQ(f.deliverOne({"DeliverNotification", kOrder,
                          Json{{"notificationId", "n-unknown"}, {"orderId", kOrder}}})
                .status,
            Status::Reject);
  EXPECT_TRUE(f.email->mails.empty());
}

TEST(Deliver, RefusesBadConfig) {
  for (const char* cfg :
       {R"({"smtp": {"host": "localhost", "port": "abc"}})",
        R"({"smtp": {"host": "localhost", "port": 70000}})", R"({"smtp": "localhost"})",
        R"({"smtp": {"host": "localhost", "from": "not an address"}})",
        R"({"send_max_attempts": 0})", R"({"send_retry_initial_ms": -1})"}) {
    FakeHost host(cfg);
    EXPECT_THROW(host.create<notifications::DeliverNotification>(), std::runtime_error) << cfg;
  }
  FakeHost ok(R"({"smtp": {"host": "localhost", "port": "2525", "from": "shop@example.org"}})");
  EXPECT_NO_THROW(ok.create<notifications::DeliverNotification>());
}

// ---- RecordNotification (commands queued by the previous version) ----

TEST(RecordNotification, AQueuedOutcomeIsStillRecordedOnce) {
  Fixture f;
  ASSERT_EQ(f.event("OrderCreated", orderCreated(), 1, "evt-1", /*deliver=*/false).status,
            Status::Ok);
  const std::string id = f.db.sends.begin()->second.id;
  auto m = message("RecordNotification",
                   Json{{"notificationId", id},
                        {"orderId", kOrder},
                        {"notificationType", "OrderConfirmation"},
                        {"channel", "email"},
                        {"outcome", "Sent"},
                        {"provider", "smtp"},
                        {"attemptedAtMs", 1767225600000}},
                   kOrder);
  m.id = "rec-1";
  ASSERT_EQ(f.host.handle(*f.recorder, m).status, Status::Ok);
  ASSERT_EQ(f.host.handle(*f.recorder, m).status, Status::Ok);  // redelivered
  EXPECT_EQ(f.db.sends.begin()->second.status, "Sent");
  EXPECT_EQ(f.db.sends.begin()->second.attempts, 1);
  EXPECT_EQ(f.db.attempts.size(), 1u);
  EXPECT_EQ(f.host.emitted().size(), 1u);
  // The DeliverNotification queued with the row now finds it done and sends nothing.
  ASSERT_EQ(f.deliverOne(f.host.sent()[0]).status, Status::Ok);
  EXPECT_TRUE(f.email->mails.empty());
}

TEST(RecordNotification, RejectsBadCommands) {
  Fixture f;
  const Json good{
      {"notificationId", "n-1"}, {"orderId", kOrder}, {"notificationType", "PaymentReceipt"},
      {"channel", "email"},      {"outcome", "Sent"}, {"provider", "smtp"}};
  for (const char* field :
       {"notificationId", "orderId", "notificationType", "channel", "outcome"}) {
    Json bad = good;
    bad.erase(field);
    EXPECT_EQ(f.host.handle(*f.recorder, message("RecordNotification", bad)).status, Status::Reject)
        << field;
  }
  Json bad = good;
  bad["channel"] = "pigeon";
  EXPECT_EQ(f.host.handle(*f.recorder, message("RecordNotification", bad)).status, Status::Reject);
  bad = good;
  bad["notificationType"] = "Spam";
  EXPECT_EQ(f.host.handle(*f.recorder, message("RecordNotification", bad)).status, Status::Reject);
  // An unknown notification is recorded as an attempt but changes nothing else.
  EXPECT_EQ(f.host.handle(*f.recorder, message("RecordNotification", good)).status, Status::Ok);
  EXPECT_TRUE(f.host.emitted().empty());
}

// ---- SMTP, through a local sink ----

namespace {
// Speaks just enough SMTP to accept one session; records the commands and the message data.
struct SmtpSink {
  Poco::Net::ServerSocket server{Poco::Net::SocketAddress("127.0.0.1", 0)};
  std::vector<std::string> commands;
  std::string data;
  int messages = 0;
  std::string rcptReply = "250 ok";  // e.g. "451 ..." (try later) or "550 ..." (refused)
  std::thread thread;

  uint16_t port() const { return server.address().port(); }
  void start() {
    thread = std::thread([this] {
      if (!server.poll(Poco::Timespan(20, 0), Poco::Net::Socket::SELECT_READ)) return;
      Poco::Net::StreamSocket s = server.acceptConnection();
      s.setReceiveTimeout(Poco::Timespan(20, 0));
      Poco::Net::SocketStream io(s);
      io << "220 sink ESMTP\r\n" << std::flush;
      std::string line;
      bool inData = false;
      while (std::getline(io, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (inData) {
          if (line == ".") {
            inData = false;
            ++messages;
            io << "250 queued\r\n" << std::flush;
          } else {
            data += line + "\n";
          }
          continue;
        }
        commands.push_back(line);
        std::string verb = line.substr(0, 4);
        for (auto& c : verb) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        if (verb == "DATA") {
          inData = true;
          io << "354 end with .\r\n" << std::flush;
        } else if (verb == "QUIT") {
          io << "221 bye\r\n" << std::flush;
          break;
        } else if (verb == "RCPT") {
          io << rcptReply << "\r\n" << std::flush;
        } else {
          io << "250 ok\r\n" << std::flush;
        }
      }
    });
  }
  void join() {
    if (thread.joinable()) thread.join();
  }
  ~SmtpSink() { join(); }
};
}  // namespace

TEST(Smtp, TheReactorSendsOneEmailThroughSmtp) {
  SmtpSink sink;
  sink.start();
  Fixture f(R"({"smtp": {"host": "127.0.0.1", "port": )" + std::to_string(sink.port()) +
                R"(, "from": "shop@example.org", "timeout_ms": 5000}})",
            /*fakes=*/false);
  ASSERT_EQ(f.event("OrderCreated", orderCreated()).status, Status::Ok);
  sink.join();
  EXPECT_EQ(sink.messages, 1);
  ASSERT_GE(sink.commands.size(), 4u);
  EXPECT_EQ(sink.commands[0].rfind("EHLO", 0), 0u);
  EXPECT_NE(std::find(sink.commands.begin(), sink.commands.end(), "MAIL FROM: <shop@example.org>"),
            sink.commands.end());
  EXPECT_NE(std::find(sink.commands.begin(), sink.commands.end(), "RCPT TO: <ada@example.org>"),
            sink.commands.end());
  EXPECT_EQ(sink.commands.back(), "QUIT");
  EXPECT_NE(sink.data.find("Subject: Order confirmation"), std::string::npos);
  EXPECT_NE(sink.data.find("89.97 USD"), std::string::npos);
  const auto& send = f.db.sends.begin()->second;
  EXPECT_NE(sink.data.find("Message-ID: <" + send.id + "@plexus.notifications>"), std::string::npos)
      << sink.data;
  EXPECT_EQ(send.status, "Sent");
  EXPECT_EQ(send.provider, "smtp");
}

TEST(Smtp, AnUnreachableServerIsAFailedSend) {
  uint16_t port = 0;
  {
    Poco::Net::ServerSocket probe(Poco::Net::SocketAddress("127.0.0.1", 0));
    port = probe.address().port();
  }  // closed again: nothing listens there now
  notifications::SmtpConfig cfg;
  cfg.host = "127.0.0.1";
  cfg.port = port;
  cfg.timeoutMs = 2000;
  notifications::SmtpEmailSender sender(cfg);
  auto out = sender.send("ada@example.org", "s", "b", "<n-1@plexus.notifications>");
  EXPECT_FALSE(out.ok);
  EXPECT_TRUE(out.transient);  // nobody listening: worth another attempt
  EXPECT_EQ(out.provider, "smtp");
  EXPECT_FALSE(out.error.empty());
  auto evil = sender.send("evil@example.org>\r\nRCPT TO:<x@y", "s", "b", "<n-1@x>");
  EXPECT_FALSE(evil.ok);
  EXPECT_FALSE(evil.transient);
}

TEST(Smtp, A4xxReplyIsTransientAnd5xxIsPermanent) {
  for (const auto& [reply, transient] :
       {std::pair<std::string, bool>{"451 mailbox busy, try later", true},
        std::pair<std::string, bool>{"550 no such mailbox", false}}) {
    SmtpSink sink;
    sink.rcptReply = reply;
    sink.start();
    notifications::SmtpConfig cfg;
    cfg.host = "127.0.0.1";
    cfg.port = sink.port();
    cfg.timeoutMs = 5000;
    notifications::SmtpEmailSender sender(cfg);
    auto out = sender.send("ada@example.org", "s", "b", "<n-1@plexus.notifications>");
    sink.join();
    EXPECT_FALSE(out.ok) << reply;
    EXPECT_EQ(out.transient, transient) << reply << ": " << out.error;
    EXPECT_EQ(sink.messages, 0);
  }
}
