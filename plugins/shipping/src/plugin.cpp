#include "shipping.hpp"

PLEXUS_REGISTER_MIGRATION(
    1, "any", "shipping shipments and tracking events",
    "CREATE TABLE shipping_shipments ("
    "order_id TEXT PRIMARY KEY, shipment_id TEXT UNIQUE, customer_id TEXT NOT NULL, "
    "status TEXT NOT NULL, carrier TEXT NOT NULL, tracking_number TEXT UNIQUE, label_url TEXT, "
    "shipping_cost_cents BIGINT, currency TEXT, estimated_delivery_ms BIGINT, "
    "shipping_address TEXT NOT NULL, failure_reason TEXT, delivered_at_ms BIGINT, "
    "created_at_ms BIGINT NOT NULL, updated_at_ms BIGINT NOT NULL);"
    "CREATE TABLE shipping_tracking_events ("
    "event_id TEXT PRIMARY KEY, tracking_number TEXT NOT NULL, shipment_id TEXT NOT NULL, "
    "order_id TEXT NOT NULL, status TEXT NOT NULL, location TEXT NOT NULL, "
    "event_at_ms BIGINT NOT NULL, received_at_ms BIGINT NOT NULL, "
    "UNIQUE (tracking_number, status, location, event_at_ms))");
PLEXUS_REGISTER_RECEPTOR(shipping::CreateShipmentReceptor, plexus::command("CreateShipment"));
PLEXUS_REGISTER_ROUTE(shipping::FedexTrackingWebhook, "POST", "/api/webhooks/fedex/tracking");
PLEXUS_PLUGIN("shipping", "1.0.0");
