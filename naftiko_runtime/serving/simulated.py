"""Whether `serve` runs a simulated upstream (`naftiko_runtime.simulators`) in place of a real one.

`simulator_plan` decides whether `serve` runs one and points the consumed namespaces of its
API at it; the simulator itself is imported only then (start-up time and memory).
"""

from __future__ import annotations

import dataclasses
import secrets
import socket
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlparse

from naftiko_runtime.model import Capability
from naftiko_runtime.serving.options import ServeOptions
from naftiko_runtime.serving.sockets import bind

LETTA_HOSTS = ("api.letta.com",)


def letta_namespaces(capabilities: Sequence[Capability]) -> list[str]:
    return sorted(
        {
            op.namespace
            for c in capabilities
            for op in c.operations
            if urlparse(op.base_uri).hostname in LETTA_HOSTS
        }
    )


def simulator_wanted(environ: Mapping[str, str], options: ServeOptions) -> bool:
    """`--simulate always`, or `auto` with neither a Letta key nor an upstream given."""
    return options.simulate == "always" or (
        options.simulate == "auto" and "LETTA_API_KEY" not in environ and not options.upstreams
    )


def simulator_plan(
    capabilities: Sequence[Capability], environ: Mapping[str, str], options: ServeOptions
) -> tuple[dict[str, str], ServeOptions, Any, socket.socket] | None:
    """When the simulator is wanted: the environment, options and app to run it with."""
    if not simulator_wanted(environ, options):
        return None
    from naftiko_runtime.simulators.letta import build_simulator

    token = environ.get("LETTA_API_KEY") or "sim-" + secrets.token_urlsafe(18)
    sock = bind("127.0.0.1", 0)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    upstreams = dict(options.upstreams)
    for namespace in letta_namespaces(capabilities):
        upstreams.setdefault(namespace, url)
    new_options = dataclasses.replace(options, upstreams=upstreams)
    return {**environ, "LETTA_API_KEY": token}, new_options, build_simulator(token=token), sock
