"""Secret values out of every text that leaves us, in every form an upstream echoes them.

A secret is matched character by character, each character as itself or in any encoding the
runtime produces or an upstream commonly uses when it echoes a request back: percent-encoding
(`quote` and `quote_plus`, hex digits in either case), JSON string escapes (`\\/`, `\\"`,
`\\uXXXX` in either case, as Gson writes `=` in base64), mixed freely. Bodies are scanned only
when one secret's longest run of never-escaped characters occurs in them, or a backslash
does (a `\\uXXXX` escape may stand for any character), so a reply without a secret costs a
few substring searches.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

MIN_SECRET_LENGTH = 4
MIN_ANCHOR = 3
_NEVER_ESCAPED = re.compile(r"[A-Za-z0-9_.~-]+")
_JSON_SHORT = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r"}
_JSON_SHORT["\t"] = "\\t"


def _hex(value: int, width: int) -> str:
    """`value` as hex digits matched in either case."""
    return "".join(f"[{d}{d.upper()}]" if d.isalpha() else d for d in f"{value:0{width}x}")


def _char(c: str) -> str:
    """A regex for one character of a secret in every form it may take."""
    forms = [re.escape(c)]
    forms.append("".join("%" + _hex(b, 2) for b in c.encode("utf-8")))
    if c == " ":
        forms.append(r"\+")
    if c == "/":
        forms.append(r"\\/")
    if c in _JSON_SHORT:
        forms.append(re.escape(_JSON_SHORT[c]))
    code = ord(c)
    if code < 0x10000:
        forms.append(r"\\u" + _hex(code, 4))
    else:
        high, low = divmod(code - 0x10000, 0x400)
        forms.append(r"\\u" + _hex(0xD800 + high, 4) + r"\\u" + _hex(0xDC00 + low, 4))
    return "(?:" + "|".join(forms) + ")"


def secret_pattern(secret: str) -> str:
    return "".join(_char(c) for c in secret)


def _anchor(secret: str) -> str | None:
    """The longest run of characters no encoding above changes, if it is long enough."""
    runs = _NEVER_ESCAPED.findall(secret)
    best = max(runs, key=len, default="")
    return best if len(best) >= MIN_ANCHOR else None


@dataclass
class Redactor:
    """Replaces every known secret value in a text with `***`."""

    secrets: set[str] = field(default_factory=set)
    _pattern: re.Pattern[str] | None = None
    _anchors: tuple[bytes, ...] = ()
    _text_anchors: tuple[str, ...] = ()
    _always: bool = False  # some secret has no anchor: every body is scanned

    def add(self, values: Iterable[str]) -> None:
        self.secrets.update(v for v in values if len(v) >= MIN_SECRET_LENGTH)
        ordered = sorted(self.secrets, key=len, reverse=True)
        if not ordered:
            return
        self._pattern = re.compile("|".join(secret_pattern(s) for s in ordered))
        anchors = [_anchor(s) for s in ordered]
        self._always = any(a is None for a in anchors)
        # a backslash may start a \\uXXXX escape of any character (one byte: a memchr)
        self._text_anchors = tuple({a for a in anchors if a is not None} | {"\\"})
        self._anchors = tuple(a.encode() for a in self._text_anchors)

    def __call__(self, text: str) -> str:
        if self._pattern is None:
            return text
        if not self._always and not any(a in text for a in self._text_anchors):
            return text
        return self._pattern.sub("***", text)

    def may_contain(self, data: bytes) -> bool:
        if self._pattern is None:
            return False
        return self._always or any(a in data for a in self._anchors)

    def redact_bytes(self, data: bytes) -> bytes:
        """`data` with secrets replaced; bytes that are not UTF-8 are kept as they are."""
        if not self.may_contain(data):
            return data
        assert self._pattern is not None
        text = data.decode("utf-8", "surrogateescape")
        redacted = self._pattern.sub("***", text)
        return data if redacted == text else redacted.encode("utf-8", "surrogateescape")

    def stream(self) -> StreamRedactor:
        return StreamRedactor(self)


@dataclass
class StreamRedactor:
    """Redacts a byte stream chunk by chunk; when a chunk ends in what may be the start of a
    secret, those bytes wait for the next chunk (so a secret split across chunks is caught)."""

    redactor: Redactor
    _held: bytes = b""

    def feed(self, chunk: bytes) -> bytes:
        data = self._held + chunk
        self._held = b""
        if not self.redactor.may_contain(data) and not self._could_start(data):
            return data
        data = self.redactor.redact_bytes(data)
        cut = self._tail_start(data)
        self._held = data[cut:]
        return data[:cut]

    def flush(self) -> bytes:
        held, self._held = self._held, b""
        return self.redactor.redact_bytes(held)

    def _could_start(self, data: bytes) -> bool:
        return self._tail_start(data) < len(data)

    def _tail_start(self, data: bytes) -> int:
        """Where the shortest suffix that is a prefix of some secret's plain, percent- or
        JSON-escaped form begins (len(data) when there is none)."""
        secrets = self.redactor.secrets
        longest = max((len(s) for s in secrets), default=0) * 12
        start = max(0, len(data) - longest)
        firsts = {ord("%"), ord("\\")} | {s.encode()[0] for s in secrets}
        for offset in range(start, len(data)):
            if data[offset] in firsts and _is_prefix(
                data[offset:].decode("utf-8", "surrogateescape"), secrets
            ):
                return offset
        return len(data)


def _is_prefix(tail: str, secrets: Iterable[str]) -> bool:
    """Whether `tail` could be the beginning of an encoded secret."""
    return any(_prefix_regex(secret).fullmatch(tail) for secret in secrets)


_prefix_cache: dict[str, re.Pattern[str]] = {}


def _prefix_regex(secret: str) -> re.Pattern[str]:
    """Matches any proper prefix of an encoded `secret` (ending mid-escape too)."""
    cached = _prefix_cache.get(secret)
    if cached is None:
        # nested optional groups: c1 (c2 (c3 ...)?)? — each character in any of its forms,
        # the last one possibly cut inside its escape
        pattern = ""
        for c in reversed(secret[1:]):
            pattern = f"(?:{_char(c)}{pattern}|{_partial(c)})?"
        cached = re.compile(f"(?:{_char(secret[0])}{pattern}|{_partial(secret[0])})")
        _prefix_cache[secret] = cached
    return cached


def _partial(c: str) -> str:
    """The beginnings of `c`'s forms cut inside: `%E2%8`, `\\u0`, a UTF-8 sequence cut short."""
    size = len(c.encode("utf-8"))
    hexd = "[0-9A-Fa-f]"
    forms = [f"(?:%{hexd}{{2}}){{0,{size - 1}}}(?:%{hexd}?)?", rf"\\(?:u{hexd}{{0,3}})?"]
    if ord(c) >= 0x10000:
        forms.append(rf"\\u{hexd}{{4}}(?:\\(?:u{hexd}{{0,3}})?)?")
    if size > 1:
        forms.append(f"[\udc80-\udcff]{{1,{size - 1}}}")
    return "|".join(forms)
