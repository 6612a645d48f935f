"""What `serve` would build, for commands that read it and call nothing (`export openapi`,
`validate --compile`): every secret a placeholder, every upstream unreachable, no tracer."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from naftiko_runtime.model import Capability
from naftiko_runtime.serving.assemble import compile_runtime
from naftiko_runtime.serving.options import ServeOptions
from naftiko_runtime.serving.runtime import Runtime


class AnyValue(Mapping[str, str]):
    """An environment in which every variable exists (for what compiles but never calls)."""

    def __getitem__(self, key: str) -> str:
        return "unused"

    def __contains__(self, key: object) -> bool:
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def compile_offline(capabilities: Sequence[Capability], upstream: str) -> Runtime:
    """Every upstream at `upstream` (raises StartupError, ValueError as `serve` would)."""
    options = ServeOptions(upstreams={"*": upstream})
    return compile_runtime(capabilities, AnyValue(), options, tracing=None)
