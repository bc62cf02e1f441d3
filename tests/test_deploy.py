"""The Kubernetes example in deploy/: valid objects that fit together, the app and the image.

Every document is validated against Kubernetes' own schemas (strict: no
unknown fields) for the oldest version the example supports and the newest
that kubernetes-validate bundles. The rest checks what schemas cannot: that
the probes and the scrape path are routes of the app, that ports, selectors
and names refer to each other, and that the pod fits the image (its user,
port and the paths it writes to under a read-only root filesystem).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from werkzeug.exceptions import HTTPException

from service.app import create_app
from tests.test_container import TMPFS_MOUNTS, image_stages

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
GUNICORN_CONF = ROOT / "gunicorn.conf.py"
# The oldest Kubernetes the example is written for (the preStop sleep action).
OLDEST_VERSION = "1.30"

Manifest = dict[str, object]


def manifests() -> list[Manifest]:
    """Every document of every YAML file in deploy/."""
    documents: list[Manifest] = []
    for path in sorted(DEPLOY.glob("*.yaml")):
        documents += [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]
    return documents


def the(kind: str) -> dict:
    """The one manifest of this kind."""
    found = [doc for doc in manifests() if doc["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def pod_spec() -> dict:
    return the("Deployment")["spec"]["template"]["spec"]


def container() -> dict:
    containers = pod_spec()["containers"]
    assert len(containers) == 1
    return containers[0]


def container_port(port: int | str) -> int:
    """A port of the container, by number or by name, as a number."""
    for declared in container()["ports"]:
        if port in (declared["containerPort"], declared.get("name")):
            return int(declared["containerPort"])
    raise AssertionError(f"the container declares no port {port!r}")


def env() -> dict[str, str]:
    """The container's plain variables (not those read from a Secret)."""
    return {item["name"]: item["value"] for item in container().get("env", []) if "value" in item}


def secret_env() -> dict[str, dict[str, str]]:
    """The container's variables read from a Secret: name -> its secretKeyRef."""
    return {
        item["name"]: item["valueFrom"]["secretKeyRef"]
        for item in container().get("env", [])
        if "secretKeyRef" in item.get("valueFrom", {})
    }


def http_gets() -> Iterator[tuple[str, dict]]:
    """(probe name, httpGet) of every HTTP probe of the container."""
    for name in ("startupProbe", "readinessProbe", "livenessProbe"):
        probe = container().get(name)
        if probe is not None and "httpGet" in probe:
            yield name, probe["httpGet"]


def cpu_cores(quantity: str | int) -> float:
    """A Kubernetes CPU quantity ("2", "1500m", 0.5) in cores."""
    text = str(quantity)
    return float(text[:-1]) / 1000 if text.endswith("m") else float(text)


