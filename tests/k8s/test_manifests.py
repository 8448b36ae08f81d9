"""The Kubernetes manifests in k8s/ build, validate, and agree with the app they deploy.

Runs offline: every kustomization is built with `kubectl kustomize` (kubectl is installed here and in
CI; a missing kubectl fails in CI and skips elsewhere), a directory without one is read the way Flux
does (every manifest in it and below), built-in kinds validate with kubernetes-validate, custom
resources against the CRD schemas in ../shared/k8s-schemas.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase

from app.config import Settings
from app.llm.models import ModelConfig, parse_models
from app.telemetry import metrics as app_metrics
from tests.conftest import require_component
from tests.k8s.promql_names import QueryNames, labels_in_legend, names_in_promql, names_in_variable_query

REPO_ROOT = Path(__file__).resolve().parents[2]
K8S_DIR = REPO_ROOT / "k8s"
CLUSTER_DIR = K8S_DIR / "clusters" / "homelab"
SCHEMA_DIR = REPO_ROOT.parent / "shared" / "k8s-schemas"
KUBERNETES_VERSION = "1.33"

APP_IMAGE = "ghcr.io/logtriage/logtriage"
LLAMA_IMAGE = "ghcr.io/ggml-org/llama.cpp"
HEAVY_TOLERATION = {"key": "heavy", "operator": "Equal", "value": "true", "effect": "NoSchedule"}
# The GitRepository that `flux bootstrap` creates; it is not in the repository.
BOOTSTRAP_SOURCES = {("GitRepository", "flux-system", "flux-system")}

# Namespaces that cannot enforce "restricted", and why (k8s/README.md, Pod Security exceptions).
PSS_EXCEPTIONS = {
    "monitoring": "node-exporter needs hostNetwork, hostPID and hostPath",
    "envoy-gateway-system": "Envoy Gateway's shutdown-manager sidecar has a fixed security context",
}
# Pods that run to completion: readiness and liveness probes do not apply (activeDeadlineSeconds
# bounds a hung run instead).
PROBE_EXEMPT_KINDS = {"Job": "run to completion", "CronJob": "run to completion"}

# Metrics that dashboards and alerts may use besides the app's own.
LLAMACPP_METRICS = frozenset(
    {
        "llamacpp:prompt_tokens_total",
        "llamacpp:prompt_seconds_total",
        "llamacpp:tokens_predicted_total",
        "llamacpp:tokens_predicted_seconds_total",
        "llamacpp:prompt_tokens_seconds",
        "llamacpp:predicted_tokens_seconds",
        "llamacpp:requests_processing",
        "llamacpp:requests_deferred",
        "llamacpp:n_decode_total",
        "llamacpp:n_busy_slots_per_decode",
        "llamacpp:n_tokens_max",
    }
)
WELL_KNOWN_METRICS = frozenset({"up"})
# Labels Prometheus adds to every series it scrapes through a ServiceMonitor.
TARGET_LABELS = frozenset({"job", "instance", "namespace", "pod", "service", "endpoint", "container"})
# Labels of the gauges the eval job pushes: the group (job, prompt, model, quantization), the prompt
# version on every series, class on per-class gauges, quantile on latency gauges.
EVAL_LABELS = frozenset(
    {"job", "instance", "prompt", "prompt_version", "model", "quantization", "class", "quantile"}
)
# The ServiceMonitor relabels llama.cpp series with the model and quantization of their Service.
LLAMACPP_LABELS = frozenset({"model", "quantization"})


# --- builds ------------------------------------------------------------------------------------

Manifest = dict[str, Any]
KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
HOW_TO_GET_KUBECTL = "install Debian's 'kubectl' package (its `kubectl kustomize` builds the manifests)"


def find_kustomization_file(directory: Path) -> Path | None:
    """The kustomization file of directory, or None."""
    return next((directory / n for n in KUSTOMIZATION_FILES if (directory / n).is_file()), None)


def kubectl_kustomize(directory: Path) -> list[Manifest]:
    """The objects `kubectl kustomize directory` prints."""
    kubectl = shutil.which("kubectl")
    require_component(kubectl is not None, "kubectl", HOW_TO_GET_KUBECTL)
    assert kubectl is not None
    result = subprocess.run(
        [kubectl, "kustomize", str(directory)], capture_output=True, text=True, check=False, timeout=120
    )
    assert result.returncode == 0, f"kubectl kustomize {directory} failed: {result.stderr}"
    return [obj for obj in yaml.safe_load_all(result.stdout) if obj]


def build(directory: Path) -> list[Manifest]:
    """What Flux applies for a path: its kustomize build, or (no kustomization file) every manifest in it."""
    if find_kustomization_file(directory) is not None:
        return kubectl_kustomize(directory)
    objects: list[Manifest] = []
    for path in sorted(directory.iterdir()):
        if path.is_dir():
            objects.extend(build(path))
        elif path.suffix in {".yaml", ".yml"}:
            documents = yaml.safe_load_all(path.read_text(encoding="utf-8"))
            objects.extend(d for d in documents if isinstance(d, dict) and "apiVersion" in d and "kind" in d)
    return objects


def pod_specs(obj: Manifest) -> list[Manifest]:
    """The pod specs inside a workload object (Pod, Deployment, ..., CronJob), possibly none."""
    kind, spec = obj.get("kind"), obj.get("spec") or {}
    if kind == "Pod":
        return [spec]
    if kind in {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}:
        return [((spec.get("template") or {}).get("spec")) or {}]
    if kind == "CronJob":
        job_spec = (spec.get("jobTemplate") or {}).get("spec") or {}
        return [((job_spec.get("template") or {}).get("spec")) or {}]
    return []


def kustomization_dirs() -> list[Path]:
    """Every directory under k8s/ with a kustomization file."""
    return sorted(path.parent for path in K8S_DIR.rglob("kustomization.yaml"))


@cache
def built(directory: Path) -> tuple[Manifest, ...]:
    """The build of a directory, cached for the session."""
    return tuple(build(directory))


def _flux_kustomizations() -> list[Manifest]:
    return [obj for obj in built(CLUSTER_DIR) if obj["kind"] == "Kustomization"]


@cache
def deployed() -> tuple[Manifest, ...]:
    """Everything Flux applies to the cluster: the cluster directory and each Kustomization's path."""
    objects = list(built(CLUSTER_DIR))
    for kustomization in _flux_kustomizations():
        objects.extend(built((REPO_ROOT / kustomization["spec"]["path"]).resolve()))
    return tuple(objects)


