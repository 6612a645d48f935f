"""Format decoders, following the reference's `engine/util/ConverterTest` and the format
integration tests case by case (same inputs, same JSON), then over real loopback HTTP for
REST and MCP, and the hostile payloads: entities, bombs, garbage."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client

from naftiko_runtime.engine.formats.avro import AvroError, decode_avro
from naftiko_runtime.engine.formats.delimited import DelimitedError, decode_delimited
from naftiko_runtime.engine.formats.html import HtmlError, decode_html
from naftiko_runtime.engine.formats.markdown import decode_markdown
from naftiko_runtime.engine.formats.xml import XmlError, decode_xml
from naftiko_runtime.engine.response import decode
from naftiko_runtime.errors import UpstreamError
from naftiko_runtime.upstream.base import UpstreamReply
from tests.fixtures.process import serve
from tests.fixtures.specs import api_header
from tests.fixtures.upstream import RecordingUpstream, Reply, running

pytestmark = pytest.mark.anyio
PRODUCTS_HTML = (
    b"<table><thead><tr><th>Name</th><th>Price</th><th>Stock</th></tr></thead><tbody>"
    b"<tr><td>Widget</td><td>$42</td><td>150</td></tr>"
    b"<tr><td>Gadget</td><td>$99</td><td>30</td></tr></tbody></table>"
)
PRODUCTS_MD = (
    b"| Name | Price | Stock |\n|------|-------|-------|\n| Widget | $42 | 150 |\n"
    b"| Gadget | $99 | 30 |\n"
)
PRODUCTS = [
    {"Name": "Widget", "Price": "$42", "Stock": "150"},
    {"Name": "Gadget", "Price": "$99", "Stock": "30"},
]


def reply(body: bytes) -> UpstreamReply:
    return UpstreamReply(200, "application/octet-stream", body)


# ---------------------------------------------------------------- ConverterTest
def test_convert_html_and_markdown_should_produce_same_table_contract() -> None:
    assert decode_html(PRODUCTS_HTML)["tables"] == [PRODUCTS]
    assert decode_markdown(PRODUCTS_MD)["tables"] == [PRODUCTS]


def test_convert_html_to_json_should_apply_css_selector_scoping() -> None:
    page = (
        b"<div><table class='ignored'><tr><th>Name</th><th>Stock</th></tr>"
        b"<tr><td>Ignored</td><td>0</td></tr></table>"
        b"<table class='products'><tr><th>Name</th><th>Stock</th></tr>"
        b"<tr><td>Kept</td><td>42</td></tr></table></div>"
    )
    assert decode_html(page, "table.products") == {"tables": [[{"Name": "Kept", "Stock": "42"}]]}
    assert decode_html(page, "div")["tables"][0][0]["Name"] == "Ignored"  # tables inside a match
    assert decode_html(page, "section.none") == {"tables": []}
    with pytest.raises(HtmlError):
        decode_html(page, "[[[")


def test_convert_html_to_json_should_skip_rows_containing_th_elements() -> None:
    page = (
        b"<table><tr><th>Name</th><th>Price</th></tr><tr><th>Widget</th><td>$42</td></tr>"
        b"<tr><td>Gadget</td><td>$99</td></tr></table>"
    )
    assert decode_html(page) == {"tables": [[{"Name": "Gadget", "Price": "$99"}]]}


def test_html_cells_headers_and_missing_cells_follow_the_reference() -> None:
    page = (
        b"<table><tr><th> A </th><th>B</th><th>C</th></tr>"
        b"<tr><td> a  b </td></tr><tr><td><b>bold</b> text<br>line</td><td>2</td><td>3</td>"
        b"<td>4</td></tr></table><table><tr><td>no header</td></tr></table>"
    )
    assert decode_html(page) == {
        "tables": [[{"A": "a b", "B": "", "C": ""}, {"A": "bold textline", "B": "2", "C": "3"}]]
    } or decode_html(page) == {
        "tables": [[{"A": "a b", "B": "", "C": ""}, {"A": "bold text line", "B": "2", "C": "3"}]]
    }
    assert decode_html(b"") == {"tables": []}


def test_convert_markdown_to_json_should_extract_front_matter_tables_and_sections() -> None:
    text = (
        b"---\ntitle: Release Notes\nversion: 2.1.0\n---\n\n## Overview\n"
        b"This **release** introduces [new features](https://example.com).\n\n"
        b"| Feature | Status |\n|---------|--------|\n| Search  | GA     |\n"
    )
    result = decode_markdown(text)
    assert result["frontMatter"] == {"title": "Release Notes", "version": "2.1.0"}
    assert result["tables"] == [[{"Feature": "Search", "Status": "GA"}]]
    assert result["sections"] == [
        {"heading": "Overview", "level": 2, "content": "This release introduces new features."}
    ]


def test_convert_markdown_to_json_should_filter_sections_by_heading_prefix() -> None:
    text = (
        b"## Overview\nGeneral introduction.\n\n## API Reference\nDetails about the API.\n\n"
        b"## API Usage\nHow to use the API.\n"
    )
    headings = [s["heading"] for s in decode_markdown(text, "API")["sections"]]
    assert headings == ["API Reference", "API Usage"]
    assert (
        len(decode_markdown(b"## First\nContent one.\n\n## Second\nContent two.\n")["sections"])
        == 2
    )


def test_markdown_lists_concatenate_and_code_blocks_say_nothing() -> None:
    text = b"# Top\n- a\n- b\n\n```\ncode\n```\n\npara one\nline two\n"
    [section] = decode_markdown(text)["sections"]
    assert section == {"heading": "Top", "level": 1, "content": "ab\npara one line two"}


def test_convert_delimited_to_json_should_parse_tab_and_pipe_separated_values() -> None:
    rows = [
        {"id": "1", "name": "Alice Smith", "email": "alice@example.com"},
        {"id": "2", "name": "Bob Johnson", "email": "bob@example.com"},
    ]
    tsv = b"id\tname\temail\n1\tAlice Smith\talice@example.com\n2\tBob Johnson\tbob@example.com\n"
    assert decode_delimited(tsv, "tsv") == rows
    assert decode_delimited(tsv.replace(b"\t", b"|"), "psv") == rows
    assert decode_delimited(b"id,name\n1,Alice\n", "csv") == [{"id": "1", "name": "Alice"}]


def test_csv_values_stay_strings_short_rows_lack_keys_long_rows_fail() -> None:
    assert decode_delimited(b"name,age\nAlice,42\nBob,39\n", "csv")[1] == {
        "name": "Bob",
        "age": "39",
    }
    assert decode_delimited(b"a,b,c\n1\n", "csv") == [{"a": "1"}]
    assert decode_delimited(b"a,b\n1,2,\n", "csv") == [{"a": "1", "b": "2"}]
    assert decode_delimited(b'a,b\n"x, y","say ""hi"""\n', "csv") == [
        {"a": "x, y", "b": 'say "hi"'}
    ]
    with pytest.raises(DelimitedError):
        decode_delimited(b"a,b\n1,2,3\n", "csv")
    assert decode_delimited(b"", "csv") == [] and decode_delimited(b"a,b\n", "csv") == []


