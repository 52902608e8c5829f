#include "analytics.hpp"

PLEXUS_REGISTER_MIGRATION(
    1, "any", "analytics orders and order lines",
    "CREATE TABLE analytics_orders (order_id TEXT PRIMARY KEY, customer_id TEXT, "
    "created INTEGER NOT NULL DEFAULT 0, created_at BIGINT, day TEXT, hour INTEGER, "
    "total_cents BIGINT NOT NULL DEFAULT 0, item_count BIGINT NOT NULL DEFAULT 0, items TEXT, "
    "cancelled INTEGER NOT NULL DEFAULT 0, cancelled_at BIGINT, updated_at BIGINT NOT NULL);"
    "CREATE INDEX analytics_orders_by_day ON analytics_orders (day, hour);"
    "CREATE TABLE analytics_order_lines (order_id TEXT NOT NULL, product_id TEXT NOT NULL, "
    "quantity BIGINT NOT NULL, line_total_cents BIGINT NOT NULL, "
    "PRIMARY KEY (order_id, product_id))");
PLEXUS_REGISTER_PERSPECTIVE(analytics::SalesProjection, "OrderCreated", "OrderCancelled");
PLEXUS_REGISTER_ROUTE(analytics::GetDailySales, "GET", "/api/analytics/sales/daily");
PLEXUS_REGISTER_ROUTE(analytics::GetHourlySales, "GET", "/api/analytics/sales/hourly");
PLEXUS_REGISTER_ROUTE(analytics::GetTopProducts, "GET", "/api/analytics/products/top");
PLEXUS_PLUGIN("analytics", "1.0.0");
