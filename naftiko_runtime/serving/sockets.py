"""Listening sockets, all bound before anything serves: a port that is taken fails the start,
not the first request."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # a type only: the simulator binds its socket without the adapters
    from naftiko_runtime.serving.runtime import Runtime


def bind(host: str, port: int, reuse_port: bool = False) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def bind_sockets(runtime: Runtime, workers: int = 1) -> list[dict[int, socket.socket]]:
    """One listening socket per REST and MCP port per worker, all bound before anything
    serves.

    Several workers each get their own SO_REUSEPORT socket, so the kernel spreads connections
    over them. A plain bind first proves the port is free: SO_REUSEPORT alone would let us
    share a port silently with another process.
    """
    bound: list[dict[int, socket.socket]] = [{} for _ in range(workers)]
    try:
        for port in [*runtime.rest_apps, *runtime.mcp_servers]:
            host = runtime.hosts[port]
            if workers == 1:
                bound[0][port] = bind(host, port)
                continue
            bind(host, port).close()
            for sockets in bound:
                sockets[port] = bind(host, port, reuse_port=True)
    except OSError:
        for sockets in bound:
            for sock in sockets.values():
                sock.close()
        raise
    return bound
