#pragma once
// plexus-host: `[run] --config F`, `check --config F`, `migrate --config F`,
// `rebuild --config F --component P/C [--tables a,b]`, `probe [--port N]`, `--version`, `--help`.
// Poco ServerApplication lifecycle: options in defineOptions, serve in main,
// waitForTerminationRequest, then drain.

#include <Poco/Util/ServerApplication.h>

#include <string>
#include <vector>

namespace plexus::app {

class Host;

class HostApplication : public Poco::Util::ServerApplication {
 public:
  HostApplication();

 protected:
  void defineOptions(Poco::Util::OptionSet& options) override;
  void handleOption(const std::string& name, const std::string& value) override;
  int main(const std::vector<std::string>& args) override;

 private:
  int serve(Host& host);
  int probe();
  void printHelp();

  std::string configFile_;
  std::string component_;            // rebuild --component
  std::vector<std::string> tables_;  // rebuild --tables
  int probePort_ = 0;
  bool exitEarly_ = false;
};

}  // namespace plexus::app