def objects_of(kind: str) -> list[Manifest]:
    """The deployed objects of one kind."""
    return [obj for obj in deployed() if obj["kind"] == kind]


def find_object(kind: str, name: str, namespace: str | None = None) -> Manifest:
    """The deployed object of that kind and name (and namespace), or a test failure."""
    found = [
        obj
        for obj in objects_of(kind)
        if obj["metadata"]["name"] == name
        and (namespace is None or obj["metadata"].get("namespace") == namespace)
    ]
    assert len(found) == 1, f"expected one {kind} {namespace}/{name}, found {len(found)}"
    return found[0]


def workloads() -> Iterator[tuple[Manifest, Manifest]]:
    """(workload, pod spec) for every object with a pod template."""
    for obj in deployed():
        for pod_spec in pod_specs(obj):
            yield obj, pod_spec


def containers_of(pod_spec: Manifest, *, init: bool = True) -> list[Manifest]:
    """The containers (and init containers) of a pod spec."""
    return [*pod_spec.get("containers", []), *(pod_spec.get("initContainers", []) if init else [])]


def ident(obj: Manifest) -> str:
    """kind/namespace/name, for messages."""
    return f"{obj['kind']}/{obj['metadata'].get('namespace', '-')}/{obj['metadata']['name']}"


def config_map_named(prefix: str, namespace: str) -> Manifest:
    """A generated ConfigMap by its name before the hash suffix."""
    found = [
        obj
        for obj in objects_of("ConfigMap")
        if re.fullmatch(rf"{re.escape(prefix)}(-[a-z0-9]{{10}})?", obj["metadata"]["name"])
        and obj["metadata"].get("namespace") == namespace
    ]
    assert len(found) == 1, f"expected one ConfigMap {namespace}/{prefix}, found {len(found)}"
    return found[0]


def option(args: list[str], flag: str) -> str | None:
    """The value of --flag in an argument list (``--flag value`` or ``--flag=value``)."""
    for index, arg in enumerate(args):
        if arg == flag and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
    return None


def app_containers() -> list[tuple[Manifest, Manifest, Manifest]]:
    """(workload, pod spec, container) for every container running the LogTriage image."""
    return [
        (obj, pod_spec, container)
        for obj, pod_spec in workloads()
        for container in containers_of(pod_spec)
        if container["image"].split(":")[0] == APP_IMAGE
    ]


def dashboard_container() -> tuple[Manifest, Manifest]:
    """(pod spec, container) of the Streamlit dashboard."""
    deployment = find_object("Deployment", "logtriage", "logtriage")
    pod_spec = pod_specs(deployment)[0]
    return pod_spec, next(c for c in pod_spec["containers"] if c["name"] == "dashboard")


def container_env(container: Manifest, namespace: str) -> dict[str, str | None]:
    """Environment of a container: envFrom ConfigMaps, then env (values from Secrets are None)."""
    env: dict[str, str | None] = {}
    for source in container.get("envFrom", []):
        assert "configMapRef" in source, (
            f"{container['name']}: envFrom only from ConfigMaps, so names are known"
        )
        env.update(find_object("ConfigMap", source["configMapRef"]["name"], namespace)["data"])
    for variable in container.get("env", []):
        env[variable["name"]] = variable.get("value")
    return env


def streamlit_base_path(container: Manifest, env: dict[str, str | None]) -> str:
    """Streamlit's baseUrlPath, from --server.baseUrlPath or STREAMLIT_SERVER_BASE_URL_PATH."""
    base = option(container.get("args", []), "--server.baseUrlPath") or env.get(
        "STREAMLIT_SERVER_BASE_URL_PATH"
    )
    assert base, "the dashboard sets no Streamlit base path"
    return base.strip("/")


# --- kustomize builds --------------------------------------------------------------------------


@pytest.mark.parametrize("directory", kustomization_dirs(), ids=lambda p: str(p.relative_to(K8S_DIR)))
def test_every_kustomization_builds(directory: Path) -> None:
    objects = built(directory)
    assert objects, f"{directory} builds to nothing"
    for obj in objects:
        assert obj.get("metadata", {}).get("name"), f"{directory}: an object has no name: {obj}"


def test_the_cluster_directory_is_only_flux_sources_and_kustomizations() -> None:
    assert find_kustomization_file(CLUSTER_DIR) is None, (
        "flux bootstrap adds flux-system/; let Flux list files"
    )
    kinds = {obj["kind"] for obj in built(CLUSTER_DIR)}
    assert kinds <= {"Kustomization", "GitRepository", "OCIRepository", "HelmRepository"}, kinds