def test_convert_to_json_should_support_xml_yaml_and_csv_formats() -> None:
    assert decode(reply(b"<root><name>Alice</name></root>"), "xml", "x") == {"name": "Alice"}
    assert decode(reply(b"name: Alice\nage: 42\n"), "yaml", "x") == {"name": "Alice", "age": 42}
    assert decode(reply(b"---\na: 1\n---\nb: 2\n"), "yaml", "x") == {"a": 1}
    assert decode(reply(b'{"status":"ok","count":2}'), "json", "x") == {"status": "ok", "count": 2}


def test_xml_shapes_match_the_reference() -> None:
    assert decode_xml(b"<a id='1'><b>x</b></a>") == {"id": "1", "b": "x"}
    assert decode_xml(b"<root><foo bar='y'>val</foo></root>") == {"foo": {"bar": "y", "": "val"}}
    assert decode_xml(b"<r><u>1</u><v>2</v><u>3</u></r>") == {"u": ["1", "3"], "v": "2"}
    assert decode_xml(b"<r><e/></r>") == {"e": ""}
    assert decode_xml(b"<r xmlns:p='urn:x'><p:name>n</p:name></r>") == {"name": "n"}


def test_avro_needs_its_schema_and_decodes_one_datum(tmp_path: Path) -> None:
    import fastavro

    schema = {
        "type": "record",
        "name": "RecordsList",
        "fields": [
            {
                "name": "records",
                "type": {
                    "type": "array",
                    "items": {
                        "type": "record",
                        "name": "Record",
                        "fields": [
                            {"name": "id", "type": "string"},
                            {"name": "title", "type": ["null", "string"]},
                        ],
                    },
                },
            }
        ],
    }
    path = tmp_path / "records.avsc"
    path.write_text(__import__("json").dumps(schema))
    value = {"records": [{"id": "1", "title": "T"}, {"id": "2", "title": None}]}
    datum = io.BytesIO()
    fastavro.schemaless_writer(datum, fastavro.parse_schema(schema), value)
    assert decode_avro(datum.getvalue(), str(path)) == value
    container = io.BytesIO()
    fastavro.writer(container, fastavro.parse_schema(schema), [value])
    assert decode_avro(container.getvalue(), str(path)) == [value]
    with pytest.raises(AvroError, match="outputSchema"):
        decode_avro(b"\x01\x02\x03", None)
    with pytest.raises(AvroError, match="cannot be read"):
        decode_avro(b"\x01\x02\x03", str(tmp_path / "does-not-exist.avsc"))
    with pytest.raises(AvroError):
        decode_avro(b"\x06\xff", str(path))  # truncated


