#include "customers.hpp"

PLEXUS_REGISTER_MIGRATION(
    1, "any", "customers read models",
    "CREATE TABLE customers_order_summary (order_id TEXT PRIMARY KEY, customer_id TEXT, "
    "created INTEGER NOT NULL DEFAULT 0, total_cents BIGINT NOT NULL DEFAULT 0, currency TEXT, "
    "item_count BIGINT NOT NULL DEFAULT 0, shipping_address TEXT, created_at BIGINT, "
    "payment_id TEXT, payment_status TEXT, payment_processed_at BIGINT, "
    "shipment_created INTEGER NOT NULL DEFAULT 0, shipment_id TEXT, tracking_number TEXT, "
    "estimated_delivery BIGINT, actual_delivery BIGINT, cancelled INTEGER NOT NULL DEFAULT 0, "
    "cancellation_reason TEXT, cancelled_at BIGINT, status TEXT NOT NULL DEFAULT 'Pending', "
    "order_counted INTEGER NOT NULL DEFAULT 0, spent_counted INTEGER NOT NULL DEFAULT 0, "
    "updated_at BIGINT NOT NULL);"
    "CREATE INDEX customers_order_summary_by_customer "
    "ON customers_order_summary (customer_id, created_at);"
    "CREATE TABLE customers_activity (customer_id TEXT PRIMARY KEY, total_orders BIGINT NOT NULL, "
    "total_spent_cents BIGINT NOT NULL, currency TEXT NOT NULL, last_order_id TEXT NOT NULL, "
    "last_order_at BIGINT NOT NULL, first_order_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)");
PLEXUS_REGISTER_PERSPECTIVE(customers::CustomerProjection, "OrderCreated", "PaymentProcessed",
                            "ShipmentCreated", "ShipmentDelivered", "OrderCancelled");
PLEXUS_REGISTER_ROUTE(customers::GetCustomer, "GET", "/api/customers/{id}");
PLEXUS_REGISTER_ROUTE(customers::GetCustomerOrders, "GET", "/api/customers/{id}/orders");
PLEXUS_PLUGIN("customers", "1.0.0");
