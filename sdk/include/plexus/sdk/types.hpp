#pragma once
// Value types of the C++ SDK: statuses, results, SQL values, errors. Header-only; everything here
// lives inside the plugin and never crosses the ABI as a C++ type.

#include <plexus/abi/plugin_abi.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace plexus {

enum class Status : int32_t {
  Ok = PLEXUS_OK,
  Retry = PLEXUS_RETRY,
  Reject = PLEXUS_REJECT,
  Fatal = PLEXUS_FATAL,
};

inline const char* toString(Status s) {
  switch (s) {
    case Status::Ok:
      return "ok";
    case Status::Retry:
      return "retry";
    case Status::Reject:
      return "reject";
    case Status::Fatal:
      return "fatal";
  }
  return "invalid";
}

// What a receptor or perspective returns. `detail` is the result JSON for Ok (handed to a route
// that invoked the receptor locally) and the reason for every other status.
struct Result {
  Status status = Status::Ok;
  std::string detail;
};

inline Result ok() { return {Status::Ok, {}}; }
inline Result ok(std::string json) { return {Status::Ok, std::move(json)}; }
inline Result retry(std::string reason) { return {Status::Retry, std::move(reason)}; }
inline Result reject(std::string reason) { return {Status::Reject, std::move(reason)}; }
inline Result fatal(std::string reason) { return {Status::Fatal, std::move(reason)}; }

inline std::string_view view(plexus_str s) {
  return s.size ? std::string_view(s.data, s.size) : std::string_view();
}
inline plexus_str str(std::string_view s) { return plexus_str{s.data(), s.size()}; }

// Thrown by SDK calls when a host function fails; the hook barrier turns it into its status, so a
// handler can simply let it propagate (a failed SQL statement aborts the handler).
class HostError : public std::runtime_error {
 public:
  HostError(Status status, const std::string& what) : std::runtime_error(what), status_(status) {}
  Status status() const { return status_; }

 private:
  Status status_;
};

// Throw from a handler for a transient failure (mapped to RETRY).
class TransientError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The one exception for bad input: a request body, query or header, or a message payload, that
// is wrong and will stay wrong on retry. Routes answer 400 {"error": what()}; receptors and
// perspectives return REJECT with what() as the reason (the message is dead-lettered at once).
// The message goes to the client as is: say what is wrong and how to fix it, no internals.
// (Bad config in a component constructor is not input: any exception there fails the load.)
class BadRequest : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A typed SQL value (parameter or column).
class Value {
 public:
  enum class Type { Null, Int, Double, Text };

  Value() = default;
  Value(std::nullptr_t) {}
  Value(bool b) : type_(Type::Int), i_(b ? 1 : 0) {}
  Value(int v) : type_(Type::Int), i_(v) {}
  Value(long v) : type_(Type::Int), i_(v) {}
  Value(long long v) : type_(Type::Int), i_(v) {}
  Value(unsigned v) : type_(Type::Int), i_(v) {}
  Value(double v) : type_(Type::Double), d_(v) {}
  Value(std::string v) : type_(Type::Text), s_(std::move(v)) {}
  Value(std::string_view v) : type_(Type::Text), s_(v) {}
  Value(const char* v) : type_(Type::Text), s_(v) {}

  Type type() const { return type_; }
  bool isNull() const { return type_ == Type::Null; }
  int64_t asInt() const {
    if (type_ == Type::Int) return i_;
    if (type_ == Type::Double) return static_cast<int64_t>(d_);
    if (type_ == Type::Text) return std::stoll(s_);
    throw std::runtime_error("SQL value is NULL, expected an integer");
  }
  double asDouble() const {
    if (type_ == Type::Double) return d_;
    if (type_ == Type::Int) return static_cast<double>(i_);
    if (type_ == Type::Text) return std::stod(s_);
    throw std::runtime_error("SQL value is NULL, expected a number");
  }
  const std::string& asText() const {
    if (type_ != Type::Text) throw std::runtime_error("SQL value is not text");
    return s_;
  }

  plexus_value toAbi() const {
    plexus_value v{};
    switch (type_) {
      case Type::Null:
        v.type = PLEXUS_VALUE_NULL;
        break;
      case Type::Int:
        v.type = PLEXUS_VALUE_INT64;
        v.as.i64 = i_;
        break;
      case Type::Double:
        v.type = PLEXUS_VALUE_DOUBLE;
        v.as.f64 = d_;
        break;
      case Type::Text:
        v.type = PLEXUS_VALUE_TEXT;
        v.as.text = str(s_);
        break;
    }
    return v;
  }
  static Value fromAbi(const plexus_value& v) {
    switch (v.type) {
      case PLEXUS_VALUE_INT64:
        return Value(static_cast<long long>(v.as.i64));
      case PLEXUS_VALUE_DOUBLE:
        return Value(v.as.f64);
      case PLEXUS_VALUE_TEXT:
        return Value(std::string(view(v.as.text)));
      default:
        return Value();
    }
  }
  bool operator==(const Value& o) const {
    return type_ == o.type_ && i_ == o.i_ && d_ == o.d_ && s_ == o.s_;
  }

 private:
  Type type_ = Type::Null;
  int64_t i_ = 0;
  double d_ = 0;
  std::string s_;
};

using Row = std::vector<Value>;
using Rows = std::vector<Row>;

}  // namespace plexus
