// @name@: a Plexus plugin (C++ SDK). One receptor owns the command Add@Name@Item, one route sends
// it, one migration makes the table.
#include <plexus/sdk/plugin.hpp>

namespace @name@ {

// Stores the item and announces it; one transaction with the route that invoked it.
class AddItem final : public plexus::Receptor {
 public:
  plexus::Result handle(plexus::Context& ctx, const plexus::Message& cmd) override {
    const plexus::Json item = cmd.json();  // malformed JSON: REJECT with the reason
    if (!item.is_object()) return plexus::reject("the item must be a JSON object");
    const std::string id = ctx.newId();
    ctx.exec("INSERT INTO @name@_items (item_id, item, added_at) VALUES ($1, $2, $3)", id,
             item.dump(), ctx.nowMs());
    const plexus::Json added{{"itemId", id}, {"item", item}};
    ctx.emit("@Name@ItemAdded", added, id);
    return plexus::ok(added.dump());
  }
};

// POST /api/@name@/items -> 201 with the item, 400 with the reason when it is refused.
class PostItem final : public plexus::Route {
 public:
  plexus::Response handle(plexus::Context& ctx, const plexus::Request& req) override {
    const plexus::Result r = ctx.invoke("Add@Name@Item", req.json());
    if (r.status == plexus::Status::Reject) return plexus::Response::error(400, r.detail);
    if (r.status != plexus::Status::Ok) return plexus::Response::error(503, "try again later");
    return plexus::Response::json(201, plexus::Json::parse(r.detail));
  }
};

}  // namespace @name@

PLEXUS_REGISTER_MIGRATION(1, "any", "@name@ items",
                          "CREATE TABLE @name@_items (item_id TEXT PRIMARY KEY, item TEXT NOT NULL, "
                          "added_at BIGINT NOT NULL)");
PLEXUS_REGISTER_RECEPTOR(@name@::AddItem, plexus::command("Add@Name@Item"));
PLEXUS_REGISTER_ROUTE(@name@::PostItem, "POST", "/api/@name@/items");
PLEXUS_PLUGIN("@name@", "0.1.0");
