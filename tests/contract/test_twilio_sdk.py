"""Twilio through the gateway with the official `twilio` Python SDK: Twilio's own OpenAPI
description (its twilio-oai specs, shipped in the npm package `@twilio-alpha/mcp`)
imported, served against a Prism mock of it behind a recording proxy. Form-encoded bodies
both ways (the SDK posts forms; Twilio reads forms, arrays as repeated keys), HTTP Basic
upstream with the gateway's own credentials (the SDK's never pass), paths with a suffix in
the segment (`{Sid}.json`)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode

import pytest

from tests.conftest import REPO
from tests.fixtures.openapi_slice import slice_document
from tests.fixtures.prism import PRISM, running_prism
from tests.fixtures.process import serve
from tests.fixtures.recording_proxy import RecordingProxy
from tests.fixtures.upstream import running

SPECS = REPO / "node_modules" / "@twilio-alpha" / "mcp" / "twilio-oai" / "spec" / "json"
DESCRIPTION = SPECS / "twilio_api_v2010.json"
ACCOUNT = "AC" + "0123456789abcdef" * 2
MESSAGE = "MM" + "fedcba9876543210" * 2
GATEWAY_USER, GATEWAY_PASSWORD = ACCOUNT, "gateway-auth-token"
PATHS = [
    "/2010-04-01/Accounts/{AccountSid}/Messages.json",
    "/2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json",
]
OPERATIONS = ["CreateMessage", "ListMessage", "FetchMessage", "UpdateMessage"]


def _bracketed(headers: dict[str, str], body: bytes) -> bytes:
    """Twilio reads an array as its key repeated (what its SDK sends, and the gateway);
    Prism's form parser reads only `key[]`: translated for Prism alone, after recording."""
    if "form-urlencoded" not in headers.get("content-type", ""):
        return body
    fields = parse_qs(body.decode(), keep_blank_values=True)
    pairs = [(k + "[]" if len(v) > 1 else k, item) for k, v in fields.items() for item in v]
    return urlencode(pairs).encode()


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    if not (DESCRIPTION.exists() and PRISM.exists()):
        pytest.skip("needs npm's @twilio-alpha/mcp (Twilio's specs) and Prism (scripts/install)")
    pytest.importorskip("twilio")
    folder = tmp_path_factory.mktemp("twilio")
    document = slice_document(DESCRIPTION, PATHS, folder / "twilio-slice.json")
    spec = folder / "twilio.yaml"
    done = subprocess.run(
        [sys.executable, "-m", "naftiko_runtime", "import", "openapi", str(document)]
        + ["--namespace", "twilio", "-o", str(spec), "--select", *OPERATIONS],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and "would refuse" not in done.stderr, done.stderr
    env = {"TWILIO_USERNAME": GATEWAY_USER, "TWILIO_PASSWORD": GATEWAY_PASSWORD}
    with running_prism(document, folder / "prism.log") as prism:
        recorder = RecordingProxy(prism, _bracketed)
        with running(recorder) as base:
            args = [spec, "--upstream", f"twilio={base}"]
            with serve(*args, env={**os.environ, **env}) as process:
                yield {"rest": process.rest, "recorder": recorder, "spec": spec}


@pytest.fixture(scope="module")
def client(gateway: dict[str, Any]) -> Any:
    from twilio.rest import Client

    sdk = Client(ACCOUNT, "the-callers-own-token")
    sdk.api.base_url = gateway["rest"]  # the SDK's own host, pointed at the gateway
    return sdk


def _last(gateway: dict[str, Any]) -> tuple[str, str, str, dict[str, str], bytes]:
    return gateway["recorder"].seen[-1]


def test_a_message_is_created_with_every_form_field(gateway: dict[str, Any], client: Any) -> None:
    message = client.messages.create(
        to="+15558675310",
        from_="+15017122661",
        body="Hi there",
        media_url=["https://example.test/a.png", "https://example.test/b.png"],
    )
    assert message.sid.startswith(("SM", "MM"))  # Prism's example, parsed by the SDK
    method, path, _, headers, body = _last(gateway)
    assert (method, path) == ("POST", f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json")
    assert headers["content-type"] == "application/x-www-form-urlencoded"
    assert parse_qs(body.decode()) == {
        "To": ["+15558675310"],
        "From": ["+15017122661"],
        "Body": ["Hi there"],
        "MediaUrl": ["https://example.test/a.png", "https://example.test/b.png"],
    }
    import base64

    expected = base64.b64encode(f"{GATEWAY_USER}:{GATEWAY_PASSWORD}".encode()).decode()
    assert headers["authorization"] == f"Basic {expected}"  # the gateway's, never the SDK's


def test_a_message_is_fetched_listed_and_updated(gateway: dict[str, Any], client: Any) -> None:
    fetched = client.messages(MESSAGE).fetch()
    assert fetched.sid
    assert _last(gateway)[:2] == ("GET", f"/2010-04-01/Accounts/{ACCOUNT}/Messages/{MESSAGE}.json")
    listed = client.messages.list(to="+15558675310", limit=2)
    assert isinstance(listed, list)
    method, path, query, _, _ = _last(gateway)
    assert (method, path) == ("GET", f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json")
    assert parse_qs(query) == {"To": ["+15558675310"], "PageSize": ["2"]}
    client.messages(MESSAGE).update(body="")
    method, path, _, _, body = _last(gateway)
    assert (method, path) == ("POST", f"/2010-04-01/Accounts/{ACCOUNT}/Messages/{MESSAGE}.json")
    assert body == b"Body="  # an empty value is a value: sent, not left out


def test_the_range_filters_twilio_names_with_operators_are_left_out_with_a_note(
    gateway: dict[str, Any],
) -> None:
    text = gateway["spec"].read_text()
    assert "query parameter 'DateSent<': a name the dialect cannot hold; left out" in text
