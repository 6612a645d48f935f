"""The one-node graph: an exposed operation that makes exactly one upstream call.

It keeps the single-call fast path: when the result is the upstream JSON unchanged (`$.`
mappings), the upstream bytes are forwarded without being parsed or re-encoded.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from naftiko_runtime.engine.coercion import InputSpec, coerce_all
from naftiko_runtime.engine.headers import CLIENT_HEADERS, compile_policy, merge_up, passed_up
from naftiko_runtime.engine.inputs import named_scope
from naftiko_runtime.engine.mapping import Shaper
from naftiko_runtime.engine.request import CompiledArgs, HttpCall
from naftiko_runtime.engine.response import (
    decode,
    decode_async,
    failed,
    parse_json,
    status_error,
)
from naftiko_runtime.engine.result import CallResult
from naftiko_runtime.errors import UpstreamError
from naftiko_runtime.model import Input
from naftiko_runtime.upstream.base import UpstreamReply


class CallOperation:
    """`await op(inputs)` runs one exposed operation end to end."""

    def __init__(
        self,
        label: str | None,
        summary: str | None,
        inputs: tuple[Input, ...],
        specs: tuple[InputSpec, ...],
        call: HttpCall,
        args: CompiledArgs,
        shape: Shaper | None,
        variables: Mapping[str, str],
        aliases: tuple[str, ...],
    ) -> None:
        self.inputs = inputs
        self._label = label
        self._summary = summary
        self._specs = specs
        self.call = call
        self._args = args
        self._shape = shape
        self._variables = dict(variables)
        self._aliases = aliases
        self._needs_scope = args.needs_scope or call.needs_scope
        self._format = call.operation.output_format
        self._headers = compile_policy(*call.operation.header_policy)

    @property
    def name(self) -> str:
        return self.call.name

    @property
    def description(self) -> str | None:
        return self._summary or self.call.operation.description

    def scope(self, values: dict[str, Any]) -> dict[str, Any]:
        """Bound variables plus the inputs, under their spelled and normalised names
        (`{{job-id}}` and `job_id` are the same parameter), and under the adapter aliases."""
        scope: dict[str, Any] = dict(self._variables)
        named = named_scope(self._specs, values)
        scope.update(named)
        for alias in self._aliases:
            scope[alias] = named
        return scope

    async def __call__(self, inputs: Mapping[str, Any]) -> CallResult:
        values = coerce_all(self._specs, inputs)
        scope = self.scope(values) if self._needs_scope else None
        args = self._args.resolve(values, scope)
        request = self.call.request(args, scope)
        raw = CLIENT_HEADERS.get()
        client = passed_up(raw, self._headers) if raw else ()
        if client:  # one call: the client's negotiation and conditions are its own
            merge_up(request.headers, client)
        reply = await self.call.send(request)
        try:
            result = await self._reply(reply, client)
        except UpstreamError as exc:
            exc.base, exc.policy = self.call.base_url, self._headers
            raise
        if reply.headers:
            result.upstream_headers = reply.headers
            result.upstream_base = self.call.base_url
            result.header_policy = self._headers
        return result

    async def _reply(self, reply: UpstreamReply, client: tuple[tuple[str, str], ...]) -> CallResult:
        if (
            client
            and self._shape is None  # declared outputs are the contract: never bypassed
            and reply.stream is None
            and not failed(reply.status)
            and _asked_other(client, reply.content_type, self._format)
        ):  # the client asked for another media type (a diff, a patch): it gets the bytes
            return CallResult(reply.status, reply.content_type, raw=reply.body, binary=True)
        if (
            self._format != "json"
            and reply.stream is None
            and not failed(reply.status)
            and reply.body
            and reply.status != 204
        ):
            document = await decode_async(
                reply, self._format, self.name, self.call.operation.output_schema
            )
            shaped = self._shape(document) if self._shape is not None else document
            return CallResult(reply.status, "application/json", shaped=shaped)
        return self._result(reply)

    def _result(self, reply: UpstreamReply) -> CallResult:
        if reply.stream is not None:
            binary = self._format == "binary"
            kind = reply.content_type or ("application/octet-stream" if binary else "")
            return CallResult(reply.status, kind, stream=reply.stream, binary=binary)
        if failed(reply.status):
            raise status_error(reply, self.name)
        if not reply.body or reply.status == 204:
            return CallResult(reply.status, reply.content_type, shaped=None, raw=b"")
        if self._format != "json":
            document = decode(reply, self._format, self.name, self.call.operation.output_schema)
            shaped = self._shape(document) if self._shape is not None else document
            return CallResult(reply.status, "application/json", shaped=shaped)
        if self._shape is None:  # the bytes pass through; the value is kept for MCP
            document = parse_json(reply.body, self.name, reply.status)  # never a broken body
            return CallResult(reply.status, "application/json", raw=reply.body, shaped=document)
        document = parse_json(reply.body, self.name, reply.status)
        return CallResult(reply.status, "application/json", shaped=self._shape(document))


def _asked_other(client: tuple[tuple[str, str], ...], content_type: str, fmt: str) -> bool:
    """Whether the client's `Accept` asked for what the upstream sent, a type this
    operation's format does not decode (GitHub's `application/vnd.github.diff`)."""
    accept = next((v for k, v in client if k == "accept"), None)
    if accept is None or not content_type:
        return False
    kind = content_type.split(";", 1)[0].strip().lower()
    if fmt == "json" and ("json" in kind or kind == ""):
        return False
    if fmt != "json" and fmt != "binary":
        return False  # a declared decoder reads its own type
    asked = [a.split(";", 1)[0].strip().lower() for a in accept.split(",")]
    if kind in asked:
        return True
    # a vendor's own versions of a type (GitHub answers `application/vnd.github.v3.diff`
    # with `application/vnd.github.diff`): the client asked for no JSON, and got none
    return not any("json" in a or a in ("*/*", "application/*") for a in asked)
