"""An offline subset of ``kustomize build``, enough for k8s/ (CI has no kubectl).

Supported, and nothing else (an unknown kustomization field is an error, never silently ignored):

- ``resources``: files (multi-document YAML) and directories (built recursively); no remote URLs.
- ``namespace``: set on every namespaced object.
- ``patches``: strategic-merge patches (maps merge, the Kubernetes merge keys of pod specs merge
  lists, other lists are replaced, ``null`` deletes) and JSON 6902 patches (add, remove, replace,
  test), from ``path`` or inline ``patch``, matched by ``target`` (kind, name regex, namespace,
  group, version, labelSelector of ``key=value`` / ``key`` terms) or, for a strategic-merge patch
  without target, by the patch's own kind and name.
- ``configMapGenerator`` with ``files``, ``literals``, ``envs`` and ``options`` (labels,
  annotations, disableNameSuffixHash), plus ``generatorOptions``: the name gets kustomize's content
  hash suffix and references from pod specs are renamed to it.
- ``images``: ``newName``, ``newTag``, ``digest`` for containers and init containers.

A directory without a kustomization file is read the way Flux's kustomize-controller reads it:
every Kubernetes manifest below it, and sub-directories that have a kustomization are built.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

Manifest = dict[str, Any]

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
SUPPORTED_FIELDS = frozenset(
    {
        "apiVersion",
        "kind",
        "resources",
        "namespace",
        "patches",
        "configMapGenerator",
        "generatorOptions",
        "images",
    }
)

# Built-in kinds that have no namespace (kustomize knows them from the OpenAPI document).
CLUSTER_SCOPED_KINDS = frozenset(
    {
        "APIService",
        "ClusterRole",
        "ClusterRoleBinding",
        "CSIDriver",
        "CSINode",
        "CustomResourceDefinition",
        "IngressClass",
        "MutatingWebhookConfiguration",
        "Namespace",
        "Node",
        "PersistentVolume",
        "PriorityClass",
        "RuntimeClass",
        "StorageClass",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "ValidatingWebhookConfiguration",
        "VolumeAttachment",
    }
)

# Kinds whose strategic-merge patches use the Kubernetes patch merge keys (CRDs use JSON merge).
BUILTIN_WORKLOAD_KINDS = frozenset(
    {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Service"}
)

# Patch merge key by the name of the list field (pod specs, Service ports).
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "imagePullSecrets": "name",
}


class KustomizeError(Exception):
    """A kustomization that cannot be built: missing file, unsupported field, bad patch."""


@dataclass
class Resource:
    """One object of a build, with the name it had before a generator's hash suffix."""

    obj: Manifest
    original_name: str
    needs_hash_suffix: bool = False

    @property
    def kind(self) -> str:
        return str(self.obj.get("kind", ""))

    @property
    def name(self) -> str:
        return str(self.obj.get("metadata", {}).get("name", ""))

    @property
    def namespace(self) -> str | None:
        return self.obj.get("metadata", {}).get("namespace")

    def identity(self) -> tuple[str, str, str, str]:
        return (str(self.obj.get("apiVersion", "")), self.kind, self.namespace or "", self.name)


def build(directory: Path) -> list[Manifest]:
    """The objects ``kustomize build directory`` prints (order aside)."""
    return [resource.obj for resource in _build_resources(directory.resolve())]


def find_kustomization_file(directory: Path) -> Path | None:
    """The kustomization file of directory, or None."""
    for name in KUSTOMIZATION_FILES:
        candidate = directory / name
        if candidate.is_file():
            return candidate
    return None


def load_manifests(path: Path) -> list[Manifest]:
    """Every non-empty YAML document of path, each required to be a mapping."""
    try:
        documents = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    except yaml.YAMLError as exc:
        raise KustomizeError(f"{path}: invalid YAML: {exc}") from None
    manifests = []
    for index, document in enumerate(documents):
        if document is None:
            continue
        if not isinstance(document, dict):
            raise KustomizeError(f"{path}: document {index} is a {type(document).__name__}, not a mapping")
        manifests.append(document)
    return manifests


