"""The `mcp` SDK's private names this adapter relies on, all in one place.

Everything else the adapter (the fast path included) takes from the SDK is public API.
Each name below has no public equivalent that fits where it is used; the adapter reaches
it only through the functions here. tests/adapters/test_mcp_sdk_surface.py asserts each
still exists, so an SDK upgrade that drops or renames one fails there, by name, instead
of in a served request.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecurityMiddleware


@dataclass(frozen=True)
class PrivateName:
    owner: type  # the SDK class that holds it
    name: str
    on_instance: bool  # set in `__init__`: only an instance has it, not the class
    breaks: str  # what stops working without it


SERVER_INSTANCES = "_server_instances"

PRIVATE: tuple[PrivateName, ...] = (
    PrivateName(
        TransportSecurityMiddleware,
        "_validate_host",
        on_instance=False,
        breaks="the fast path's DNS-rebinding Host check (fast.FastCalls._secure); the public "
        "validate_request wants a starlette Request built per call, about 8 us, 4 % of a "
        "fast tools/call",
    ),
    PrivateName(
        TransportSecurityMiddleware,
        "_validate_origin",
        on_instance=False,
        breaks="the fast path's DNS-rebinding Origin check, as for _validate_host",
    ),
    PrivateName(
        StreamableHTTPSessionManager,
        SERVER_INSTANCES,
        on_instance=True,
        breaks="--mcp-sessions-per-client: the per-client bound counts the sessions the SDK "
        "still holds (it drops expired ones), and the open-session metric reads the same "
        "count; the manager offers no public view of its sessions",
    ),
)


def host_and_origin_allowed(
    security: TransportSecurityMiddleware, headers: Mapping[str, str]
) -> bool:
    """The SDK's own Host and Origin checks, on headers the fast path has already read."""
    return security._validate_host(headers.get("host")) and security._validate_origin(
        headers.get("origin")
    )


def live_session_ids(manager: StreamableHTTPSessionManager) -> Collection[str]:
    """The ids of the sessions `manager` holds (none if the name has gone)."""
    instances = getattr(manager, SERVER_INSTANCES, None)
    return instances.keys() if isinstance(instances, dict) else ()
