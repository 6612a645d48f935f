"""The skill adapter over loopback: catalogue, detail with derived and instruction tools,
contents, files and the zip download from `location`; no path may leave the skill's folder
(`../`, encoded, absolute, a link out). Follows the reference's SkillIntegrationTest."""

from __future__ import annotations

import io
import socket
import zipfile
from collections.abc import Iterator

import httpx
import pytest

from tests.fixtures.process import serve

pytestmark = pytest.mark.e2e

SPEC = """\
naftiko: "1.0.0-alpha2"
capability:
  exposes:
    - type: mcp
      namespace: tools-mcp
      port: 9090
      tools:
        - name: hello
          description: "Say hello"
          outputParameters:
            - name: message
              type: string
              value: "hi"
    - type: skill
      namespace: skills
      port: 8080
      description: "Skills"
      skills:
        - name: greeter
          description: "Greets people"
          license: Apache-2.0
          metadata:
            author: naftiko
          location: "file:///./greeter"
          tools:
            - name: hello
              description: "Say hello"
              from:
                sourceNamespace: tools-mcp
                action: hello
            - name: guide
              description: "How to greet"
              instruction: "docs/guide.md"
        - name: bare
          description: "No files"
"""


@pytest.fixture(scope="module")
def skills(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("skills")
    (folder / "spec.yaml").write_text(SPEC)
    (folder / "secret.txt").write_text("outside the skill")
    greeter = folder / "greeter"
    (greeter / "docs").mkdir(parents=True)
    (greeter / "SKILL.md").write_text("# Greeter\n")
    (greeter / "docs" / "guide.md").write_text("Say hello politely.\n")
    (greeter / "link.txt").symlink_to(folder / "secret.txt")
    with serve(folder / "spec.yaml", ready="/skills") as process:
        yield process.rest


def test_catalog_and_detail(skills: str) -> None:
    catalog = httpx.get(skills + "/skills", timeout=10).json()
    assert catalog == {
        "count": 2,
        "skills": [
            {
                "name": "greeter",
                "description": "Greets people",
                "license": "Apache-2.0",
                "tools": ["hello", "guide"],
            },
            {"name": "bare", "description": "No files", "tools": []},
        ],
    }
    detail = httpx.get(skills + "/skills/greeter", timeout=10).json()
    assert detail["metadata"] == {"author": "naftiko"} and detail["license"] == "Apache-2.0"
    hello, guide = detail["tools"]
    assert hello["type"] == "derived"
    assert hello["invocationRef"] == {
        "targetNamespace": "tools-mcp",
        "action": "hello",
        "mode": "mcp",
    }
    assert guide == {
        "name": "guide",
        "description": "How to greet",
        "type": "instruction",
        "instruction": "docs/guide.md",
    }
    missing = httpx.get(skills + "/skills/nobody", timeout=10)
    assert missing.status_code == 404 and "Skill not found" in missing.json()["error"]["message"]


def test_contents_files_and_download(skills: str) -> None:
    listing = httpx.get(skills + "/skills/greeter/contents", timeout=10).json()
    assert listing == {
        "name": "greeter",
        "files": [
            {"path": "SKILL.md", "size": 10, "type": "text/markdown"},
            {"path": "docs/guide.md", "size": 20, "type": "text/markdown"},
        ],
    }
    guide = httpx.get(skills + "/skills/greeter/contents/docs/guide.md", timeout=10)
    assert (guide.status_code, guide.text) == (200, "Say hello politely.\n")
    assert guide.headers["content-type"] == "text/markdown"
    archive = zipfile.ZipFile(
        io.BytesIO(httpx.get(skills + "/skills/greeter/download", timeout=10).content)
    )
    assert sorted(archive.namelist()) == ["SKILL.md", "docs/guide.md"]
    assert httpx.get(skills + "/skills/bare/contents", timeout=10).status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/skills/greeter/contents/../secret.txt",
        "/skills/greeter/contents/%2e%2e/secret.txt",
        "/skills/greeter/contents/docs/..%2f..%2fsecret.txt",
        "/skills/greeter/contents//etc/passwd",
        "/skills/greeter/contents/link.txt",
    ],
)
def test_no_path_leaves_the_skill_folder(skills: str, path: str) -> None:
    """Sent as raw HTTP, so no client normalises the path on the way."""
    host, port = skills.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status = int(answer.split(b" ", 2)[1])
    assert status in (400, 404), answer
    assert b"outside the skill" not in answer and b"root:" not in answer
