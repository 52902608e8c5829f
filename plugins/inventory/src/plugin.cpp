#include "inventory.hpp"

PLEXUS_REGISTER_MIGRATION(1, "any", "inventory tables",
                          "CREATE TABLE inventory_products ("
                          "product_id TEXT PRIMARY KEY, "
                          "available_stock BIGINT NOT NULL CHECK (available_stock >= 0), "
                          "reserved_stock BIGINT NOT NULL DEFAULT 0, "
                          "updated_at BIGINT NOT NULL);"
                          "CREATE TABLE inventory_reservations ("
                          "order_id TEXT NOT NULL, "
                          "product_id TEXT NOT NULL, "
                          "quantity BIGINT NOT NULL, "
                          "status TEXT NOT NULL, "
                          "created_at BIGINT NOT NULL, "
                          "expires_at BIGINT NOT NULL, "
                          "updated_at BIGINT NOT NULL, "
                          "PRIMARY KEY (order_id, product_id));"
                          "CREATE TABLE inventory_order_outcomes ("
                          "order_id TEXT PRIMARY KEY, "
                          "outcome TEXT NOT NULL, "
                          "event_json TEXT NOT NULL, "
                          "created_at BIGINT NOT NULL)");
PLEXUS_REGISTER_RECEPTOR(inventory::ReserveInventory, plexus::command("ReserveInventory"));
PLEXUS_REGISTER_RECEPTOR(inventory::ReleaseInventory, plexus::command("ReleaseInventory"),
                         plexus::command("ExpireReservation"));
PLEXUS_REGISTER_RECEPTOR(inventory::CommitOnShipment, plexus::event("ShipmentCreated"));
PLEXUS_REGISTER_RECEPTOR(inventory::RestockInventory, plexus::command("RestockInventory"));
PLEXUS_REGISTER_ROUTE(inventory::GetInventory, "GET", "/api/inventory/{productId}");
PLEXUS_REGISTER_ROUTE(inventory::PutInventory, "PUT", "/api/inventory/{productId}");
PLEXUS_PLUGIN("inventory", "1.0.0");
