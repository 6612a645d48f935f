"""Upstream failures as types: one subclass per kind, and each client's `map_errors` turning
its library's exceptions into the most specific one, with the cause kept."""

from __future__ import annotations

import ssl
import zlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import aiohttp
import orjson
import pytest
from pyreqwest import exceptions as reqwest

from naftiko_runtime.adapters.errors import error_reply
from naftiko_runtime.errors import (
    NaftikoError,
    UpstreamBadResponseError,
    UpstreamBusyError,
    UpstreamConnectError,
    UpstreamError,
    UpstreamRedirectError,
    UpstreamStatusError,
    UpstreamTimeoutError,
)
from naftiko_runtime.policies.errors import CircuitOpen
from naftiko_runtime.secrets.redactor import Redactor
from naftiko_runtime.upstream import aiohttp as aiohttp_client
from naftiko_runtime.upstream import h1, pyreqwest
from naftiko_runtime.upstream.base import UpstreamRequest

REQUEST = UpstreamRequest("GET", "http://upstream.test/x?key=secret", [], None, "api.get")


def test_each_kind_is_a_subclass_of_upstream_error() -> None:
    kinds = {
        UpstreamStatusError: "status",
        UpstreamRedirectError: "redirect",
        UpstreamConnectError: "connect",
        UpstreamTimeoutError: "timeout",
        UpstreamBusyError: "busy",
        UpstreamBadResponseError: "bad_response",
        CircuitOpen: "circuit_open",
    }
    for cls, kind in kinds.items():
        assert issubclass(cls, UpstreamError) and issubclass(cls, NaftikoError)
        assert cls.kind == kind
    error = UpstreamStatusError("upstream failed", operation="api.get", upstream_status=503)
    reply = error_reply(error, Redactor())
    assert reply.status == 502
    assert orjson.loads(reply.body) == {
        "error": {"type": "upstream_status", "message": "upstream failed", "upstream_status": 503}
    }


def mapped(
    map_errors: Callable[..., AbstractContextManager[None]],
    exc: BaseException,
    *args: Any,
    **kwargs: Any,
) -> Exception:
    """What `exc` becomes when raised inside `map_errors(REQUEST, *args, **kwargs)`."""
    with pytest.raises(Exception) as caught:
        with map_errors(REQUEST, *args, **kwargs):
            raise exc
    assert caught.value.__cause__ is exc or caught.value is exc
    return caught.value


def test_h1_maps_socket_tls_and_zlib_failures() -> None:
    refused = mapped(h1.map_errors, ConnectionRefusedError(111, "Connection refused"), "h:1")
    assert isinstance(refused, UpstreamConnectError)
    assert refused.message.endswith("connection to h:1 failed (Connection refused)")
    tls = mapped(h1.map_errors, ssl.SSLCertVerificationError("bad certificate"), "h:1")
    assert isinstance(tls, UpstreamConnectError) and tls.message.endswith("TLS failure")
    slow = mapped(h1.map_errors, TimeoutError(), "h:1")
    assert isinstance(slow, UpstreamTimeoutError)
    broken = mapped(h1.map_errors, zlib.error("invalid stored block lengths"), status=200)
    assert isinstance(broken, UpstreamBadResponseError) and broken.upstream_status == 200
    assert "cut off" in broken.message
    other = ValueError("not ours")
    assert mapped(h1.map_errors, other) is other  # passes through untouched


def test_aiohttp_maps_by_what_was_under_way() -> None:
    lost = aiohttp.ServerDisconnectedError()
    head = mapped(aiohttp_client.map_errors, lost)
    assert isinstance(head, UpstreamConnectError)
    assert head.message.endswith("the server closed the connection")
    body = mapped(aiohttp_client.map_errors, aiohttp.ServerDisconnectedError(), 200)
    assert isinstance(body, UpstreamBadResponseError) and body.upstream_status == 200
    stream_lost = mapped(aiohttp_client.map_errors, lost, 200, stream=True)
    assert isinstance(stream_lost, UpstreamConnectError)
    cut = mapped(aiohttp_client.map_errors, aiohttp.ClientPayloadError("x"), 200, stream=True)
    assert isinstance(cut, UpstreamBadResponseError) and "cut off" in cut.message
    silent = mapped(aiohttp_client.map_errors, TimeoutError(), 200, stream=True)
    assert isinstance(silent, UpstreamTimeoutError) and "went silent" in silent.message
    slow = mapped(aiohttp_client.map_errors, TimeoutError())
    assert isinstance(slow, UpstreamTimeoutError) and "in time" in slow.message
    unreadable = mapped(aiohttp_client.map_errors, aiohttp.ClientError("?"))
    assert isinstance(unreadable, UpstreamBadResponseError)
    assert unreadable.message.endswith("it cannot be read")


def test_pyreqwest_maps_by_what_was_under_way() -> None:
    def details(message: str) -> Any:
        return {"causes": [{"message": message}]}

    refused = reqwest.ConnectError("connection refused", details("refused"))
    head = mapped(pyreqwest.map_errors, refused)
    assert isinstance(head, UpstreamConnectError)
    assert head.message.endswith("connection refused")
    parse = reqwest.DecodeError("for http://x/?key=secret", details("invalid HTTP status"))
    bad = mapped(pyreqwest.map_errors, parse)
    assert isinstance(bad, UpstreamBadResponseError)
    assert bad.message.endswith("invalid HTTP status") and "secret" not in bad.message
    slow = mapped(pyreqwest.map_errors, reqwest.ReadTimeoutError("slow", details("slow")), 200)
    assert isinstance(slow, UpstreamTimeoutError)
    cut = mapped(pyreqwest.map_errors, reqwest.ReadError("reset", details("reset")), 200)
    assert isinstance(cut, UpstreamBadResponseError) and cut.upstream_status == 200
    silent = mapped(pyreqwest.map_errors, TimeoutError(), stream=True)
    assert isinstance(silent, UpstreamTimeoutError) and "went silent" in silent.message
    plain = TimeoutError()  # not pyreqwest's, outside a stream: not for this map
    assert mapped(pyreqwest.map_errors, plain) is plain