def test_a_broken_kustomization_fails_the_build(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("resources:\n  - missing.yaml\n")
    kubectl = shutil.which("kubectl")
    require_component(kubectl is not None, "kubectl", HOW_TO_GET_KUBECTL)
    assert kubectl is not None
    result = subprocess.run(
        [kubectl, "kustomize", str(tmp_path)], capture_output=True, text=True, check=False
    )
    assert result.returncode != 0
    assert "missing.yaml" in result.stderr


# --- schemas -----------------------------------------------------------------------------------


@cache
def _crd_schema(api_version: str, kind: str) -> dict[str, Any]:
    group, _, version = api_version.rpartition("/")
    path = SCHEMA_DIR / group / f"{kind.lower()}_{version}.json"
    if not path.is_file():
        pytest.fail(
            f"no schema for {kind} ({api_version}): expected {path}. Add the CRD's JSON schema to "
            "../shared/k8s-schemas (layout {group}/{kind}_{version}.json, see its README)"
        )
    return json.loads(path.read_text(encoding="utf-8"))


def schema_errors(obj: Manifest) -> list[str]:
    """Why obj does not match its schema (built-in kinds strict, custom resources from CRDs)."""
    api_version = obj["apiVersion"]
    group = api_version.rpartition("/")[0]
    builtin = "." not in group or (group.endswith(".k8s.io") and group != "gateway.networking.k8s.io")
    if builtin:
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            location = "/".join(str(part) for part in exc.path)
            return [f"{ident(obj)}: {location}: {exc.message}"]
        except kubernetes_validate.SchemaNotFoundError as exc:
            return [f"{ident(obj)}: {exc.message}"]
        return []
    schema = _crd_schema(api_version, obj["kind"])
    validator_class = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
    return [
        f"{ident(obj)}: {'/'.join(str(p) for p in error.path)}: {error.message}"
        for error in validator_class(schema).iter_errors(obj)
    ]


@pytest.mark.parametrize(
    "directory", [CLUSTER_DIR, *kustomization_dirs()], ids=lambda p: str(p.relative_to(K8S_DIR))
)
def test_every_object_matches_its_schema(directory: Path) -> None:
    errors = [error for obj in built(directory) for error in schema_errors(obj)]
    assert not errors, "\n".join(errors)


def test_readme_examples_match_their_schemas() -> None:
    readme = (K8S_DIR / "README.md").read_text(encoding="utf-8")
    examples = [
        document
        for block in re.findall(r"```yaml\n(.*?)```", readme, re.DOTALL)
        for document in yaml.safe_load_all(block)
        if isinstance(document, dict) and "apiVersion" in document and "kind" in document
    ]
    assert any(example["kind"] == "SecurityPolicy" and "oidc" in example["spec"] for example in examples)
    errors = [error for example in examples for error in schema_errors(example)]
    assert not errors, "\n".join(errors)


# --- Flux --------------------------------------------------------------------------------------


def test_flux_kustomizations_are_ordered_pruned_and_waited_for() -> None:
    kustomizations = {obj["metadata"]["name"]: obj for obj in _flux_kustomizations()}
    assert set(kustomizations) == {"infra-controllers", "infra-configs", "apps"}
    sources = {(obj["kind"], obj["metadata"]["name"], obj["metadata"].get("namespace")) for obj in deployed()}
    for name, kustomization in kustomizations.items():
        spec = kustomization["spec"]
        for dependency in spec.get("dependsOn", []):
            assert dependency["name"] in kustomizations, f"{name} depends on unknown {dependency['name']}"
        source = spec["sourceRef"]
        key = (
            source["kind"],
            source["name"],
            source.get("namespace", kustomization["metadata"]["namespace"]),
        )
        assert key in sources | BOOTSTRAP_SOURCES, f"{name}: source {key} does not exist"
        assert (REPO_ROOT / spec["path"]).is_dir(), f"{name}: path {spec['path']} does not exist"
        assert spec.get("prune") is True, f"{name}: prune"
        assert spec.get("wait") is True, f"{name}: wait"
        assert spec.get("timeout"), f"{name}: timeout"
    order = {name: [d["name"] for d in k["spec"].get("dependsOn", [])] for name, k in kustomizations.items()}
    assert order == {
        "infra-controllers": [],
        "infra-configs": ["infra-controllers"],
        "apps": ["infra-configs"],
    }


def test_helm_releases_use_existing_sources_and_pinned_charts() -> None:
    sources = {(obj["kind"], obj["metadata"]["name"], obj["metadata"].get("namespace")) for obj in deployed()}
    releases = objects_of("HelmRelease")
    names = {(r["metadata"]["name"], r["metadata"]["namespace"]) for r in releases}
    for release in releases:
        spec, namespace = release["spec"], release["metadata"]["namespace"]
        if "chartRef" in spec:
            ref = spec["chartRef"]
            assert (ref["kind"], ref["name"], ref.get("namespace", namespace)) in sources, ident(release)
            oci = find_object(ref["kind"], ref["name"], ref.get("namespace", namespace))
            assert re.fullmatch(r"v?\d+\.\d+\.\d+", oci["spec"]["ref"].get("tag", "")), (
                f"{ident(oci)}: pin a tag"
            )
        else:
            chart = spec["chart"]["spec"]
            ref = chart["sourceRef"]
            assert (ref["kind"], ref["name"], ref.get("namespace", namespace)) in sources, ident(release)
            assert re.fullmatch(r"\d+\.\d+\.\d+", str(chart.get("version", ""))), (
                f"{ident(release)}: pin a version"
            )
        for dependency in spec.get("dependsOn", []):
            assert (dependency["name"], dependency.get("namespace", namespace)) in names, ident(release)


def _values_under(value: Any, key: str) -> Iterator[Any]:
    """Every value stored under key, at any depth of nested mappings and lists."""
    if isinstance(value, dict):
        for child_key, child in value.items():
            if child_key == key:
                yield child
            yield from _values_under(child, key)
    elif isinstance(value, list):
        for child in value:
            yield from _values_under(child, key)


def test_helm_release_values_set_requests_limits_and_safe_security_contexts() -> None:
    problems = []
    for release in objects_of("HelmRelease"):
        values = release["spec"].get("values", {})
        compute = [
            resources
            for resources in _values_under(values, "resources")
            if isinstance(resources, dict) and "storage" not in (resources.get("requests") or {})
        ]
        if not compute:
            problems.append(f"{ident(release)}: no resources in values")
        for resources in compute:
            for part in ("requests", "limits"):
                if not {"cpu", "memory"} <= set(resources.get(part) or {}):
                    problems.append(f"{ident(release)}: resources without {part} cpu and memory: {resources}")
        for key in ("securityContext", "containerSecurityContext"):
            for context in _values_under(values, key):
                if context.get("allowPrivilegeEscalation", False) is not False:
                    problems.append(f"{ident(release)}: {key} allows privilege escalation")
                if "readOnlyRootFilesystem" in context and context["readOnlyRootFilesystem"] is not True:
                    problems.append(f"{ident(release)}: {key} has a writable root filesystem")
    assert not problems, "\n".join(problems)


# --- pods --------------------------------------------------------------------------------------

RESTRICTED_VOLUME_TYPES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}


