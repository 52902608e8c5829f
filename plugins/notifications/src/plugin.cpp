#include "notifications.hpp"

PLEXUS_REGISTER_MIGRATION(
    1, "any", "notifications contacts, sends and attempts",
    "CREATE TABLE notifications_contacts ("
    "order_id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, email TEXT, phone TEXT, "
    "created_at_ms BIGINT NOT NULL);"
    "CREATE TABLE notifications_sends ("
    "notification_id TEXT PRIMARY KEY, order_id TEXT NOT NULL, type TEXT NOT NULL, "
    "channel TEXT NOT NULL, recipient TEXT NOT NULL, subject TEXT NOT NULL, body TEXT NOT NULL, "
    "status TEXT NOT NULL, attempts INTEGER NOT NULL, provider TEXT, last_error TEXT, "
    "sent_at_ms BIGINT, created_at_ms BIGINT NOT NULL, updated_at_ms BIGINT NOT NULL, "
    "UNIQUE (order_id, type, channel));"
    "CREATE TABLE notifications_attempts ("
    "attempt_id TEXT PRIMARY KEY, notification_id TEXT NOT NULL, order_id TEXT NOT NULL, "
    "channel TEXT NOT NULL, outcome TEXT NOT NULL, provider TEXT NOT NULL, reference TEXT NOT "
    "NULL, "
    "error TEXT NOT NULL, attempted_at_ms BIGINT NOT NULL);"
    "CREATE INDEX notifications_attempts_by_notification ON notifications_attempts "
    "(notification_id)");
PLEXUS_REGISTER_RECEPTOR(notifications::NotificationReactor, plexus::event("OrderCreated"),
                         plexus::event("PaymentProcessed"), plexus::event("ShipmentCreated"),
                         plexus::event("OrderCancelled"));
PLEXUS_REGISTER_RECEPTOR(notifications::DeliverNotification,
                         plexus::command("DeliverNotification"));
// Outcomes queued by the previous version (after-commit send + RecordNotification) still land.
PLEXUS_REGISTER_RECEPTOR(notifications::RecordNotification, plexus::command("RecordNotification"));
PLEXUS_PLUGIN("notifications", "1.0.0");
