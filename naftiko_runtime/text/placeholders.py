"""The one grammar of placeholders: `{{name}}` (a Mustache variable) and `{name}` (a path or
URI parameter), and how names are compared.

A name is letters, digits, `_`, `-` and `.`, as Mustache names are in the reference engine
(`{{job-id}}`, `{{env.API_KEY}}`); spaces may stand inside the braces of `{{ name }}`, never
inside `{name}`. In a path or a URI both forms are placeholders (`/ships/{{imo}}` and
`/ships/{imo}` are the same route); elsewhere only `{{name}}` is. Anything else between
braces (`{a b}`, `{}`) is literal text. Rules, the model, the engine, `/openapi.json` and the
routers all read placeholders through this module, so they agree on what one is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

NAME = r"[A-Za-z0-9_.\-]+"
"""A placeholder's name (a regex)."""

VARIABLE = re.compile(r"\{\{\s*(" + NAME + r")\s*\}\}")
"""`{{ name }}`: group 1 is the name."""

PLACEHOLDER = re.compile(r"\{\{\s*(" + NAME + r")\s*\}\}|\{(" + NAME + r")\}")
"""Either form, as a path or URI holds them: the name is group 1 or group 2."""

_NAME = re.compile(NAME)


def norm(name: str) -> str:
    """Kebab and snake spellings name the same parameter (`{job-id}` is `job_id`)."""
    return name.replace("-", "_")


def is_name(text: str) -> bool:
    """Whether `text` can be a placeholder's name."""
    return _NAME.fullmatch(text) is not None


@dataclass(frozen=True, slots=True)
class Slot:
    """One placeholder of a template: its name, and whether it is written `{{name}}`."""

    name: str
    mustache: bool


def split(template: str) -> tuple[str | Slot, ...]:
    """A path or URI template as its literal parts and its placeholders, in order."""
    parts: list[str | Slot] = []
    position = 0
    for match in PLACEHOLDER.finditer(template):
        if match.start() > position:
            parts.append(template[position : match.start()])
        mustache = match.group(1) is not None
        parts.append(Slot(match.group(1) if mustache else match.group(2), mustache))
        position = match.end()
    if position < len(template):
        parts.append(template[position:])
    return tuple(parts)


def path_variables(path: str) -> list[str]:
    """Names of the `{x}` and `{{x}}` placeholders of a path or URI, in order."""
    return [part.name for part in split(path) if isinstance(part, Slot)]


def parameters(text: str) -> list[str]:
    """Names of the `{x}` placeholders only: in a baseUri, what binds (`{{x}}`) do not fill."""
    return [part.name for part in split(text) if isinstance(part, Slot) and not part.mustache]


def route(path: str) -> str:
    """The path with every placeholder written `{name}`: how a route is declared."""
    return "".join(part if isinstance(part, str) else "{" + part.name + "}" for part in split(path))


def shape(path: str) -> str:
    """The path with every placeholder written `{}`: two routes of one shape collide."""
    return "".join(part if isinstance(part, str) else "{}" for part in split(path))


def prefix(path: str) -> str:
    """The literal part of a path before its first placeholder."""
    first = PLACEHOLDER.search(path)
    return path[: first.start()] if first else path


def uri_pattern(template: str) -> tuple[re.Pattern[str], tuple[str, ...]]:
    """A template as a whole-string regex, each placeholder one non-empty segment (never a
    `/`), and the placeholders' names in order."""
    pattern = ""
    names: list[str] = []
    for part in split(template):
        if isinstance(part, str):
            pattern += re.escape(part)
        else:
            pattern += "([^/]+)"
            names.append(part.name)
    return re.compile(pattern), tuple(names)


def variables(text: str) -> list[str]:
    """Names of the `{{name}}` variables of a text, in order (a prompt's arguments)."""
    return VARIABLE.findall(text)


def only_variable(text: str) -> str | None:
    """The name when `text` is one `{{name}}` and nothing else."""
    match = VARIABLE.fullmatch(text)
    return match.group(1) if match else None