def restricted_violations(pod_spec: Manifest) -> list[str]:
    """Where a pod spec breaks the "restricted" Pod Security Standard (or our read-only root rule)."""
    problems = []
    pod_context = pod_spec.get("securityContext", {})
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if pod_spec.get(field):
            problems.append(f"{field} is set")
    for volume in pod_spec.get("volumes", []):
        kinds = set(volume) - {"name"}
        if not kinds <= RESTRICTED_VOLUME_TYPES:
            problems.append(f"volume {volume['name']} is {sorted(kinds)}")
    for container in containers_of(pod_spec):
        context = container.get("securityContext", {})
        name = container["name"]
        if not (context.get("runAsNonRoot") or pod_context.get("runAsNonRoot")):
            problems.append(f"{name}: runAsNonRoot is not true")
        if 0 in (context.get("runAsUser"), pod_context.get("runAsUser")):
            problems.append(f"{name}: runs as uid 0")
        seccomp = (context.get("seccompProfile") or pod_context.get("seccompProfile") or {}).get("type")
        if seccomp not in {"RuntimeDefault", "Localhost"}:
            problems.append(f"{name}: seccompProfile is {seccomp}")
        if context.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{name}: allowPrivilegeEscalation is not false")
        if context.get("privileged"):
            problems.append(f"{name}: privileged")
        capabilities = context.get("capabilities", {})
        if "ALL" not in capabilities.get("drop", []):
            problems.append(f"{name}: capabilities do not drop ALL")
        if set(capabilities.get("add", [])) - {"NET_BIND_SERVICE"}:
            problems.append(f"{name}: adds capabilities {capabilities['add']}")
        if context.get("readOnlyRootFilesystem") is not True:
            problems.append(f"{name}: root filesystem is writable")
        if any(port.get("hostPort") for port in container.get("ports", [])):
            problems.append(f"{name}: uses a hostPort")
    return problems


def test_every_pod_meets_the_restricted_pod_security_standard() -> None:
    problems = [
        f"{ident(obj)}: {problem}"
        for obj, pod_spec in workloads()
        for problem in restricted_violations(pod_spec)
    ]
    assert not problems, "\n".join(problems)


def test_namespaces_enforce_restricted_unless_documented() -> None:
    for namespace in objects_of("Namespace"):
        name = namespace["metadata"]["name"]
        labels = namespace["metadata"].get("labels", {})
        level = labels.get("pod-security.kubernetes.io/enforce")
        if name in PSS_EXCEPTIONS:
            assert level in {"baseline", "privileged"}, f"{name}: exception no longer needed? ({level})"
            assert labels.get("pod-security.kubernetes.io/warn") == "restricted", name
        else:
            assert level == "restricted", f"namespace {name} enforces {level}"
    readme = (K8S_DIR / "README.md").read_text(encoding="utf-8")
    for name in PSS_EXCEPTIONS:
        assert name in readme, f"k8s/README.md does not document the Pod Security exception of {name}"


def test_every_container_has_requests_limits_and_probes() -> None:
    problems = []
    for obj, pod_spec in workloads():
        for container in containers_of(pod_spec):
            resources = container.get("resources", {})
            for part in ("requests", "limits"):
                if not {"cpu", "memory"} <= set(resources.get(part, {})):
                    problems.append(f"{ident(obj)}/{container['name']}: no {part} for cpu and memory")
        if obj["kind"] in PROBE_EXEMPT_KINDS:
            continue
        for container in containers_of(pod_spec, init=False):
            for probe in ("readinessProbe", "livenessProbe"):
                if probe not in container:
                    problems.append(f"{ident(obj)}/{container['name']}: no {probe}")
    assert not problems, "\n".join(problems)


def _image_is_pinned(image: str) -> bool:
    name, _, digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    tag = last.split(":", 1)[1] if ":" in last else ""
    return bool(digest) or bool(tag and tag != "latest")


def test_every_image_is_pinned() -> None:
    images = [(ident(obj), c["image"]) for obj, pod_spec in workloads() for c in containers_of(pod_spec)]
    images += [(ident(obj), obj["spec"]["imageName"]) for obj in objects_of("Cluster")]
    assert images
    unpinned = [f"{where}: {image}" for where, image in images if not _image_is_pinned(image)]
    assert not unpinned, "\n".join(unpinned)


# --- the app -----------------------------------------------------------------------------------


def allowed_app_env_names() -> tuple[set[str], tuple[str, ...]]:
    """Settings the app reads (from app.config.Settings) and the prefixes of Streamlit's and OTel's."""
    return {name.upper() for name in Settings.model_fields}, ("STREAMLIT_", "OTEL_")


