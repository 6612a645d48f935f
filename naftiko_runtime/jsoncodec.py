"""JSON in and out with orjson, exact for integers past 64 bits.

orjson reads such an integer as a float (losing digits) and refuses to write one. A body
that holds a run of 19 or more digits is read with the standard parser instead, which keeps
every integer exact; a value orjson cannot write is written by the standard encoder. Both
cost only the bodies that need them.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

_LONG_NUMBER = re.compile(rb"[0-9]{19}")


def loads(data: bytes | str) -> Any:
    raw = data.encode() if isinstance(data, str) else data
    if _LONG_NUMBER.search(raw) is None:
        return orjson.loads(raw)
    return json.loads(raw)


def dumps(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError:  # an integer past 64 bits (the only JSON value orjson refuses)
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
