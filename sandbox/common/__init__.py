"""Plumbing both emulators share: waking waiters, HTTP control answers, the server lifecycle,
request-log inspection, sliding windows and fault matching. Platform behaviour (error shapes,
limits, what a request record holds) stays in ``sandbox.telegram`` and ``sandbox.vk``."""
