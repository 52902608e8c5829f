#include "config/transport.hpp"

#include "config/reader.hpp"

#include <nlohmann/json.hpp>

namespace plexus::config {
namespace {

TransportTls parseTransportTls(const Reader& r, const nlohmann::json& t) {
  const std::string base = "/transport/tls";
  r.expectObject(t, base, {"ca_file", "cert_file", "key_file", "verify_peer", "verify_hostname"},
                 {});
  TransportTls tls;
  if (t.contains("ca_file")) tls.caFile = r.string(t["ca_file"], base + "/ca_file");
  if (t.contains("cert_file")) tls.certFile = r.string(t["cert_file"], base + "/cert_file");
  if (t.contains("key_file")) tls.keyFile = r.string(t["key_file"], base + "/key_file");
  if (t.contains("verify_peer"))
    tls.verifyPeer = r.boolean(t["verify_peer"], base + "/verify_peer");
  if (t.contains("verify_hostname"))
    tls.verifyHostname = r.boolean(t["verify_hostname"], base + "/verify_hostname");
  if (tls.certFile.empty() != tls.keyFile.empty()) {
    r.fail(base + (tls.certFile.empty() ? "/cert_file" : "/key_file"),
           "cert_file and key_file go together");
  }
  return tls;
}

// A list, or one string of comma-separated URLs (what an environment variable can carry).
std::vector<std::string> parseUrls(const Reader& r, const nlohmann::json& v,
                                   const std::string& path) {
  std::vector<std::string> urls;
  if (v.is_string()) {
    const std::string text = r.string(v, path);
    size_t from = 0;
    while (from <= text.size()) {
      size_t comma = text.find(',', from);
      if (comma == std::string::npos) comma = text.size();
      std::string one = text.substr(from, comma - from);
      const size_t first = one.find_first_not_of(" \t");
      one = first == std::string::npos ? ""
                                       : one.substr(first, one.find_last_not_of(" \t") + 1 - first);
      if (one.empty()) r.fail(path, "an empty URL in \"" + text + "\"");
      urls.push_back(one);
      from = comma + 1;
    }
    return urls;
  }
  urls = r.strings(v, path);
  if (urls.empty()) r.fail(path, "must not be empty");
  for (size_t i = 0; i < urls.size(); ++i) {
    if (urls[i].empty()) r.fail(path + "/" + std::to_string(i), "must not be empty");
  }
  return urls;
}

}  // namespace

Transport parseTransport(const Reader& r, const nlohmann::json& t) {
  const std::string base = "/transport";
  r.expectObject(
      t, base,
      {"kind", "url", "urls", "queue_type", "delivery_limit", "workers", "max_attempts",
       "retry_initial_ms", "retry_max_ms", "poll_interval_ms", "stall_seconds", "partitions",
       "prefetch", "consumers", "max_batch", "retention_hours", "keep_published_hours", "tls"},
      {"kind"});
  Transport out;
  out.kind = r.oneOf(t["kind"], base + "/kind", {"inproc", "rabbitmq"});
  if (t.contains("url") && t.contains("urls"))
    r.fail(base + "/urls", "give either url (one node) or urls (several), not both");
  if (t.contains("url")) out.urls = {r.string(t["url"], base + "/url")};
  if (t.contains("urls")) out.urls = parseUrls(r, t["urls"], base + "/urls");
  if (!out.urls.empty()) out.url = out.urls.front();
  if (t.contains("queue_type"))
    out.queueType = r.oneOf(t["queue_type"], base + "/queue_type", {"classic", "quorum"});
  r.optionalInt(t, base, "workers", out.workers, 1, 64);
  r.optionalInt(t, base, "max_attempts", out.maxAttempts, 1, 100);
  r.optionalInt(t, base, "retry_initial_ms", out.retryInitialMs, 1, 3600000);
  r.optionalInt(t, base, "retry_max_ms", out.retryMaxMs, 1, 86400000);
  r.optionalInt(t, base, "poll_interval_ms", out.pollIntervalMs, 10, 600000);
  r.optionalInt(t, base, "stall_seconds", out.stallSeconds, 1, 86400);
  r.optionalInt(t, base, "partitions", out.partitions, 1, 64);
  r.optionalInt(t, base, "prefetch", out.prefetch, 1, 10000);
  r.optionalInt(t, base, "consumers", out.consumers, 1, 64);
  r.optionalInt(t, base, "max_batch", out.maxBatch, 1, 10000);
  if (t.contains("consumers") && out.consumers > out.partitions) {
    r.fail(base + "/consumers",
           "must be at most partitions (" + std::to_string(out.partitions) + "), got " +
               std::to_string(out.consumers) +
               ": each consumer takes whole partitions, so more would sit idle");
  }
  r.optionalInt(t, base, "retention_hours", out.retentionHours, 1, 8760);
  r.optionalInt(t, base, "keep_published_hours", out.keepPublishedHours, 0, 8760);
  r.optionalInt(t, base, "delivery_limit", out.deliveryLimit, 2, 1000);
  if (out.queueType == "quorum" && out.deliveryLimit <= out.maxAttempts) {
    r.fail(base + "/delivery_limit",
           "must be above max_attempts (" + std::to_string(out.maxAttempts) + "), got " +
               std::to_string(out.deliveryLimit) +
               ": the broker's limit is the second line behind the host's retries");
  }
  if (out.kind == "rabbitmq" && out.url.empty())
    r.fail(base + "/url", "required when kind is rabbitmq (or urls, for several nodes)");
  if (t.contains("tls")) {
    out.tls = parseTransportTls(r, t["tls"]);
    if (out.urls.empty()) r.fail(base + "/tls", "only applies to an amqps:// url");
    for (const auto& u : out.urls) {
      if (u.rfind("amqps://", 0) != 0) r.fail(base + "/tls", "only applies to an amqps:// url");
    }
  }
  return out;
}

}  // namespace plexus::config
