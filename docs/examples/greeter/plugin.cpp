// [registrations]
#include "greeter.hpp"

PLEXUS_REGISTER_MIGRATION(
    1, "any", "greeted names",
    "CREATE TABLE acme_greeted (event_id TEXT PRIMARY KEY, name TEXT NOT NULL)");
PLEXUS_REGISTER_RECEPTOR(acme::Greeter, plexus::command("Greet"));
PLEXUS_REGISTER_PERSPECTIVE(acme::GreetedNames, plexus::event("Greeted"));
PLEXUS_REGISTER_ROUTE(acme::PostGreeting, "POST", "/acme/greetings");
PLEXUS_REGISTER_ROUTE(acme::GetGreeting, "GET", "/acme/greetings/{name}");
PLEXUS_PLUGIN("acme_greeter", "1.0.0");
// [/registrations]
