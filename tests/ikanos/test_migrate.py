"""`naftiko-runtime migrate` and `--dialect`: rewrites keep comments and key order, the model
survives alpha2 → beta5 → alpha2, and every point that cannot be carried over is reported at
its line (two parameters with one name, unnamed entries, beta5-only fields going back)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from naftiko_runtime.capability.load import load_paths
from tests.conftest import CORPUS, cli
from tests.ikanos.roundtrip import capability_files, copy_tree, ikanos_tree, model_of, round_trip

PORTABLE = """\
naftiko: "1.0.0-alpha2"
# The registry, as a capability.
info:
  label: "Registry"
  description: "Ships by IMO number."
capability:
  consumes:
    - type: http
      namespace: registry  # the upstream
      description: "The registry."
      baseUri: "https://registry.acme.test"
      resources:
        - name: ships
          path: "/ships/{{imo}}"
          operations:
            - name: get-ship
              method: GET
              inputParameters:
                - name: imo
                  in: path
  exposes:
    - type: mcp
      port: 3001
      namespace: registry-tools
      description: "Registry tools."
      tools:
        # one tool per operation
        - name: get-ship
          label: "Get ship"
          description: "One ship."
          inputParameters:
            - name: imo
              type: string
              description: "IMO number."
          call: registry.get-ship
          with:
            imo: "{{imo}}"
"""


def _migrate(path: Path, to: str, out: Path) -> tuple[int, str, Path]:
    result = cli("migrate", str(path), "--to", to, "-o", str(out))
    return result.code, result.err, out / path.name


def test_migrate_to_ikanos_keeps_comments_and_order_and_validates(
    write_spec: Callable[..., Path], tmp_path: Path
) -> None:
    source = write_spec(PORTABLE, "registry.yaml")
    code, err, written = _migrate(source, "ikanos", tmp_path / "beta5")
    assert code == 0, err
    text = written.read_text()
    assert text.startswith('ikanos: "1.0.0-beta5"\n# The registry, as a capability.\ninfo:\n')
    assert "      namespace: registry  # the upstream\n" in text
    assert "        # one tool per operation\n        get-ship:\n" in text
    assert '          display: "Get ship"\n' in text
    assert text.index("ships:") < text.index("get-ship:") < text.index("registry-tools")
    result = load_paths([written])
    assert result.ok and not result.diagnostics, result.diagnostics
    assert model_of(written) == model_of(source)


def test_alpha2_to_beta5_to_alpha2_gives_the_same_model(
    write_spec: Callable[..., Path], tmp_path: Path
) -> None:
    source = write_spec(PORTABLE, "registry.yaml")
    first, middle, last, notes = round_trip(source, "ikanos", "naftiko")
    assert first == middle == last and first is not None
    assert notes == []
    back = source.with_name("registry.rt-naftiko.yaml")
    assert back.read_text().startswith('naftiko: "1.0.0-alpha2"\n# The registry')


def test_two_parameters_with_one_name_are_reported_at_the_second(
    write_spec: Callable[..., Path], tmp_path: Path
) -> None:
    """Ikanos keys parameters by name: `id` in the path and `id` in the query cannot both
    be kept. The second is dropped, said at its line; nothing is guessed silently."""
    twice = PORTABLE.replace(
        "                - name: imo\n                  in: path\n",
        "                - name: imo\n                  in: path\n"
        "                - name: imo\n                  in: query\n",
    )
    code, err, written = _migrate(write_spec(twice, "twice.yaml"), "ikanos", tmp_path / "o")
    assert "twice.yaml:21:19: warning [migrate] a second parameter named 'imo' (in: 'query')" in err
    assert written.read_text().count("in: ") == 1


def test_unnamed_entries_get_keys_that_are_reported(
    write_spec: Callable[..., Path], tmp_path: Path
) -> None:
    """An alpha2 REST resource and operation may go unnamed; Ikanos keys them. The keys come
    from what they refer to (the path, the called operation), each reported at its entry."""
    rest = PORTABLE + (
        "    - type: rest\n      port: 8080\n      namespace: registry-rest\n"
        "      resources:\n        - path: /ships/{imo}\n          description: Ships.\n"
        "          operations:\n            - method: GET\n              call: registry.get-ship\n"
        "              inputParameters:\n                - name: imo\n                  in: path\n"
        "                  type: string\n                  description: IMO.\n"
    )
    code, err, written = _migrate(write_spec(rest, "rest.yaml"), "ikanos", tmp_path / "o")
    assert code == 0, err
    assert "rest.yaml:42:11: warning [migrate] unnamed entry keyed 'ships-imo' in Ikanos" in err
    assert "rest.yaml:45:15: warning [migrate] unnamed entry keyed 'get-ship' in Ikanos" in err
    assert "        ships-imo:\n" in written.read_text()
    assert load_paths([written]).ok


BETA5_ONLY = """\
ikanos: "1.0.0-beta5"
info:
  display: "Registry"
  description: "Ships."
  version: "2.1.0"
