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
_NEVER_ESCAPED = re.compile(r"[A-Za-z0-9_.-]+")  # `~` is %7E in Java, PHP, .NET
_JSON_SHORT = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r"}
_JSON_SHORT["\t"] = "\\t"
_MARKUP = {  # how XML and HTML write the characters they must escape
    "&": ("&amp;", "&#38;", "&#x26;"),
    "<": ("&lt;", "&#60;", "&#x3c;"),
    ">": ("&gt;", "&#62;", "&#x3e;"),
    '"': ("&quot;", "&#34;", "&#x22;"),
    "'": ("&apos;", "&#39;", "&#x27;"),
}


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
    forms.extend(re.escape(form) for form in _MARKUP.get(c, ()))
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
    """Replaces every known secret value in a text with `***`.

    Log lines and the runtime's own error messages lose every bound value. Bodies passed
    through from an upstream (`bodies`) lose only credentials (what authentication is built
    from): a bound `PAGE_SIZE=1000` must not turn `{"limit": 1000}` into invalid JSON."""

    secrets: set[str] = field(default_factory=set)
    credentials_only: bool = False  # this is some redactor's `bodies`
    _bodies: Redactor | None = None
    _pattern: re.Pattern[str] | None = None
    _anchors: tuple[bytes, ...] = ()
    _binary_anchors: tuple[bytes, ...] = ()  # no backslash: no JSON escapes outside text
    _text_anchors: tuple[str, ...] = ()
    _always: bool = False  # some secret has no anchor: every body is scanned

    def add(self, values: Iterable[str], credential: bool = True) -> None:
        """`credential`: the values also leave pass-through bodies (see the class)."""
        kept = [v for v in values if len(v) >= MIN_SECRET_LENGTH]
        if credential and not self.credentials_only:
            self.bodies._add(kept)
        self._add(kept)

    @property
    def bodies(self) -> Redactor:
        """The redactor for upstream bodies passed through: credentials only."""
        if self.credentials_only:
            return self
        if self._bodies is None:
            self._bodies = Redactor(credentials_only=True)
        return self._bodies

    def _add(self, values: Iterable[str]) -> None:
        self.secrets.update(values)
        ordered = sorted(self.secrets, key=len, reverse=True)
        if not ordered:
            return
        self._pattern = re.compile("|".join(secret_pattern(s) for s in ordered))
        anchors = [_anchor(s) for s in ordered]
        self._always = any(a is None for a in anchors)
        # a backslash may start a \\uXXXX escape of any character (one byte: a memchr)
        self._text_anchors = tuple({a for a in anchors if a is not None} | {"\\"})
        self._anchors = tuple(a.encode() for a in self._text_anchors)
        self._binary_anchors = tuple(a for a in self._anchors if a != b"\\")

    def __call__(self, text: str) -> str:
        if self._pattern is None:
            return text
        if not self._always and not any(a in text for a in self._text_anchors):
            return text
        return self._pattern.sub("***", text)

    def may_contain(self, data: bytes, text: bool = True) -> bool:
        """Whether `data` needs the full scan. A body that is not text (`text=False`: an
        image, an archive, `message/http`) is scanned only when a secret's literal anchor
        occurs in it, not for every backslash, so its cost stays a few substring searches."""
        if self._pattern is None:
            return False
        if self._always:
            return True
        for anchor in self._anchors if text else self._binary_anchors:  # no generator
            if anchor in data:
                return True
        return False

    def redact_bytes(self, data: bytes, text: bool = True) -> bytes:
        """`data` with secrets replaced; bytes that are not UTF-8 are kept as they are."""
        if not self.may_contain(data, text):
            return data
        assert self._pattern is not None
        decoded = data.decode("utf-8", "surrogateescape")
        redacted = self._pattern.sub("***", decoded)
        return data if redacted == decoded else redacted.encode("utf-8", "surrogateescape")

    def stream(self, text: bool = True) -> StreamRedactor:
        return StreamRedactor(self, text)


@dataclass
class StreamRedactor:
    """Redacts a byte stream chunk by chunk. A chunk that ends a line (every event of an
    event stream does) is redacted whole, since no secret spans a newline; otherwise its
    last bytes, as many as the longest encoded secret could take, wait for the next chunk,
    so a secret split across chunks is still caught. O(n) per chunk: one regex pass."""

    redactor: Redactor
    text: bool = True  # see Redactor.may_contain
    _held: bytes = b""

    def feed(self, chunk: bytes) -> bytes:
        data = self._held + chunk
        self._held = b""
        secrets = self.redactor.secrets
        if not secrets:
            return data
        if data.endswith(b"\n") and not any("\n" in s for s in secrets):
            return self.redactor.redact_bytes(data, self.text)
        keep = max(len(s) for s in secrets) * 12 - 1  # \uXXXX\uXXXX or %XX x4 per char
        if len(data) <= keep:
            self._held = data
            return b""
        data = self.redactor.redact_bytes(data, self.text)
        self._held = data[-keep:]
        return data[:-keep]

    def flush(self) -> bytes:
        held, self._held = self._held, b""
        return self.redactor.redact_bytes(held, self.text)


TEXT_TYPES = ("text/", "application/json", "application/x-ndjson", "application/xml")
TEXT_SUFFIXES = ("+json", "+xml")


def is_text(content_type: str) -> bool:
    """Whether a body of this type is text, where a secret may also stand JSON-escaped (a
    body of any other type is still redacted, on its secrets' literal anchors only)."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if not kind:
        return True
    return (
        kind.startswith(TEXT_TYPES)
        or kind.endswith(TEXT_SUFFIXES)
        or kind
        in (
            "application/x-www-form-urlencoded",
            "application/javascript",
            "application/problem+json",
        )
    )
