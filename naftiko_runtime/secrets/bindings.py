"""`binds` → variable values, read once at start-up; secrets are redacted wherever text leaves us.

A bind without `location` reads the process environment (plus an optional env file); with a
`file:///` location it reads a YAML/`.env` file next to the spec. Keys are template variable
names, values name the entry in the source. Every missing entry is reported at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import yaml

from naftiko_runtime.errors import BindingError
from naftiko_runtime.model import Binding, Capability
from naftiko_runtime.secrets.redactor import MIN_SECRET_LENGTH, Redactor

__all__ = ["MIN_SECRET_LENGTH", "Redactor", "Secret"]


class Secret(str):
    """A string whose repr never shows its value."""

    def __repr__(self) -> str:
        return "Secret('***')"


def read_env_file(path: Path) -> dict[str, str]:
    """A dotenv file read by python-dotenv: `export`, quotes, escapes, inline comments and
    multi-line values as dotenv tools write them; nothing is interpolated or exported."""
    from dotenv import dotenv_values

    if not path.is_file():
        raise FileNotFoundError(2, "No such file or directory", str(path))
    values = dotenv_values(path, interpolate=False, encoding="utf-8")
    return {key: value for key, value in values.items() if value is not None}


def _location_values(binding: Binding, spec_file: str) -> dict[str, str] | None:
    assert binding.location is not None
    location = binding.location
    if not location.startswith("file://"):
        return None
    relative = location[len("file://") :].lstrip("/")
    path = Path(spec_file).parent / relative if relative.startswith(".") else Path("/" + relative)
    if not path.is_file():
        return None
    if path.suffix in (".yaml", ".yml", ".json"):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return (
            {str(k): "" if v is None else str(v) for k, v in data.items()}
            if isinstance(data, dict)
            else None
        )
    return read_env_file(path)


def resolve_bindings(
    capabilities: Iterable[Capability], environ: Mapping[str, str]
) -> dict[str, dict[str, Secret]]:
    """Values of every bind of every capability, by spec file: {"env.X": v, "X": v}.

    Raises BindingError naming every missing variable with the line of its bind.
    """
    resolved: dict[str, dict[str, Secret]] = {}
    missing: list[tuple[str, str, int]] = []
    for capability in capabilities:
        scope: dict[str, Secret] = {}
        for binding in capability.bindings:
            source: Mapping[str, str] = environ
            if binding.location is not None:
                from_file = _location_values(binding, capability.file)
                if from_file is None:
                    missing.append(
                        (f"{binding.location} (unreadable)", binding.where.file, binding.where.line)
                    )
                    continue
                source = from_file
            for variable, name in binding.keys:
                if name in source:
                    value = Secret(source[name])
                    scope[variable] = value
                    scope[f"{binding.namespace}.{variable}"] = value
                elif variable in environ and binding.location is None:
                    scope[variable] = scope[f"{binding.namespace}.{variable}"] = Secret(
                        environ[variable]
                    )
                else:
                    missing.append((name, binding.where.file, binding.where.line))
        resolved[capability.file] = scope
    if missing:
        raise BindingError(missing)
    return resolved


def parse_mapping(items: Sequence[str], what: str) -> dict[str, str]:
    """`NAME=VALUE` pairs (from flags or a comma-separated variable)."""
    result: dict[str, str] = {}
    for item in items:
        for part in item.split(","):
            if not part.strip():
                continue
            name, sep, value = part.partition("=")
            if not sep or not name.strip() or not value.strip():
                raise ValueError(f"{what} must look like NAME=VALUE, got {part!r}")
            result[name.strip()] = value.strip()
    return result
