"""Every private name of the `mcp` SDK the MCP adapter relies on (listed in
adapters/mcp/sdk_surface.py) still exists in the installed SDK."""

from __future__ import annotations

from importlib.metadata import version

import pytest
from mcp.server.lowlevel import Server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

from naftiko_runtime.adapters.mcp.sdk_surface import (
    PRIVATE,
    SERVER_INSTANCES,
    PrivateName,
    live_session_ids,
)


def _instance(owner: type) -> object:
    """An instance of `owner`, for the names its `__init__` sets."""
    if owner is StreamableHTTPSessionManager:
        return StreamableHTTPSessionManager(app=Server("probe"))
    raise AssertionError(f"add a way to build {owner.__name__} for the names it sets")


@pytest.mark.parametrize("private", PRIVATE, ids=lambda p: f"{p.owner.__name__}.{p.name}")
def test_the_private_name_still_exists(private: PrivateName) -> None:
    holder = _instance(private.owner) if private.on_instance else private.owner
    assert hasattr(holder, private.name), (
        f"mcp {version('mcp')} has no {private.owner.__module__}.{private.owner.__name__}."
        f"{private.name}: {private.breaks}. Find its replacement in the SDK and update "
        "naftiko_runtime/adapters/mcp/sdk_surface.py"
    )


def test_live_sessions_read_the_managers_sessions() -> None:
    manager = StreamableHTTPSessionManager(app=Server("probe"))
    assert list(live_session_ids(manager)) == []
    instances = getattr(manager, SERVER_INSTANCES)
    instances["s-1"] = object()
    assert list(live_session_ids(manager)) == ["s-1"]