def test_app_containers_only_set_settings_the_app_reads() -> None:
    names, prefixes = allowed_app_env_names()
    assert app_containers(), "no container runs the LogTriage image"
    problems = []
    for obj, _, container in app_containers():
        # A variable the kubelet expands into the arguments ($(NAME)) is an argument, not a setting.
        expanded = " ".join(str(part) for part in [*container.get("command", []), *container.get("args", [])])
        for env_name in container_env(container, obj["metadata"]["namespace"]):
            if (
                env_name not in names
                and not env_name.startswith(prefixes)
                and f"$({env_name})" not in expanded
            ):
                problems.append(
                    f"{ident(obj)}/{container['name']}: {env_name} is not a setting of app/config.py"
                )
    assert not problems, "\n".join(problems)


def test_app_settings_parse() -> None:
    for obj, _, container in app_containers():
        env = container_env(container, obj["metadata"]["namespace"])
        fields = {
            k.lower(): v for k, v in env.items() if v is not None and k.lower() in Settings.model_fields
        }
        settings = Settings.model_validate(fields)
        assert settings.database_url is None or settings.database_url.startswith("postgresql+psycopg://")


def test_database_url_comes_from_a_secret() -> None:
    for obj, _, container in app_containers():
        variables = {v["name"]: v for v in container.get("env", [])}
        assert "secretKeyRef" in variables["DATABASE_URL"].get("valueFrom", {}), ident(obj)


def _models_file(container: Manifest, pod_spec: Manifest, namespace: str) -> list[ModelConfig]:
    env = container_env(container, namespace)
    path = Path(str(env["MODELS_FILE"]))
    mount = next(m for m in container["volumeMounts"] if Path(m["mountPath"]) == path.parent)
    volume = next(v for v in pod_spec["volumes"] if v["name"] == mount["name"])
    config_map = find_object("ConfigMap", volume["configMap"]["name"], namespace)
    assert path.name in config_map["data"], f"MODELS_FILE {path} is not a key of {ident(config_map)}"
    # Parsed by the app's own loader: the file must be one LogTriage accepts.
    return parse_models(yaml.safe_load(config_map["data"][path.name]), f"{ident(config_map)}/{path.name}")


def _selected_deployment(service: Manifest) -> Manifest:
    selector = service["spec"]["selector"]
    matches = [
        deployment
        for deployment in objects_of("Deployment")
        if deployment["metadata"].get("namespace") == service["metadata"]["namespace"]
        and selector.items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    ]
    assert len(matches) == 1, f"{ident(service)} selects {len(matches)} Deployments"
    return matches[0]


def test_models_file_points_at_the_llama_cpp_servers() -> None:
    for obj, pod_spec, container in app_containers():
        namespace = obj["metadata"]["namespace"]
        models = _models_file(container, pod_spec, namespace)
        assert {m.quantization for m in models} == {"Q4_K_M", "Q8_0"}
        for model in models:
            match = re.fullmatch(
                r"http://([a-z0-9-]+)\.([a-z0-9-]+)\.svc\.cluster\.local:(\d+)", model.base_url
            )
            assert match, f"{model.name}: base_url {model.base_url} is not an in-cluster Service URL"
            service = find_object("Service", match.group(1), match.group(2))
            port = next(p for p in service["spec"]["ports"] if p["port"] == int(match.group(3)))
            server = next(c for c in pod_specs(_selected_deployment(service))[0]["containers"])
            args = server["args"]
            assert server["image"].split(":")[0] == LLAMA_IMAGE
            assert option(args, "--model") == f"/models/{model.gguf_file}", model.name
            assert option(args, "--alias") == model.name
            assert port["targetPort"] in {"http", int(option(args, "--port") or 0)}
            assert int(option(args, "--port") or 0) == next(p["containerPort"] for p in server["ports"])
            per_slot = int(option(args, "--ctx-size") or 0) // int(option(args, "--parallel") or 1)
            assert per_slot >= model.context_length, f"{model.name}: {per_slot} tokens per slot"
            assert "--metrics" in args
            assert option(args, "--host") == "0.0.0.0"


def test_llama_init_container_downloads_the_served_file() -> None:
    for deployment in objects_of("Deployment"):
        if deployment["metadata"]["labels"].get("app.kubernetes.io/name") != "llama-server":
            continue
        pod_spec = pod_specs(deployment)[0]
        (fetch,) = pod_spec["initContainers"]
        env = {v["name"]: v.get("value") for v in fetch["env"]}
        server = pod_spec["containers"][0]
        assert option(server["args"], "--model") == f"/models/{env['MODEL_FILE']}"
        assert str(env["MODEL_URL"]).startswith("https://")
        assert str(env["MODEL_URL"]).endswith(str(env["MODEL_FILE"]))
        assert '[ -s "$target" ]' in fetch["args"][0], "an existing model file must be kept"


def test_route_prefix_equals_streamlit_base_path() -> None:
    _, container = dashboard_container()
    env = container_env(container, "logtriage")
    base = streamlit_base_path(container, env)
    route = find_object("HTTPRoute", "logtriage", "logtriage")
    (rule,) = route["spec"]["rules"]
    assert [m["path"] for m in rule["matches"]] == [{"type": "PathPrefix", "value": f"/{base}"}]
    (backend,) = rule["backendRefs"]
    service = find_object("Service", backend["name"], "logtriage")
    port = next(p for p in service["spec"]["ports"] if p["port"] == backend["port"])
    server_port = int(option(container["args"], "--server.port") or 0)
    named = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert named.get(port["targetPort"], port["targetPort"]) == server_port
    parent = route["spec"]["parentRefs"][0]
    gateway = find_object("Gateway", parent["name"], parent["namespace"])
    assert any(listener["port"] == 80 for listener in gateway["spec"]["listeners"])


