"""The `mcp` SDK's private names this adapter relies on, all in one place.

Everything else the adapter (the fast path included) takes from the SDK is public API.
Each name below has no public equivalent in the SDK release this runtime is built
against; tests/adapters/test_mcp_sdk_surface.py asserts each still exists, so an SDK
upgrade that drops or renames one fails there, by name, instead of in a served request.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from mcp.server.streamable_http_manager import StreamableHTTPSessionManager


@dataclass(frozen=True)
class PrivateName:
    owner: type  # the SDK class that holds it
    name: str
    on_instance: bool  # set in `__init__`: only an instance has it, not the class
    breaks: str  # what stops working without it


SERVER_INSTANCES = "_server_instances"

PRIVATE: tuple[PrivateName, ...] = (
    PrivateName(
        StreamableHTTPSessionManager,
        SERVER_INSTANCES,
        on_instance=True,
        breaks="--mcp-sessions-per-client: the per-client bound counts the sessions the SDK "
        "still holds (it drops expired ones), and the open-session metric reads the same "
        "count; the manager offers no public view of its sessions",
    ),
)


def live_session_ids(manager: StreamableHTTPSessionManager) -> Collection[str]:
    """The ids of the sessions `manager` holds (none if the name has gone)."""
    instances = getattr(manager, SERVER_INSTANCES, None)
    return instances.keys() if isinstance(instances, dict) else ()