def _build_resources(directory: Path) -> list[Resource]:
    if not directory.is_dir():
        raise KustomizeError(f"{directory}: not a directory")
    kustomization_file = find_kustomization_file(directory)
    if kustomization_file is None:
        return _flux_autodetect(directory)
    kustomization = load_manifests(kustomization_file)
    if len(kustomization) != 1:
        raise KustomizeError(f"{kustomization_file}: expected exactly one document")
    spec = kustomization[0]
    unsupported = set(spec) - SUPPORTED_FIELDS
    if unsupported:
        raise KustomizeError(
            f"{kustomization_file}: fields {sorted(unsupported)} are not supported by the offline builder "
            "(tests/k8s/kustomize_build.py); keep overlays to the supported subset or extend the builder"
        )

    resources: list[Resource] = []
    for entry in spec.get("resources") or []:
        resources.extend(_load_resource_entry(directory, str(entry)))
    resources.extend(_generate_config_maps(directory, spec))
    _check_unique(resources, kustomization_file)

    for patch_entry in spec.get("patches") or []:
        _apply_patch_entry(directory, patch_entry, resources)
    if "namespace" in spec:
        _set_namespace(resources, str(spec["namespace"]))
    for image in spec.get("images") or []:
        _apply_image(resources, image)
    _add_hash_suffixes(resources)
    _check_unique(resources, kustomization_file)
    return resources


def _flux_autodetect(directory: Path) -> list[Resource]:
    resources: list[Resource] = []
    for path in sorted(directory.iterdir()):
        if path.is_dir():
            if find_kustomization_file(path) is not None:
                resources.extend(_build_resources(path))
            elif any(path.rglob("*.yaml")) or any(path.rglob("*.yml")):
                resources.extend(_flux_autodetect(path))
        elif path.suffix in {".yaml", ".yml"}:
            for manifest in load_manifests(path):
                if "apiVersion" in manifest and "kind" in manifest:
                    resources.append(Resource(manifest, manifest.get("metadata", {}).get("name", "")))
    _check_unique(resources, directory)
    return resources


def _load_resource_entry(directory: Path, entry: str) -> list[Resource]:
    if "://" in entry or entry.startswith("git@"):
        raise KustomizeError(f"{directory}: remote resource {entry!r} is not allowed (validation is offline)")
    path = (directory / entry).resolve()
    if path.is_dir():
        return _build_resources(path)
    if not path.is_file():
        raise KustomizeError(f"{directory}: resource {entry!r} does not exist")
    resources = []
    for manifest in load_manifests(path):
        if "apiVersion" not in manifest or "kind" not in manifest:
            raise KustomizeError(f"{path}: a resource needs apiVersion and kind")
        resources.append(Resource(manifest, str(manifest.get("metadata", {}).get("name", ""))))
    return resources


def _check_unique(resources: list[Resource], where: Path) -> None:
    seen: set[tuple[str, str, str, str]] = set()
    for resource in resources:
        identity = resource.identity()
        if identity in seen:
            raise KustomizeError(f"{where}: duplicate object {identity}")
        seen.add(identity)


# --- configMapGenerator -------------------------------------------------------------------------