def test_probes_hit_the_health_endpoints() -> None:
    _, container = dashboard_container()
    base = streamlit_base_path(container, container_env(container, "logtriage"))
    named = {p["name"]: p["containerPort"] for p in container["ports"]}
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        http_get = container[probe]["httpGet"]
        assert http_get["path"] == f"/{base}/_stcore/health", probe
        assert named.get(http_get["port"], http_get["port"]) == int(
            option(container["args"], "--server.port") or 0
        )
    for deployment in objects_of("Deployment"):
        if deployment["metadata"]["labels"].get("app.kubernetes.io/name") != "llama-server":
            continue
        server = pod_specs(deployment)[0]["containers"][0]
        ports = {p["name"]: p["containerPort"] for p in server["ports"]}
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert server[probe]["httpGet"]["path"] == "/health", ident(deployment)
            assert ports[server[probe]["httpGet"]["port"]] == int(option(server["args"], "--port") or 0)


def test_metrics_port_is_exposed_and_scraped() -> None:
    _, container = dashboard_container()
    metrics_port = int(str(container_env(container, "logtriage").get("METRICS_PORT")))
    named = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert named["metrics"] == metrics_port
    monitor = find_object("ServiceMonitor", "logtriage", "logtriage")
    service = find_object("Service", "logtriage", "logtriage")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert [e["port"] for e in monitor["spec"]["endpoints"]] == ["metrics"]
    assert any(p["name"] == "metrics" for p in service["spec"]["ports"])


def test_service_monitors_select_services_with_their_ports() -> None:
    for monitor in objects_of("ServiceMonitor"):
        namespace = monitor["metadata"]["namespace"]
        selected = [
            service
            for service in objects_of("Service")
            if service["metadata"].get("namespace") == namespace
            and monitor["spec"]["selector"]["matchLabels"].items()
            <= service["metadata"].get("labels", {}).items()
        ]
        assert selected, f"{ident(monitor)} selects no Service"
        for service in selected:
            port_names = {p.get("name") for p in service["spec"]["ports"]}
            for endpoint in monitor["spec"]["endpoints"]:
                assert endpoint["port"] in port_names, (
                    f"{ident(monitor)}: {ident(service)} has no port {endpoint['port']}"
                )


def test_security_policy_authenticates_the_route_and_forwards_the_user() -> None:
    policy = find_object("SecurityPolicy", "logtriage-auth", "logtriage")
    targets = [(t["kind"], t["name"]) for t in policy["spec"]["targetRefs"]]
    assert ("HTTPRoute", "logtriage") in targets
    _, container = dashboard_container()
    header = (
        container_env(container, "logtriage").get("AUTH_USER_HEADER")
        or Settings.model_fields["auth_user_header"].default
    )
    assert policy["spec"]["basicAuth"]["forwardUsernameHeader"] == header
    assert policy["spec"]["basicAuth"]["users"]["name"]


def test_only_the_gateway_and_prometheus_reach_the_dashboard() -> None:
    deployment = find_object("Deployment", "logtriage", "logtriage")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    policies = [
        policy
        for policy in objects_of("NetworkPolicy")
        if policy["metadata"]["namespace"] == "logtriage"
        and policy["spec"]["podSelector"].get("matchLabels", {}).items() <= pod_labels.items()
    ]
    assert len(policies) == 1, [ident(p) for p in policies]
    spec = policies[0]["spec"]
    assert "Ingress" in spec["policyTypes"]
    allowed = set()
    for rule in spec["ingress"]:
        for peer in rule["from"]:
            namespace = peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
            pods = tuple(sorted(peer.get("podSelector", {}).get("matchLabels", {}).items()))
            for port in rule["ports"]:
                allowed.add((namespace, pods, port["port"]))
    _, container = dashboard_container()
    named = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert allowed == {
        ("envoy-gateway-system", (), named["http"]),
        ("monitoring", (("app.kubernetes.io/name", "prometheus"),), named["metrics"]),
    }


def _node_placement(pod_spec: Manifest) -> tuple[dict[str, str], list[Manifest]]:
    return pod_spec.get("nodeSelector", {}), pod_spec.get("tolerations", [])


def test_inference_eval_and_database_run_on_the_heavy_node() -> None:
    heavy = [find_object("CronJob", "logtriage-eval", "logtriage")]
    heavy += [
        d
        for d in objects_of("Deployment")
        if d["metadata"]["labels"].get("app.kubernetes.io/name") == "llama-server"
    ]
    assert len(heavy) == 3
    for obj in heavy:
        selector, tolerations = _node_placement(pod_specs(obj)[0])
        assert selector == {"hardware": "heavy"}, ident(obj)
        assert HEAVY_TOLERATION in tolerations, ident(obj)
    database = find_object("Cluster", "logtriage-db", "logtriage")["spec"]["affinity"]
    assert database["nodeSelector"] == {"hardware": "heavy"}
    assert HEAVY_TOLERATION in database["tolerations"]
    selector, tolerations = _node_placement(pod_specs(find_object("Deployment", "logtriage", "logtriage"))[0])
    assert selector == {"hardware": "light"}
    assert not tolerations


def test_eval_cronjob_runs_the_eval_and_pushes() -> None:
    cronjob = find_object("CronJob", "logtriage-eval", "logtriage")
    pod_spec = pod_specs(cronjob)[0]
    (container,) = pod_spec["containers"]
    command = [*container["command"], *container["args"]]
    assert command == [
        "logtriage", "eval", "run", "--run-id", "$(EVAL_RUN_ID)", "--shard", "$(JOB_COMPLETION_INDEX)/3",
        "--prompt", "rca-evidence-first@latest", "--model", "llama-3.2-3b-q4_k_m", "--push", "--json",
    ]  # fmt: skip
    env = container_env(container, "logtriage")
    assert str(env["PUSHGATEWAY_URL"]).startswith("http://prometheus-pushgateway.monitoring.svc")
    models = _models_file(container, pod_spec, "logtriage")
    assert option(command, "--model") in {m.name for m in models}
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    assert cronjob["spec"]["jobTemplate"]["spec"]["activeDeadlineSeconds"] > 0


