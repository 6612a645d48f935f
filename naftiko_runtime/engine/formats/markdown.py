"""Markdown → `{"frontMatter", "tables", "sections"}` as the reference reads documents:
YAML front matter, top-level GFM tables as row objects, and one section per heading with the
text of its blocks (code blocks and tables left out); `outputSchema` keeps only the sections
whose heading starts with it."""

from __future__ import annotations

from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token

from naftiko_runtime.engine.formats.tables import rows_of

_PARSER = MarkdownIt("commonmark").enable("table")


def _front_matter(text: str) -> tuple[dict[str, Any], str]:
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

    data = load_first(raw)
    return (data if isinstance(data, dict) else {}), rest


def _inline_text(token: Token) -> str:
    out: list[str] = []
    for child in token.children or []:
        if child.type in ("text", "code_inline"):
            out.append(child.content)
        elif child.type == "softbreak":
            out.append(" ")
        elif child.type == "hardbreak":
            out.append("\n")
        elif child.type == "image":
            out.append(child.content)
    return "".join(out)


def decode_markdown(body: bytes, section_prefix: str | None = None) -> dict[str, Any]:
    text = body.decode("utf-8", errors="replace").replace("\r\n", "\n")
    front, rest = _front_matter(text)
    tokens = _PARSER.parse(rest)
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
            current = {"heading": _inline_text(tokens[i + 1]).strip(), "level": int(token.tag[1])}
            i += 3
            continue
        if token.level == 0 and token.type == "table_open":
            headers: list[str] = []
            rows: list[list[str]] = []
            row: list[str] = []
            in_head = False
            depth_end = i
            while tokens[depth_end].type != "table_close":
                t = tokens[depth_end]
                if t.type == "thead_open":
                    in_head = True
                elif t.type == "thead_close":
                    in_head = False
                elif t.type == "tr_open":
                    row = []
                elif t.type == "inline":
                    row.append(_inline_text(t).strip())
                elif t.type == "tr_close":
                    (headers.extend(row) if in_head else rows.append(row))
                depth_end += 1
            table = rows_of(headers, rows)
            if table is not None:
                tables.append(table)
            i = depth_end + 1
            continue
        if token.level == 0 and token.nesting == 1:
            # one top-level block: collect the text of its inline tokens (lists concatenate)
            close_type = token.type.replace("_open", "_close")
            j, depth, parts = i + 1, 1, []
            while j < len(tokens) and depth > 0:
                t = tokens[j]
                if t.type == token.type:
                    depth += 1
                elif t.type == close_type:
                    depth -= 1
                elif t.type == "inline":
                    parts.append(_inline_text(t))
                j += 1
            blocks.append("".join(parts).strip())
            i = j
            continue
        i += 1  # fences, code blocks, html blocks, thematic breaks: no text
    close()
    if section_prefix:
        sections = [s for s in sections if str(s["heading"]).startswith(section_prefix)]
    return {"frontMatter": front, "tables": tables, "sections": sections}
