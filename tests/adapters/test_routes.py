"""The REST adapter's route table: what a path is routed to, with which parameters."""

from __future__ import annotations

from naftiko_runtime.adapters.rest.routes import RouteTable


def _table(*templates: str) -> RouteTable[str]:
    table: RouteTable[str] = RouteTable()
    for template in templates:
        table.add(template, template)
    return table


def test_a_parameter_matches_one_non_empty_segment() -> None:
    table = _table("/v1/jobs/{job-id}")
    assert table.match("/v1/jobs/j-1") == (
        "/v1/jobs/{job-id}",
        "/v1/jobs/{job-id}",
        {"job_id": "j-1"},
    )
    assert table.match("/v1/jobs/") is None
    assert table.match("/v1/jobs/a/b") is None
    assert table.match("/v1/jobs") is None


def test_the_route_added_first_wins_among_several_that_match() -> None:
    literal_first = _table("/v1/jobs/active", "/v1/jobs/{job-id}")
    assert literal_first.match("/v1/jobs/active")[0] == "/v1/jobs/active"  # type: ignore[index]
    assert literal_first.match("/v1/jobs/other")[0] == "/v1/jobs/{job-id}"  # type: ignore[index]
    param_first = _table("/v1/{kind}/active", "/v1/jobs/{job-id}")
    assert param_first.match("/v1/jobs/active")[0] == "/v1/{kind}/active"  # type: ignore[index]


def test_a_segment_mixing_text_and_parameters() -> None:
    table = _table("/files/{name}.{ext}", "/v{version}/items/{id}")
    assert table.match("/files/report.tar.gz") == (
        "/files/{name}.{ext}",
        "/files/{name}.{ext}",
        {"name": "report.tar", "ext": "gz"},
    )
    assert table.match("/v2/items/7")[2] == {"version": "2", "id": "7"}  # type: ignore[index]
    assert table.match("/files/noext") is None
    assert table.match("/v/items/7") is None


def test_the_same_shape_under_other_names_keeps_its_own_entry() -> None:
    table: RouteTable[dict[str, str]] = RouteTable()
    assert table.add("/a/{x}", {"GET": "x"})
    assert table.add("/a/{y}", {"POST": "y"})
    assert not table.add("/a/{x}", {})
    assert table.get("/a/{y}") == {"POST": "y"}
    assert table.get("/a/{z}") is None
    assert table.match("/a/1") == ("/a/{x}", {"GET": "x"}, {"x": "1"})  # the first added


def test_five_thousand_routes_each_reach_their_own() -> None:
    table = _table(*(f"/items-{n}/{{item-id}}" for n in range(5000)))
    assert len(table) == 5000
    for n in (0, 2500, 4999):
        assert table.match(f"/items-{n}/x") == (
            f"/items-{n}/{{item-id}}",
            f"/items-{n}/{{item-id}}",
            {"item_id": "x"},
        )
    assert table.match("/items-5000/x") is None