def test_the_nightly_eval_is_one_run_split_over_an_indexed_job() -> None:
    from app.cli.evals import EXIT_ITEMS_FAILED

    cronjob = find_object("CronJob", "logtriage-eval", "logtriage")
    job = cronjob["spec"]["jobTemplate"]["spec"]
    pod_spec = pod_specs(cronjob)[0]
    (container,) = pod_spec["containers"]
    assert job["completionMode"] == "Indexed"
    assert job["parallelism"] == job["completions"] > 1
    # Every pod is shard INDEX/COUNT of the run named after its Job; COUNT is the Job's completions.
    args = container["args"]
    assert option(args, "--shard") == f"$(JOB_COMPLETION_INDEX)/{job['completions']}"
    sources = {
        v["name"]: v.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") for v in container["env"]
    }
    assert (
        sources["JOB_COMPLETION_INDEX"] == "metadata.annotations['batch.kubernetes.io/job-completion-index']"
    )
    assert option(args, "--run-id") == "$(EVAL_RUN_ID)"
    assert sources["EVAL_RUN_ID"] == "metadata.labels['batch.kubernetes.io/job-name']"
    # A run that completed with failed items is not retried; a crashed shard is, once.
    assert pod_spec["restartPolicy"] == "Never"
    assert job["backoffLimitPerIndex"] >= 1
    (rule,) = job["podFailurePolicy"]["rules"]
    assert rule["action"] == "FailIndex"
    assert rule["onExitCodes"] == {
        "containerName": container["name"],
        "operator": "In",
        "values": [EXIT_ITEMS_FAILED],
    }
    # The shards share the model's Service, scaled out behind it, and fit its slots.
    model = next(
        m for m in _models_file(container, pod_spec, "logtriage") if m.name == option(args, "--model")
    )
    match = re.fullmatch(r"http://([a-z0-9-]+)\.([a-z0-9-]+)\.svc\.cluster\.local:\d+", model.base_url)
    assert match
    deployment = _selected_deployment(find_object("Service", match.group(1), match.group(2)))
    replicas = deployment["spec"]["replicas"]
    slots = int(option(pod_specs(deployment)[0]["containers"][0]["args"], "--parallel") or 1)
    assert replicas >= 2
    assert job["parallelism"] <= replicas * slots


def test_local_volumes_live_on_the_heavy_node_and_each_has_one_claim() -> None:
    volumes = {pv["metadata"]["name"]: pv for pv in objects_of("PersistentVolume")}
    sizes = {name: pv["spec"]["capacity"]["storage"] for name, pv in volumes.items()}
    assert {k: sizes[k] for k in ("loki", "tempo", "llama-models")} == {
        "loki": "200Gi",
        "tempo": "50Gi",
        "llama-models": "20Gi",
    }
    text = json.dumps([obj for obj in deployed() if obj["kind"] != "PersistentVolume"])
    for name, pv in volumes.items():
        spec = pv["spec"]
        assert spec["local"]["path"].startswith("/mnt/k8s-storage/"), name
        assert spec["storageClassName"] == "local-nvme"
        terms = spec["nodeAffinity"]["required"]["nodeSelectorTerms"]
        assert terms == [{"matchExpressions": [{"key": "hardware", "operator": "In", "values": ["heavy"]}]}]
        label = pv["metadata"]["labels"]["logtriage.io/volume"]
        claimed_by_selector = text.count(f'"logtriage.io/volume": "{label}"')
        assert claimed_by_selector + ("claimRef" in spec) == 1, (
            f"PV {name} must be reserved for exactly one claim"
        )


# --- dashboards and alerts ---------------------------------------------------------------------


def app_metric_labels() -> dict[str, set[str]]:
    """Every series name the app exports (as Prometheus sees it) and its labels."""
    labels_by_family = {
        collector._name: set(collector._labelnames)
        for collector in vars(app_metrics).values()
        if isinstance(collector, MetricWrapperBase)
    }
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}
    exposed: dict[str, set[str]] = {}
    for family in app_metrics.REGISTRY.collect():
        for suffix in suffixes.get(family.type, ("",)):
            extra = {"le"} if suffix == "_bucket" else set()
            exposed[family.name + suffix] = labels_by_family.get(family.name, set()) | extra | TARGET_LABELS
    for name in app_metrics.EVAL_METRIC_NAMES:
        exposed[name] = set(EVAL_LABELS)
    for name in LLAMACPP_METRICS:
        exposed[name] = set(LLAMACPP_LABELS | TARGET_LABELS)
    for name in WELL_KNOWN_METRICS:
        exposed[name] = set(TARGET_LABELS)
    return exposed


def test_app_metric_names_include_the_prometheus_suffixes() -> None:
    exposed = app_metric_labels()
    assert "logtriage_triage_requests_total" in exposed
    assert "logtriage_errors_total" in exposed
    assert "logtriage_build_info" in exposed
    assert "gen_ai_client_operation_duration_seconds_bucket" in exposed
    assert "gen_ai_client_token_usage_bucket" in exposed
    assert {"gen_ai_request_model", "error_type", "le"} <= exposed[
        "gen_ai_client_operation_duration_seconds_bucket"
    ]


