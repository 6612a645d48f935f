"""Markdown → `{"frontMatter", "tables", "sections"}` as the reference reads documents:
YAML front matter, top-level GFM tables as row objects, and one section per heading with the
text of its blocks (code blocks and tables left out); `outputSchema` keeps only the sections
whose heading starts with it.

markdown-it reads in pure Python (~0.5 MB/s, a token ~350 bytes, ~180 bytes of bookkeeping a
line), so it is held to the decode budget through its own extension points: a block rule and
an inline rule that only look at the CPU clock, and token lists that charge each token as it
is appended. Inline content is parsed one block at a time, as it is read, and dropped after.
The lines are charged, and bodies over `MAX_MARKDOWN` refused, before parsing: markdown-it's
set-up pass over every character cannot be interrupted."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, SupportsIndex

from markdown_it import MarkdownIt
from markdown_it.rules_block.state_block import StateBlock
from markdown_it.rules_inline.state_inline import StateInline
from markdown_it.token import Token

from naftiko_runtime.engine.formats.budget import HEAVY, Budget, DecodeLimitError
from naftiko_runtime.engine.formats.tables import rows_of

MAX_MARKDOWN = 4 * 1024 * 1024
"""Bytes of Markdown read at most (markdown-it's set-up alone takes ~0.4 s per MB)."""
LINE = 2  # what a line costs in values: markdown-it keeps five numbers for each


class _Tokens(list[Token]):
    """A token list charging each token to the budget as markdown-it appends it."""

    def __init__(self, budget: Budget) -> None:
        super().__init__()
        self.budget = budget

    def append(self, token: Token) -> None:
        self.budget.take(HEAVY)
        super().append(token)

    def insert(self, index: SupportsIndex, token: Token) -> None:
        self.budget.take(HEAVY)
        super().insert(index, token)

    def extend(self, tokens: Iterable[Token]) -> None:
        for token in tokens:
            self.append(token)


def _clock_block(state: StateBlock, start: int, end: int, silent: bool) -> bool:
    """Tried at every block and, as a terminator, at every line of a paragraph or list."""
    state.env["budget"].tick()
    return False


def _clock_inline(state: StateInline, silent: bool) -> bool:
    """Tried at every position the inline rules look at."""
    state.env["budget"].tick()
    return False


_PARSER = MarkdownIt("commonmark").enable("table")
_PARSER.block.ruler.before(
    "table", "budget", _clock_block, {"alt": ["paragraph", "reference", "blockquote", "list"]}
)
_PARSER.inline.ruler.before("text", "budget", _clock_inline)


def _front_matter(text: str, budget: Budget) -> tuple[dict[str, Any], str]:
    if not text.startswith("---\n"):
        return {}, text
    end = text.find("\n---\n", 4 - 1)
    if end < 3:
        return {}, text
    raw = text[4:end].strip()
    rest = text[end + len("\n---\n") :]
    if not raw:
        return {}, rest
    from naftiko_runtime.engine.formats.yaml_safe import load_first

    data = load_first(raw, budget)
    return (data if isinstance(data, dict) else {}), rest


def _inline_text(token: Token, env: dict[str, Any]) -> str:
    """The text of an inline token, its children parsed now and dropped after."""
    children = _Tokens(env["budget"])
    _PARSER.inline.parse(token.content, _PARSER, env, children)
    out: list[str] = []
    for child in children:
        if child.type in ("text", "text_special", "code_inline"):
            out.append(child.content)
        elif child.type == "softbreak":
            out.append(" ")
        elif child.type == "hardbreak":
            out.append("\n")
        elif child.type == "image":
            out.append(child.content)
    text = "".join(out)
    env["budget"].take(0, len(text))
    return text


def _table(tokens: list[Token], i: int, env: dict[str, Any]) -> tuple[Any, int]:
    """The rows of the table opening at `i`, and the index after it."""
    headers: list[str] = []
    rows: list[list[str]] = []
    row: list[str] = []
    in_head = False
    while tokens[i].type != "table_close":
        t = tokens[i]
        if t.type == "thead_open":
            in_head = True
        elif t.type == "thead_close":
            in_head = False
        elif t.type == "tr_open":
            row = []
        elif t.type == "inline":
            row.append(_inline_text(t, env).strip())
        elif t.type == "tr_close":
            (headers.extend(row) if in_head else rows.append(row))
        i += 1
    return rows_of(headers, rows, env["budget"]), i + 1


def _block_text(tokens: list[Token], i: int, env: dict[str, Any]) -> tuple[str, int]:
    """The text of the top-level block opening at `i` (lists concatenate), and the index
    after it."""
    token = tokens[i]
    close_type = token.type.replace("_open", "_close")
    j, depth, parts = i + 1, 1, []
    while j < len(tokens) and depth > 0:
        t = tokens[j]
        if t.type == token.type:
            depth += 1
        elif t.type == close_type:
            depth -= 1
        elif t.type == "inline":
            parts.append(_inline_text(t, env))
        j += 1
    return "".join(parts).strip(), j


def decode_markdown(
    body: bytes, section_prefix: str | None = None, budget: Budget | None = None
) -> dict[str, Any]:
    budget = budget if budget is not None else Budget()
    if len(body) > MAX_MARKDOWN:
        raise DecodeLimitError(f"Markdown over {MAX_MARKDOWN} bytes")
    text = body.decode("utf-8", errors="replace").replace("\r\n", "\n")
    budget.take(LINE * text.count("\n"))
    front, rest = _front_matter(text, budget)
    env: dict[str, Any] = {"budget": budget}
    tokens = _Tokens(budget)
    source = rest.replace("\r", "\n").replace("\0", "\ufffd")  # what markdown-it's core does
    _PARSER.block.parse(source, _PARSER, env, tokens)
    tables: list[list[dict[str, str]]] = []
    sections: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    blocks: list[str] = []
    i = 0

    def close() -> None:
        if current is not None:
            current["content"] = "\n".join(b for b in blocks if b).strip()
            sections.append(current)

    while i < len(tokens):
        token = tokens[i]
        if token.level == 0 and token.type == "heading_open":
            close()
            blocks = []
            heading = _inline_text(tokens[i + 1], env).strip()
            budget.take(4, len(heading) + 40)
            current = {"heading": heading, "level": int(token.tag[1])}
            i += 3
        elif token.level == 0 and token.type == "table_open":
            table, i = _table(tokens, i, env)
            if table is not None:
                tables.append(table)
        elif token.level == 0 and token.nesting == 1:
            block, i = _block_text(tokens, i, env)
            blocks.append(block)
        else:
            i += 1  # fences, code blocks, html blocks, thematic breaks: no text
    close()
    if section_prefix:
        sections = [s for s in sections if str(s["heading"]).startswith(section_prefix)]
    return {"frontMatter": front, "tables": tables, "sections": sections}
