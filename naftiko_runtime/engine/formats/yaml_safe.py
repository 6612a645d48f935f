"""YAML from upstreams read without aliases: an alias chain of a few hundred bytes can expand
to gigabytes (`&a [*b, *b, ...]`), and no payload needs them."""

from __future__ import annotations

from typing import Any

import yaml


class YamlAliasError(ValueError):
    pass


class _NoAliasLoader(yaml.SafeLoader):
    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            line = event.start_mark.line + 1
            raise YamlAliasError(f"YAML aliases are not accepted (line {line})")
        return super().compose_node(parent, index)


def load_first(text: str) -> Any:
    """The first document of `text`."""
    loader = _NoAliasLoader(text)
    try:
        return _first(loader)
    finally:
        loader.dispose()


def _first(loader: _NoAliasLoader) -> Any:
    if loader.check_node():
        node = loader.get_node()
        return loader.construct_document(node) if node is not None else None
    return None
