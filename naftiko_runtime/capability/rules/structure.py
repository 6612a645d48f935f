"""The rows of what reading a file and checking it against its schema report: YAML that
cannot be read (`capability/source.py`, `fastyaml.py`), an unknown version and every schema
failure class (`capability/schema.py`). Their checks are the reader and the schema; the rows
are here so that the one table lists them."""

from __future__ import annotations

from naftiko_runtime.capability.rules.rule import ERR, ours

RULES = (
    ours("yaml-syntax", ERR, "the file is well-formed YAML", "Fix the YAML syntax at the mark."),
    ours(
        "yaml-duplicate-key",
        ERR,
        "no key appears twice in a mapping",
        "PyYAML keeps the last of duplicate keys silently; remove one.",
    ),
    ours("yaml-key-type", ERR, "mapping keys are strings", "Quote the key."),
    ours("yaml-merge-key", ERR, "no YAML merge keys (`<<`)", "Write the merged keys out."),
    ours(
        "yaml-recursive-alias",
        ERR,
        "aliases do not expand without bound",
        "Alias bombs are refused; write the values out.",
    ),
    ours(
        "yaml-too-large",
        ERR,
        "the file is at most 32 MiB; aliases expand to at most 4x the nodes it holds",
        "Split the capability.",
    ),
    ours(
        "yaml-too-deep",
        ERR,
        "a document nests at most 100 levels",
        "Flatten the structure; no capability needs that depth.",
    ),
    ours("yaml-encoding", ERR, "the file is UTF-8", "Re-encode the file as UTF-8."),
    ours(
        "version",
        ERR,
        "`naftiko` names a supported spec version",
        "Use 1.0.0-alpha2 or 1.0.0-alpha3.",
    ),
    ours("schema-required", ERR, "required properties are present", "Add the property named."),
    ours("schema-type", ERR, "values have the schema's type", "Change the value's type."),
    ours(
        "schema-unknown-property",
        ERR,
        "no property the schema does not define",
        "Remove or rename it (a suggestion is given when one is close).",
    ),
    ours("schema-enum", ERR, "values are one of the allowed ones", "Use one of the values listed."),
    ours("schema-pattern", ERR, "strings match the schema's pattern", "Change the value to match."),
    ours("schema-range", ERR, "numbers are within range", "Use a value in the range given."),
    ours(
        "schema-length", ERR, "strings and lists have an allowed length", "Shorten or lengthen it."
    ),
    ours("schema-min-items", ERR, "lists have enough items", "Add items."),
    ours(
        "schema-one-of",
        ERR,
        "a value matches exactly one alternative",
        "The branch you meant is picked by `type` and the keys present; fix that branch.",
    ),
    ours("schema-any-of", ERR, "a value matches an alternative", "Fix the value."),
    ours(
        "schema-not",
        ERR,
        "a value does not take a forbidden form",
        "Remove the forbidden combination.",
    ),
    ours("schema-property-name", ERR, "property names match the schema", "Rename the property."),
    ours(
        "param-location",
        ERR,
        "`in:` names a known location",
        "Use query, header, path, cookie or body.",
    ),
)