# ---------------------------------------------------------------- hostile payloads
@pytest.mark.parametrize(
    "payload",
    [
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>',
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]>'
        b"<r>&c;</r>",
        b'<!DOCTYPE r SYSTEM "http://127.0.0.1:9/evil.dtd"><r>x</r>',
        b"<r><unclosed></r>",
    ],
    ids=["external-entity", "billion-laughs", "dtd-fetch", "malformed"],
)
def test_hostile_xml_is_a_bad_response_naming_the_format(payload: bytes) -> None:
    with pytest.raises(UpstreamError) as failure:
        decode(reply(payload), "xml", "legacy.list-vessels")
    assert failure.value.kind == "bad_response" and "not valid xml" in failure.value.message
    with pytest.raises(XmlError):
        decode_xml(payload)


# ---------------------------------------------------------------- over loopback
SPEC = (
    api_header("docs")
    + """\
{resources}
  exposes:
    - type: rest
      namespace: docs-rest
      port: 8080
      resources:
{routes}
    - type: mcp
      namespace: docs-mcp
      port: 9090
      tools:
{tools}
"""
)
AVRO_SCHEMA = {
    "type": "record",
    "name": "Item",
    "fields": [{"name": "id", "type": "string"}, {"name": "count", "type": "long"}],
}


def _avro_datum(value: dict[str, Any]) -> bytes:
    import fastavro

    out = io.BytesIO()
    fastavro.schemaless_writer(out, fastavro.parse_schema(AVRO_SCHEMA), value)
    return out.getvalue()


FORMATS = {
    "html": ("/page", "text/html", PRODUCTS_HTML, "table"),
    "avro": ("/avro", "application/avro", _avro_datum({"id": "a", "count": 2**40}), "item.avsc"),
    "markdown": ("/notes", "text/markdown", PRODUCTS_MD, None),
    "xml": ("/vessels", "application/xml", b"<v><vessel><code>A</code></vessel></v>", None),
    "tsv": ("/rows", "text/tab-separated-values", b"id\tname\n1\tAlice\n", None),
}


def _spec() -> str:
    resources, routes, tools = [], [], []
    for fmt, (path, _, _, schema) in FORMATS.items():
        extra = f'\n              outputSchema: "{schema}"' if schema else ""
        resources.append(
            f'        - name: {fmt}\n          path: "{path}"\n          operations:\n'
            f"            - name: get-{fmt}\n              method: GET\n"
            f"              outputRawFormat: {fmt}{extra}"
        )
        routes.append(
            f'        - path: "{path}"\n          operations:\n            - method: GET\n'
            f"              call: docs.get-{fmt}"
        )
        tools.append(
            f'        - name: get-{fmt}\n          description: "{fmt}"\n'
            f"          call: docs.get-{fmt}"
        )
    return SPEC.format(
        resources="\n".join(resources), routes="\n".join(routes), tools="\n".join(tools)
    )


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[RecordingUpstream, dict[str, str]]]:
    spec = tmp_path_factory.mktemp("formats") / "formats.yaml"
    spec.write_text(_spec())
    (spec.parent / "item.avsc").write_text(__import__("json").dumps(AVRO_SCHEMA))
    upstream = RecordingUpstream(
        script={
            path: Reply(body=body, content_type=kind) for path, kind, body, _ in FORMATS.values()
        }
    )
    with running(upstream) as base, serve(spec, "--upstream", f"docs={base}") as process:
        yield upstream, process.urls


EXPECTED: dict[str, Any] = {
    "/page": {"tables": [PRODUCTS]},
    "/avro": {"id": "a", "count": 2**40},
    "/notes": {"frontMatter": {}, "tables": [PRODUCTS], "sections": []},
    "/vessels": {"vessel": {"code": "A"}},
    "/rows": [{"id": "1", "name": "Alice"}],
}


async def test_every_format_reaches_rest_and_mcp_as_the_same_json(
    served: tuple[RecordingUpstream, dict[str, str]],
) -> None:
    upstream, urls = served
    async with Client(urls["mcp"]) as client:
        for fmt, (path, _, _, _) in FORMATS.items():
            answer = httpx.get(urls["rest"] + path, timeout=10)
            assert answer.status_code == 200, answer.text
            assert answer.json() == EXPECTED[path]
            result = await client.call_tool(f"get-{fmt}", {})
            assert result.is_error is False
            data = result.structured_content
            assert (data if isinstance(EXPECTED[path], dict) else data["result"]) == EXPECTED[path]


BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">'
    + b"".join(
        f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">'.encode() for i in range(8)
    )
    + b"]><r>&i;</r>"
)


