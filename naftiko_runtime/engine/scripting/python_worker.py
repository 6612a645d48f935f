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

# What `import` gives a script: a namespace of chosen pure functions, never the module itself
# (a module's own imports, such as statistics.sys or json.codecs, would lead out).
_CURATED: dict[str, tuple[str, ...]] = {
    "json": ("loads", "dumps"),
    "math": (
        "ceil",
        "floor",
        "sqrt",
        "exp",
        "log",
        "log10",
        "log2",
        "pow",
        "fabs",
        "fsum",
        "isclose",
        "isfinite",
        "isinf",
        "isnan",
        "prod",
        "trunc",
        "gcd",
        "lcm",
        "pi",
        "e",
        "inf",
        "nan",
        "sin",
        "cos",
        "tan",
        "asin",
        "acos",
        "atan",
        "atan2",
        "hypot",
        "degrees",
        "radians",
        "comb",
        "perm",
        "factorial",
        "copysign",
        "fmod",
        "modf",
    ),
    "statistics": (
        "mean",
        "fmean",
        "geometric_mean",
        "harmonic_mean",
        "median",
        "median_low",
        "median_high",
        "mode",
        "multimode",
        "pstdev",
        "pvariance",
        "stdev",
        "variance",
        "quantiles",
    ),
    "re": (
        "compile",
        "search",
        "match",
        "fullmatch",
        "findall",
        "finditer",
        "sub",
        "subn",
        "split",
        "escape",
        "IGNORECASE",
        "MULTILINE",
        "DOTALL",
    ),
    "itertools": (
        "chain",
        "islice",
        "groupby",
        "accumulate",
        "product",
        "permutations",
        "combinations",
        "zip_longest",
        "count",
        "repeat",
        "starmap",
        "takewhile",
        "dropwhile",
        "pairwise",
        "compress",
        "filterfalse",
    ),
    "functools": ("reduce",),
    "collections": ("Counter", "OrderedDict", "defaultdict", "deque"),
    "datetime": ("date", "datetime", "time", "timedelta", "timezone"),
    "decimal": ("Decimal",),
    "fractions": ("Fraction",),
}
ALLOWED_MODULES = frozenset(_CURATED)


class StatementLimit(Exception):
    pass


def _answer(payload: dict[str, Any]) -> None:
    try:
        text = json.dumps(payload, allow_nan=False)
    except (TypeError, ValueError) as exc:  # NaN, infinities, objects that are not JSON
        text = json.dumps({"error": f"failed: result is not JSON: {exc}"})
    sys.stdout.write(text)
    sys.stdout.flush()


def _drop_privileges() -> None:
    """Run the script with no network and, under root, as nobody (best effort: what the
    kernel refuses here, the rest of the sandbox still holds)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).unshare(0x40000000)  # CLONE_NEWNET: no interfaces
    except (OSError, AttributeError):
        pass
    if os.getuid() == 0:
        try:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
        except OSError:
            pass


def _curated() -> dict[str, Any]:
    import types

    out: dict[str, Any] = {}
    for module_name, names in _CURATED.items():
        module = __import__(module_name)
        out[module_name] = types.SimpleNamespace(**{n: getattr(module, n) for n in names})
    return out


# Everything is imported before the request arrives and before privileges are dropped (the
# interpreter's files may not be readable afterwards): a warm worker only waits for its script.
try:
    import RestrictedPython  # noqa: F401
    import RestrictedPython.Eval  # noqa: F401
    import RestrictedPython.Guards  # noqa: F401
except ImportError:  # pragma: no cover - declared dependency
    pass
_curated()
import operator  # noqa: E402,F401 - for _inplace, after the drop


def main() -> None:
    request = json.loads(sys.stdin.read())
    _drop_privileges()
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
            safer_getattr,
        )
    except ImportError as exc:  # pragma: no cover - declared dependency
        _answer({"error": f"cannot start the Python sandbox: {exc}", "kind": "config"})
        return

    curated = _curated()

    def guarded_import(
        name: str, globals: Any = None, locals: Any = None, fromlist: Any = (), level: int = 0
    ) -> Any:
        if level != 0 or name not in curated:
            raise ImportError(f"import of {name!r} is not allowed in a script step")
        return curated[name]

    builtins = dict(safe_builtins)
    builtins.update(limited_builtins)
    for unsafe in ("getattr", "setattr", "delattr", "vars", "dir", "type", "super"):
        builtins.pop(unsafe, None)
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
        "_getattr_": safer_getattr,  # no `_names`, and no str.format (it reads attributes)
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


def _inplace(op: str, x: Any, y: Any) -> Any:

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
    sys.stdout.buffer.write(b"+")  # ready: the parent starts the script's clock now
    sys.stdout.flush()
    main()
    os._exit(0)  # the answer is written: skip interpreter teardown (the parent waits on it)
