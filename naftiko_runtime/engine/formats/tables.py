"""Header + rows → row objects, the one rule HTML and Markdown tables share (as in the
reference): a missing cell is "", extra cells are dropped, a repeated header keeps its first
position and its last value, a table whose headers are all blank is left out."""

from __future__ import annotations

from collections.abc import Sequence


def rows_of(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[dict[str, str]] | None:
    if not headers or all(not h for h in headers):
        return None
    out = []
    for cells in rows:
        row: dict[str, str] = {}
        for i, header in enumerate(headers):
            row[header] = cells[i] if i < len(cells) else ""
        out.append(row)
    return out
