"""Frozen, typed objects for a validated capability (`build.py` fills them from the spec);
nothing past here reads raw YAML.

Only request and response payload templates (`body` data, `const` values) stay as JSON values,
because they are data, not structure.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from naftiko_runtime.text.placeholders import norm

MAX_OUTPUT_DEPTH = 32
"""Deepest nesting of mapped outputs that is served (`validate` reports deeper ones)."""


class Location:
    """Where a model object was declared, for start-up errors and logs.

    The line and column may be worked out on first use (`Location.lazy`): a document read by the
    fast YAML path only builds its source map when something asks where a thing was.
    """

    __slots__ = ("file", "_line", "_column", "_resolve")

    def __init__(self, file: str, line: int, column: int) -> None:
        self.file = file
        self._line = line
        self._column = column
        self._resolve: Callable[[], tuple[int, int]] | None = None

    @classmethod
    def lazy(cls, file: str, resolve: Callable[[], tuple[int, int]]) -> Location:
        where = cls(file, 0, 0)
        where._resolve = resolve
        return where

    def _resolved(self) -> None:
        resolve, self._resolve = self._resolve, None
        if resolve is not None:
            self._line, self._column = resolve()

    @property
    def line(self) -> int:
        if self._resolve is not None:
            self._resolved()
        return self._line

    @property
    def column(self) -> int:
        if self._resolve is not None:
            self._resolved()
        return self._column

    def _key(self) -> tuple[str, int, int]:
        return (self.file, self.line, self.column)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Location) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"Location(file={self.file!r}, line={self.line}, column={self.column})"


@dataclass(frozen=True, slots=True)
class Param:
    """A consumed parameter: where it goes upstream, its declared type, a fixed value if any."""

    name: str
    location: str
    type: str | None = None
    required: bool = False
    description: str | None = None
    value: str | None = None


@dataclass(frozen=True, slots=True)
class Auth:
    type: str
    token: str | None = None
    username: str | None = None
    password: str | None = None
    key: str | None = None
    value: str | None = None
    placement: str = "header"
    # oauth2 (inbound): the authorization server, this resource (RFC 8707), required scopes
    authorization_server: str | None = None
    resource: str | None = None
    audience: str | None = None
    scopes: tuple[str, ...] = ()
    token_validation: str = "jwks"
    token_endpoint: str | None = None
    client_id: str | None = None  # introspection: this resource server's credentials
    client_secret: str | None = None


@dataclass(frozen=True, slots=True)
class OutputField:
    """A consumed output parameter: `value` is a JSONPath into the upstream body."""

    name: str
    type: str
    value: str


@dataclass(frozen=True, slots=True)
class Body:
    type: str
    data: Any


@dataclass(frozen=True, slots=True)
class ConsumedOperation:
    namespace: str
    name: str
    method: str
    base_uri: str
    path: str
    description: str | None
    params: tuple[Param, ...]
    auth: Auth | None
    output_format: str
    outputs: tuple[OutputField, ...]
    body: Body | None
    where: Location
    output_schema: str | None = None  # html: a CSS selector; markdown: a heading prefix;
    # avro/protobuf: the schema file, resolved beside the spec
    event_stream: bool = False  # `outputRawFormat: event-stream` (decoded as JSON otherwise)
    # `headerPolicy` (dialect): header names passed up / back beyond the runtime's policy
    header_policy: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())

    @property
    def target(self) -> str:
        return f"{self.namespace}.{self.name}"

    def param(self, name: str) -> Param | None:
        wanted = norm(name)
        return next((p for p in self.params if norm(p.name) == wanted), None)


@dataclass(frozen=True, slots=True)
class MappedOutput:
    """Exposed output shaping: `mapping` is relative to the current node."""

    type: str
    mapping: str | None = None
    value: str | None = None
    const: Any = None
    properties: tuple[tuple[str, MappedOutput], ...] = ()
    items: MappedOutput | None = None


@dataclass(frozen=True, slots=True)
class Argument:
    """One `with` entry: a reference to an exposed input, or a template/literal."""

    key: str
    reference: str | None
    template: str | None
    literal: Any = None


@dataclass(frozen=True, slots=True)
class Input:
    """An input the exposed side accepts, with what we know of its type."""

    name: str
    location: str  # path, query, header, cookie, body (REST); "argument" (MCP)
    type: str | None
    required: bool
    description: str | None
    value: str | None = None  # REST: `$.path` into the request body, else a fixed value


@dataclass(frozen=True, slots=True)
class Invocation:
    """What an exposed operation or tool does: call an operation with arguments, shape output."""

    operation: ConsumedOperation
    arguments: tuple[Argument, ...]
    inputs: tuple[Input, ...]
    outputs: tuple[MappedOutput, ...]


@dataclass(frozen=True, slots=True)
class CallStep:
    """Call a consumed operation; its (projected) JSON is stored under `name`."""

    name: str
    operation: ConsumedOperation
    arguments: tuple[Argument, ...]
    where: Location


@dataclass(frozen=True, slots=True)
class LookupStep:
    """Find entries of an earlier step's output whose `match` field equals a value."""

    name: str
    index: str
    match: str
    lookup_value: str
    fields: tuple[str, ...]
    where: Location