def _generate_config_maps(directory: Path, spec: Manifest) -> list[Resource]:
    options = spec.get("generatorOptions") or {}
    unknown_options = set(options) - {"labels", "annotations", "disableNameSuffixHash"}
    if unknown_options:
        raise KustomizeError(f"{directory}: generatorOptions {sorted(unknown_options)} are not supported")
    generated = []
    for generator in spec.get("configMapGenerator") or []:
        unknown = set(generator) - {"name", "namespace", "behavior", "files", "literals", "envs", "options"}
        if unknown:
            raise KustomizeError(
                f"{directory}: configMapGenerator fields {sorted(unknown)} are not supported"
            )
        if generator.get("behavior", "create") != "create":
            raise KustomizeError(
                f"{directory}: configMapGenerator behavior other than create is not supported"
            )
        data: dict[str, str] = {}
        for literal in generator.get("literals") or []:
            key, _, value = str(literal).partition("=")
            data[key] = value
        for env_file in generator.get("envs") or []:
            data.update(_read_env_file(directory / str(env_file)))
        for file_entry in generator.get("files") or []:
            key, _, relative = str(file_entry).rpartition("=")
            path = directory / relative
            if not path.is_file():
                raise KustomizeError(f"{directory}: configMapGenerator file {relative!r} does not exist")
            data[key or path.name] = path.read_text(encoding="utf-8")
        own_options = generator.get("options") or {}
        labels = {**(options.get("labels") or {}), **(own_options.get("labels") or {})}
        annotations = {**(options.get("annotations") or {}), **(own_options.get("annotations") or {})}
        metadata: Manifest = {"name": generator["name"]}
        if generator.get("namespace"):
            metadata["namespace"] = generator["namespace"]
        if labels:
            metadata["labels"] = labels
        if annotations:
            metadata["annotations"] = annotations
        config_map: Manifest = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data}
        disable_hash = own_options.get("disableNameSuffixHash", options.get("disableNameSuffixHash", False))
        generated.append(Resource(config_map, generator["name"], needs_hash_suffix=not disable_hash))
    return generated


def _read_env_file(path: Path) -> dict[str, str]:
    if not path.is_file():
        raise KustomizeError(f"env file {path} does not exist")
    data: dict[str, str] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.lstrip()
        if not line or line.startswith("#"):
            continue
        key, separator, value = line.partition("=")
        if not separator:
            raise KustomizeError(f"{path}:{number}: expected KEY=VALUE")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]*", key):
            raise KustomizeError(f"{path}:{number}: invalid key {key!r}")
        data[key] = value
    return data


def config_map_hash(config_map: Manifest) -> str:
    """kustomize's name suffix for a ConfigMap: sha256 of its kind, name and data, ten encoded chars."""
    encoded: dict[str, Any] = {
        "kind": "ConfigMap",
        "name": config_map["metadata"]["name"],
        "data": config_map.get("data") or "",
    }
    if config_map.get("binaryData"):
        encoded["binaryData"] = config_map["binaryData"]
    text = _go_json(encoded)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return digest[:10].translate(str.maketrans("013ae", "ghkmt"))


def _go_json(value: Any) -> str:
    # Go's json.Marshal: sorted keys, no spaces, HTML characters escaped.
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    for char, escape in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e")):
        text = text.replace(char, escape)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _add_hash_suffixes(resources: list[Resource]) -> None:
    renamed: dict[tuple[str | None, str], str] = {}
    for resource in resources:
        if not resource.needs_hash_suffix:
            continue
        resource.needs_hash_suffix = False
        new_name = f"{resource.name}-{config_map_hash(resource.obj)}"
        renamed[(resource.namespace, resource.name)] = new_name
        resource.obj["metadata"]["name"] = new_name
    if not renamed:
        return
    for resource in resources:
        for pod_spec in pod_specs(resource.obj):
            _rename_config_map_refs(pod_spec, resource.namespace, renamed)


def _rename_config_map_refs(
    pod_spec: Manifest, namespace: str | None, renamed: dict[tuple[str | None, str], str]
) -> None:
    def rename(holder: Manifest | None) -> None:
        if holder and (namespace, holder.get("name")) in renamed:
            holder["name"] = renamed[(namespace, holder["name"])]

    for volume in pod_spec.get("volumes") or []:
        rename(volume.get("configMap"))
        for source in (volume.get("projected") or {}).get("sources") or []:
            rename(source.get("configMap"))
    for container in [*(pod_spec.get("containers") or []), *(pod_spec.get("initContainers") or [])]:
        for env in container.get("env") or []:
            rename((env.get("valueFrom") or {}).get("configMapKeyRef"))
        for env_from in container.get("envFrom") or []:
            rename(env_from.get("configMapRef"))


def pod_specs(obj: Manifest) -> list[Manifest]:
    """The pod specs inside a workload object (Pod, Deployment, ..., CronJob), possibly none."""
    kind = obj.get("kind")
    spec = obj.get("spec") or {}
    if kind == "Pod":
        return [spec]
    if kind in {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}:
        return [((spec.get("template") or {}).get("spec")) or {}]
    if kind == "CronJob":
        job_spec = (spec.get("jobTemplate") or {}).get("spec") or {}
        return [((job_spec.get("template") or {}).get("spec")) or {}]
    return []


