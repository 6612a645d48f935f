"""YAML from upstreams read without aliases: an alias chain of a few hundred bytes can expand
to gigabytes (`&a [*b, *b, ...]`), and no payload needs them. PyYAML reads in pure Python
(~0.2 MB/s, a node ~570 bytes), so every node is charged to the decode budget and the reader
looks at the CPU clock as it scans, even inside one long scalar."""

from __future__ import annotations

from typing import Any

import yaml

from naftiko_runtime.engine.formats.budget import HEAVY, Budget

_STEP = 4096  # characters the reader moves between two looks at the clock


class YamlAliasError(ValueError):
    pass


class _NoAliasLoader(yaml.SafeLoader):
    def __init__(self, text: str, budget: Budget) -> None:
        self.budget = budget
        super().__init__(text)

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            line = event.start_mark.line + 1
            raise YamlAliasError(f"YAML aliases are not accepted (line {line})")
        node = super().compose_node(parent, index)
        value = node.value if isinstance(node, yaml.ScalarNode) else ""
        self.budget.take(HEAVY, len(value) + 3)
        return node

    def peek(self, index: int = 0) -> Any:
        self.budget.tick()
        return super().peek(index)

    def forward(self, length: int = 1) -> None:
        while length > _STEP:
            super().forward(_STEP)
            length -= _STEP
            self.budget.tick()
        super().forward(length)


def load_first(text: str, budget: Budget | None = None) -> Any:
    """The first document of `text`."""
    loader = _NoAliasLoader(text, budget if budget is not None else Budget())
    try:
        return _first(loader)
    finally:
        loader.dispose()


def _first(loader: _NoAliasLoader) -> Any:
    if loader.check_node():
        node = loader.get_node()
        return loader.construct_document(node) if node is not None else None
    return None
