"""XML → JSON the way the reference engine reads it (Jackson's XML tree): the root element is
dropped, child elements become keys, repeated siblings an array, attributes keys, and every
leaf a string. DTDs (and so external entities and entity bombs), network access and huge
trees are refused."""

from __future__ import annotations

from typing import Any

from lxml import etree

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


def _convert(element: Any) -> Any:
    """One element: a leaf is its text; otherwise its attributes and children as keys, a
    name seen twice becoming a list (built in one pass)."""
    if not len(element) and not element.attrib:
        text = element.text
        return text.strip() if text else ""
    node: dict[str, Any] = {}
    for key, value in element.attrib.items():
        node[_local(key) if key[0] == "{" else key] = value
    repeated: set[str] = set()
    for child in element:
        tag = child.tag
        if not isinstance(tag, str):
            continue  # comments and processing instructions
        name = _local(tag) if tag[0] == "{" else tag
        value = _convert(child)
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
        node[""] = text
    return node


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1] if tag.startswith("{") else tag


def decode_xml(body: bytes) -> Any:
    parser = etree.XMLParser(**_PARSER_OPTIONS)
    try:
        root = etree.fromstring(body, parser)
    except etree.XMLSyntaxError as exc:
        raise XmlError(str(exc)) from None
    if root is None:
        raise XmlError("empty document")
    if root.getroottree().docinfo.doctype:
        raise XmlError("a document type declaration (DTD) is not accepted")
    return _convert(root)
