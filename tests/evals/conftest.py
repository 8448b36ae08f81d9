"""Eval test fixtures: a small hand-written golden set, and settings pointing at a model server."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from app.config import get_settings
from app.evals.runner import EvalRunner
from app.golden.jsonl import write_jsonl
from app.golden.schema import GoldenExample
from app.services import Services, build_services

# One window per class: (cause, log lines, indices of the lines that prove it).
WINDOWS: dict[str, tuple[list[str], list[int]]] = {
    "oom_killed": (
        [
            "starting worker pool size=8",
            "Memory cgroup out of memory: Killed process 4242 (java)",
            "OOMKilled",
        ],
        [1, 2],
    ),
    "crash_config_error": (
        ["booting", "APPLICATION FAILED TO START", "Could not resolve placeholder 'DB_URL'"],
        [1, 2],
    ),
    "image_pull_error": (
        [
            "Pulling image registry.example.com/api:v9",
            "Failed to pull image: manifest unknown",
            "ErrImagePull",
        ],
        [1, 2],
    ),
    "dependency_unavailable": (
        ["GET /health 200", "dial tcp 10.0.3.7:5432: connect: connection refused", "connection refused"],
        [1, 2],
    ),
    "dns_resolution_failure": (
        [
            "resolving db.internal",
            "lookup db.internal on 10.96.0.10:53: no such host",
            "NXDOMAIN db.internal",
        ],
        [1, 2],
    ),
    "probe_failure": (
        ["listening on :8080", "Liveness probe failed: HTTP probe failed with statuscode: 500", "Unhealthy"],
        [1, 2],
    ),
    "volume_mount_failure": (
        ["scheduling pod", "MountVolume.SetUp failed for volume data", "Unable to attach or mount volumes"],
        [1, 2],
    ),
    "tls_certificate_error": (
        ["connecting to api", "x509: certificate has expired or is not yet valid", "TLS handshake error"],
        [1],
    ),
    "permission_denied": (
        [
            "listing pods",
            'pods is forbidden: User "system:serviceaccount:a:b" cannot list resource',
            "denied",
        ],
        [1],
    ),
    "node_resource_pressure": (
        ["node ready", "The node was low on resource: memory. Evicted", "DiskPressure on node-3"],
        [1, 2],
    ),
    "scheduling_failure": (
        ["created pod", "0/3 nodes are available: 3 Insufficient cpu", "FailedScheduling"],
        [1, 2],
    ),
    "application_exception": (
        ["handling request", "panic: runtime error: index out of range", "goroutine 1 [running]"],
        [1, 2],
    ),
    "healthy": (["GET /health 200", "GET /ready 200", "served 120 requests"], []),
}


def make_example(
    example_id: str,
    cause: str,
    lines: list[str],
    evidence: list[int],
    *,
    source: str = "synthetic",
    namespace: str = "payments",
    scenario: str | None = None,
) -> GoldenExample:
    """A golden example whose lines are one second apart from 10:00:01Z, one pod (and its scenario)."""
    return GoldenExample.model_validate(
        {
            "id": example_id,
            **({"scenario": scenario} if scenario else {}),
            "source": source,
            "namespace": namespace,
            "window": {"start": "2026-11-26T10:00:00Z", "end": "2026-11-26T10:05:00Z"},
            "logs": [
                {
                    "ts": f"2026-11-26T10:00:{i + 1:02d}Z",
                    "labels": {"namespace": namespace, "pod": "api-7d9f8c6b5d-x2k4q", "container": "api"},
                    "line": line,
                }
                for i, line in enumerate(lines)
            ],
            "label": {
                "root_cause": cause,
                "evidence": evidence,
                "severity": "info" if cause == "healthy" else "critical",
                "summary": f"a {cause} window",
                "labeler": "tests",
                "labeled_at": "2026-11-26T12:00:00Z",
            },
        }
    )


def small_golden_set(copies: int = 2) -> list[GoldenExample]:
    """``copies`` examples per class (ids ``<cause>-<n>``); the second copy of each is 'labeled'.

    Copies of a class are variations of one scenario (``<cause>-window``): 13 scenarios in all.
    """
    examples = []
    for cause, (lines, evidence) in WINDOWS.items():
        for n in range(copies):
            source = "synthetic" if n % 2 == 0 else "labeled"
            examples.append(
                make_example(
                    f"{cause}-{n}",
                    cause,
                    [*lines, f"request id {n}"],
                    evidence,
                    source=source,
                    scenario=f"{cause}-window",
                )
            )
    return sorted(examples, key=lambda example: example.id)


def rca_json(root_cause: str, evidence: list[int] | None = None) -> str:
    """A valid RCA answer as the model would stream it."""
    return json.dumps(
        {"root_cause": root_cause, "confidence": 0.8, "evidence": evidence or [], "summary": "because"}
    )


@pytest.fixture
def golden_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A golden directory holding the small golden set, set as GOLDEN_DIR."""
    directory = tmp_path / "golden"
    write_jsonl(directory / "small.jsonl", small_golden_set())
    monkeypatch.setenv("GOLDEN_DIR", str(directory))
    get_settings.cache_clear()
    return directory


def write_models_file(
    path: Path, base_url: str, *, name: str = "fake-q4", quantization: str = "Q4_K_M"
) -> Path:
    """A models file with one model at ``base_url``."""
    entry = {
        "name": name,
        "base_url": base_url,
        "quantization": quantization,
        "context_length": 8192,
        "gguf_file": f"{name}.gguf",
        "response_format_style": "json_object",
    }
    path.write_text(yaml.safe_dump({"models": [entry]}), encoding="utf-8")
    return path


@pytest.fixture
def use_models_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Path]:
    """Point MODELS_FILE at a one-model file for a base URL."""

    def use(base_url: str, **kwargs: str) -> Path:
        path = write_models_file(tmp_path / "models.yaml", base_url, **kwargs)
        monkeypatch.setenv("MODELS_FILE", str(path))
        get_settings.cache_clear()
        return path

    return use


@pytest.fixture
def make_runner() -> Iterator[Callable[[], EvalRunner]]:
    """Build runners over fresh services for the current environment (closing their HTTP clients)."""
    built: list[Services] = []

    def make() -> EvalRunner:
        get_settings.cache_clear()
        services = build_services(get_settings())
        built.append(services)
        return services.eval_runner

    yield make
    for services in built:
        if "http_client" in services.__dict__:
            services.http_client.close()
