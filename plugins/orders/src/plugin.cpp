#include "orders.hpp"

PLEXUS_REGISTER_MIGRATION(
    1, "any", "orders tables",
    "CREATE TABLE orders_orders (order_id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, "
    "status TEXT NOT NULL, total_cents BIGINT NOT NULL, currency TEXT NOT NULL, "
    "document TEXT NOT NULL, idempotency_key TEXT UNIQUE, created_at BIGINT NOT NULL, "
    "cancel_reason TEXT, cancelled_at BIGINT);"
    "CREATE INDEX orders_orders_customer ON orders_orders (customer_id);"
    "CREATE TABLE orders_view (order_id TEXT PRIMARY KEY, customer_id TEXT, status TEXT NOT NULL, "
    "document TEXT NOT NULL, version BIGINT NOT NULL, updated_at BIGINT NOT NULL)");
PLEXUS_REGISTER_RECEPTOR(orders::CreateOrder, plexus::command("CreateOrder"));
PLEXUS_REGISTER_RECEPTOR(orders::CancelOrder, plexus::command("CancelOrder"));
// Inline: OrderCreated and OrderCancelled, emitted by this plugin's receptors, are projected in
// the transaction that emits them (GET right after POST answers the order); the other events come
// from other services and are projected as they arrive.
PLEXUS_REGISTER_INLINE_PERSPECTIVE(orders::OrderView, "OrderCreated", "PaymentProcessed",
                                   "ShipmentCreated", "ShipmentDelivered", "OrderCancelled");
PLEXUS_REGISTER_ROUTE(orders::PostOrder, "POST", "/api/orders");
PLEXUS_REGISTER_ROUTE(orders::GetOrder, "GET", "/api/orders/{id}");
PLEXUS_PLUGIN("orders", "1.0.0");
