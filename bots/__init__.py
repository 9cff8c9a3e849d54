"""relaydesk entry points and wiring: the CLI, config loading, building the app."""
