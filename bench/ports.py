"""Free local ports, for the benchmarks and the tests that start relays listening on one.
It imports nothing of bench's own, so a test importing it gets no SIGTERM handler
(bench.common)."""

from __future__ import annotations

import socket


def free_ports(count: int) -> list[int]:
    """`count` local ports nothing listens on (yet), all different."""
    socks = [socket.socket() for _ in range(count)]
    for sock in socks:
        sock.bind(("127.0.0.1", 0))
    ports = [int(sock.getsockname()[1]) for sock in socks]
    for sock in socks:
        sock.close()
    return ports


def free_port() -> int:
    """A local port nothing listens on (yet)."""
    return free_ports(1)[0]