def memory_bytes(quantity: str) -> int:
    """A Kubernetes memory quantity in the binary units the example uses (2Gi, 512Mi)."""
    units = {"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30}
    for suffix, factor in units.items():
        if quantity.endswith(suffix):
            return int(quantity.removesuffix(suffix)) * factor
    return int(quantity)


def gunicorn_default(setting: str) -> int:
    """The default gunicorn.conf.py gives a setting: a literal, or _int("ALRANK_...", default)."""
    tree = ast.parse(GUNICORN_CONF.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == setting for target in node.targets
        ):
            value = node.value
            if isinstance(value, ast.Call) and value.args:
                value = value.args[-1]
            assert isinstance(value, ast.Constant), f"{setting} is not a literal default"
            return int(value.value)
    raise AssertionError(f"gunicorn.conf.py does not set {setting}")


def test_the_example_holds_a_deployment_service_and_autoscaler() -> None:
    kinds = sorted(str(doc["kind"]) for doc in manifests())
    assert {"Deployment", "Service", "HorizontalPodAutoscaler"} <= set(kinds)


@pytest.mark.parametrize("version", [OLDEST_VERSION, kubernetes_validate.latest_version()])
@pytest.mark.parametrize(
    "manifest",
    manifests(),
    ids=lambda doc: f"{doc['kind']}/{doc['metadata']['name']}",
)
def test_every_object_is_valid_kubernetes(manifest: Manifest, version: str) -> None:
    kubernetes_validate.validate(manifest, version, strict=True)


def test_the_validation_refuses_an_unknown_field() -> None:
    deployment = the("Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessprobe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, OLDEST_VERSION, strict=True)


def test_probes_and_the_scrape_path_are_routes_of_the_app() -> None:
    urls = create_app({"TESTING": True}).url_map.bind("localhost")
    annotations = the("Deployment")["spec"]["template"]["metadata"]["annotations"]
    paths = [get["path"] for _, get in http_gets()] + [annotations["prometheus.io/path"]]
    assert {"/healthz", "/readyz", "/metrics"} <= set(paths)
    for path in paths:
        try:
            urls.match(path, method="GET")
        except HTTPException as error:
            raise AssertionError(f"GET {path}: {error}") from None


def test_probes_and_the_scrape_port_are_the_container_port() -> None:
    annotations = the("Deployment")["spec"]["template"]["metadata"]["annotations"]
    ports = {container_port(get["port"]) for _, get in http_gets()}
    ports.add(container_port(int(annotations["prometheus.io/port"])))
    assert ports == {container_port("http")}


def test_readiness_asks_readyz_and_liveness_asks_healthz() -> None:
    gets = dict(http_gets())
    assert gets["readinessProbe"]["path"] == "/readyz"
    assert gets["livenessProbe"]["path"] == "/healthz"


def test_the_service_sends_port_80_to_the_container_port() -> None:
    ports = the("Service")["spec"]["ports"]
    assert [port["port"] for port in ports] == [80]
    assert container_port(ports[0]["targetPort"]) == 8000


def test_the_service_the_budget_and_the_deployment_select_its_pods() -> None:
    labels = the("Deployment")["spec"]["template"]["metadata"]["labels"]
    selectors = [
        the("Deployment")["spec"]["selector"]["matchLabels"],
        the("Service")["spec"]["selector"],
        *[
            doc["spec"]["selector"]["matchLabels"]
            for doc in manifests()
            if doc["kind"] == "PodDisruptionBudget"
        ],
    ]
    for selector in selectors:
        assert selector
        assert selector.items() <= labels.items(), selector


def test_the_autoscaler_scales_the_deployment_on_cpu() -> None:
    deployment = the("Deployment")
    autoscaler = the("HorizontalPodAutoscaler")["spec"]
    assert autoscaler["scaleTargetRef"] == {
        "apiVersion": deployment["apiVersion"],
        "kind": "Deployment",
        "name": deployment["metadata"]["name"],
    }
    assert [metric["resource"]["name"] for metric in autoscaler["metrics"]] == ["cpu"]
    assert 1 <= autoscaler["minReplicas"] <= autoscaler["maxReplicas"]


def test_uploads_need_a_key_read_from_a_secret() -> None:
    assert "ALRANK_API_KEY" not in env()
    reference = secret_env()["ALRANK_API_KEY"]
    assert reference["name"]
    assert reference["key"]
    assert "optional" not in reference or reference["optional"] is False


def test_the_inference_budgets_of_the_workers_fit_the_pod() -> None:
    budget = int(env()["ALRANK_INFERENCE_MEMORY_BYTES"])
    requested = memory_bytes(container()["resources"]["requests"]["memory"])
    assert 0 < budget * int(env()["ALRANK_WORKERS"]) <= requested // 4


def test_one_worker_per_requested_core() -> None:
    cores = cpu_cores(container()["resources"]["requests"]["cpu"])
    assert int(env()["ALRANK_WORKERS"]) == cores


def test_shutdown_outlasts_the_pause_and_gunicorns_graceful_timeout() -> None:
    pre_stop = container().get("lifecycle", {}).get("preStop", {})
    pause = pre_stop.get("sleep", {}).get("seconds", 0)
    graceful = int(env().get("ALRANK_GRACEFUL_TIMEOUT", gunicorn_default("graceful_timeout")))
    assert pod_spec()["terminationGracePeriodSeconds"] > pause + graceful


def test_the_pod_runs_the_image_user_locked_down() -> None:
    uid, _, gid = image_stages()[-1].last("USER").args.partition(":")
    security = pod_spec()["securityContext"]
    assert security["runAsNonRoot"] is True
    assert security["runAsUser"] == int(uid)
    assert security.get("runAsGroup", int(gid or uid)) == int(gid or uid)
    locked = container()["securityContext"]
    assert locked["readOnlyRootFilesystem"] is True
    assert locked["allowPrivilegeEscalation"] is False
    assert locked["capabilities"]["drop"] == ["ALL"]


def test_the_pod_mounts_every_path_the_image_writes_to() -> None:
    stage = image_stages()[-1]
    volumes = {volume["name"]: volume for volume in pod_spec()["volumes"]}
    mounts = {mount["mountPath"]: volumes[mount["name"]] for mount in container()["volumeMounts"]}
    needed = {*stage.volumes(), *TMPFS_MOUNTS, stage.env()["TMPDIR"]}
    assert needed <= mounts.keys()
    assert mounts["/tmp"]["emptyDir"]["medium"] == "Memory"
    assert mounts["/tmp"]["emptyDir"]["sizeLimit"]
    assert env().get("ALRANK_MODEL_DIR", stage.env()["ALRANK_MODEL_DIR"]) in mounts


def test_the_pod_listens_where_the_image_does() -> None:
    stage = image_stages()[-1]
    exposed = {int(item.args.split("/")[0]) for item in stage.all("EXPOSE")}
    bind = env().get("ALRANK_BIND", stage.env()["ALRANK_BIND"])
    host, _, port = bind.rpartition(":")
    assert host == "0.0.0.0"
    assert {container_port("http"), int(port)} == exposed