# --- namespace and images ------------------------------------------------------------------------


def _set_namespace(resources: list[Resource], namespace: str) -> None:
    for resource in resources:
        if resource.kind in CLUSTER_SCOPED_KINDS:
            continue
        if resource.kind in {"RoleBinding", "ClusterRoleBinding"}:
            raise KustomizeError("namespace with role bindings (subject rewriting) is not supported")
        resource.obj.setdefault("metadata", {})["namespace"] = namespace


def _split_image(image: str) -> tuple[str, str | None, str | None]:
    name, _, digest = image.partition("@")
    tag = None
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name, _, tag = name.rpartition(":")
    return name, tag, digest or None


def _apply_image(resources: list[Resource], image: Manifest) -> None:
    unknown = set(image) - {"name", "newName", "newTag", "digest"}
    if unknown:
        raise KustomizeError(f"images fields {sorted(unknown)} are not supported")
    for resource in resources:
        for pod_spec in pod_specs(resource.obj):
            for container in [*(pod_spec.get("containers") or []), *(pod_spec.get("initContainers") or [])]:
                name, tag, digest = _split_image(str(container.get("image", "")))
                if name != image["name"]:
                    continue
                name = image.get("newName", name)
                if "newTag" in image:
                    tag = str(image["newTag"])
                if "digest" in image:
                    digest, tag = str(image["digest"]), None
                container["image"] = name + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")


# --- patches -------------------------------------------------------------------------------------


def _apply_patch_entry(directory: Path, entry: Manifest, resources: list[Resource]) -> None:
    unknown = set(entry) - {"path", "patch", "target"}
    if unknown:
        raise KustomizeError(f"{directory}: patch fields {sorted(unknown)} are not supported")
    if "path" in entry:
        path = directory / str(entry["path"])
        if not path.is_file():
            raise KustomizeError(f"{directory}: patch file {entry['path']!r} does not exist")
        text = path.read_text(encoding="utf-8")
    elif "patch" in entry:
        text = str(entry["patch"])
    else:
        raise KustomizeError(f"{directory}: a patch needs path or patch")
    documents = [doc for doc in yaml.safe_load_all(text) if doc is not None]
    if len(documents) != 1:
        raise KustomizeError(f"{directory}: a patch must hold exactly one document")
    patch = documents[0]
    target = entry.get("target")
    if isinstance(patch, list):
        if not target:
            raise KustomizeError(f"{directory}: a JSON 6902 patch needs a target")
        matched = [resource for resource in resources if _matches_target(resource, target)]
        for resource in matched:
            resource.obj = apply_json6902(resource.obj, patch)
    elif isinstance(patch, dict):
        if target:
            matched = [resource for resource in resources if _matches_target(resource, target)]
        else:
            matched = [resource for resource in resources if _matches_patch_identity(resource, patch)]
        for resource in matched:
            merged = strategic_merge(resource.obj, patch, resource.kind in BUILTIN_WORKLOAD_KINDS)
            if target:  # a targeted patch keeps the target's identity, whatever the patch names
                merged["metadata"]["name"] = resource.name
                merged["kind"] = resource.kind
                merged["apiVersion"] = resource.obj["apiVersion"]
            resource.obj = merged
    else:
        raise KustomizeError(f"{directory}: a patch must be a mapping or a list of operations")
    if not matched:
        raise KustomizeError(f"{directory}: patch {entry.get('path', '<inline>')} matched no object")


def _matches_patch_identity(resource: Resource, patch: Manifest) -> bool:
    metadata = patch.get("metadata") or {}
    if patch.get("kind") != resource.kind:
        return False
    if metadata.get("name") not in {resource.name, resource.original_name}:
        return False
    return not metadata.get("namespace") or metadata["namespace"] == resource.namespace