@dataclass(frozen=True, slots=True)
class ScriptStep:
    """Run a sandboxed script over the inputs and earlier outputs; it sets `result`."""

    name: str
    language: str | None
    directory: str | None  # the `location` folder, resolved
    file: str
    dependencies: tuple[str, ...]
    arguments: tuple[Argument, ...]
    where: Location


Step = CallStep | LookupStep | ScriptStep


@dataclass(frozen=True, slots=True)
class StepMapping:
    """`targetName` (dotted for nesting) ← `value` (`$.step-name.field...`)."""

    target: str
    value: str


@dataclass(frozen=True, slots=True)
class OrchestratedOutput:
    """A declared result field of an orchestration: its name, type and nested shape."""

    name: str
    type: str
    description: str | None = None
    properties: tuple[OrchestratedOutput, ...] = ()
    items: tuple[OrchestratedOutput, ...] = ()


@dataclass(frozen=True, slots=True)
class Orchestration:
    """An operation or tool built from steps: the graph, then mappings build the result."""

    inputs: tuple[Input, ...]
    arguments: tuple[Argument, ...]  # the unit-level `with`, seen by every step
    steps: tuple[Step, ...]
    mappings: tuple[StepMapping, ...]
    outputs: tuple[OrchestratedOutput, ...]
    mapped: tuple[MappedOutput, ...]  # exposed mapped outputs, for the last-call fallback
    description: str | None
    label: str


@dataclass(frozen=True, slots=True)
class StaticOutput:
    """One field of a mock result: `value` is a template over the caller's inputs."""

    name: str
    type: str
    value: str


@dataclass(frozen=True, slots=True)
class StaticInvocation:
    """A tool or operation that answers from its spec alone (mock outputs, no upstream)."""

    inputs: tuple[Input, ...]
    outputs: tuple[StaticOutput, ...]
    description: str | None = None
    mapped: tuple[MappedOutput, ...] = ()  # a REST operation's outputs, over its own inputs


AnyInvocation = Invocation | StaticInvocation | Orchestration


# what a forward passes when it declares no `methods`: TRACE echoes the request (with the
# gateway's credential) and CONNECT opens a tunnel, so neither passes unless declared
FORWARD_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


@dataclass(frozen=True, slots=True)
class ForwardRoute:
    """A REST resource that passes requests through to a consumed namespace: the request
    path below `prefix` is appended to the namespace's `baseUri`."""

    path: str
    prefix: str  # the literal part of `path` before its first placeholder
    namespace: str
    base_uri: str
    trusted_headers: tuple[str, ...]
    auth: Auth | None
    params: tuple[Param, ...]  # the namespace's own inputParameters (fixed headers, query)
    where: Location
    # `forward.methods` (our extension): what passes; TRACE and CONNECT only when declared
    methods: tuple[str, ...] = FORWARD_METHODS


@dataclass(frozen=True, slots=True)
class RestOperation:
    method: str
    path: str
    name: str | None
    description: str | None
    invocation: AnyInvocation
    where: Location


@dataclass(frozen=True, slots=True)
class RestAdapter:
    namespace: str
    port: int
    address: str
    description: str | None
    operations: tuple[RestOperation, ...]
    auth: Auth | None = None
    forwards: tuple[ForwardRoute, ...] = ()


@dataclass(frozen=True, slots=True)
class ToolHints:
    read_only: bool | None = None
    destructive: bool | None = None
    idempotent: bool | None = None
    open_world: bool | None = None


@dataclass(frozen=True, slots=True)
class McpTool:
    name: str
    label: str | None
    description: str
    hints: ToolHints
    invocation: AnyInvocation
    where: Location


