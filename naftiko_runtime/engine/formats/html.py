"""HTML → `{"tables": [[row, ...], ...]}`, as the reference reads pages: only tables, headers
from `th` cells, rows with any `th` skipped; `outputSchema` is a CSS selector scoping which
tables (a match that is not a table contributes the tables inside it)."""

from __future__ import annotations

import re
from typing import Any

from lxml import html as lxml_html

from naftiko_runtime.engine.formats.tables import rows_of

_SPACES = re.compile(r"\s+")


class HtmlError(ValueError):
    """The CSS selector of `outputSchema` does not parse."""


def _text(element: Any) -> str:
    return _SPACES.sub(" ", element.text_content().replace("\xa0", " ")).strip()


def _direct_rows(table: Any, section: str | None) -> list[Any]:
    rows = []
    for row in table.iter("tr"):
        parent = row.getparent()
        if parent is None:
            continue
        owner = parent if parent.tag == "table" else parent.getparent()
        if owner is not table:
            continue  # a nested table's row
        if (
            section is None
            or parent.tag == section
            or (section == "tbody" and parent.tag == "table")
        ):
            rows.append(row)
    return rows


def _cells(row: Any, tag: str) -> list[Any]:
    return [cell for cell in row if isinstance(cell.tag, str) and cell.tag == tag]


def _table(table: Any) -> list[dict[str, str]] | None:
    head = _direct_rows(table, "thead")
    candidates = head[:1] or _direct_rows(table, None)[:1]
    headers = [_text(c) for c in _cells(candidates[0], "th")] if candidates else []
    body = _direct_rows(table, "tbody") or _direct_rows(table, None)
    data = []
    for row in body:
        if _cells(row, "th"):
            continue
        cells = _cells(row, "td")
        if cells:
            data.append([_text(c) for c in cells])
    return rows_of(headers, data)


def decode_html(body: bytes, selector: str | None = None) -> dict[str, Any]:
    if not body.strip():
        return {"tables": []}
    document = lxml_html.document_fromstring(body)
    if selector and selector.strip():
        try:
            matches = document.cssselect(selector)
        except Exception as exc:  # cssselect's SelectorSyntaxError and friends
            raise HtmlError(f"invalid CSS selector {selector!r}: {exc}") from None
        tables: list[Any] = []
        for match in matches:
            tables.extend([match] if match.tag == "table" else match.iter("table"))
    else:
        tables = list(document.iter("table"))  # nested ones too, outer before inner
    found = [t for t in (_table(table) for table in tables) if t is not None]
    return {"tables": found}
