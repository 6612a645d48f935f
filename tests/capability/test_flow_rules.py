"""`validate` on what flows through an operation: path inputs against their paths, every
`{{name}}` a template reads, step fields mappings read, lookup indexes, and what serve reads
from disk (script files, decoder schemas) — each located at the node to fix."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.capability.test_validate_rules import position
from tests.conftest import cli

BASE = """\
naftiko: "1.0.0-alpha2"
info:
  label: "Music"
  description: "Albums and artists."
binds:
  - namespace: env
    keys:
      MUSIC_TOKEN: MUSIC_TOKEN
capability:
  consumes:
    - type: http
      namespace: music
      baseUri: "https://music.example.com"
      authentication:
        type: bearer
        token: "{{MUSIC_TOKEN}}"
      resources:
        - name: artist
          path: "/artists/{artist_id}"
          operations:
            - name: get-artist
              method: GET
              inputParameters:
                - name: artist_id
                  in: path
              outputParameters:
                - name: artist
                  type: object
                  value: "$."
        - name: albums
          path: "/artists/{artist_id}/albums"
          operations:
            - name: list-albums
              method: GET
              inputParameters:
                - name: artist_id
                  in: path
        - name: ratings
          path: "/ratings"
          operations:
            - name: rate-album
              method: POST
              body:
                type: json
                data:
                  album: "{{album_id}}"
                  stars: "{{stars}}"
  exposes:
    - type: rest
      namespace: music-rest
      port: 8080
      resources:
        - path: "/artists/{artist_id}/overview"
          operations:
            - method: GET
              name: overview
              inputParameters:
                - name: artist_id
                  in: path
                  type: string
                  description: "The artist"
                - name: album_id
                  in: query
                  type: string
                  description: "The album to pick"
              steps:
                - type: call
                  name: artist
                  call: music.get-artist
                  with:
                    artist_id: "{{artist_id}}"
                - type: call
                  name: albums
                  call: music.list-albums
                  with:
                    artist_id: "$.artist.artist.id"
                - type: lookup
                  name: album
                  index: albums
                  match: id
                  lookupValue: "{{album_id}}"
                  outputParameters: [title, tracks]
              mappings:
                - targetName: name
                  value: "$.artist.artist.name"
                - targetName: album
                  value: "$.album.title"
        - path: "/albums/{album_id}/rating"
          operations:
            - method: POST
              name: rate
              inputParameters:
                - name: album_id
                  in: path
                  type: string
                  description: "The album"
                - name: stars
                  in: body
                  type: integer
                  description: "1 to 5"
              call: music.rate-album
              with:
                album_id: rest.album_id
                stars: rest.stars
    - type: mcp
      namespace: music-mcp
      port: 9090
      tools:
        - name: rate-album
          description: "Rate an album"
          inputParameters:
            - name: album_id
              type: string
              description: "The album"
            - name: stars
              type: integer
              description: "1 to 5"
          call: music.rate-album
        - name: greet
          description: "A greeting"
          inputParameters:
            - name: who
              type: string
              description: "Whom to greet"
          outputParameters:
            - name: text
              type: string
              value: "Hello {{who}}"
      prompts:
        - name: review
          label: "Review"
          description: "Review an album"
          arguments:
            - name: album
              description: "The album"
          template:
            - role: user
              content: "Review {{album}}"
