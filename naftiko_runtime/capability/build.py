"""The model built from a validated index: every model type filled from the spec's data,
`ref`s resolved, inputs derived from paths and `with` blocks, adapters assembled.

Only validated data reaches here (`load` builds the model once every check has passed), so
nothing is checked again: a missing key here is a bug in a rule, not in the spec.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path
from typing import Any

from naftiko_runtime.capability.callers import Caller, iter_callers, reference_name
from naftiko_runtime.capability.index import OperationEntry, SpecIndex
from naftiko_runtime.capability.source import DataPath
from naftiko_runtime.model import (
    FORWARD_METHODS,
    Argument,
    Auth,
    Binding,
    Body,
    CallStep,
    Capability,
    ConsumedOperation,
    ControlAdapter,
    ForwardRoute,
    Input,
    Invocation,
    Location,
    LookupStep,
    MappedOutput,
    McpAdapter,
    McpPrompt,
    McpResource,
    McpTool,
    OrchestratedOutput,
    Orchestration,
    OutputField,
    Param,
    PromptArgument,
    RestAdapter,
    RestOperation,
    ScriptStep,
    Skill,
    SkillAdapter,
    SkillTool,
    StaticInvocation,
    StaticOutput,
    Step,
    StepMapping,
    ToolHints,
    TracingSpec,
    Unsupported,
)
from naftiko_runtime.text.placeholders import norm, path_variables, prefix, route


def _decoded_as(value: Any) -> str:
    """The decoder for a declared format: an event stream streams through whatever it is,
    and a JSON answer to it is read as JSON."""
    fmt = str(value).lower()
    return "json" if fmt == "event-stream" else fmt


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _header_policy(policy: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    if not isinstance(policy, dict):
        return (), ()
    up, back = policy.get("up") or [], policy.get("back") or []
    return tuple(str(n) for n in up), tuple(str(n) for n in back)


class _Builder:
    def __init__(self, index: SpecIndex) -> None:
        self.index = index
        self.doc = index.doc
        self.operations: dict[str, ConsumedOperation] = {}
        self.unsupported: list[Unsupported] = []

    def where(self, pointer: DataPath, doc: Any = None) -> Location:
        source = doc or self.doc
        source_map = source.source_map
        # a partial, not a lambda: the model travels pickled from a forked loader (`serve`)
        return Location.lazy(source.display, functools.partial(source_map.locate, pointer))

    def operation(self, entry: OperationEntry) -> ConsumedOperation:
        key = f"{entry.namespace}.{entry.name}"
        if key not in self.operations:
            auth = entry.api.get("authentication")
            body = entry.data.get("body")
            self.operations[key] = ConsumedOperation(
                namespace=entry.namespace,
                name=entry.name,
                method=str(entry.data.get("method", "GET")),
                base_uri=str(entry.api.get("baseUri", "")),
                path=entry.path,
                description=_str(entry.data.get("description")) or _str(entry.data.get("label")),
                params=tuple(_param(p) for p in entry.params.values()),
                auth=_auth(auth) if isinstance(auth, dict) else None,
                output_format=_decoded_as(entry.data.get("outputRawFormat", "json")),
                event_stream=str(entry.data.get("outputRawFormat")).lower() == "event-stream",
                output_schema=self.output_schema(entry),
                outputs=tuple(
                    OutputField(str(o["name"]), str(o["type"]), str(o["value"]))
                    for o in entry.data.get("outputParameters", [])
                ),
                body=(
                    Body("raw", body)
                    if isinstance(body, str)
                    else Body(str(body.get("type")), body.get("data"))
                    if isinstance(body, dict)
                    else None
                ),
                where=self.where(entry.pointer, entry.doc),
                header_policy=_header_policy(entry.api.get("headerPolicy")),
            )
        return self.operations[key]

    def output_schema(self, entry: OperationEntry) -> str | None:
        value = entry.data.get("outputSchema")
        if not isinstance(value, str):
            return None
        fmt = str(entry.data.get("outputRawFormat", "json")).lower()
        return schema_file(value, entry.doc.path) if fmt in ("avro", "protobuf") else value

    def function(self, ref: str) -> dict[str, Any] | None:
        """The aggregate function a `ref` names (validated to exist)."""
        namespace, _, name = ref.partition(".")
        for aggregate in (self.doc.data.get("capability") or {}).get("aggregates") or []:
            if aggregate.get("namespace") == namespace:
                for function in aggregate.get("functions") or []:
                    if function.get("name") == name:
                        return dict(function)
        return None

    def resolve_ref(self, data: dict[str, Any]) -> dict[str, Any]:
        """A tool or operation with `ref`: the function's call, steps, inputs and outputs,
        with the caller's own name, label, description, inputs and hints winning; semantics
        become hints as the reference maps them (`safe: false` alone is not destructive)."""
        ref = data.get("ref")
        if not isinstance(ref, str):
            return data
        function = self.function(ref)
        if function is None:
            return data
        merged = {k: v for k, v in function.items() if k not in ("semantics",)}
        semantics = function.get("semantics") or {}
        hints: dict[str, Any] = {}
        if semantics.get("safe") is True:
            hints["readOnly"] = True
            hints["destructive"] = False
        elif semantics.get("safe") is False:
            hints["readOnly"] = False
        if isinstance(semantics.get("idempotent"), bool):
            hints["idempotent"] = semantics["idempotent"]
        explicit = {k: v for k, v in (data.get("hints") or {}).items() if v is not None}
        merged["hints"] = {**hints, **explicit}
        merged["_aggregate"] = ref.partition(".")[0]
        for key in ("name", "label", "description", "method"):
            if data.get(key):
                merged[key] = data[key]
        if data.get("inputParameters"):
            merged["inputParameters"] = data["inputParameters"]
        if data.get("with"):  # the caller's `with` runs first; the function's on top
            merged["_caller_with"] = data["with"]
        return merged

    def static(self, caller: Caller, location_of: dict[str, str]) -> StaticInvocation:
        declared = [o for o in caller.data.get("outputParameters") or [] if isinstance(o, dict)]
        outputs = tuple(
            StaticOutput(str(o["name"]), str(o["type"]), str(o.get("value", "")))
            for o in declared
            if "name" in o
        )
        mapped = tuple(_mapped(o) for o in declared if "name" not in o)
        inputs = self.declared_inputs(caller, location_of)
        covered = {norm(i.name) for i in inputs}
        inputs += tuple(
            Input(v, "path", "string", True, None)
            for v in path_variables(caller.path or "")
            if norm(v) not in covered
        )
        return StaticInvocation(inputs, outputs, _str(caller.data.get("description")), mapped)

    def declared_inputs(self, caller: Caller, location_of: dict[str, str]) -> tuple[Input, ...]:
        """The inputs a caller declares. REST inputs are optional unless `required: true`
        (path parameters always required); MCP tool inputs default to required."""
        inputs = []
        for p in caller.data.get("inputParameters") or []:
            if not isinstance(p, dict) or "name" not in p:
                continue
            name = str(p["name"])
            if caller.kind == "rest":
                location = location_of.get(norm(name)) or str(p.get("in") or "query")
                required = location == "path" or p.get("required") is True
            else:
                location = location_of.get(norm(name)) or "argument"
                required = p.get("required", True) is not False
            kind, description = _str(p.get("type")), _str(p.get("description"))
            value = _str(p.get("value")) if caller.kind == "rest" else None
            inputs.append(Input(name, location, kind, required, description, value))
        return tuple(inputs)

    def arguments(
        self,
        block: Any,
        prefixes: tuple[str, ...],
        operation: ConsumedOperation | None,
        declared: set[str],
        derived: dict[str, Input],
        location_of: dict[str, str],
    ) -> tuple[Argument, ...]:
        """One `with` block: `ns.x` references, templates, literals. A reference to an input
        the caller does not declare becomes an input of its own (typed from the parameter)."""
        arguments = []
        for key, value in (block or {}).items():
            reference = reference_name(value, prefixes)
            if reference is not None:
                arguments.append(Argument(str(key), reference, None))
                param = operation.param(str(key)) if operation is not None else None
                if norm(reference) not in declared and norm(reference) not in derived:
                    derived[norm(reference)] = Input(
                        name=reference,
                        location=location_of.get(norm(reference))
                        or (param.location if param and param.location != "path" else "query"),
                        type=param.type if param else None,
                        required=bool(param and (param.required or param.location == "path")),
                        description=param.description if param else None,
                    )
            elif isinstance(value, str):
                arguments.append(Argument(str(key), None, value))
            else:
                arguments.append(Argument(str(key), None, None, value))
        return tuple(arguments)

    def invocation(
        self, caller: Caller, location_of: dict[str, str]
    ) -> Invocation | StaticInvocation | Orchestration | None:
        prefixes = caller.prefixes
        if "ref" in caller.data:
            resolved = self.resolve_ref(caller.data)
            aggregate = resolved.get("_aggregate")
            if isinstance(aggregate, str):
                prefixes = (*prefixes, aggregate)
            caller = dataclasses.replace(caller, data=resolved, prefixes=prefixes)
        if "steps" in caller.data:
            return self.orchestration(caller, location_of)
        target = caller.data.get("call")
        if isinstance(target, dict):
            target = target.get("operation")
        if not isinstance(target, str):
            return self.static(caller, location_of)  # validated: mock outputs, no upstream
        entry = self.index.operation(target)
        assert entry is not None, "validated: call targets exist"
        operation = self.operation(entry)
        inputs = list(self.declared_inputs(caller, location_of))
        declared = {norm(i.name) for i in inputs}
        derived: dict[str, Input] = {}
        arguments = self.arguments(
            caller.data.get("_caller_with"),
            caller.prefixes,
            operation,
            declared,
            derived,
            location_of,
        ) + self.arguments(
            caller.data.get("with"), prefixes, operation, declared, derived, location_of
        )
        inputs.extend(derived.values())
        inputs.extend(self.path_inputs(caller, inputs))
        outputs = tuple(
            _mapped(o) for o in caller.data.get("outputParameters", []) if isinstance(o, dict)
        )
        return Invocation(operation, arguments, tuple(inputs), outputs)

    def path_inputs(self, caller: Caller, inputs: list[Input]) -> list[Input]:
        """Path parameters the caller does not declare (used only in `with` templates)."""
        covered = {norm(i.name) for i in inputs}
        extra = []
        for variable in path_variables(caller.path or ""):
            if norm(variable) not in covered:
                covered.add(norm(variable))
                extra.append(Input(variable, "path", "string", True, None))
        return extra

    def orchestration(self, caller: Caller, location_of: dict[str, str]) -> Orchestration:
        data = caller.data
        inputs = list(self.declared_inputs(caller, location_of))
        declared = {norm(i.name) for i in inputs}
        derived: dict[str, Input] = {}
        arguments = self.arguments(
            data.get("_caller_with"), caller.prefixes, None, declared, derived, location_of
        ) + self.arguments(data.get("with"), caller.prefixes, None, declared, derived, location_of)
        steps: list[Step] = []
        pointer = caller.pointer
        for s, step in enumerate(data.get("steps") or []):
            if not isinstance(step, dict):
                continue
            where = self.where((*pointer, "steps", s))
            kind = step.get("type")
            name = str(step.get("name"))
            if kind == "call":
                entry = self.index.operation(str(step.get("call")))
                assert entry is not None, "validated: call targets exist"
                operation = self.operation(entry)
                with_args = self.arguments(
                    step.get("with"), caller.prefixes, operation, declared, derived, location_of
                )
                steps.append(CallStep(name, operation, with_args, where))
            elif kind == "lookup":
                steps.append(
                    LookupStep(
                        name,
                        str(step.get("index")),
                        str(step.get("match")),
                        str(step.get("lookupValue")),
                        tuple(str(f) for f in step.get("outputParameters") or []),
                        where,
                    )
                )
            elif kind == "script":
                with_args = self.arguments(
                    step.get("with"), caller.prefixes, None, declared, derived, location_of
                )
                steps.append(
                    ScriptStep(
                        name,
                        _str(step.get("language")),
                        self.directory(_str(step.get("location"))),
                        str(step.get("file")),
                        tuple(str(d) for d in step.get("dependencies") or []),
                        with_args,
                        where,
                    )
                )
        inputs.extend(derived.values())
        inputs.extend(self.path_inputs(caller, inputs))
        declared_outputs = [o for o in data.get("outputParameters") or [] if isinstance(o, dict)]
        return Orchestration(
            inputs=tuple(inputs),
            arguments=arguments,
            steps=tuple(steps),
            mappings=tuple(
                StepMapping(str(m["targetName"]), str(m["value"]))
                for m in data.get("mappings") or []
                if isinstance(m, dict) and "targetName" in m and "value" in m
            ),
            outputs=tuple(_orchestrated(o) for o in declared_outputs if "name" in o),
            mapped=tuple(_mapped(o) for o in declared_outputs if "name" not in o),
            description=_str(data.get("description")),
            label=_str(data.get("name")) or caller.kind,
        )

    def forward(self, resource: dict[str, Any], pointer: DataPath) -> ForwardRoute:
        config = resource["forward"]
        namespace = str(config["targetNamespace"])
        api = self.index.apis[namespace]  # validated: `forward-target`
        path = str(resource.get("path") or "/")
        auth = api.data.get("authentication")
        params = tuple(
            _param(p)
            for p in api.data.get("inputParameters") or []
            if isinstance(p, dict) and "name" in p and "in" in p
        )
        return ForwardRoute(
            path=path,
            prefix=prefix(path),
            namespace=namespace,
            base_uri=str(api.data.get("baseUri", "")),
            trusted_headers=tuple(str(h) for h in config.get("trustedHeaders") or []),
            auth=_auth(auth) if isinstance(auth, dict) else None,
            params=params,
            where=self.where(pointer),
            methods=tuple(str(m) for m in config.get("methods") or FORWARD_METHODS),
        )

    def directory(self, location: str | None) -> str | None:
        return None if location is None else script_directory(location, self.doc.path)


def script_directory(location: str, spec: Path) -> str:
    """A `file:///` script location: absolute, or `file:///./x` beside the spec."""
    from urllib.parse import unquote, urlparse

    if location.startswith(("file:///./", "file:///../")):
        return str(spec.parent / unquote(location[len("file:///") :]))
    return unquote(urlparse(location).path)


def schema_file(value: str, spec: Path) -> str:
    """An avro/protobuf `outputSchema`: beside the spec when it is there (`file:///./x` or
    relative), else as written."""
    path = Path(value.removeprefix("file:///./") if value.startswith("file:///./") else value)
    if not path.is_absolute():
        beside = spec.parent / path
        path = beside if beside.exists() or not path.exists() else path
    return str(path)


def _orchestrated(data: dict[str, Any]) -> OrchestratedOutput:
    properties = data.get("properties")
    items = data.get("items")
    props: list[OrchestratedOutput] = []
    if isinstance(properties, dict):
        props = [
            _orchestrated({"name": k, **v}) for k, v in properties.items() if isinstance(v, dict)
        ]
    elif isinstance(properties, list):
        props = [_orchestrated(p) for p in properties if isinstance(p, dict) and "name" in p]
    item_list: list[OrchestratedOutput] = []
    if isinstance(items, list):
        item_list = [_orchestrated(i) for i in items if isinstance(i, dict) and "name" in i]
    elif isinstance(items, dict):
        item_list = [_orchestrated({"name": "item", **items})]
    return OrchestratedOutput(
        str(data["name"]),
        str(data.get("type", "string")),
        _str(data.get("description")),
        tuple(props),
        tuple(item_list),
    )


def _param(data: dict[str, Any]) -> Param:
    return Param(
        name=str(data["name"]),
        location=str(data["in"]),
        type=_str(data.get("type")),
        required=bool(data.get("required", False)),
        description=_str(data.get("description")),
        value=_str(data.get("value")),
    )


def _auth(data: dict[str, Any]) -> Auth:
    return Auth(
        type=str(data["type"]),
        token=_str(data.get("token")),
        username=_str(data.get("username")),
        password=_str(data.get("password")),
        key=_str(data.get("key")),
        value=_str(data.get("value")),
        placement=_str(data.get("placement")) or "header",
        authorization_server=_str(data.get("authorizationServerUri")),
        resource=_str(data.get("resource")),
        audience=_str(data.get("audience")),
        scopes=tuple(str(s) for s in data.get("scopes") or ()),
        token_validation=_str(data.get("tokenValidation")) or "jwks",
        token_endpoint=_str(data.get("tokenEndpoint")),
        client_id=_str(data.get("clientId")),
        client_secret=_str(data.get("clientSecret")),
    )


def _mapped(data: dict[str, Any]) -> MappedOutput:
    properties = data["properties"] if isinstance(data.get("properties"), dict) else {}
    items = data.get("items")
    return MappedOutput(
        type=str(data.get("type", "object")),
        mapping=_str(data.get("mapping")),
        value=_str(data.get("value")),
        const=data.get("const"),
        properties=tuple(
            (str(k), _mapped(v)) for k, v in properties.items() if isinstance(v, dict)
        ),
        items=_mapped(items) if isinstance(items, dict) else None,
    )


def build_capability(index: SpecIndex) -> Capability:
    """Model one validated capability file."""
    builder = _Builder(index)
    data: dict[str, Any] = index.doc.data
    info = data.get("info") or {}
    capability = data.get("capability") or {}
    bindings = []
    for list_path, binds in (
        (("binds",), data.get("binds")),
        (("capability", "binds"), capability.get("binds")),
    ):
        for b, bind in enumerate(binds or []):
            bindings.append(
                Binding(
                    str(bind["namespace"]),
                    _str(bind.get("location")),
                    tuple((str(k), str(v)) for k, v in bind["keys"].items()),
                    builder.where((*list_path, b)),
                )
            )
    rest_adapters: list[RestAdapter] = []
    mcp_adapters: list[McpAdapter] = []
    skill_adapters: list[SkillAdapter] = []
    control_adapters: list[ControlAdapter] = []
    callers = list(iter_callers(data))
    for e, expose in enumerate(capability.get("exposes") or []):
        kind = expose.get("type")
        mine = [c for c in callers if c.adapter is expose and c.kind != "step"]
        if kind == "rest":
            ops = []
            for caller in mine:
                # `/ships/{{imo}}` and `/ships/{imo}` are the same route
                path = route(caller.path or "/")
                location_of = {norm(v): "path" for v in path_variables(path)}
                invocation = builder.invocation(caller, location_of)
                if invocation is not None:
                    named = builder.resolve_ref(caller.data)
                    ops.append(
                        RestOperation(
                            str(caller.data.get("method", "GET")),
                            path,
                            _str(named.get("name")),
                            _str(named.get("description")),
                            invocation,
                            builder.where(caller.pointer),
                        )
                    )
            rest_adapters.append(
                RestAdapter(
                    str(expose["namespace"]),
                    int(expose["port"]),
                    _str(expose.get("address")) or "127.0.0.1",
                    _str(expose.get("description")),
                    tuple(ops),
                    _auth(expose["authentication"]) if "authentication" in expose else None,
                )
            )
            forwards = []
            for r, resource in enumerate(expose.get("resources") or []):
                if isinstance(resource, dict) and isinstance(resource.get("forward"), dict):
                    forwards.append(
                        builder.forward(resource, ("capability", "exposes", e, "resources", r))
                    )
            if forwards:
                rest_adapters[-1] = dataclasses.replace(rest_adapters[-1], forwards=tuple(forwards))
        elif kind == "mcp":
            mcp_adapters.append(_mcp_adapter(builder, expose, mine))
        elif kind == "skill":
            skill_adapters.append(_skill_adapter(builder, expose, capability))
        elif kind == "control":
            control_adapters.append(_control_adapter(expose))
        else:
            builder.unsupported.append(
                Unsupported(f"{kind} adapter", builder.where(("capability", "exposes", e)))
            )
    return Capability(
        file=index.doc.display,
        label=_str(info.get("label")),
        description=_str(info.get("description")),
        bindings=tuple(bindings),
        operations=tuple(
            builder.operation(op) for api in index.apis.values() for op in api.operations.values()
        ),
        rest=tuple(rest_adapters),
        mcp=tuple(mcp_adapters),
        unsupported=tuple(builder.unsupported),
        skill=tuple(skill_adapters),
        control=tuple(control_adapters),
        version=str(data.get("naftiko", "")),
        info_version=_str(info.get("version")),  # Ikanos `info.version`
    )


def _control_adapter(expose: dict[str, Any]) -> ControlAdapter:
    management = expose.get("management") or {}
    observability = expose.get("observability") or {}
    metrics = observability.get("enabled", True) is not False and (
        ((observability.get("metrics") or {}).get("local") or {}).get("enabled", True) is not False
    )
    scripting = management.get("scripting")
    traces = observability.get("traces") or {}
    local = traces.get("local") or {}
    otlp = (observability.get("exporters") or {}).get("otlp") or {}
    tracing = None
    if observability.get("enabled", True) is not False:
        tracing = TracingSpec(
            float(traces.get("sampling", 1.0)),
            str(traces.get("propagation", "w3c")),
            int(local.get("buffer-size", 100)) if local.get("enabled", True) is not False else None,
            _str(otlp.get("endpoint")),
        )
    return ControlAdapter(
        int(expose["port"]),
        _str(expose.get("address")) or "127.0.0.1",
        management.get("health", True) is not False,
        management.get("info", False) is True,
        bool(metrics),
        tuple(scripting.items()) if isinstance(scripting, dict) else None,
        _auth(expose["authentication"]) if "authentication" in expose else None,
        tracing,
    )


_SKILL_FIELDS = (
    "license",
    "compatibility",
    "argument-hint",
    "allowed-tools",
    "user-invocable",
    "disable-model-invocation",
    "metadata",
)


def _skill_adapter(
    builder: _Builder, expose: dict[str, Any], capability: dict[str, Any]
) -> SkillAdapter:
    modes = tuple(
        (str(e["namespace"]), str(e["type"]))
        for e in capability.get("exposes") or []
        if isinstance(e, dict) and isinstance(e.get("namespace"), str) and e.get("type")
    )
    skills = []
    for skill in expose.get("skills") or []:
        tools = tuple(
            SkillTool(
                str(t["name"]),
                str(t.get("description", "")),
                _str((t.get("from") or {}).get("sourceNamespace")),
                _str((t.get("from") or {}).get("action")),
                _str(t.get("instruction")),
            )
            for t in skill.get("tools") or []
            if isinstance(t, dict)
        )
        skills.append(
            Skill(
                str(skill["name"]),
                str(skill.get("description", "")),
                tuple((k, skill[k]) for k in _SKILL_FIELDS if k in skill),
                builder.directory(_str(skill.get("location"))),
                tools,
            )
        )
    return SkillAdapter(
        str(expose["namespace"]),
        int(expose["port"]),
        _str(expose.get("address")) or "127.0.0.1",
        _str(expose.get("description")),
        tuple(skills),
        modes,
        _auth(expose["authentication"]) if "authentication" in expose else None,
    )


def _mcp_adapter(builder: _Builder, expose: dict[str, Any], callers: list[Caller]) -> McpAdapter:
    tools = []
    resources = []
    for caller in callers:
        data = caller.data
        if caller.kind == "tool":
            invocation = builder.invocation(caller, {})
            if invocation is None:
                continue
            data = builder.resolve_ref(data)
            hints = data.get("hints") or {}
            tools.append(
                McpTool(
                    str(data["name"]),
                    _str(data.get("label")),
                    str(data.get("description", "")),
                    ToolHints(
                        hints.get("readOnly"),
                        hints.get("destructive"),
                        hints.get("idempotent"),
                        hints.get("openWorld"),
                    ),
                    invocation,
                    builder.where(caller.pointer),
                )
            )
        elif caller.kind == "mcp-resource":
            invocation = builder.invocation(caller, {}) if "call" in data else None
            if "call" in data and invocation is None:
                continue
            resources.append(
                McpResource(
                    str(data["name"]),
                    str(data["label"]),
                    str(data["uri"]),
                    str(data["description"]),
                    _str(data.get("mimeType")),
                    invocation,
                    _str(data.get("location")),
                )
            )
    prompts = []
    for prompt in expose.get("prompts") or []:
        prompts.append(
            McpPrompt(
                str(prompt["name"]),
                str(prompt["label"]),
                str(prompt["description"]),
                tuple(
                    PromptArgument(
                        str(a["name"]), str(a["description"]), bool(a.get("required", True))
                    )
                    for a in prompt.get("arguments") or []
                ),
                tuple((str(m["role"]), str(m["content"])) for m in prompt.get("template") or []),
                _str(prompt.get("location")),
            )
        )
    port = expose.get("port")
    return McpAdapter(
        str(expose["namespace"]),
        str(expose.get("transport", "http")),
        int(port) if isinstance(port, int) else None,
        _str(expose.get("address")) or "127.0.0.1",
        _str(expose.get("description")),
        tuple(tools),
        tuple(resources),
        tuple(prompts),
        _auth(expose["authentication"]) if "authentication" in expose else None,
    )
