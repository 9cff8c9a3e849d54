"""Local emulators of the messaging platforms relaydesk talks to (used by tests and demos)."""
