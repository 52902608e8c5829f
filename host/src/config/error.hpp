#pragma once

#include <stdexcept>
#include <string>

namespace plexus::config {

// A problem in a config file: which file, where in the document (JSON pointer), and what.
class ConfigError : public std::runtime_error {
 public:
  ConfigError(std::string file, std::string path, const std::string& message)
      : std::runtime_error(file + ": " + (path.empty() ? "/" : path) + ": " + message),
        file_(std::move(file)),
        path_(std::move(path)) {}
  const std::string& file() const { return file_; }
  const std::string& path() const { return path_; }

 private:
  std::string file_;
  std::string path_;
};

}  // namespace plexus::config
