#pragma once
// The `transport` section: how messages travel (in process or through RabbitMQ) and the
// delivery policy (workers, retries, retention).

#include <nlohmann/json_fwd.hpp>

#include <string>
#include <vector>

namespace plexus::config {

class Reader;

// TLS for amqps:// URLs (transport.tls). Peer and hostname verification are on by default.
struct TransportTls {
  std::string caFile;    // trusted CA bundle (PEM); empty = the system's default store
  std::string certFile;  // client certificate (PEM), with keyFile, for mutual TLS
  std::string keyFile;
  bool verifyPeer = true;
  bool verifyHostname = true;
};

struct Transport {
  std::string kind;  // "inproc" | "rabbitmq"; empty = inproc when a store is configured
  std::string url;   // the first of `urls` (the one-node form)
  // Broker nodes: a list, or one string of comma-separated URLs (for ${PLEXUS_AMQP_URLS}); `url`
  // in the config is the one-node form.
  std::vector<std::string> urls;
  std::string queueType = "classic";  // rabbitmq queues: "classic" | "quorum"
  // Quorum queues: the broker dead-letters a message returned this many times (consumer crashes,
  // lost connections), a second line behind max_attempts; fixed when the queue is created.
  int deliveryLimit = 20;
  TransportTls tls;
  int workers = 2;             // concurrent handler executions
  int maxAttempts = 5;         // then the message is dead-lettered
  int retryInitialMs = 200;    // first retry delay, doubled per attempt
  int retryMaxMs = 60000;      // cap of the retry delay
  int pollIntervalMs = 1000;   // fallback polling when no commit wakes the relay
  int stallSeconds = 60;       // outbox older than this: readiness reports "degraded"
  int partitions = 4;          // rabbitmq: partition queues per deployment (per-stream order)
  int prefetch = 64;           // rabbitmq: unacked messages per consumer
  int consumers = 1;           // rabbitmq: consumer connections, each with its own partitions
  int maxBatch = 0;            // rabbitmq: messages per consume transaction (0: up to prefetch)
  int retentionHours = 168;    // processed inbox rows (dedupe keys) are purged after this
  int keepPublishedHours = 0;  // published messages kept for inspection (0 = not kept)
};

Transport parseTransport(const Reader& r, const nlohmann::json& t);

}  // namespace plexus::config
