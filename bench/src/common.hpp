#pragma once
// Small helpers shared by the bench programs: --key value arguments, a monotonic clock and the one
// JSON object each program prints on stdout (scripts/bench reads it).

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace bench {

class Args {
 public:
  Args(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
      std::string k = argv[i];
      if (k.rfind("--", 0) != 0) throw std::invalid_argument("unexpected argument " + k);
      k = k.substr(2);
      if (i + 1 < argc && std::string(argv[i + 1]).rfind("--", 0) != 0) {
        values_[k] = argv[++i];
      } else {
        values_[k] = "1";
      }
    }
  }
  std::string str(const std::string& k, const std::string& def = "") const {
    auto it = values_.find(k);
    if (it != values_.end()) return it->second;
    if (def.empty()) throw std::invalid_argument("--" + k + " is required");
    return def;
  }
  long num(const std::string& k, long def) const {
    auto it = values_.find(k);
    if (it == values_.end()) return def;
    size_t used = 0;
    const long v = std::stol(it->second, &used);
    if (used != it->second.size() || v < 0) throw std::invalid_argument("--" + k + ": bad number");
    return v;
  }
  bool has(const std::string& k) const { return values_.count(k) > 0; }

 private:
  std::map<std::string, std::string> values_;
};

inline double nowSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Nearest-rank percentile of unsorted samples (copied).
inline double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t rank = static_cast<size_t>(p / 100.0 * static_cast<double>(v.size()) + 0.999999);
  rank = std::clamp<size_t>(rank, 1, v.size());
  return v[rank - 1];
}

// Runs `body` and turns any exception into a message on stderr and exit code 1 (2 for usage).
template <typename F>
int guarded(F body) {
  try {
    body();
    return 0;
  } catch (const std::invalid_argument& e) {
    std::cerr << "usage error: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}

inline void print(const nlohmann::json& j) { std::cout << j.dump() << std::endl; }

}  // namespace bench
