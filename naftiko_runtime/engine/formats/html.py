"""HTML → `{"tables": [[row, ...], ...]}`, as the reference reads pages: only tables, headers
from `th` cells, rows with any `th` skipped; `outputSchema` is a CSS selector scoping which
tables (a match that is not a table contributes the tables inside it).

lxml builds the whole tree before anything can be counted, so the nodes it can make are
counted in the body first (`tree_nodes`) and charged to the decode budget; rows and cells are
charged as they are read."""

from __future__ import annotations

import re
from typing import Any

from lxml import html as lxml_html

from naftiko_runtime.engine.formats.budget import Budget, tree_nodes
from naftiko_runtime.engine.formats.tables import rows_of

_SPACES = re.compile(r"\s+")


class HtmlError(ValueError):
    """The CSS selector of `outputSchema` does not parse."""


def _text(element: Any, budget: Budget) -> str:
    text = _SPACES.sub(" ", element.text_content().replace("\xa0", " ")).strip()
    budget.take(0, len(text))
    return text


def _table(table: Any, budget: Budget) -> list[dict[str, str]] | None:
    """One pass over the table's own rows (not those of tables nested in it)."""
    head: list[Any] = []
    body: list[Any] = []
    other: list[Any] = []
    for row in table.iter("tr"):
        budget.tick()
        parent = row.getparent()
        owner = parent if parent.tag == "table" else parent.getparent()
        if owner is not table:
            continue
        section = parent.tag
        (head if section == "thead" else body if section in ("tbody", "table") else other).append(
            row
        )
    first = head[:1] or (body or other)[:1]
    headers = [_text(c, budget) for c in first[0] if c.tag == "th"] if first else []
    data = []
    for row in body or other:
        budget.tick()
        cells = [c for c in row if isinstance(c.tag, str)]
        if any(c.tag == "th" for c in cells):
            continue
        values = [_text(c, budget) for c in cells if c.tag == "td"]
        if values:
            data.append(values)
    return rows_of(headers, data, budget)


def decode_html(
    body: bytes, selector: str | None = None, budget: Budget | None = None
) -> dict[str, Any]:
    if not body.strip():
        return {"tables": []}
    budget = budget if budget is not None else Budget()
    budget.take(tree_nodes(body))
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
    found = [t for t in (_table(table, budget) for table in tables) if t is not None]
    return {"tables": found}
