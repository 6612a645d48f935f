"""CSV, TSV and PSV → an array of objects keyed by the header row, every value a string, as
the reference reads them: quotes per RFC 4180 for every separator, a short row lacks its
trailing keys, a row with more cells than the header is an error (one empty extra allowed).

Rows are read one at a time and charged to the decode budget as JSON (each cell repeats its
header's name), so a wide header over rows of empty cells stops at the bound instead of
growing a 15 MB body into a 300 MB document."""

from __future__ import annotations

import csv
import io
from itertools import accumulate
from typing import Any

from naftiko_runtime.engine.formats.budget import Budget

SEPARATORS = {"csv": ",", "tsv": "\t", "psv": "|"}


class DelimitedError(ValueError):
    pass


def decode_delimited(body: bytes, fmt: str, budget: Budget | None = None) -> list[dict[str, Any]]:
    budget = budget if budget is not None else Budget()
    text = body.decode("utf-8", errors="replace")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=SEPARATORS[fmt], quotechar='"')
    try:
        header = next(reader, None)
        if header is None:
            return []
        # JSON text of the first n keys of a row: `"name":"",` each
        keys = [0, *accumulate(len(name) + 6 for name in header)]
        out = []
        for number, row in enumerate(reader, start=2):
            if len(row) > len(header):
                if len(row) == len(header) + 1 and row[-1] == "":
                    row = row[:-1]
                else:
                    raise DelimitedError(
                        f"row {number} has {len(row)} cells; the header has {len(header)}"
                    )
            budget.take(len(row) + 1, keys[len(row)] + sum(map(len, row)) + 2)
            out.append(dict(zip(header, row, strict=False)))
    except csv.Error as exc:
        raise DelimitedError(str(exc)) from None
    return out
