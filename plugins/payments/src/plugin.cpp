#include "payments.hpp"

PLEXUS_REGISTER_MIGRATION(1, "any", "payments table",
                          "CREATE TABLE payments_payments ("
                          "order_id TEXT PRIMARY KEY, "
                          "payment_id TEXT NOT NULL, "
                          "transaction_id TEXT, "
                          "status TEXT NOT NULL, "
                          "amount_cents BIGINT NOT NULL, "
                          "currency TEXT NOT NULL, "
                          "method TEXT NOT NULL, "
                          "customer_id TEXT, "
                          "error_code TEXT, "
                          "reason TEXT, "
                          "processed_at BIGINT NOT NULL, "
                          "idempotency_key TEXT NOT NULL, "
                          "refund_id TEXT, "
                          "refunded_at BIGINT, "
                          "refund_reason TEXT)");
PLEXUS_REGISTER_RECEPTOR(payments::ProcessPayment, plexus::command("ProcessPayment"));
PLEXUS_REGISTER_RECEPTOR(payments::RefundPayment, plexus::command("RefundPayment"));
PLEXUS_PLUGIN("payments", "1.0.0");