@dataclass(frozen=True, slots=True)
class McpResource:
    name: str
    label: str
    uri: str
    description: str
    mime_type: str | None
    invocation: AnyInvocation | None
    location: str | None


@dataclass(frozen=True, slots=True)
class PromptArgument:
    name: str
    description: str
    required: bool


@dataclass(frozen=True, slots=True)
class McpPrompt:
    name: str
    label: str
    description: str
    arguments: tuple[PromptArgument, ...]
    messages: tuple[tuple[str, str], ...]
    location: str | None


@dataclass(frozen=True, slots=True)
class McpAdapter:
    namespace: str
    transport: str
    port: int | None
    address: str
    description: str | None
    tools: tuple[McpTool, ...]
    resources: tuple[McpResource, ...]
    prompts: tuple[McpPrompt, ...]
    auth: Auth | None = None


@dataclass(frozen=True, slots=True)
class SkillTool:
    """A skill's tool: derived from a sibling adapter's tool or operation, or an
    instruction file beside the skill."""

    name: str
    description: str
    source_namespace: str | None = None
    action: str | None = None
    instruction: str | None = None


@dataclass(frozen=True, slots=True)
class Skill:
    name: str
    description: str
    fields: tuple[tuple[str, Any], ...]  # license, compatibility, ... as written, in order
    location: str | None  # the skill's folder, resolved
    tools: tuple[SkillTool, ...]


@dataclass(frozen=True, slots=True)
class SkillAdapter:
    namespace: str
    port: int
    address: str
    description: str | None
    skills: tuple[Skill, ...]
    modes: tuple[tuple[str, str], ...]  # sibling adapter namespace → its type (mcp, rest)
    auth: Auth | None = None


@dataclass(frozen=True, slots=True)
class ControlAdapter:
    """The management plane: which endpoint groups it serves, and the script settings."""

    port: int
    address: str
    health: bool
    info: bool
    metrics: bool
    scripting: tuple[tuple[str, Any], ...] | None  # management.scripting, as written
    auth: Auth | None = None
    tracing: TracingSpec | None = None  # observability.traces/exporters (None: disabled)


@dataclass(frozen=True, slots=True)
class TracingSpec:
    """A control adapter's tracing settings: sampling ratio, propagation format, the /traces
    ring buffer (None when off) and the OTLP endpoint (a template over the binds)."""

    sampling: float = 1.0
    propagation: str = "w3c"
    buffer_size: int | None = 100
    otlp_endpoint: str | None = None


@dataclass(frozen=True, slots=True)
class Binding:
    """Variables from one source: `keys` maps template variable → name in the source."""

    namespace: str
    location: str | None
    keys: tuple[tuple[str, str], ...]
    where: Location


@dataclass(frozen=True, slots=True)
class Unsupported:
    """A spec feature this runtime validates but does not serve yet."""

    what: str
    where: Location


@dataclass(frozen=True, slots=True)
class Capability:
    file: str
    label: str | None
    description: str | None
    bindings: tuple[Binding, ...]
    operations: tuple[ConsumedOperation, ...]
    rest: tuple[RestAdapter, ...]
    mcp: tuple[McpAdapter, ...]
    unsupported: tuple[Unsupported, ...]
    skill: tuple[SkillAdapter, ...] = ()
    control: tuple[ControlAdapter, ...] = ()
    version: str = ""  # the spec's `naftiko` (or `ikanos`) version
    info_version: str | None = None  # Ikanos `info.version`: the MCP server's version


# ---------------------------------------------------------------------------- pickling
def _pickled_by_fields(cls: type[Any]) -> None:
    """Pickle an instance as `cls(*its fields)`. The model travels from a forked loader
    (`serve`), and the state functions dataclasses give a frozen slotted class look every
    field up again for each object: two thirds of the time a model took to pickle."""
    names = tuple(field.name for field in dataclasses.fields(cls))
    values: Callable[[Any], tuple[Any, ...]]
    if len(names) == 1:
        only = names[0]
        values = lambda obj: (getattr(obj, only),)  # noqa: E731
    else:
        values = operator.attrgetter(*names)

    def reduce(obj: Any) -> tuple[Any, ...]:
        return (cls, values(obj))

    cls.__reduce__ = reduce  # type: ignore[assignment]


for _model_class in [
    value
    for value in list(globals().values())
    if isinstance(value, type) and dataclasses.is_dataclass(value) and value.__module__ == __name__
]:
    _pickled_by_fields(_model_class)