def dashboards() -> list[tuple[Manifest, dict[str, Any]]]:
    """(ConfigMap, dashboard JSON) for every deployed Grafana dashboard ConfigMap of the app."""
    found = []
    for config_map in objects_of("ConfigMap"):
        if config_map["metadata"].get("labels", {}).get("grafana_dashboard") == "1":
            for key, text in config_map["data"].items():
                assert key.endswith(".json"), f"{ident(config_map)}: {key}"
                found.append((config_map, json.loads(text)))
    return found


def _panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def queries() -> Iterator[tuple[str, str, QueryNames]]:
    """(where, expression, names) for every dashboard target, variable and alert expression."""
    for config_map, dashboard in dashboards():
        for panel in _panels(dashboard):
            for target in panel.get("targets", []):
                names = names_in_promql(target["expr"])
                names.labels |= labels_in_legend(target.get("legendFormat", ""))
                yield f"{ident(config_map)} panel {panel['title']!r}", target["expr"], names
        for variable in dashboard.get("templating", {}).get("list", []):
            query = variable["query"]["query"] if isinstance(variable["query"], dict) else variable["query"]
            yield f"{ident(config_map)} variable {variable['name']}", query, names_in_variable_query(query)
    for rule_object in objects_of("PrometheusRule"):
        for group in rule_object["spec"]["groups"]:
            for rule in group["rules"]:
                name = rule.get("alert") or rule.get("record")
                yield f"{ident(rule_object)} {name}", rule["expr"], names_in_promql(rule["expr"])


def test_dashboards_and_alerts_only_query_metrics_that_exist() -> None:
    exposed = app_metric_labels()
    all_queries = list(queries())
    assert len(all_queries) > 20
    problems = []
    for where, expression, names in all_queries:
        assert names.metrics, f"{where}: no metric found in {expression!r}"
        unknown = names.metrics - set(exposed)
        if unknown:
            problems.append(f"{where}: unknown metrics {sorted(unknown)}")
            continue
        known_labels = set().union(*(exposed[m] for m in names.metrics))
        if names.labels - known_labels:
            problems.append(
                f"{where}: labels {sorted(names.labels - known_labels)} are not on {sorted(names.metrics)}"
            )
    assert not problems, "\n".join(problems)


def test_alerts_cover_eval_quality_staleness_and_inference_latency() -> None:
    rules = {
        rule["alert"]: rule["expr"]
        for obj in objects_of("PrometheusRule")
        for group in obj["spec"]["groups"]
        for rule in group["rules"]
    }
    uses = {name: names_in_promql(expr).metrics for name, expr in rules.items()}
    assert any("logtriage_eval_macro_f1_ratio" in m and "max_over_time" in rules[a] for a, m in uses.items())
    assert any("logtriage_eval_last_success_timestamp_seconds" in m for m in uses.values())
    assert any("gen_ai_client_operation_duration_seconds_bucket" in m for m in uses.values())


def test_dashboards_are_provisioned_into_grafana() -> None:
    grafana = find_object("HelmRelease", "grafana", "monitoring")["spec"]["values"]
    sidecar = grafana["sidecar"]["dashboards"]
    datasources = grafana["datasources"]["datasources.yaml"]["datasources"]
    uids = {source["uid"] for source in datasources}
    assert {"prometheus", "loki", "tempo"} <= uids
    assert sidecar["searchNamespace"] == "ALL"
    found = dashboards()
    assert {d["uid"] for _, d in found} == {"logtriage-triage", "logtriage-evals"}
    for config_map, dashboard in found:
        assert config_map["metadata"]["labels"][sidecar["label"]] == sidecar["labelValue"]
        for panel in _panels(dashboard):
            for holder in [panel, *panel.get("targets", [])]:
                if "datasource" in holder:
                    assert holder["datasource"]["uid"] in uids, f"{dashboard['uid']}: {panel['title']}"
    settings = config_map_named("logtriage-settings", "logtriage")["data"]
    assert settings["GRAFANA_LOKI_DATASOURCE_UID"] in uids
    assert settings["GRAFANA_TEMPO_DATASOURCE_UID"] in uids


# --- the image ---------------------------------------------------------------------------------


def test_dockerfile_builds_a_non_root_image_the_pods_can_run() -> None:
    text = (REPO_ROOT / "Dockerfile").read_text(encoding="utf-8")
    arguments = dict(re.findall(r"^ARG (\w+)=(\S+)$", text, re.MULTILINE))
    stages = set(re.findall(r"^FROM \S+ AS (\S+)$", text, re.MULTILINE))
    images = re.findall(r"^FROM (\S+)", text, re.MULTILINE) + re.findall(
        r"^COPY --from=(\S+)", text, re.MULTILINE
    )
    for image in images:
        resolved = re.sub(r"\$\{(\w+)\}", lambda m: arguments.get(m.group(1), m.group(0)), image)
        assert resolved in stages or _image_is_pinned(resolved), f"image {resolved} is not pinned"
    stage_images = re.findall(r"^FROM (\S+) AS \S+$", text, re.MULTILINE)
    assert len(set(stage_images)) == 1, f"build and runtime must share the Python image: {stage_images}"
    assert "uv sync --frozen --no-dev" in text
    for path in (
        "app/",
        "app_pages/",
        "prompts/",
        "golden/",
        "streamlit_app.py",
        "pyproject.toml",
        "uv.lock",
    ):
        assert re.search(rf"^COPY .*{re.escape(path)}", text, re.MULTILINE), (
            f"Dockerfile does not copy {path}"
        )
    users = re.findall(r"^USER (\d+)(?::(\d+))?$", text, re.MULTILINE)
    assert users, "the image must end with a numeric non-root USER"
    uid = int(users[-1][0])
    assert uid != 0
    for obj, pod_spec, _ in app_containers():
        assert pod_spec["securityContext"]["runAsUser"] == uid, ident(obj)
