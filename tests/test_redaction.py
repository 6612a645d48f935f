"""The redactor on its own: every encoding of a secret, split across stream chunks, and
bytes that are not UTF-8 kept as they are."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote, quote_plus

import pytest

from naftiko_runtime.secrets.redactor import Redactor

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


def test_which_bound_values_sent_upstream_are_credentials(tmp_path: object) -> None:
    """What the spec sends upstream outside `authentication` is redacted from bodies too,
    except what is data everywhere in answers (found by review: a bound host, an API version
    date and a page size were turning every `url`, `created_at` and `limit` into `***`);
    a long number may be a key or a PIN, so it is no exception."""
    from pathlib import Path

    from naftiko_runtime.capability.load import load_paths
    from naftiko_runtime.engine.credentials import request_secrets

    spec = Path(str(tmp_path)) / "secrets.yaml"
    spec.write_text(
        """\
naftiko: "1.0.0-alpha2"
binds:
  - namespace: env
    keys:
      HOST: HOST
      HOOK: HOOK
      VERSION: VERSION
      PAGE: PAGE
      PIN: PIN
      KEY: KEY
capability:
  consumes:
    - type: http
      namespace: api
      description: "An upstream"
      baseUri: "https://{{env.HOST}}/v1"
      inputParameters:
        - name: Api-Version
          in: header
          value: "{{env.VERSION}}"
        - name: X-Pin
          in: header
          value: "{{env.PIN}}"
        - name: X-Key
          in: header
          value: "{{env.KEY}}"
      resources:
        - name: items
          path: "/hooks/{{hook}}/items"
          operations:
            - name: list
              method: GET
              inputParameters:
                - name: hook
                  in: path
                  value: "{{env.HOOK}}"
                - name: limit
                  in: query
                  value: "{{env.PAGE}}"
  exposes:
    - type: mcp
      namespace: items-mcp
      port: 9090
      tools:
        - name: list
          description: "Items"
          call: api.list
"""
    )
    result = load_paths([str(spec)])
    assert result.ok, result.diagnostics
    (capability,) = result.capabilities
    values = {
        "HOST": "api.example.test",
        "HOOK": "T000/B000/XXXXsecret",
        "VERSION": "2022-06-28",
        "PAGE": "1000",
        "PIN": "8473625194031245",
        "KEY": "k3y-f00",
    }
    scope = {**values, **{f"env.{k}": v for k, v in values.items()}}
    assert sorted(set(request_secrets(capability, scope))) == sorted(
        ["T000/B000/XXXXsecret", "8473625194031245", "k3y-f00"]
    )
