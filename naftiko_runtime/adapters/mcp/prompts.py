"""The prompts one MCP endpoint serves: get, list (built once per configuration), add,
render. A `location` prompt is one user message read from its file when asked for, so an
edit shows without a reload."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import anyio.to_thread
from mcp import types
from mcp.shared.exceptions import MCPError

from naftiko_runtime.adapters.files import MAX_FILE_BYTES, Unservable, read_capped
from naftiko_runtime.model import McpPrompt
from naftiko_runtime.text.placeholders import VARIABLE


@dataclass
class PromptEntry:
    prompt: McpPrompt
    file: Path | None = None  # a `location` prompt's file


class PromptRegistry(Mapping[str, PromptEntry]):
    """Prompts by name (a read-only mapping); `max_file_bytes` caps a prompt file."""

    def __init__(self, max_file_bytes: int = MAX_FILE_BYTES) -> None:
        self.max_file_bytes = max_file_bytes
        self._prompts: dict[str, PromptEntry] = {}
        self._listed: types.ListPromptsResult | None = None

    def __getitem__(self, name: str) -> PromptEntry:
        return self._prompts[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._prompts)

    def __len__(self) -> int:
        return len(self._prompts)

    def add(self, entry: PromptEntry) -> None:
        self._prompts[entry.prompt.name] = entry
        self._listed = None

    def list(self) -> types.ListPromptsResult:
        """The `prompts/list` result, built once (not per request)."""
        if self._listed is None:
            self._listed = types.ListPromptsResult(
                prompts=[_listed(e.prompt) for e in self._prompts.values()]
            )
        return self._listed

    async def render(self, name: str, arguments: dict[str, str]) -> types.GetPromptResult:
        """Messages with `{{argument}}` filled in; a prompt file is read on a worker thread."""
        entry = self._prompts.get(name)
        if entry is not None and entry.file is not None:
            return await anyio.to_thread.run_sync(self._render, name, arguments)
        return self._render(name, arguments)

    def _render(self, name: str, arguments: dict[str, str]) -> types.GetPromptResult:
        entry = self._prompts.get(name)
        if entry is None:
            raise MCPError(types.INVALID_PARAMS, f"Invalid params: Unknown prompt: {name}")
        prompt = entry.prompt
        messages = list(prompt.messages)
        if entry.file is not None:
            try:
                messages = [("user", read_capped(entry.file, self.max_file_bytes).decode("utf-8"))]
            except (Unservable, UnicodeDecodeError):
                raise MCPError(
                    types.INTERNAL_ERROR, f"prompt {name!r}: its file cannot be read"
                ) from None
        return types.GetPromptResult(
            description=prompt.description,
            messages=[
                types.PromptMessage(
                    role="assistant" if role == "assistant" else "user",
                    content=types.TextContent(type="text", text=_filled(text, arguments)),
                )
                for role, text in messages
            ],
        )


def _filled(text: str, arguments: dict[str, str]) -> str:
    """`{{name}}` replaced by its argument; one not given stays as written, as the
    reference renders it (the client sees what it left out)."""
    return VARIABLE.sub(lambda m: arguments.get(m.group(1), m.group(0)), text)


def _listed(prompt: McpPrompt) -> types.Prompt:
    return types.Prompt(
        name=prompt.name,
        title=prompt.label,
        description=prompt.description,
        arguments=[
            types.PromptArgument(name=a.name, description=a.description, required=a.required)
            for a in prompt.arguments
        ],
    )
