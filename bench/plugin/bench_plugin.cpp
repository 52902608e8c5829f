// Receptors for scripts/bench. BenchNoop does nothing (the dispatch path's own cost); BenchStep is
// the smallest durable step: one state change on the message's stream and one event, in the
// host's transaction (inbox + state + event store + outbox).
#include <plexus/sdk/plugin.hpp>

namespace bench {

class Noop final : public plexus::Receptor {
 public:
  plexus::Result handle(plexus::Context&, const plexus::Message&) override { return plexus::ok(); }
};

class Step final : public plexus::Receptor {
 public:
  plexus::Result handle(plexus::Context& ctx, const plexus::Message& cmd) override {
    const std::string stream(cmd.stream());
    ctx.sql(
        "INSERT INTO bench_state (id, n) VALUES ($1, 1) "
        "ON CONFLICT (id) DO UPDATE SET n = bench_state.n + 1",
        stream);
    ctx.emit("BenchStepped", plexus::Json{{"id", stream}}, stream);
    return plexus::ok();
  }
};

}  // namespace bench

PLEXUS_REGISTER_MIGRATION(1, "any", "bench state",
                          "CREATE TABLE bench_state (id TEXT PRIMARY KEY, n BIGINT NOT NULL)");
PLEXUS_REGISTER_RECEPTOR(bench::Noop, "BenchNoop");
PLEXUS_REGISTER_RECEPTOR(bench::Step, "BenchStep");
PLEXUS_PLUGIN("bench", "1.0.0");
