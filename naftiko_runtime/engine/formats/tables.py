"""Header + rows → row objects, the one rule HTML and Markdown tables share (as in the
reference): a missing cell is "", extra cells are dropped, a repeated header keeps its first
position and its last value, a table whose headers are all blank is left out. Every row is
charged to the decode budget before it is made (the cells' text was charged as it was read):
a short row gets every header's key, so many headers over many empty rows would otherwise
multiply into billions of cells."""

from __future__ import annotations

from collections.abc import Sequence

from naftiko_runtime.engine.formats.budget import Budget


def rows_of(
    headers: Sequence[str], rows: Sequence[Sequence[str]], budget: Budget | None = None
) -> list[dict[str, str]] | None:
    if not headers or all(not h for h in headers):
        return None
    budget = budget if budget is not None else Budget()
    keys = sum(len(h) + 6 for h in headers) + 2  # `"header":"",` each, as JSON
    out = []
    for cells in rows:
        budget.take(len(headers) + 1, keys)
        row: dict[str, str] = {}
        for i, header in enumerate(headers):
            row[header] = cells[i] if i < len(cells) else ""
        out.append(row)
    return out
