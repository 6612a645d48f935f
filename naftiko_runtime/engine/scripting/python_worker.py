"""The child side of a Python script step: read one request on stdin, answer on stdout.

The script is compiled with RestrictedPython (attribute names with `_` refused, no `open`,
`exec`, `eval`), imports are limited to pure standard modules, and a trace hook counts
statements. The parent adds kernel limits and kills the process on time-out.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

ALLOWED_MODULES = frozenset(
    {
        "json",
        "math",
        "statistics",
        "re",
        "datetime",
        "itertools",
        "functools",
        "collections",
        "decimal",
        "fractions",
        "string",
        "operator",
    }
)


class StatementLimit(Exception):
    pass


def _answer(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload, default=str))
    sys.stdout.flush()


try:  # imported before the request arrives: a warm worker only waits for its script
    import RestrictedPython  # noqa: F401
except ImportError:  # pragma: no cover - declared dependency
    pass


def main() -> None:
    request = json.loads(sys.stdin.read())
    limit = int(request["statement_limit"])
    try:
        from RestrictedPython import (  # type: ignore[attr-defined]
            compile_restricted,
            limited_builtins,
            safe_builtins,
        )
        from RestrictedPython.Eval import default_guarded_getitem, default_guarded_getiter
        from RestrictedPython.Guards import (
            full_write_guard,
            guarded_iter_unpack_sequence,
            guarded_unpack_sequence,
        )
    except ImportError as exc:  # pragma: no cover - declared dependency
        _answer({"error": f"cannot start the Python sandbox: {exc}", "kind": "config"})
        return

    def guarded_import(
        name: str, globals: Any = None, locals: Any = None, fromlist: Any = (), level: int = 0
    ) -> Any:
        if level != 0 or name.partition(".")[0] not in ALLOWED_MODULES:
            raise ImportError(f"import of {name!r} is not allowed in a script step")
        return __import__(name, globals, locals, fromlist, level)

    builtins = dict(safe_builtins)
    builtins.update(limited_builtins)
    for name in (
        "sum",
        "min",
        "max",
        "sorted",
        "enumerate",
        "map",
        "filter",
        "any",
        "all",
        "list",
        "dict",
        "set",
        "reversed",
        "zip",
    ):
        builtins[name] = (
            __builtins__[name] if isinstance(__builtins__, dict) else getattr(__builtins__, name)
        )
    builtins["__import__"] = guarded_import
    scope: dict[str, Any] = {
        "__builtins__": builtins,
        "_getitem_": default_guarded_getitem,
        "_getiter_": default_guarded_getiter,
        "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
        "_unpack_sequence_": guarded_unpack_sequence,
        "_write_": full_write_guard,
        "_getattr_": _safe_getattr,
        "_inplacevar_": _inplace,
        "__name__": "script",
        "context": request["context"],
    }
    count = 0

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        nonlocal count
        if event == "line":
            count += 1
            if count > limit:
                raise StatementLimit()
        return tracer

    try:
        codes = [
            compile_restricted(source, filename=name, mode="exec")
            for name, source in request["sources"]
        ]
        sys.settrace(tracer)
        try:
            for code in codes:
                exec(code, scope)  # noqa: S102 - RestrictedPython bytecode, guarded scope
        finally:
            sys.settrace(None)
    except StatementLimit:
        _answer({"error": f"exceeded the statement limit ({limit})", "kind": "statement_limit"})
        return
    except MemoryError:
        _answer({"error": "exceeded the memory limit", "kind": "memory"})
        return
    except SyntaxError as exc:
        _answer({"error": f"failed: syntax error: {exc.msg} (line {exc.lineno})"})
        return
    except Exception as exc:  # the script's own failure, reported to the caller
        _answer({"error": f"failed: {type(exc).__name__}: {exc}"})
        return
    if "result" not in scope:
        _answer({"has_result": False})
        return
    try:
        _answer({"has_result": True, "result": scope["result"]})
    except (TypeError, ValueError) as exc:
        _answer({"error": f"failed: result is not JSON: {exc}"})


def _safe_getattr(obj: Any, name: str, default: Any = None) -> Any:
    if name.startswith("_"):
        raise AttributeError(f"attribute {name!r} is not allowed in a script step")
    return getattr(obj, name) if default is None else getattr(obj, name, default)


def _inplace(op: str, x: Any, y: Any) -> Any:
    import operator

    table: dict[str, Any] = {
        "+=": operator.iadd,
        "-=": operator.isub,
        "*=": operator.imul,
        "/=": operator.itruediv,
        "//=": operator.ifloordiv,
        "%=": operator.imod,
        "**=": operator.ipow,
        "|=": operator.ior,
        "&=": operator.iand,
    }
    return table[op](x, y)


if __name__ == "__main__":
    main()
    os._exit(0)  # the answer is written: skip interpreter teardown (the parent waits on it)
