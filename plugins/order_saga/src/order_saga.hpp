#pragma once
// The order-fulfilment saga (process manager) of the order-service: drives an order through
// inventory reservation, payment and shipment, compensates on failure or timeout, and answers
// GET /api/sagas/{orderId}. The transition rules are a pure function (decide) so they can be
// tested without a store; OrderSaga only loads, persists and sends what decide says.

#include <plexus/sdk/money.hpp>
#include <plexus/sdk/plugin.hpp>
#include <plexus/sdk/rfc3339.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace order_saga {

// Saga statuses.
inline constexpr const char* kInProgress = "InProgress";
inline constexpr const char* kCompleted = "Completed";
inline constexpr const char* kCompensating = "Compensating";
inline constexpr const char* kCancelled = "Cancelled";

// Steps (current_step also takes kCompleted once the shipment exists).
inline constexpr const char* kInventoryReserving = "InventoryReserving";
inline constexpr const char* kPaymentProcessing = "PaymentProcessing";
inline constexpr const char* kShipmentCreating = "ShipmentCreating";

// Step history statuses (kPending is only shown, never stored: a step not reached yet).
inline constexpr const char* kStepCompleted = "Completed";
inline constexpr const char* kStepInProgress = "InProgress";
inline constexpr const char* kStepPending = "Pending";

inline constexpr const char* kTimeoutCommand = "OrderSagaTimeout";
inline constexpr int64_t kDefaultTimeoutSeconds = 600;

// A JSON money amount (number >= 0 with at most 2 decimals) in integer cents; nullopt otherwise.
std::optional<int64_t> toCents(const plexus::Json& amount);
// The saga timeout in ms from the plugin config (`timeout_seconds`, a positive number or a numeric
// string, default 600). Throws std::invalid_argument for anything else.
int64_t timeoutMsFromConfig(const plexus::Json& config);

struct SagaState {
  std::string orderId;
  std::string status;       // kInProgress | kCompleted | kCompensating | kCancelled
  std::string currentStep;  // a step, kCompleted, or "" (cancelled before the saga saw the order)
  std::string paymentId;    // "" = none, likewise shipmentId and error
  std::string shipmentId;
  std::string error;
  // Copied from OrderCreated: what the later steps' commands need.
  std::string customerId;
  int64_t totalCents = 0;
  std::string currency;
  std::string paymentMethod;
  plexus::Json items = plexus::Json::array();  // [{productId, quantity}]
  plexus::Json shippingAddress = plexus::Json::object();
  bool refundRequested = false;  // a RefundPayment was already sent
  int64_t createdAtMs = 0;
  int64_t updatedAtMs = 0;
  int64_t version = 0;  // +1 on every change; timeouts carry it to detect staleness
};

struct StepRow {
  std::string step;
  std::string status;  // kStepCompleted | kStepInProgress
  int64_t atMs = 0;
};

struct Command {
  std::string type;
  plexus::Json payload;
};

// What one message does to a saga.
struct Decision {
  bool applies = false;           // false: duplicate, stale or late; nothing is written or sent
  std::string note;               // why (for the log)
  bool warn = false;              // worth an operator's attention (late or unknown-order events)
  SagaState next;                 // the state to store when applies (version already bumped)
  std::vector<StepRow> steps;     // step history rows to upsert
  std::vector<Command> commands;  // to send in this order, stream = orderId
  bool scheduleTimeout = false;   // schedule OrderSagaTimeout for next.currentStep/next.version
};

// The transition function. `current` is null when the saga does not exist. Throws
// std::invalid_argument for a malformed OrderCreated or OrderSagaTimeout.
Decision decide(const SagaState* current, const std::string& orderId, const std::string& type,
                const plexus::Json& payload, int64_t nowMs);

// The GET /api/sagas/{orderId} body.
plexus::Json sagaView(const SagaState& s, const std::vector<StepRow>& stored);

// Receptor for the order-flow events and its own OrderSagaTimeout command.
class OrderSaga final : public plexus::Receptor {
 public:
  explicit OrderSaga(plexus::Host& host);
  plexus::Result handle(plexus::Context& ctx, const plexus::Message& m) override;

 private:
  const int64_t timeoutMs_;
  const plexus::Metric events_;  // order_saga_events_total{type, outcome}
  const plexus::Metric started_;
  const plexus::Metric statusChanges_;  // order_saga_status_changes_total{status}
};

// GET /api/sagas/{orderId}
class GetSaga final : public plexus::Route {
 public:
  plexus::Response handle(plexus::Context& ctx, const plexus::Request& req) override;
};

}  // namespace order_saga
