"""CSV, TSV and PSV → an array of objects keyed by the header row, every value a string, as
the reference reads them: quotes per RFC 4180 for every separator, a short row lacks its
trailing keys, a row with more cells than the header is an error (one empty extra allowed)."""

from __future__ import annotations

import csv
import io
from typing import Any

SEPARATORS = {"csv": ",", "tsv": "\t", "psv": "|"}


class DelimitedError(ValueError):
    pass


def decode_delimited(body: bytes, fmt: str) -> list[dict[str, Any]]:
    text = body.decode("utf-8", errors="replace")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=SEPARATORS[fmt], quotechar='"')
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise DelimitedError(str(exc)) from None
    if not rows:
        return []
    header, *data = rows
    out = []
    for number, row in enumerate(data, start=2):
        if len(row) > len(header):
            if len(row) == len(header) + 1 and row[-1] == "":
                row = row[:-1]
            else:
                raise DelimitedError(
                    f"row {number} has {len(row)} cells; the header has {len(header)}"
                )
        out.append(dict(zip(header, row, strict=False)))
    return out
