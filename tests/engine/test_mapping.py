"""Output shaping: `$.` passes through; nested properties and items map relative paths."""

from __future__ import annotations

from naftiko_runtime.engine.mapping import compile_result
from naftiko_runtime.model import MappedOutput, OutputField
from naftiko_runtime.text.jsonpath import compile_path

SHIP = {
    "imo_number": "IMO1",
    "vessel_name": "Aurora",
    "dimensions": {"length_overall": 120},
    "crew": [{"name": "A", "role": "captain"}, {"name": "B", "role": "cook"}],
}


def test_root_mapping_is_identity_so_bytes_can_pass_through() -> None:
    assert compile_result([MappedOutput("object", mapping="$.")], []) is None
    assert compile_result([], [OutputField("result", "object", "$.")]) is None


def test_nested_object_and_array_mapping() -> None:
    shape = compile_result(
        [
            MappedOutput(
                "object",
                properties=(
                    ("imo", MappedOutput("string", mapping="$.imo_number")),
                    ("length", MappedOutput("number", mapping="$.dimensions.length_overall")),
                    (
                        "crew",
                        MappedOutput(
                            "array",
                            mapping="$.crew",
                            items=MappedOutput(
                                "object",
                                properties=(("who", MappedOutput("string", mapping="$.name")),),
                            ),
                        ),
                    ),
                    ("missing", MappedOutput("string", mapping="$.nope")),
                    ("fixed", MappedOutput("string", const="v1")),
                ),
            )
        ],
        [],
    )
    assert shape is not None
    assert shape(SHIP) == {
        "imo": "IMO1",
        "length": 120,
        "crew": [{"who": "A"}, {"who": "B"}],
        "missing": None,
        "fixed": "v1",
    }


def test_consumed_named_outputs() -> None:
    shape = compile_result(
        [],
        [
            OutputField("name", "string", "$.vessel_name"),
            OutputField("roles", "array", "$.crew[*].role"),
        ],
    )
    assert shape is not None and shape(SHIP) == {"name": "Aurora", "roles": ["captain", "cook"]}


def test_jsonpath_simple_paths_are_plain_accessors() -> None:
    assert compile_path("$.crew[1].name")(SHIP) == "B"
    assert compile_path("$['vessel_name']")(SHIP) == "Aurora"
    assert compile_path("$.crew[5].name")(SHIP) is None


def test_a_compiled_mapping_is_freed_by_reference_counting_alone() -> None:
    """No cycle (functions whose globals hold them): a reload's frozen heap is never
    collected, so an old configuration's mappings must go when their last reference does."""
    import gc
    import weakref

    nested = MappedOutput(
        "object",
        properties=(
            ("id", MappedOutput("string", mapping="$.id")),
            ("tags", MappedOutput("array", mapping="$.tags", items=MappedOutput("string"))),
            ("const", MappedOutput("string", const="v1")),
        ),
    )
    gc.disable()
    try:
        shape = compile_result([nested], [])
        assert shape is not None and shape({"id": 7, "tags": ["a"]}) == {
            "id": "7",
            "tags": ["a"],
            "const": "v1",
        }
        ref = weakref.ref(shape)
        del shape
        assert ref() is None
    finally:
        gc.enable()