def _matches_target(resource: Resource, target: Manifest) -> bool:
    unknown = set(target) - {"group", "version", "kind", "name", "namespace", "labelSelector"}
    if unknown:
        raise KustomizeError(f"patch target fields {sorted(unknown)} are not supported")
    api_version = str(resource.obj.get("apiVersion", ""))
    group, _, version = api_version.rpartition("/")
    checks = [
        ("kind", resource.kind),
        ("group", group),
        ("version", version),
        ("namespace", resource.namespace or ""),
    ]
    for field, actual in checks:
        if field in target and not re.fullmatch(str(target[field]), actual):
            return False
    if "name" in target and not any(
        re.fullmatch(str(target["name"]), name) for name in (resource.name, resource.original_name)
    ):
        return False
    if "labelSelector" in target:
        labels = resource.obj.get("metadata", {}).get("labels") or {}
        for term in str(target["labelSelector"]).split(","):
            key, separator, value = term.strip().partition("=")
            if separator and labels.get(key) != value:
                return False
            if not separator and key not in labels:
                return False
    return True


def strategic_merge(base: Any, patch: Any, use_merge_keys: bool, field: str = "") -> Any:
    """base with patch merged in: maps merge, null deletes, lists merge by merge key or are replaced."""
    if isinstance(patch, dict) and isinstance(base, dict):
        if any(str(key).startswith("$") for key in patch):
            raise KustomizeError(f"strategic-merge directives {sorted(patch)} are not supported")
        merged = copy.deepcopy(base)
        for key, value in patch.items():
            if value is None:
                merged.pop(key, None)
            elif key in merged:
                merged[key] = strategic_merge(merged[key], value, use_merge_keys, key)
            else:
                merged[key] = copy.deepcopy(value)
        return merged
    if isinstance(patch, list) and isinstance(base, list) and use_merge_keys:
        merge_key = _merge_key(field, patch)
        if merge_key:
            merged_list = copy.deepcopy(base)
            for item in patch:
                position = next(
                    (
                        i
                        for i, existing in enumerate(merged_list)
                        if existing.get(merge_key) == item.get(merge_key)
                    ),
                    None,
                )
                if position is None:
                    merged_list.append(copy.deepcopy(item))
                else:
                    merged_list[position] = strategic_merge(merged_list[position], item, use_merge_keys)
            return merged_list
    return copy.deepcopy(patch)


def _merge_key(field: str, items: list[Any]) -> str | None:
    if field == "ports":
        candidates = ["containerPort", "port"]
        return next((key for key in candidates if all(isinstance(i, dict) and key in i for i in items)), None)
    key = MERGE_KEYS.get(field)
    if key and all(isinstance(item, dict) and key in item for item in items):
        return key
    return None


def apply_json6902(obj: Manifest, operations: list[Manifest]) -> Manifest:
    """obj after the RFC 6902 operations add, remove, replace and test."""
    result = copy.deepcopy(obj)
    for operation in operations:
        op, pointer = operation.get("op"), str(operation.get("path", ""))
        parts = [part.replace("~1", "/").replace("~0", "~") for part in pointer.split("/")[1:]]
        if not parts:
            raise KustomizeError(f"JSON patch path {pointer!r} must not be the document root")
        parent: Any = result
        for part in parts[:-1]:
            parent = parent[int(part)] if isinstance(parent, list) else parent.get(part)
            if parent is None:
                raise KustomizeError(f"JSON patch path {pointer!r} does not exist")
        last = parts[-1]
        if op == "add":
            if isinstance(parent, list):
                parent.insert(len(parent) if last == "-" else int(last), copy.deepcopy(operation["value"]))
            else:
                parent[last] = copy.deepcopy(operation["value"])
        elif op in {"replace", "remove", "test"}:
            exists = (int(last) < len(parent)) if isinstance(parent, list) else (last in parent)
            if not exists:
                raise KustomizeError(f"JSON patch {op} at {pointer!r}: no such element")
            key: Any = int(last) if isinstance(parent, list) else last
            if op == "replace":
                parent[key] = copy.deepcopy(operation["value"])
            elif op == "remove":
                del parent[key]
            elif parent[key] != operation.get("value"):
                raise KustomizeError(f"JSON patch test at {pointer!r} failed")
        else:
            raise KustomizeError(f"JSON patch operation {op!r} is not supported")
    return result
