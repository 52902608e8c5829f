#include "app/application.hpp"

#include <csignal>

int main(int argc, char** argv) {
  // Block the termination signals before any thread starts, so every thread inherits the mask and
  // only waitForTerminationRequest() (sigwait) receives them; ignore SIGPIPE from closed peers.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGQUIT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  plexus::app::HostApplication app;
  return app.run(argc, argv);
}
