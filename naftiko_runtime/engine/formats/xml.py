"""XML → JSON the way the reference engine reads it (Jackson's XML tree): the root element is
dropped, child elements become keys, repeated siblings an array, attributes keys, and every
leaf a string. DTDs (and so external entities and entity bombs), network access and huge
trees are refused. lxml builds the whole tree first, so the nodes it can make are counted in
the body (`tree_nodes`) and charged to the decode budget before it parses; the conversion
charges every value it makes."""

from __future__ import annotations

from typing import Any

from lxml import etree

from naftiko_runtime.engine.formats.budget import Budget, tree_nodes

_PARSER_OPTIONS = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "huge_tree": False,
    "remove_comments": True,
    "remove_pis": True,
}


class XmlError(ValueError):
    """The payload is not well-formed XML (or uses what the parser refuses)."""


def _convert(element: Any, budget: Budget) -> Any:
    """One element: a leaf is its text; otherwise its attributes and children as keys, a
    name seen twice becoming a list (built in one pass)."""
    if not len(element) and not element.attrib:
        text = element.text
        leaf = text.strip() if text else ""
        budget.take(1, len(leaf) + len(element.tag) + 6)
        return leaf
    node: dict[str, Any] = {}
    budget.take(1, len(element.tag) + 6)
    for key, value in element.attrib.items():
        budget.take(1, len(key) + len(value) + 6)
        node[_local(key) if key[0] == "{" else key] = value
    repeated: set[str] = set()
    for child in element:
        tag = child.tag
        if not isinstance(tag, str):
            continue  # comments and processing instructions
        name = _local(tag) if tag[0] == "{" else tag
        value = _convert(child, budget)
        if name in node:
            if name in repeated:
                node[name].append(value)
            else:
                node[name] = [node[name], value]
                repeated.add(name)
        else:
            node[name] = value
    text = (element.text or "").strip()
    if text:
        budget.take(1, len(text) + 6)
        node[""] = text
    return node


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1] if tag.startswith("{") else tag


def decode_xml(body: bytes, budget: Budget | None = None) -> Any:
    budget = budget if budget is not None else Budget()
    budget.take(tree_nodes(body))
    parser = etree.XMLParser(**_PARSER_OPTIONS)
    try:
        root = etree.fromstring(body, parser)
    except etree.XMLSyntaxError as exc:
        raise XmlError(str(exc)) from None
    if root is None:
        raise XmlError("empty document")
    if root.getroottree().docinfo.doctype:
        raise XmlError("a document type declaration (DTD) is not accepted")
    return _convert(root, budget)
