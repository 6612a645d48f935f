"""The redactor on its own: every encoding of a secret, split across stream chunks, and
bytes that are not UTF-8 kept as they are."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote, quote_plus

import pytest

from naftiko_runtime.redaction import Redactor

KEY = "sk-a/b c=d+e€x"
PAIR = base64.b64encode(b"user:pa ss").decode()


@pytest.fixture
def redactor() -> Redactor:
    r = Redactor()
    r.add([KEY, PAIR, "ab"])  # too short to be redacted safely: ignored
    return r


@pytest.mark.parametrize(
    "form",
    [
        KEY,
        quote(KEY),
        quote(KEY, safe=""),
        quote_plus(KEY),
        quote(KEY, safe="").lower(),
        json.dumps(KEY)[1:-1],
        KEY.replace("/", "\\/"),
        "".join(f"\\u{ord(c):04X}" for c in KEY),
        PAIR,
        PAIR.replace("=", "\\u003d"),
    ],
)
def test_every_form_is_redacted(redactor: Redactor, form: str) -> None:
    assert redactor(f"before {form} after") == "before *** after"
    assert redactor.redact_bytes(f"x{form}y".encode()) == b"x***y"


def test_text_without_a_secret_is_returned_as_is(redactor: Redactor) -> None:
    body = b'{"ab": "nothing to hide", "bad": "\xff\xfe"}'
    assert redactor.redact_bytes(body) is body
    mixed = b"\xff " + KEY.encode() + b" \xfe"
    assert redactor.redact_bytes(mixed) == b"\xff *** \xfe"


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8])
def test_a_secret_split_across_stream_chunks(redactor: Redactor, size: int) -> None:
    for form in (KEY, quote(KEY)):
        data = f"data: {form} end\n\ndata: more\n\n".encode()
        scrub = redactor.stream()
        out = [scrub.feed(data[i : i + size]) for i in range(0, len(data), size)]
        assert b"".join(out) + scrub.flush() == b"data: *** end\n\ndata: more\n\n"


def test_a_stream_without_secrets_is_not_held_back(redactor: Redactor) -> None:
    scrub = redactor.stream()
    assert scrub.feed(b"data: hello\n\n") == b"data: hello\n\n"


def test_a_long_token_is_redacted_in_streams_without_recursion() -> None:
    """A 2 KB bearer token (a JWT, a cloud session token) split across stream chunks."""
    token = "eyJ" + "a1B2c3D4" * 256
    redactor = Redactor()
    redactor.add([token])
    data = f"data: {token}\n\ndata: %41 \\u0041 ok\n\n".encode()
    scrub = redactor.stream()
    out = [scrub.feed(data[i : i + 700]) for i in range(0, len(data), 700)]
    assert b"".join(out) + scrub.flush() == b"data: ***\n\ndata: %41 \\u0041 ok\n\n"


@pytest.mark.parametrize(
    "form",
    ["abc%7Edefgh123", "abc%7edefgh123", "p&amp;ss~w0rd", "p&#38;ss~w0rd"],
)
def test_tilde_and_markup_forms(form: str) -> None:
    redactor = Redactor()
    redactor.add(["abc~defgh123", "p&ss~w0rd"])
    assert redactor(f"<fault>{form}</fault>") == "<fault>***</fault>"
