"""The digest guard without sockets: an expired nonce answered correctly is `stale` (so the
client retries at once), a nonce this process family did not sign is refused, and a nonce
count must grow."""

from __future__ import annotations

import hashlib
from typing import Any

from naftiko_runtime.adapters.auth.digest import NONCE_SECONDS, REALM, DigestGuard, _nonce


def answer(nonce: str, count: int, password: str = "pw", uri: str = "/items") -> dict[str, Any]:
    def h(text: str) -> str:
        return hashlib.sha256(text.encode()).hexdigest()

    nc, cnonce = f"{count:08x}", "c0ffee"
    ha1, ha2 = h(f"ops:{REALM}:{password}"), h(f"GET:{uri}")
    response = h(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
    header = (
        f'Digest username="ops", realm="{REALM}", nonce="{nonce}", uri="{uri}", '
        f'algorithm=SHA-256, qop=auth, nc={nc}, cnonce="{cnonce}", response="{response}"'
    )
    return {
        "method": "GET",
        "path": uri,
        "raw_path": uri.encode(),
        "query_string": b"",
        "headers": [(b"authorization", header.encode())],
    }


def test_an_expired_nonce_is_stale_and_a_fresh_one_passes() -> None:
    now = [1_000_000.0]
    guard = DigestGuard("ops", "pw", clock=lambda: now[0])
    nonce = _nonce(now[0])
    assert guard.check(answer(nonce, 1)) == "ok"
    now[0] += NONCE_SECONDS + 1
    assert guard.check(answer(nonce, 2)) == "stale"
    assert guard.check(answer(_nonce(now[0]), 1)) == "ok"


def test_counts_must_grow_and_foreign_nonces_fail() -> None:
    guard = DigestGuard("ops", "pw")
    nonce = _nonce(guard.clock())
    assert guard.check(answer(nonce, 1)) == "ok"
    assert guard.check(answer(nonce, 1)) == "no"  # replay
    assert guard.check(answer(nonce, 3)) == "ok"
    assert guard.check(answer(nonce, 2)) == "no"  # went backwards
    assert guard.check(answer("bm90LW91cnMtbm90LW91cnMtbm90LW91cnMtbm90LW91cnM", 1)) == "no"
    assert guard.check(answer(_nonce(guard.clock()), 1, password="wrong")) == "no"
    other_uri = answer(_nonce(guard.clock()), 1)
    other_uri["raw_path"] = b"/elsewhere"
    assert guard.check(other_uri) == "no"  # the answer was for another target


def test_a_nonce_of_another_worker_is_stale_so_a_replay_is_spent_once() -> None:
    """Nonces are bound to the process that made them: a captured answer replayed to
    another worker gets `stale` (and the client a fresh nonce), never a second pass."""
    import struct
    from unittest import mock

    guard = DigestGuard("ops", "pw")
    with mock.patch("os.getpid", return_value=4242):
        foreign = _nonce(guard.clock())
    assert guard.check(answer(foreign, 1)) == "stale"
    assert struct.calcsize(">dI") == 12
