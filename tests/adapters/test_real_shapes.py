"""Lookups and mappings on the shapes real APIs answer with: a list inside an envelope
(Spotify's `items`, Stripe's `data`, GitHub search's `items`) indexed by a lookup through
`index: "$.step.items"` (dialect, reported by `--strict`), and declared mappings that find
nothing giving `{}` over REST and MCP alike, never the upstream's undeclared fields."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from mcp import Client

from naftiko_runtime.cli import run
from tests.fixtures.process import serve
from tests.fixtures.upstream import RecordingUpstream, Reply, running

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]
ALBUMS = {
    "href": "https://api.spotify.example/v1/artists/1/albums",
    "items": [
        {"id": "a1", "name": "First", "total_tracks": 9, "secret_field": "undeclared"},
        {"id": "a2", "name": "Second", "total_tracks": 12, "secret_field": "undeclared"},
    ],
    "total": 2,
}
SPEC = """\
naftiko: "1.0.0-alpha2"
capability:
  consumes:
    - type: http
      namespace: music
      description: "An envelope-shaped upstream"
      baseUri: "http://127.0.0.1:9"
      resources:
        - name: albums
          path: "/artists/{{artist_id}}/albums"
          operations:
            - name: list-albums
              method: GET
              inputParameters:
                - name: artist_id
                  in: path
  exposes:
    - type: rest
      namespace: music-rest
      port: 8080
      resources:
        - path: "/artists/{artist_id}/albums/{album_id}"
          description: "One album of an artist"
          operations:
            - method: GET
              name: album
              inputParameters:
                - name: artist_id
                  in: path
                  type: string
                  description: "Artist"
                - name: album_id
                  in: path
                  type: string
                  description: "Album"
              steps:
                - type: call
                  name: albums
                  call: music.list-albums
                  with:
                    artist_id: "{{artist_id}}"
                - type: lookup
                  name: album
                  index: "$.albums.items"
                  match: id
                  lookupValue: "{{album_id}}"
                  outputParameters: [name, total_tracks]
              mappings:
                - targetName: title
                  value: "$.album.name"
                - targetName: tracks
                  value: "$.album.total_tracks"
        - path: "/artists/{artist_id}/nothing"
          description: "Mappings that find nothing"
          operations:
            - method: GET
              name: nothing
              inputParameters:
                - name: artist_id
                  in: path
                  type: string
                  description: "Artist"
              steps:
                - type: call
                  name: albums
                  call: music.list-albums
                  with:
                    artist_id: "{{artist_id}}"
              mappings:
                - targetName: title
                  value: "$.albums.not_there"
    - type: mcp
      namespace: music-mcp
      port: 9090
      tools:
        - name: album
          description: "One album of an artist"
          inputParameters:
            - name: artist_id
              type: string
              description: "Artist"
            - name: album_id
              type: string
              description: "Album"
          steps:
            - type: call
              name: albums
              call: music.list-albums
              with:
                artist_id: "{{artist_id}}"
            - type: lookup
              name: album
              index: "$.albums.items"
              match: id
              lookupValue: "{{album_id}}"
              outputParameters: [name, total_tracks]
          mappings:
            - targetName: title
              value: "$.album.name"
        - name: nothing
          description: "Mappings that find nothing"
          inputParameters:
            - name: artist_id
              type: string
              description: "Artist"
          steps:
            - type: call
              name: albums
              call: music.list-albums
              with:
                artist_id: "{{artist_id}}"
          mappings:
            - targetName: title
              value: "$.albums.not_there"
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    spec = tmp_path_factory.mktemp("shapes") / "music.yaml"
    spec.write_text(SPEC)
    recorder = RecordingUpstream()
    recorder.script["/artists/"] = Reply(body=orjson.dumps(ALBUMS))
    with running(recorder) as base:
        with serve(spec, "--upstream", f"music={base}") as process:
            yield process.urls
    spec.unlink()


def test_a_lookup_indexes_a_list_inside_an_envelope(served: dict[str, Any]) -> None:
    reply = httpx.get(f"{served['rest']}/artists/1/albums/a2", timeout=10)
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"title": "Second", "tracks": 12}


def test_mappings_that_find_nothing_give_an_empty_result_not_the_upstream(
    served: dict[str, Any],
) -> None:
    reply = httpx.get(f"{served['rest']}/artists/1/nothing", timeout=10)
    assert reply.status_code == 200
    assert reply.json() == {}
    assert "undeclared" not in reply.text


async def test_mcp_gives_the_same_answers(served: dict[str, Any]) -> None:
    async with Client(served["mcp"]) as client:
        found = await client.call_tool("album", {"artist_id": "1", "album_id": "a1"})
        nothing = await client.call_tool("nothing", {"artist_id": "1"})
    assert found.structured_content == {"title": "First"}
    assert nothing.structured_content == {} and not nothing.is_error
    text = " ".join(getattr(c, "text", "") for c in nothing.content)
    assert "undeclared" not in text


def test_strict_reports_the_envelope_index_as_dialect(tmp_path: Any) -> None:
    spec = tmp_path / "music.yaml"
    spec.write_text(SPEC)
    out, err = io.StringIO(), io.StringIO()
    assert run(["validate", str(spec)], out, err, {}) == 0, out.getvalue()
    out = io.StringIO()
    assert run(["validate", "--strict", str(spec)], out, err, {}) == 1
    assert "lookup index '$.albums.items' (a path into a step)" in out.getvalue()
    assert "music.yaml:93:22: error [portability]" in out.getvalue()  # the MCP tool's
    assert "music.yaml:44:26: error [portability]" in out.getvalue()  # the REST route's
