"""Free loopback ports for the benchmark's and the tests' servers.

Not port 0: the kernel hands that out from its ephemeral range, the pool every outgoing
connection also takes its local port from, so between picking a port and a server binding
it a client socket can take it ("Address already in use"). A port below (or above) that
range, checked to bind, and never handed out twice by this process, cannot be taken that way.
"""

from __future__ import annotations

import random
import socket


def _listen_range() -> tuple[int, int]:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as handle:
            low, high = (int(part) for part in handle.read().split())
    except (OSError, ValueError):
        return (0, 0)
    if low > 12000:
        return (10000, low - 1)
    if high < 63000:
        return (high + 1, 65000)
    return (0, 0)


_RANGE = _listen_range()
_PICKER = random.Random()
_GIVEN: set[int] = set()


def free_port() -> int:
    """A loopback port nothing listens on, never handed out twice in this process."""
    low, high = _RANGE
    for _ in range(500 if high else 0):
        port = _PICKER.randint(low, high)
        if port in _GIVEN:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _GIVEN.add(port)
        return port
    with socket.socket() as sock:  # no range outside the ephemeral one: the kernel's pick
        sock.bind(("127.0.0.1", 0))
        chosen: int = sock.getsockname()[1]
        return chosen