@pytest.mark.parametrize(
    ("path", "payload", "fmt"),
    [
        ("/vessels", b"<v><broken></v>", "xml"),
        ("/vessels", BILLION_LAUGHS, "xml"),
        ("/vessels", b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>', "xml"),
        ("/avro", b"\x06\xff", "avro"),
    ],
    ids=["malformed-xml", "billion-laughs", "external-entity", "malformed-avro"],
)
def test_a_hostile_or_wrong_payload_is_a_502_naming_the_format(
    served: tuple[RecordingUpstream, dict[str, str]], path: str, payload: bytes, fmt: str
) -> None:
    upstream, urls = served
    good = upstream.script[path]
    upstream.script[path] = Reply(body=payload, content_type=good.content_type)
    try:
        answer = httpx.get(urls["rest"] + path, timeout=10)
        assert answer.status_code == 502
        assert answer.json()["error"]["type"] == "upstream_bad_response"
        assert f"not valid {fmt}" in answer.json()["error"]["message"]
        assert "root:" not in answer.text  # nothing of /etc/passwd
    finally:
        upstream.script[path] = good
    assert httpx.get(urls["rest"] + path, timeout=10).status_code == 200  # still serving


RECORDS_PROTO = """\
syntax = "proto2";

package test.records;

message RecordsList {
  repeated Record records = 1;
}

message Record {
  required string id = 1;
  required string title = 2;
  required string description = 3;
  optional int64 views = 4;
  optional Kind kind = 5;
}

enum Kind {
  ARTICLE = 0;
  VIDEO = 1;
}
"""


def test_protobuf_first_message_is_the_type_and_numbers_stay_numbers(tmp_path: Path) -> None:
    """ProtobufIntegrationTest's schema (records of id/title/description), decoded for real."""
    from naftiko_runtime.engine.formats.protobuf import (
        ProtobufError,
        decode_protobuf,
        message_class,
    )

    schema = tmp_path / "test-records.proto"
    schema.write_text(RECORDS_PROTO)
    cls = message_class(str(schema))
    message = cls()
    record = message.records.add()
    record.id, record.title, record.description = "1", "T", "D"
    record.views = 2**40
    record.kind = 1
    assert decode_protobuf(message.SerializeToString(), str(schema)) == {
        "records": [{"id": "1", "title": "T", "description": "D", "views": 2**40, "kind": "VIDEO"}]
    }
    assert decode_protobuf(b"", str(schema)) == {}
    with pytest.raises(ProtobufError, match="outputSchema"):
        decode_protobuf(b"\x01", None)
    with pytest.raises(ProtobufError, match="not found"):
        decode_protobuf(b"\x01", str(tmp_path / "does-not-exist.proto"))
    with pytest.raises(ProtobufError, match="not valid"):
        decode_protobuf(b"\x0a\xff\xff", str(schema))


USERS = [
    {"id": "1", "name": "Alice Smith", "email": "alice@example.com"},
    {"id": "2", "name": "Bob Johnson", "email": "bob@example.com"},
    {"id": "3", "name": "Carol White", "email": "carol@example.com"},
]


def test_xml_csv_and_yaml_integration_samples() -> None:
    """XmlIntegrationTest, CsvIntegrationTest, YamlIntegrationTest: three users each way."""
    xml = (
        "<users>"
        + "".join(
            f"<user><id>{u['id']}</id><name>{u['name']}</name><email>{u['email']}</email></user>"
            for u in USERS
        )
        + "</users>"
    )
    assert decode_xml(xml.encode()) == {"user": USERS}
    csv_text = "id,name,email\n" + "".join(f"{u['id']},{u['name']},{u['email']}\n" for u in USERS)
    assert decode_delimited(csv_text.encode(), "csv") == USERS
    yaml_text = "users:\n" + "".join(
        f'  - id: "{u["id"]}"\n    name: {u["name"]}\n    email: {u["email"]}\n' for u in USERS
    )
    assert decode(reply(yaml_text.encode()), "yaml", "x") == {"users": USERS}


def test_rest_xml_output_format_with_a_declaration_and_indentation() -> None:
    """RestXmlOutputFormatIntegrationTest's pretty-printed document (declaration, newlines)."""
    body = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<vessels>\n  <vessel>\n'
        b"    <vesselCode>V001</vesselCode>\n    <vesselName>Sea Eagle</vesselName>\n  </vessel>\n"
        b"  <vessel>\n    <vesselCode>V002</vesselCode>\n    <vesselName>Harbor Star</vesselName>\n"
        b"  </vessel>\n</vessels>\n"
    )
    assert decode_xml(body) == {
        "vessel": [
            {"vesselCode": "V001", "vesselName": "Sea Eagle"},
            {"vesselCode": "V002", "vesselName": "Harbor Star"},
        ]
    }