"""

CASES = [
    # (old, new, rule, anchor, occurrence, words in message or hint)
    (  # the REST input is named otherwise than the path's placeholder
        "                - name: artist_id\n                  in: path\n                  type",
        "                - name: artistId\n                  in: path\n                  type",
        "path-input",
        "artistId",
        1,
        "did you mean {artist_id}",
    ),
    (  # a lookup value naming an input that does not exist
        'lookupValue: "{{album_id}}"',
        'lookupValue: "{{albumId}}"',
        "template-variable",
        '"{{albumId}}"',
        1,
        "did you mean {{album_id}}",
    ),
    (  # a mapping reading a field the lookup before it never returns
        'value: "$.album.title"',
        'value: "$.album.tracks_total"',
        "step-field",
        '"$.album.tracks_total"',
        1,
        "returns title, tracks",
    ),
    (  # a call step holds only the consumed operation's declared outputs
        'value: "$.artist.artist.name"',
        'value: "$.artist.name"',
        "step-field",
        '"$.artist.name"',
        1,
        "$.artist.artist.name",
    ),
    (  # the same read through a template
        'artist_id: "$.artist.artist.id"',
        'artist_id: "{{artist.id}}"',
        "step-field",
        '"{{artist.id}}"',
        1,
        "declares outputParameters artist",
    ),
    (  # html decodes to one object: a lookup over it matches nothing
        "            - name: list-albums\n              method: GET\n",
        "            - name: list-albums\n              method: GET\n"
        "              outputRawFormat: html\n",
        "lookup-index",
        "albums\n                  match",
        1,
        "holds an object (tables)",
    ),
    (  # one caller gives `stars`, this one does not
        "                - name: stars\n                  in: body\n"
        "                  type: integer\n"
        '                  description: "1 to 5"\n              call: music.rate-album\n'
        "              with:\n                album_id: rest.album_id\n"
        "                stars: rest.stars\n",
        "              call: music.rate-album\n              with:\n"
        "                album_id: rest.album_id\n",
        "template-variable",
        "music.rate-album\n              with",
        1,
        "give `stars` in `with`",
    ),
    (
        'value: "Hello {{who}}"',
        'value: "Hello {{whom}}"',
        "template-variable",
        '"Hello {{whom}}"',
        1,
        "did you mean {{who}}",
    ),
    (
        'content: "Review {{album}}"',
        'content: "Review {{albm}}"',
        "template-variable",
        '"Review {{albm}}"',
        1,
        "its arguments: album",
    ),
    (  # authentication reads binds only
        'token: "{{MUSIC_TOKEN}}"',
        'token: "{{music_token}}"',
        "template-variable",
        '"{{music_token}}"',
        1,
        "not bound",
    ),
    (  # a `$.step...` with value is compiled as a JSONPath into the step's output
        'artist_id: "$.artist.artist.id"',
        'artist_id: "$.artist.artist[?("',
        "jsonpath",
        '"$.artist.artist[?("',
        1,
        "$.artist.artist[?(",
    ),
    (
        'lookupValue: "{{album_id}}"',
        'lookupValue: "{{album_id"',
        "template-syntax",
        '"{{album_id"',
        1,
        "unterminated",
    ),
    (  # a mock output's template is compiled when served
        'value: "Hello {{who}}"',
        'value: "Hello {{who}"',
        "template-syntax",
        '"Hello {{who}"',
        1,
        "unterminated",
    ),
]


def validate(write_spec: Callable[..., Path], text: str, *extra: str) -> tuple[int, list[Any]]:
    path = write_spec(text)
    result = cli("validate", "--format", "json", "--ignore", "naftiko-", *extra, str(path))
    return result.code, result.json()["diagnostics"]


def test_base_is_valid_and_compiles(write_spec: Callable[..., Path]) -> None:
    assert validate(write_spec, BASE) == (0, [])
    assert validate(write_spec, BASE, "--compile", "--strict") == (0, [])


@pytest.mark.parametrize(
    ("old", "new", "rule", "anchor", "occurrence", "words"),
    CASES,
    ids=[f"{case[2]}-{n}" for n, case in enumerate(CASES)],
)
def test_each_flow_rule_is_located(
    write_spec: Callable[..., Path],
    old: str,
    new: str,
    rule: str,
    anchor: str,
    occurrence: int,
    words: str,
) -> None:
    assert old in BASE
    text = BASE.replace(old, new, 1)
    code, diags = validate(write_spec, text)
    assert code == 1, diags
    [found] = [d for d in diags if d["rule"] == rule]
    assert [d for d in diags if d["severity"] == "error"] == [found]
    assert (found["line"], found["column"]) == position(text, anchor, occurrence)
    assert words in found["message"] + (found.get("hint") or "")


def test_a_consumed_template_no_call_gives_is_reported_where_it_is_written(
    write_spec: Callable[..., Path],
) -> None:
    text = BASE.replace('stars: "{{stars}}"', 'stars: "{{star}}"')
    code, diags = validate(write_spec, text)
    [found] = [d for d in diags if d["rule"] == "template-variable"]
    assert code == 1 and (found["line"], found["column"]) == position(text, '"{{star}}"')
    assert "no call of music.rate-album gives" in found["message"]
    assert found["pointer"].endswith("/operations/0/body/data/stars")


def test_the_rest_example_is_reported_in_both_directions(write_spec: Callable[..., Path]) -> None:
    """`/artists/{artist_id}/overview` with a path input `artistId`: the input is in no
    placeholder (every call 400), and the placeholder is bound to no input."""
    text = BASE.replace(
        "                - name: album_id\n                  in: path\n"
        '                  type: string\n                  description: "The album"',
        "                - name: albumId\n                  in: path\n"
        '                  type: string\n                  description: "The album"',
    ).replace("album_id: rest.album_id", "album_id: rest.albumId")
    code, diags = validate(write_spec, text)
    assert code == 1
    assert {(d["rule"], d["line"], d["column"]) for d in diags} == {
        ("path-input", *position(text, "albumId")),
        ("path-param", *position(text, '"/albums/{album_id}/rating"')),
    }


def test_a_consumed_path_input_outside_its_path(write_spec: Callable[..., Path]) -> None:
    old = (
        "              inputParameters:\n                - name: artist_id\n"
        "                  in: path\n              outputParameters"
    )
    text = BASE.replace(old, old.replace("artist_id", "artistId"))
    code, diags = validate(write_spec, text)
    [found] = [d for d in diags if d["rule"] == "path-input"]
    assert code == 1 and (found["line"], found["column"]) == position(text, "artistId")
    assert "left out of the URL" in found["message"]
    assert "did you mean {artist_id}" in found["hint"]


def test_an_envelope_index_is_a_warning(write_spec: Callable[..., Path]) -> None:
    text = BASE.replace(
        "                  in: path\n        - name: ratings",
        "                  in: path\n              outputParameters:\n"
        "                - name: items\n                  type: array\n"
        '                  value: "$.items"\n'
        "        - name: ratings",
    )
    code, diags = validate(write_spec, text)
    [found] = diags
    assert (code, found["rule"], found["severity"]) == (0, "lookup-index", "warning")
    assert (found["line"], found["column"]) == position(text, "albums\n                  match")
    unwrapped = text.replace('value: "$.items"', 'value: "$."')  # typed array at the root
    assert validate(write_spec, unwrapped) == (0, [])


SCRIPTED = BASE.replace(
    "              mappings:\n                - targetName: name\n",
    "                - type: script\n                  name: shape\n"
    "                  language: javascript\n"
    '                  location: "file:///./scripts"\n'
    "                  file: shape.js\n"
    "                  dependencies: [lib/util.js]\n"
    "              mappings:\n                - targetName: name\n",
)


@pytest.mark.parametrize(
    ("change", "anchor", "words"),
    [
        (lambda folder: (folder / "shape.js").unlink(), "shape.js", "'shape.js' cannot be read"),
        (lambda folder: (folder / "lib" / "util.js").unlink(), "lib/util.js", "lib/util.js"),
        (lambda folder: (folder / "shape.js").write_bytes(b"\xff\xfe"), "shape.js", "not UTF-8"),
    ],
    ids=["missing-file", "missing-dependency", "not-utf8"],
)
def test_script_files_are_read_by_plain_validate(
    write_spec: Callable[..., Path],
    tmp_path: Path,
    change: Callable[[Path], object],
    anchor: str,
    words: str,
) -> None:
    folder = tmp_path / "scripts"
    (folder / "lib").mkdir(parents=True)
    (folder / "shape.js").write_text("result = context;")
    (folder / "lib" / "util.js").write_text("var util = 1;")
    assert validate(write_spec, SCRIPTED) == (0, [])
    change(folder)
    code, diags = validate(write_spec, SCRIPTED)
    [found] = diags
    assert (code, found["rule"]) == (1, "script-file")
    assert (found["line"], found["column"]) == position(SCRIPTED, anchor, 1)
    assert words in found["message"] and str(tmp_path) not in found["message"]


def test_a_script_location_that_is_no_folder_or_a_path_out_of_it(
    write_spec: Callable[..., Path], tmp_path: Path
) -> None:
    code, diags = validate(write_spec, SCRIPTED)
    [found] = diags
    assert (code, found["rule"]) == (1, "script-file")
    assert (found["line"], found["column"]) == position(SCRIPTED, '"file:///./scripts"')
    (tmp_path / "scripts").mkdir()
    (tmp_path / "secret.js").write_text("leak")
    escaping = SCRIPTED.replace("file: shape.js", "file: ../secret.js").replace(
        "                  dependencies: [lib/util.js]\n", ""
    )
    code, diags = validate(write_spec, escaping)
    [found] = diags
    assert (code, found["rule"]) == (1, "script-file")
    assert (found["line"], found["column"]) == position(escaping, "../secret.js")


def test_a_script_language_the_control_adapter_does_not_allow(
    write_spec: Callable[..., Path], tmp_path: Path
) -> None:
    (tmp_path / "scripts" / "lib").mkdir(parents=True)
    (tmp_path / "scripts" / "shape.js").write_text("result = 1;")
    (tmp_path / "scripts" / "lib" / "util.js").write_text("var u = 1;")
    text = SCRIPTED.replace(
        "    - type: mcp\n",
        "    - type: control\n      port: 9191\n      management:\n        scripting:\n"
        "          allowedLanguages: [python]\n    - type: mcp\n",
    )
    code, diags = validate(write_spec, text)
    [found] = diags
    assert (code, found["rule"]) == (1, "script-language")
    assert (found["line"], found["column"]) == position(
        text, "javascript\n                  location"
    )


def test_an_avro_schema_that_does_not_load(write_spec: Callable[..., Path], tmp_path: Path) -> None:
    text = BASE.replace(
        "            - name: list-albums\n              method: GET\n",
        "            - name: list-albums\n              method: GET\n"
        "              outputRawFormat: avro\n              outputSchema: albums.avsc\n",
    )
    code, diags = validate(write_spec, text)
    [found] = [d for d in diags if d["severity"] == "error"]
    assert (code, found["rule"]) == (1, "output-schema")
    assert (found["line"], found["column"]) == position(text, "albums.avsc")
    assert str(tmp_path) not in found["message"]
    (tmp_path / "albums.avsc").write_text('{"type": "record", "name": "A", "fields": [')
    assert [d["rule"] for d in validate(write_spec, text)[1] if d["severity"] == "error"] == [
        "output-schema"
    ]
    (tmp_path / "albums.avsc").write_text(
        '{"type": "record", "name": "A", "fields": [{"name": "id", "type": "string"}]}'
    )
    assert validate(write_spec, text)[0] == 0


def test_yaml_syntax_error_shows_the_line_a_caret_and_the_nearest_pointer(
    write_spec: Callable[..., Path],
) -> None:
    text = BASE.replace('lookupValue: "{{album_id}}"', 'lookupValue: "{{album_id}}" x"')
    path = write_spec(text)
    result = cli("validate", "--format", "json", str(path))
    [found] = result.json()["diagnostics"]
    assert (result.code, found["rule"]) == (1, "yaml-syntax")
    assert (found["line"], found["column"]) == position(text, 'x"')
    assert found["pointer"] == "/capability/exposes/0/resources/0/operations/0/steps/2/lookupValue"
    shown = cli("validate", str(path)).out.splitlines()
    line = found["line"]
    assert shown[1] == f"  {line:>4} | {text.splitlines()[line - 1]}"
    assert shown[2] == "       | " + " " * (found["column"] - 1) + "^"
    indented = BASE.replace("                  match: id\n", "                 match: id\n")
    found = cli("validate", "--format", "json", str(write_spec(indented))).json()["diagnostics"]
    assert found[0]["pointer"] == "/capability/exposes/0/resources/0/operations/0/steps"
