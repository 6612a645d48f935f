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
    children = [child for child in element if isinstance(child.tag, str)]
    text = (element.text or "").strip()
    if not children and not element.attrib:
        return text
    node: dict[str, Any] = {}
    for key, value in element.attrib.items():
        node[_local(key)] = value
    for child in children:
        name = _local(child.tag)
        value = _convert(child)
        if name in node:
            existing = node[name]
            if isinstance(existing, list) and getattr(existing, "_repeated", False):
                existing.append(value)
            else:
                node[name] = _Repeated([existing, value])
        else:
            node[name] = value
    if text:
        node[""] = text
    return _plain(node)


class _Repeated(list[Any]):
    """A list made from repeated siblings (as opposed to a value that is a list)."""

    _repeated = True


def _plain(node: Any) -> Any:
    if isinstance(node, _Repeated):
        return [_plain(v) for v in node]
    if isinstance(node, dict):
        return {k: _plain(v) for k, v in node.items()}
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
    for entity in root.iter(etree.Entity):
        raise XmlError(f"entity reference &{entity.name}; is not allowed")
    return _convert(root)
