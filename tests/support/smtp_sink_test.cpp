// The SMTP sink is an oracle of the e2e and fault tiers: it must tell a resend with the same
// Message-ID (deduplicable) from a second email with another Message-ID (a duplicate).
#include "smtp_sink.hpp"

#include <Poco/Net/MailMessage.h>
#include <Poco/Net/MailRecipient.h>
#include <Poco/Net/SMTPClientSession.h>

#include <gtest/gtest.h>

namespace {

using plexus::test::SmtpSink;

void mail(const SmtpSink& sink, const std::string& subject, const std::string& messageId) {
  Poco::Net::SMTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(sink.port()));
  session.login();
  Poco::Net::MailMessage m;
  m.setSender("shop@example.org");
  m.addRecipient(
      Poco::Net::MailRecipient(Poco::Net::MailRecipient::PRIMARY_RECIPIENT, "ada@example.org"));
  m.setSubject(subject);
  if (!messageId.empty()) m.set("Message-ID", messageId);
  m.setContent("body mentioning Message-ID: <not-a-header@x>\r\n");
  session.sendMessage(m);  // returns after the sink stored the message ("250 queued")
  session.close();
}

TEST(SmtpSink, TalliesDistinctMessageIdsApartFromRedeliveries) {
  SmtpSink sink;
  mail(sink, "Order confirmation o-1", "<n-1@plexus.notifications>");
  mail(sink, "Order confirmation o-1", "<n-1@plexus.notifications>");  // a resend
  mail(sink, "Payment receipt for order o-1", "<n-2@plexus.notifications>");
  auto once = sink.tally("Order confirmation o-1");
  EXPECT_EQ(once.raw, 2);
  EXPECT_EQ(once.distinct, 1);
  EXPECT_EQ(once.redelivered(), 1);
  EXPECT_EQ(sink.tally("Payment receipt for order o-1").distinct, 1);
  // Another Message-ID for the same email is a second business effect.
  mail(sink, "Order confirmation o-1", "<n-3@plexus.notifications>");
  auto twice = sink.tally("Order confirmation o-1");
  EXPECT_EQ(twice.raw, 3);
  EXPECT_EQ(twice.distinct, 2);
  // Without a Message-ID nothing can be deduped: each message counts alone.
  mail(sink, "Order confirmation o-2", "");
  mail(sink, "Order confirmation o-2", "");
  EXPECT_EQ(sink.tally("Order confirmation o-2").distinct, 2);
  EXPECT_EQ(sink.tally("nothing like this").raw, 0);
}

TEST(SmtpSink, ReadsTheMessageIdHeaderOnly) {
  EXPECT_EQ(SmtpSink::messageIdOf("Subject: x\nmessage-id:  <a@b>\n\nbody\n"), "<a@b>");
  EXPECT_EQ(SmtpSink::messageIdOf("Subject: x\n\nMessage-ID: <in-body@b>\n"), "");
  EXPECT_EQ(SmtpSink::messageIdOf(""), "");
}

}  // namespace
