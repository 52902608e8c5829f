#include "order_saga.hpp"

PLEXUS_REGISTER_MIGRATION(1, "any", "order saga state and step history",
                          "CREATE TABLE order_saga_state ("
                          "order_id TEXT PRIMARY KEY, status TEXT NOT NULL, current_step TEXT, "
                          "payment_id TEXT, shipment_id TEXT, error TEXT, customer_id TEXT, "
                          "total_cents BIGINT NOT NULL DEFAULT 0, currency TEXT, "
                          "payment_method TEXT, items TEXT, shipping_address TEXT, "
                          "refund_requested INTEGER NOT NULL DEFAULT 0, "
                          "created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, "
                          "version BIGINT NOT NULL);"
                          "CREATE TABLE order_saga_steps ("
                          "order_id TEXT NOT NULL, step TEXT NOT NULL, status TEXT NOT NULL, "
                          "changed_at BIGINT NOT NULL, PRIMARY KEY (order_id, step))");
PLEXUS_REGISTER_RECEPTOR(order_saga::OrderSaga, plexus::event("OrderCreated"),
                         plexus::event("InventoryReserved"), plexus::event("InventoryInsufficient"),
                         plexus::event("PaymentProcessed"), plexus::event("PaymentFailed"),
                         plexus::event("ShipmentCreated"), plexus::event("ShipmentFailed"),
                         plexus::event("OrderCancelled"), plexus::command("OrderSagaTimeout"));
PLEXUS_REGISTER_ROUTE(order_saga::GetSaga, "GET", "/api/sagas/{orderId}");
PLEXUS_PLUGIN("order_saga", "1.0.0");
