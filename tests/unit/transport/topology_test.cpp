// The broker-facing decisions that need no broker: which node a connection tries next, the queue
// arguments per queue type, and the start-up error for a queue the broker has with other arguments
// (the broker's own reply texts, as RabbitMQ 3.10 sends them).
#include "transport/topology.hpp"
#include "transport/endpoints.hpp"

#include <gtest/gtest.h>

#include <variant>

namespace {

using plexus::transport::Endpoints;
using plexus::transport::nodeOf;
using plexus::transport::TopologyOptions;

TEST(Endpoints, NodeIsHostAndPortWithoutCredentials) {
  EXPECT_EQ(nodeOf("amqp://guest:guest@127.0.0.1:55741/"), "127.0.0.1:55741");
  EXPECT_EQ(nodeOf("amqp://user:p%40ss@rabbit-0.rabbit:5672/vhost?heartbeat=30"),
            "rabbit-0.rabbit:5672");
  EXPECT_EQ(nodeOf("amqp://broker"), "broker:5672");
  EXPECT_EQ(nodeOf("amqps://u:p@broker/"), "broker:5671");
  EXPECT_EQ(nodeOf("amqp://[::1]:5673/"), "[::1]:5673");
  EXPECT_EQ(nodeOf("amqp://[::1]/"), "[::1]:5672");
}

TEST(Endpoints, StartsAtItsOwnNodeAndMovesPastAFailedOne) {
  Endpoints e({"amqp://a/", "amqp://b/", "amqp://c/"}, 4);  // 4 % 3: starts at b
  EXPECT_EQ(e.order(), (std::vector<size_t>{1, 2, 0}));
  e.failed(1);  // b died: c first, b last
  EXPECT_EQ(e.order(), (std::vector<size_t>{2, 0, 1}));
  e.failed(2);
  e.reached(0);  // a answered: stay on a
  EXPECT_EQ(e.order(), (std::vector<size_t>{0, 1, 2}));
  e.failed(2);  // a failure of another node does not move a connection that works
  EXPECT_EQ(e.current(), 0u);
  EXPECT_EQ(e.node(2), "c:5672");
}

TEST(Endpoints, OneNodeIsAlwaysTheOne) {
  Endpoints e({"amqp://only:5672/"}, 7);
  e.failed(0);
  EXPECT_EQ(e.order(), std::vector<size_t>{0});
}

TEST(Topology, ClassicPartitionQueuesNameTheirType) {
  TopologyOptions o;
  o.service = "order-service";
  const auto args = plexus::transport::partitionArguments(o);
  EXPECT_EQ(std::get<std::string>(args.at("x-queue-type")), "classic");
  EXPECT_TRUE(std::get<bool>(args.at("x-single-active-consumer")));
  EXPECT_EQ(std::get<std::string>(args.at("x-dead-letter-exchange")), "plexus.dlx");
  EXPECT_EQ(std::get<std::string>(args.at("x-dead-letter-routing-key")),
            "order-service.dead-letter");
  EXPECT_EQ(args.count("x-delivery-limit"), 0u);
  EXPECT_EQ(args.count("x-dead-letter-strategy"), 0u);
}

TEST(Topology, QuorumPartitionQueuesDeadLetterAtLeastOnceWithADeliveryLimit) {
  TopologyOptions o;
  o.service = "payment-worker";
  o.queueType = "quorum";
  o.deliveryLimit = 25;
  const auto args = plexus::transport::partitionArguments(o);
  EXPECT_EQ(std::get<std::string>(args.at("x-queue-type")), "quorum");
  EXPECT_TRUE(std::get<bool>(args.at("x-single-active-consumer")));
  EXPECT_EQ(std::get<int64_t>(args.at("x-delivery-limit")), 25);
  EXPECT_EQ(std::get<std::string>(args.at("x-dead-letter-strategy")), "at-least-once");
  EXPECT_EQ(std::get<std::string>(args.at("x-overflow")), "reject-publish");
  EXPECT_EQ(std::get<std::string>(args.at("x-queue-leader-locator")), "balanced");
  EXPECT_EQ(std::get<std::string>(plexus::transport::deadLetterArguments(o).at("x-queue-type")),
            "quorum");
  EXPECT_EQ(plexus::transport::partitionQueue("payment-worker", 3), "payment-worker.p3");
}

TEST(Topology, AQueueOfTheOtherTypeIsNamedWithTheWayOut) {
  TopologyOptions o;
  o.service = "order-service";
  o.queueType = "quorum";
  const std::string classic =
      "queue.declare order-service.p0: channel closed by broker: 406 PRECONDITION_FAILED - "
      "inequivalent arg 'x-queue-type' for queue 'order-service.p0' in vhost '/': received the "
      "value 'quorum' of type 'longstr' but current is none";
  const std::string m = plexus::transport::mismatchMessage("order-service.p0", classic, o);
  EXPECT_NE(m.find("'order-service.p0' is a classic queue"), std::string::npos) << m;
  EXPECT_NE(m.find("transport.queue_type is \"quorum\""), std::string::npos) << m;
  EXPECT_NE(m.find("docs/operations.md, \"Changing the queue type\""), std::string::npos) << m;

  o.queueType = "classic";
  const std::string quorum =
      "406 PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for queue 'order-service.p1' in "
      "vhost '/': received 'classic' but current is 'quorum'";
  // The broker names the first argument that differs; the probe found the other type.
  const std::string overflow =
      "406 PRECONDITION_FAILED - inequivalent arg 'x-overflow' for queue 'order-service.p2' in "
      "vhost '/': received none but current is the value 'reject-publish' of type 'longstr'";
  EXPECT_NE(plexus::transport::mismatchMessage("order-service.p2", overflow, o, "quorum")
                .find("'order-service.p2' is a quorum queue, but transport.queue_type is "
                      "\"classic\""),
            std::string::npos);
  EXPECT_NE(plexus::transport::mismatchMessage("order-service.p1", quorum, o)
                .find("'order-service.p1' is a quorum queue, but transport.queue_type is "
                      "\"classic\""),
            std::string::npos);
}

TEST(Topology, ADifferentDeliveryLimitIsNamed) {
  TopologyOptions o;
  o.queueType = "quorum";
  o.deliveryLimit = 30;
  const std::string reply =
      "406 PRECONDITION_FAILED - inequivalent arg 'x-delivery-limit' for queue 's.p0' in vhost "
      "'/': received '30' but current is '20'";
  const std::string m = plexus::transport::mismatchMessage("s.p0", reply, o);
  EXPECT_NE(m.find("'s.p0' has x-delivery-limit 20, but transport.delivery_limit is 30"),
            std::string::npos)
      << m;
  const std::string other =
      "406 PRECONDITION_FAILED - inequivalent arg 'x-max-length' for queue 's.p0' in vhost '/': "
      "received none but current is the value '10' of type 'signedint'";
  EXPECT_NE(plexus::transport::mismatchMessage("s.p0", other, o).find("x-max-length"),
            std::string::npos);
}

}  // namespace