capability:
  consumes:
    - type: http
      namespace: registry
      description: "The registry."
      baseUri: "https://registry.acme.test"
      resources:
        ships:
          tags: [fleet]
          path: "/ships"
          operations:
            list-ships:
              method: GET
              outputMediaType: application/json
  exposes:
    - type: mcp
      port: 3001
      namespace: registry-tools
      ttlMs: 5000
      tools:
        list-ships:
          description: "All ships."
          call: registry.list-ships
"""


def test_beta5_only_fields_going_back_are_dropped_and_reported(
    write_spec: Callable[..., Path], tmp_path: Path
) -> None:
    code, err, written = _migrate(write_spec(BETA5_ONLY, "b5.yaml"), "naftiko", tmp_path / "o")
    assert code == 0, err
    for line, key in ((5, "version"), (14, "tags"), (19, "outputMediaType"), (24, "ttlMs")):
        assert f"b5.yaml:{line}:" in err and f"'{key}' has no place here in naftiko" in err
    text = written.read_text()
    assert text.startswith('naftiko: "1.0.0-alpha2"\n') and "ttlMs" not in text
    assert load_paths([written]).ok


def test_migrate_usage_errors_are_plain(write_spec: Callable[..., Path], tmp_path: Path) -> None:
    a, b = write_spec(PORTABLE, "a.yaml"), write_spec(PORTABLE, "b.yaml")
    several = cli("migrate", str(a), str(b), "--to", "ikanos")
    assert several.code == 2 and "several files need -o DIR" in several.err
    missing = cli("migrate", str(tmp_path / "none.yaml"), "--to", "ikanos")
    assert missing.code == 2 and "no such file" in missing.err
    shown = cli("migrate", str(a), "--to", "ikanos")
    assert shown.code == 0 and shown.out.startswith('ikanos: "1.0.0-beta5"\n')


def test_create_and_import_openapi_write_ikanos(tmp_path: Path) -> None:
    created = tmp_path / "ship.yaml"
    result = cli(
        "create", "capability", "--namespace", "ship", "--dialect", "ikanos", "-o", str(created)
    )
    assert result.code == 0, result.err
    assert created.read_text().count('\nikanos: "1.0.0-beta5"\n') == 1
    assert load_paths([created]).ok
    spec = tmp_path / "pets.json"
    spec.write_text(
        '{"openapi": "3.0.3", "info": {"title": "Pets", "version": "1"},'
        ' "servers": [{"url": "https://pets.acme.test"}],'
        ' "paths": {"/pets": {"get": {"operationId": "list-pets", "responses": {"200":'
        ' {"description": "ok"}}}}}}'
    )
    out = tmp_path / "pets.yaml"
    result = cli("import", "openapi", str(spec), "--dialect", "ikanos", "-o", str(out))
    assert result.code == 0, result.err
    assert 'ikanos: "1.0.0-beta5"\n' in out.read_text()
    assert load_paths([out]).ok


def _lossless(model: Any) -> Any:
    """The model without what alpha2 says and Ikanos cannot (each such drop is reported):
    consumed parameters' type/required/description (wherever a consumed operation appears,
    and in the inputs an adapter derives from them), a REST adapter's description, and the
    names of unnamed exposed operations."""
    model = copy.deepcopy(model)

    def blank(node: Any) -> None:
        if isinstance(node, dict):
            for param in (*(node.get("params") or ()), *(node.get("inputs") or ())):
                param.update(type=None, required=None, description=None)
            for value in node.values():
                blank(value)
        elif isinstance(node, list):
            for value in node:
                blank(value)

    blank(model)
    for adapter in model["rest"]:
        adapter["description"] = None
        for operation in adapter["operations"]:
            operation["name"] = None
    return model


@pytest.mark.slow
@pytest.mark.corpus
@pytest.mark.skipif(not CORPUS.is_dir(), reason="shared corpus absent")
def test_round_trip_over_the_corpus(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Every valid corpus capability, alpha2 → beta5 → alpha2: the same model but for the
    lossy points, and every file whose model changed has them reported."""
    corpus = copy_tree(CORPUS, tmp_path / "corpus")
    same = total = 0
    for path in capability_files(corpus):
        if not load_paths([path], build_model=False).ok:
            continue
        first, middle, last, notes = round_trip(path, "ikanos", "naftiko")
        if first is None:
            continue
        total += 1
        same += first == last
        if first != last:
            assert any(n.rule == "migrate" and not n.is_error for n in notes), path
        assert _lossless(first) == _lossless(middle) == _lossless(last), path
    with capsys.disabled():
        print(f"\ncorpus round trip: {total} files, {same} with the very same model")
    assert total >= 80


@pytest.mark.corpus
def test_round_trip_over_the_ikanos_fixtures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every valid Ikanos fixture, beta5 → alpha2 → beta5: the very same model."""
    tree = ikanos_tree(tmp_path)
    if tree is None:
        pytest.skip("the Ikanos repository is not mirrored here")
    total = 0
    for path in capability_files(tree / "modules"):
        if ".rt-" in path.name or not load_paths([path], build_model=False).ok:
            continue
        first, middle, last, _ = round_trip(path, "naftiko", "ikanos")
        if first is None:
            continue
        total += 1
        assert first == middle == last, path
    with capsys.disabled():
        print(f"\nikanos round trip: {total} files, all with the very same model")
    assert total >= 50
